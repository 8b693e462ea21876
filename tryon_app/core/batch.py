"""Batch try-on over a VITON-layout folder, with image decoding overlapped with inference."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tryon_app.core.errors import InputImageError, TryOnError
from tryon_app.core.images import load_image, load_mask, save_image, to_model_input


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
        if array.shape[:2] != (256, 192):
            raise InputImageError(
                f"{path}: is {array.shape[1]}x{array.shape[0]}, VITON layout needs 192x256"
            )
    return (
        to_model_input(person_rgb),
        to_model_input(cloth_rgb),
        (edge[None, None] / 255.0).astype(np.float32),
    )


def run_batch(
    dataroot, pairs_file, out_dir, *, model_dir=None, options=None, progress: bool = True
) -> tuple[int, float]:
    """Try every pair; returns (count, seconds). Outputs are `<person>__<cloth>.png` in out_dir."""
    from tryon_app.core.artifact import load_artifact
    from tryon_app.core.engine import default_model_dir
    from tryon_app.core.images import from_model_output
    from tryon_app.core.pipeline import TryOnPipeline

    dataroot, out_dir = Path(dataroot), Path(out_dir)
    pairs = read_pairs(pairs_file)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TryOnError(f"{out_dir}: cannot create the output folder ({error.strerror})") from None
    pipeline = TryOnPipeline(load_artifact(model_dir or default_model_dir()), options)
    bar = _progress_bar(len(pairs), progress)
    start = time.perf_counter()
    # Decoding and encoding run in a helper thread while OpenVINO and numba (which release the
    # GIL) compute the current pair.
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = pool.submit(_load_pair, dataroot, *pairs[0])
        writes = []
        for index, (person, cloth) in enumerate(pairs):
            inputs = pending.result()
            if index + 1 < len(pairs):
                pending = pool.submit(_load_pair, dataroot, *pairs[index + 1])
            output = pipeline.run(*inputs)
            name = f"{Path(person).stem}__{Path(cloth).stem}.png"
            writes.append(
                pool.submit(save_image, out_dir / name, from_model_output(output.p_tryon))
            )
            bar(index + 1)
        for write in writes:
            write.result()
    return len(pairs), time.perf_counter() - start


def _progress_bar(total: int, enabled: bool):
    """A minimal stderr progress bar (the runtime does not depend on tqdm)."""
    import sys

    def update(done: int) -> None:
        if not enabled:
            return
        width = 30
        filled = int(width * done / total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return update
