"""Batch try-on over a VITON-layout folder in throughput mode: several try-ons in flight at once."""

from __future__ import annotations

import logging
import queue
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path

import numpy as np

from tryon_app.core.artifact import INPUT_HEIGHT, INPUT_WIDTH
from tryon_app.core.compose import GarmentSource, compose_output
from tryon_app.core.errors import ArtifactError, InputImageError, TryOnError
from tryon_app.core.framing import Box
from tryon_app.core.images import (
    load_image,
    load_mask,
    remove_leftover_temporaries,
    save_image,
    to_model_input,
)

log = logging.getLogger(__name__)

OUTPUT_NAME_PATTERN = r"[^/\\]+__[^/\\]+\.png"
"""What `run_batch` names its outputs (`<person>__<cloth>.png`), as a regular expression."""


def output_name(person: str, cloth: str) -> str:
    """The file `run_batch` writes for one pair."""
    return f"{Path(person).stem}__{Path(cloth).stem}.png"


def read_pairs(pairs_file: str | Path) -> list[tuple[str, str]]:
    """`person cloth` lines; blank lines and `#` comments skipped; bad lines name their number."""
    pairs_file = Path(pairs_file)
    try:
        text = pairs_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputImageError(
            f"{pairs_file}: cannot read the pairs file ({error.__class__.__name__})"
        ) from None
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 2:
            raise InputImageError(
                f"{pairs_file}:{number}: expected `person cloth`, got {line.strip()!r}"
            )
        pairs.append((words[0], words[1]))
    if not pairs:
        raise InputImageError(f"{pairs_file}: no pairs")
    return pairs


def _load_pair(dataroot: Path, person: str, cloth: str):
    person_rgb = load_image(dataroot / "test_img" / person, what="person photo")
    cloth_rgb = load_image(dataroot / "test_clothes" / cloth, what="garment photo")
    edge = load_mask(dataroot / "test_edge" / cloth)
    for path, array in (
        (dataroot / "test_img" / person, person_rgb),
        (dataroot / "test_clothes" / cloth, cloth_rgb),
    ):
        if array.shape[:2] != (INPUT_HEIGHT, INPUT_WIDTH):
            raise InputImageError(
                f"{path}: is {array.shape[1]}x{array.shape[0]}, VITON layout needs "
                f"{INPUT_WIDTH}x{INPUT_HEIGHT}"
            )
    return person_rgb, cloth_rgb, edge


def _model_inputs(person_rgb: np.ndarray, cloth_rgb: np.ndarray, edge: np.ndarray):
    return (
        to_model_input(person_rgb),
        to_model_input(cloth_rgb),
        (edge[None, None] / 255.0).astype(np.float32),
    )


def run_batch(
    dataroot,
    pairs_file,
    out_dir,
    *,
    model_dir=None,
    options=None,
    requests: int | None = None,
    progress: bool = True,
    resolution: str = "model",
) -> tuple[int, float]:
    """Try every pair; returns (count, seconds). Outputs are `<person>__<cloth>.png` in out_dir.

    Throughput mode: the model is compiled with OpenVINO's THROUGHPUT hint and `requests` try-ons
    (default: as many as OpenVINO asks for) are in flight at once, each on a pipeline fork of its
    own. OpenVINO's AsyncInferQueue cannot drive the split layout, whose numba cost volume runs
    between graphs, so worker threads do: OpenVINO and numba release the GIL. Decoding and
    encoding overlap inference the same way. On the first failure the remaining pairs are
    cancelled and the error is raised; finished outputs stay.

    `resolution` "model" writes the model's try-on as it is; "full" composes it into the person
    photo as `tryon run` does (only the changed region from the model, the garment from its own
    photo; the VITON layout's photos are the model's size, so the box is the whole photo).

    Outputs are written atomically (`save_image`). An interrupted batch (KeyboardInterrupt)
    finishes the pairs in flight and leaves no temporary file; the temporary files of a killed
    one are removed when the next batch into the same folder starts.
    """
    from tryon_app.core.artifact import load_artifact
    from tryon_app.core.engine import OLD_ARTIFACT_NOTE, default_model_dir
    from tryon_app.core.images import from_model_output
    from tryon_app.core.pipeline import RuntimeOptions, TryOnPipeline

    dataroot, out_dir = Path(dataroot), Path(out_dir)
    pairs = read_pairs(pairs_file)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TryOnError(f"{out_dir}: cannot create the output folder ({error.strerror})") from None
    for leftover in remove_leftover_temporaries(out_dir, OUTPUT_NAME_PATTERN):
        log.info("removed %s, left by an earlier batch that was killed", leftover)
    options = replace(options or RuntimeOptions(), throughput=True)
    pipeline = TryOnPipeline(load_artifact(model_dir or default_model_dir()), options)
    lanes = min(len(pairs), requests or pipeline.optimal_requests())
    free: queue.SimpleQueue = queue.SimpleQueue()
    free.put(pipeline)
    for _ in range(lanes - 1):
        free.put(pipeline.fork())

    if resolution not in ("model", "full"):
        raise ValueError(f"resolution must be 'model' or 'full', not {resolution!r}")
    if resolution == "full" and not pipeline.has_composition_outputs:
        raise ArtifactError(
            f"{pipeline.artifact.root}: {OLD_ARTIFACT_NOTE}; use --resolution model"
        )

    def try_pair(person: str, cloth: str) -> None:
        photos = _load_pair(dataroot, person, cloth)
        lane = free.get()
        try:
            output = lane.run(*_model_inputs(*photos))
        finally:
            free.put(lane)
        if resolution == "full":
            person_rgb, cloth_rgb, edge = photos
            canvas_box = (0, 0, INPUT_HEIGHT, INPUT_WIDTH)
            garment = GarmentSource(cloth_rgb, edge, canvas_box, mask=edge)
            whole = Box(0, 0, INPUT_WIDTH, INPUT_HEIGHT)
            image = compose_output(person_rgb, whole, person_rgb, output, garment).image
        else:
            image = from_model_output(output.p_tryon)
        save_image(out_dir / output_name(person, cloth), image)

    bar = _ProgressBar(len(pairs), progress)
    start = time.perf_counter()
    # One worker more than lanes, so that a pair is being decoded while every lane computes.
    pool = ThreadPoolExecutor(max_workers=lanes + 1)
    try:
        futures = [pool.submit(try_pair, person, cloth) for person, cloth in pairs]
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()
            bar.update(done)
    finally:
        bar.close()
        # The pairs in flight finish their saves; none of ours is left half-written.
        pool.shutdown(wait=True, cancel_futures=True)
    return len(pairs), time.perf_counter() - start


class _ProgressBar:
    """A minimal stderr progress bar (the runtime does not depend on tqdm)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.drawn = total, enabled, False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        """End the bar's line, so that what is printed next (a message) starts a line."""
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.drawn = False
