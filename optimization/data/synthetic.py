"""Procedural synthetic try-on pairs with ground truth, in VITON's folder layout.

Each pair shows one mannequin twice, in the same pose on the same background: wearing some garment
(the input person) and wearing the requested garment (the ground truth), plus the requested garment
laid flat as a product photo with its silhouette. What varies, per pair (all recorded in
`synth.json`):

- body: size, shoulder/waist/hip widths, torso length, head size and position, skin tone (light to
  dark), hair (black, brown, blond, red, grey; short, bob, long behind or over the shoulders, bun),
  trousers colour, light background;
- pose: arms at the sides, raised, crossed in front of the torso (hiding part of the garment), one
  hand on the hip, both hands on the hips; which crossed arm is in front;
- garment cut: T-shirt, long sleeve, tank top, blouse (buttons, flared curved hem), V-neck; neck
  width and depth, shoulder, armhole, waist and hem sizes, sleeve angle, length and cuff width;
- texture: solid, stripes at any angle, checks, dots, a printed word with an optional emblem,
  gradient; colours, trim (neck rib) colour;
- how it is worn: cylinder wrap strength, a sinusoidal wobble, fold lines, side and vertical
  shading, sleeve ease;
- the product photo: margins, stretch, near-white background, faint drop shadow.

The input person's garment always differs from the requested one in cut and texture kind. Pair `i`
of seed `s` depends only on `(s, i)`, never on how many pairs are written.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import cv2
import numpy as np

from optimization.data.synth_body import (
    Body,
    arm_field,
    arm_skin,
    draw_body,
    paint_arm,
    paint_front_hair,
    paint_hand,
    sample_body,
)
from optimization.data.synth_draw import GARMENT, HEIGHT, WIDTH, Canvas
from optimization.data.synth_garment import (
    Garment,
    build_garment,
    paint_sleeve,
    paint_torso,
    product_photo,
    sample_drape,
    sample_garment,
)

log = logging.getLogger(__name__)

GENERATOR = "openvino-tryon synthetic v1"
JPEG_QUALITY = 90
MARKER_FILE = "synth.json"
FOLDERS = ("test_img", "test_clothes", "test_edge", "gt", "gt_cloth_mask")
_OWN_ENTRIES = set(FOLDERS) | {"pairs.txt", MARKER_FILE}
_SLEEVE_MARGIN = 22.0  # px around an arm's bones that a sleeve can reach


def pair_names(index: int) -> dict[str, str]:
    """File names of pair `index`, relative to the dataset root."""
    stem = f"{index:06d}"
    return {
        "person": f"test_img/{stem}_0.jpg",
        "cloth": f"test_clothes/{stem}_1.jpg",
        "edge": f"test_edge/{stem}_1.jpg",
        "gt": f"gt/{stem}_0.jpg",
        "gt_cloth_mask": f"gt_cloth_mask/{stem}_0.png",
    }


def _pair_rng(seed_or_rng: int | np.random.Generator, index: int) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if (
        isinstance(seed_or_rng, bool)
        or not isinstance(seed_or_rng, (int, np.integer))
        or seed_or_rng < 0
    ):
        raise ValueError(
            f"seed must be a non-negative integer or a numpy Generator, got {seed_or_rng!r}"
        )
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be a non-negative integer, got {index!r}")
    return np.random.default_rng([int(seed_or_rng), int(index)])


def _dress(base: Canvas, body: Body, fields, skins, garment: Garment, drape: dict) -> Canvas:
    """The body wearing `garment`: torso panel, hair in front, then each arm with its sleeve and hand."""
    canvas = base.copy()
    paint_torso(canvas, body, garment, drape)
    paint_front_hair(canvas, body)
    for index in body.arm_order:
        arm = body.arms[index]
        paint_arm(canvas, body, arm, fields[index], skins[index])
        paint_sleeve(canvas, arm, fields[index], garment, drape)
        paint_hand(canvas, body, arm)
    return canvas


def render_pair(seed_or_rng: int | np.random.Generator, index: int = 0) -> dict:
    """One synthetic try-on pair, in memory.

    Args:
        seed_or_rng: a dataset seed (the pair's generator is derived from `(seed, index)`) or a
            numpy Generator to draw from directly.
        index: the pair's index within the dataset.

    Returns:
        `person`, `cloth`, `gt`: (256, 192, 3) uint8 RGB; `edge`: (256, 192) uint8, the flat
        garment's silhouette (255 inside); `gt_cloth_mask` and `person_cloth_mask`: (256, 192) uint8,
        255 where the requested (resp. the input person's) garment is visible on the person;
        `params`: the JSON-ready description of the pair.
    """
    body, requested, worn_before, requested_drape, worn_before_drape = _sample_pair(
        _pair_rng(seed_or_rng, index)
    )
    garment = build_garment(requested)
    cloth, edge = product_photo(garment)
    base = draw_body(body)
    fields = [arm_field(arm, _SLEEVE_MARGIN) for arm in body.arms]
    skins = [arm_skin(arm, field) for arm, field in zip(body.arms, fields, strict=True)]
    person = _dress(base, body, fields, skins, build_garment(worn_before), worn_before_drape)
    truth = _dress(base, body, fields, skins, garment, requested_drape)
    return {
        "person": person.to_uint8(),
        "cloth": cloth,
        "edge": edge,
        "gt": truth.to_uint8(),
        "gt_cloth_mask": np.where(truth.owner == GARMENT, 255, 0).astype(np.uint8),
        "person_cloth_mask": np.where(person.owner == GARMENT, 255, 0).astype(np.uint8),
        "params": _describe(
            index, body, requested, worn_before, requested_drape, worn_before_drape
        ),
    }


def _sample_pair(rng: np.random.Generator):
    """Every random draw of a pair, in a fixed order: body, both garments, how each is worn."""
    body = sample_body(rng)
    requested = sample_garment(rng)
    worn_before = sample_garment(
        rng, avoid_cut=requested["cut"], avoid_texture=requested["texture"]["kind"]
    )
    return (
        body,
        requested,
        worn_before,
        sample_drape(rng, requested["geometry"]),
        sample_drape(rng, worn_before["geometry"]),
    )


def _describe(
    index: int,
    body: Body,
    requested: dict,
    worn_before: dict,
    requested_drape: dict,
    worn_before_drape: dict,
) -> dict:
    return {
        "index": int(index),
        "body": body.params,
        "garment": {**requested, "drape": requested_drape},
        "person_garment": {**worn_before, "drape": worn_before_drape},
    }


def pair_params(seed: int, index: int) -> dict:
    """The parameters `render_pair(seed, index)` would render, without rendering (fast)."""
    return _describe(index, *_sample_pair(_pair_rng(seed, index)))


def _encode(path: Path, image: np.ndarray) -> None:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if path.suffix == ".png":
        ok, data = cv2.imencode(".png", image)
    else:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"{path}: could not encode the image")
    path.write_bytes(data.tobytes())


def _prepare(out: Path) -> None:
    """Create `out`, or clear a previous synthetic dataset there; refuse anything else."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    if out.is_dir():
        entries = {entry.name for entry in out.iterdir()}
        if entries:
            marker = out / MARKER_FILE
            ours = False
            if marker.is_file():
                try:
                    ours = (
                        json.loads(marker.read_text(encoding="utf-8")).get("generator") == GENERATOR
                    )
                except (OSError, ValueError, AttributeError):
                    ours = False
            if not ours:
                raise ValueError(
                    f"{out}: folder is not empty and holds no synthetic dataset ({MARKER_FILE}); "
                    "choose a new or empty folder"
                )
            strangers = sorted(entries - _OWN_ENTRIES)
            if strangers:
                raise ValueError(
                    f"{out}: holds files the generator did not write ({', '.join(strangers[:3])}); "
                    "choose a new or empty folder"
                )
            log.info("replacing the synthetic dataset in %s", out)
            for name in entries:
                target = out / name
                if target.is_dir():
                    shutil.rmtree(target)
                else:
                    target.unlink()
    for folder in FOLDERS:
        (out / folder).mkdir(parents=True, exist_ok=True)


def write_dataset(out: Path, n_pairs: int, seed: int, progress: bool = True) -> Path:
    """Write `n_pairs` synthetic pairs to `out` in VITON's layout, with ground truth.

    Layout: `test_img/NNNNNN_0.jpg` (person in another garment), `test_clothes/NNNNNN_1.jpg`
    (requested garment, flat), `test_edge/NNNNNN_1.jpg` (its silhouette), `gt/NNNNNN_0.jpg` (person
    wearing it), `gt_cloth_mask/NNNNNN_0.png` (its visible pixels), `pairs.txt` and `synth.json`
    (seed, generator and every pair's parameters). Images are 192 x 256, JPEG quality 90.
    Same seed, same bytes.

    Args:
        out: the dataset folder; created, or replaced if it holds an earlier synthetic dataset.
        n_pairs: number of pairs (at least 1).
        seed: non-negative integer.
        progress: show a progress bar.

    Raises:
        ValueError: bad arguments, or `out` is a file or a non-empty folder the generator did not write.
    """
    from tqdm import tqdm

    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
        raise ValueError(f"number of pairs must be a positive integer, got {n_pairs!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    out = Path(out)
    _prepare(out)
    header = {
        "generator": GENERATOR,
        "seed": int(seed),
        "n_pairs": int(n_pairs),
        "size": [WIDTH, HEIGHT],
        "jpeg_quality": JPEG_QUALITY,
    }
    (out / MARKER_FILE).write_text(
        json.dumps({**header, "complete": False}, indent=1) + "\n", encoding="utf-8"
    )
    records, lines = [], []
    for index in tqdm(range(int(n_pairs)), desc="synth", unit="pair", disable=not progress):
        pair = render_pair(int(seed), index)
        names = pair_names(index)
        for key, name in names.items():
            _encode(out / name, pair[key])
        lines.append(f"{Path(names['person']).name} {Path(names['cloth']).name}\n")
        records.append(
            {
                "person": Path(names["person"]).name,
                "cloth": Path(names["cloth"]).name,
                **pair["params"],
            }
        )
    (out / "pairs.txt").write_text("".join(lines), encoding="utf-8")
    document = {**header, "complete": True, "pairs": records}
    (out / MARKER_FILE).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return out


def write_samples(out: Path, n: int, seed: int) -> list[Path]:
    """Write the app's sample photos: `persons/person_NN.jpg` and `garments/garment_NN.jpg`.

    Person `NN` and garment `NN` come from pair `NN - 1` of the dataset `seed`, so each person
    wears another garment than the sample of the same number. Existing samples are replaced;
    nothing else in `out` is touched.

    Returns:
        The written files.
    """
    if n < 1:
        raise ValueError(f"number of samples must be positive, got {n}")
    written = []
    for index in range(n):
        pair = render_pair(int(seed), index)
        for folder, stem, key in (
            ("persons", "person", "person"),
            ("garments", "garment", "cloth"),
        ):
            path = Path(out) / folder / f"{stem}_{index + 1:02d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            _encode(path, pair[key])
            written.append(path)
    return written
