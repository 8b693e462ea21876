"""How a model does on real photos that have reference try-ons (the VITON demo layout).

A folder holds `test_img/`, `test_clothes/`, a pairs file and `official_results/
<person>__<cloth>.jpg`: 576x256 JPEGs written by the official PF-AFN code (person | masked garment
| try-on). Each pair runs as `tryon run` runs it with its defaults (computed garment mask, auto
framing, full resolution, f32 hint); the result, brought to 192x256, is compared with the
reference's right third, and so is the unchanged person photo: a try-on that helps beats it.

Real photos measure; they never train, tune or calibrate anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from optimization.data.viton import PAIRS_FILES, read_pairs, read_rgb
from optimization.metrics import photo_ssim

REFERENCE_FOLDER = "official_results"
SIZE = (192, 256)  # (width, height) of the comparison, VITON's


@dataclass(frozen=True)
class RealPair:
    """One pair's scores against its reference try-on (SSIM over the whole 192x256 image)."""

    name: str
    ssim: float
    psnr: float
    unchanged_ssim: float
    unchanged_psnr: float


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def _at_viton_size(rgb: np.ndarray) -> np.ndarray:
    if rgb.shape[:2] == (SIZE[1], SIZE[0]):
        return rgb
    return cv2.resize(rgb, SIZE, interpolation=cv2.INTER_AREA)


def evaluate_real(
    model_dir: str | Path | None, folder: str | Path, *, sheet: str | Path | None = None
) -> dict[str, Any]:
    """Scores of every pair of `folder` and their means; writes a contact sheet to `sheet`.

    Returns:
        `pairs` (a `RealPair` dict each) and the means `ssim`, `psnr`, `unchanged_ssim`,
        `unchanged_psnr`, `margin` (mean try-on SSIM minus unchanged SSIM), `worst_margin`.
    """
    from tryon_app.core.engine import TryOnEngine
    from tryon_app.core.pipeline import RuntimeOptions

    folder = Path(folder)
    references = folder / REFERENCE_FOLDER
    if not references.is_dir():
        raise ValueError(f"{folder}: no {REFERENCE_FOLDER}/ folder of reference try-ons")
    engine = TryOnEngine(model_dir, RuntimeOptions(precision="f32"))
    scored, rows = [], []
    pairs_file = next((folder / name for name in PAIRS_FILES if (folder / name).is_file()), None)
    if pairs_file is None:
        raise ValueError(f"{folder}: no pairs file ({', '.join(PAIRS_FILES)})")
    for person_name, cloth_name in read_pairs(pairs_file):
        name = f"{Path(person_name).stem}__{Path(cloth_name).stem}"
        person = read_rgb(folder / "test_img" / person_name)
        cloth = read_rgb(folder / "test_clothes" / cloth_name)
        reference_path = references / f"{name}.jpg"
        if not reference_path.is_file():
            raise ValueError(
                f"{reference_path}: no reference try-on for {person_name} {cloth_name}"
            )
        reference = read_rgb(reference_path)
        reference = reference[:, reference.shape[1] * 2 // 3 :]
        ours = _at_viton_size(engine.try_on(person, cloth).image)
        unchanged = _at_viton_size(person)
        scored.append(
            RealPair(
                name,
                photo_ssim(ours, reference),
                _psnr(ours, reference),
                photo_ssim(unchanged, reference),
                _psnr(unchanged, reference),
            )
        )
        rows.append([unchanged, _at_viton_size(cloth), ours, _at_viton_size(reference)])
    if not scored:
        raise ValueError(f"{folder}: the pairs file lists no pairs")
    if sheet is not None:
        write_sheet(Path(sheet), rows, scored)
    means = {
        field: float(np.mean([getattr(pair, field) for pair in scored]))
        for field in ("ssim", "psnr", "unchanged_ssim", "unchanged_psnr")
    }
    margins = [pair.ssim - pair.unchanged_ssim for pair in scored]
    return {
        "model": str(engine.artifact.root),
        "folder": str(folder),
        **means,
        "margin": float(np.mean(margins)),
        "worst_margin": float(np.min(margins)),
        "pairs": [asdict(pair) for pair in scored],
    }


def write_sheet(path: Path, rows: list[list[np.ndarray]], scored: list[RealPair]) -> None:
    """person | garment | ours | reference, one pair a row, with its SSIMs written under ours."""
    label_h = 18
    lines = []
    header = np.full((label_h, SIZE[0] * 4, 3), 255, np.uint8)
    for column, title in enumerate(("person", "garment", "ours", "reference")):
        cv2.putText(
            header,
            title,
            (column * SIZE[0] + 4, 13),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    lines.append(header)
    for images, pair in zip(rows, scored, strict=True):
        lines.append(np.hstack(images))
        caption = np.full((label_h, SIZE[0] * 4, 3), 255, np.uint8)
        text = f"{pair.name}: SSIM {pair.ssim:.3f} (unchanged photo {pair.unchanged_ssim:.3f})"
        cv2.putText(
            caption, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA
        )
        lines.append(caption)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(np.vstack(lines), cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write the contact sheet")
