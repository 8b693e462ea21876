"""`optimize` starts child processes without forking its threads (numba's TBB pool among them)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.optimize, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TBB_FORK_WARNING = "Attempted to fork from a non-main thread"

# What an `optimize cwm` run does, in the order that made numba warn: the process is set up by
# `optimize`'s entry point, numba's thread pool starts on the main thread (an export verified
# through the app's kernel), then processes start from other threads: DataLoader workers of a
# training step, and OpenVINO's model converter, whose telemetry starts one per event.
SCRIPT = textwrap.dedent(
    """
    import sys
    import threading
    from pathlib import Path

    import numpy as np
    import openvino as ov
    import torch
    from torch.utils.data import DataLoader

    from kernels.correlation import SERIAL_BELOW, correlation, get_backend
    from optimization.cli import main
    from optimization.data.viton import VitonPairs

    def run():
        data = Path(sys.argv[1])
        assert main(["-q", "synth", "--out", str(data), "--n", "4", "--seed", "1"]) == 0

        features = np.random.default_rng(0).random((1, 64, 48, 48), dtype=np.float32)
        assert features.size >= SERIAL_BELOW  # the parallel kernel, on numba's thread pool
        correlation(features, features, layout="NHWC")
        assert get_backend() == "numba"

        def train_step():
            torch.manual_seed(0)
            model = torch.nn.Conv2d(3, 3, 3, padding=1)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            loader = DataLoader(VitonPairs(data), batch_size=2, num_workers=2)
            for batch in loader:
                loss = (model(batch["person"]) - batch["person"]).abs().mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            print("trained", len(loader), "batches")

        worker = threading.Thread(target=train_step)
        worker.start()
        worker.join()
        for _ in range(2):
            ov.convert_model(torch.nn.Conv2d(3, 4, 3).eval(), example_input=torch.zeros(1, 3, 8, 8))
        print("converted")


    if __name__ == "__main__":
        run()
    """
)


def test_no_fork_of_numbas_thread_pool_in_a_training_process(tmp_path):
    script = tmp_path / "training_process.py"
    script.write_text(SCRIPT)
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    environment.pop("TRYON_CORRELATION_BACKEND", None)
    completed = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "data")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "trained 2 batches" in completed.stdout
    assert "converted" in completed.stdout
    assert TBB_FORK_WARNING not in completed.stderr, completed.stderr[-3000:]
