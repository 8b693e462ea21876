"""One `TryOnEngine` shared by threads: every caller gets its own try-on, and no error.

Runs the shipped model (no torch needed): the tiny test models compute too fast for callers to
meet inside the model.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tryon_app.core.paths import bundled_models_dir

DEFAULT = bundled_models_dir() / "default"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (DEFAULT / "metadata.json").is_file(), reason="no shipped model"),
]

CALLERS = 4
CALLS_EACH = 5


def distinct_inputs(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(person, garment) pairs that differ in every pixel's colour, so results cannot be mixed."""
    rng = np.random.default_rng(7)
    pairs = []
    for index in range(count):
        person = np.full((256, 192, 3), 40 + 50 * index, np.uint8)
        person[60:200, 50:140] = rng.integers(0, 256, 3)
        garment = np.full((256, 192, 3), 255, np.uint8)
        garment[40:220, 30:160] = rng.integers(0, 256, 3)
        pairs.append((person, garment))
    return pairs


def test_threads_sharing_an_engine_each_get_their_own_result():
    from tryon_app.core.engine import TryOnEngine

    engine = TryOnEngine(DEFAULT)
    inputs = distinct_inputs(CALLERS)
    expected = [engine.try_on(person, garment).image for person, garment in inputs]
    for index in range(1, CALLERS):  # the inputs really give different try-ons
        assert np.abs(expected[index].astype(int) - expected[0]).mean() > 10

    start = threading.Barrier(CALLERS)
    failures: list[str] = []

    def caller(index: int) -> None:
        start.wait()
        for call in range(CALLS_EACH):
            try:
                image = engine.try_on(*inputs[index]).image
            except Exception as error:  # noqa: BLE001 - "Infer Request is busy", reported below
                failures.append(f"caller {index}, call {call}: {type(error).__name__}: {error}")
                continue
            difference = np.abs(image.astype(int) - expected[index]).max()
            if difference > 1:
                failures.append(f"caller {index}, call {call}: another result ({difference})")

    threads = [threading.Thread(target=caller, args=(index,)) for index in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
