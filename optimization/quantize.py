"""Post-training INT8 quantization of the exported graphs with NNCF, calibrated on try-on pairs.

Each split graph is calibrated on the inputs it really sees: the calibration pairs are run
through the torch wrappers and every graph's inputs are recorded. Weights and activations of
the convolutions become INT8; grid sampling, grid composition and the flow outputs stay in
float, because normalised-grid errors of 1e-3 are already ~0.1 px and compound over the levels.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from optimization.graphs import record_graph_inputs
from tryon_app.core.artifact import FUSED_GRAPH

if TYPE_CHECKING:
    import torch

    from optimization.graphs import GraphSpec, SplitTryOn

log = logging.getLogger(__name__)
CALIBRATION_SEED = 900_001  # never used for training data


def load_calibration(
    folder: str | Path | None, size: int = 64
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(person, clothes, edge) samples from a VITON-layout folder, or fresh synthetic pairs."""
    from optimization.data.viton import VitonPairs

    if folder is None:
        from optimization.data.synthetic import write_dataset

        folder = Path(tempfile.mkdtemp(prefix="tryon-calib-")) / "synth"
        write_dataset(folder, n_pairs=size, seed=CALIBRATION_SEED, progress=False)
    dataset = VitonPairs(folder)
    samples = []
    for index in range(min(size, len(dataset))):
        item = dataset[index]
        samples.append((item["person"][None], item["clothes"][None], item["edge"][None]))
    if not samples:
        raise ValueError(f"{folder}: no calibration pairs")
    return samples


def calibration_inputs(split: SplitTryOn, calibration) -> dict[str, list[tuple]]:
    """For every graph of both layouts, the numpy input tuples it receives on `calibration`."""
    if not calibration:
        raise ValueError("int8 export needs calibration samples")
    recorded = record_graph_inputs(split, calibration)
    recorded[FUSED_GRAPH] = [tuple(sample) for sample in calibration]
    return {
        path: [tuple(t.numpy() for t in item) for item in items] for path, items in recorded.items()
    }


def quantize_graph(model, spec: GraphSpec, inputs: list[tuple]):
    """NNCF PTQ of one OpenVINO model; grid sampling and everything after the flow heads stay float."""
    import nncf

    ignored = nncf.IgnoredScope(types=["GridSample"], validate=False)
    return nncf.quantize(
        model,
        nncf.Dataset(inputs),
        subset_size=len(inputs),
        ignored_scope=ignored,
        fast_bias_correction=True,
    )
