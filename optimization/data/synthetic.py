"""Procedural synthetic try-on pairs with ground truth, in VITON's folder layout.

Two styles share the layout. `realistic` (the default of `optimize synth`, see `synth_realistic`)
renders studio photos of people at VITON's framing, at any size and, with `scene`, inside larger
photos. `flat` is the original illustrated mannequin described below, kept bit for bit (the
default of the Python API, so existing callers and the shipped model's evaluation keep their
data).

In the flat style each pair shows one mannequin twice, in the same pose on the same background: wearing some garment
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
from optimization.data.synth_garment import sample_drape, sample_garment
from optimization.data.synth_garment_build import Garment, build_garment, product_photo
from optimization.data.synth_garment_wear import paint_sleeve, paint_torso

log = logging.getLogger(__name__)

GENERATOR = "openvino-tryon synthetic v1"
JPEG_QUALITY = 90
EDGE_JPEG_QUALITY = 100  # realistic style: a silhouette that thresholds back exactly
MARKER_FILE = "synth.json"
FOLDERS = ("test_img", "test_clothes", "test_edge", "gt", "gt_cloth_mask")
EXTRA_FOLDERS = ("changed", "framing")  # realistic pairs of another scene or size
STYLES = ("realistic", "flat", "mixed")
MIXED_FLAT_EVERY = 4
"""The mixed style: every fourth pair (index % 4 == 3) flat, the others realistic. Training on
both keeps a model that learns the photographic look from forgetting the illustrated one."""
SCENES = ("viton", "full-body", "offset")
VITON_SIZE = (HEIGHT, WIDTH)
_OWN_ENTRIES = set(FOLDERS) | set(EXTRA_FOLDERS) | {"pairs.txt", MARKER_FILE}
_SLEEVE_MARGIN = 22.0  # px around an arm's bones that a sleeve can reach


def pair_names(index: int, extras: bool = False) -> dict[str, str]:
    """File names of pair `index`, relative to the dataset root (`extras`: with the changed mask
    and framing record written for other scenes and sizes)."""
    stem = f"{index:06d}"
    names = {
        "person": f"test_img/{stem}_0.jpg",
        "cloth": f"test_clothes/{stem}_1.jpg",
        "edge": f"test_edge/{stem}_1.jpg",
        "gt": f"gt/{stem}_0.jpg",
        "gt_cloth_mask": f"gt_cloth_mask/{stem}_0.png",
    }
    if extras:
        names["changed"] = f"changed/{stem}_0.png"
        names["framing"] = f"framing/{stem}_0.json"
    return names


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


def pair_style(style: str, index: int) -> str:
    """The style pair `index` is drawn in: `style` itself, or for "mixed" flat or realistic."""
    if style != "mixed":
        return style
    return "flat" if index % MIXED_FLAT_EVERY == MIXED_FLAT_EVERY - 1 else "realistic"


def _check_style(style: str, size: tuple[int, int], scene: str) -> tuple[int, int]:
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose from {', '.join(STYLES)}")
    if scene not in SCENES:
        raise ValueError(f"unknown scene {scene!r}; choose from {', '.join(SCENES)}")
    if (
        len(size) != 2
        or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in size)
        or not (32 <= size[0] <= 4096 and 32 <= size[1] <= 4096)
    ):
        raise ValueError(f"size must be (height, width) between 32 and 4096 pixels, got {size!r}")
    size = (int(size[0]), int(size[1]))
    if style in ("flat", "mixed") and (size != VITON_SIZE or scene != "viton"):
        raise ValueError(f"the {style} style renders 256x192 VITON frames only (no size or scene)")
    return size


def _scene_rng(seed_or_rng, index: int, scene: str) -> np.random.Generator:
    from optimization.data.synth_realistic import scene_rng

    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng.spawn(1)[0]
    return scene_rng(int(seed_or_rng), int(index), scene)


def render_pair(
    seed_or_rng: int | np.random.Generator,
    index: int = 0,
    style: str = "flat",
    size: tuple[int, int] = VITON_SIZE,
    scene: str = "viton",
) -> dict:
    """One synthetic try-on pair, in memory.

    Args:
        seed_or_rng: a dataset seed (the pair's generator is derived from `(seed, index)`) or a
            numpy Generator to draw from directly.
        index: the pair's index within the dataset.
        style: "flat" (the original illustrated mannequin) or "realistic".
        size: (height, width) of the photos (realistic style; see `synth_realistic`).
        scene: "viton", "full-body" or "offset" (realistic style).

    Returns:
        `person`, `cloth`, `gt`: (256, 192, 3) uint8 RGB; `edge`: (256, 192) uint8, the flat
        garment's silhouette (255 inside); `gt_cloth_mask` and `person_cloth_mask`: (256, 192) uint8,
        255 where the requested (resp. the input person's) garment is visible on the person;
        `params`: the JSON-ready description of the pair. The realistic style renders at `size`
        (other scenes in their own aspect ratio) and adds `changed` (255 where person and ground
        truth differ) and `viton_box` (x, y, w, h of the VITON crop in pixel edges).
    """
    style = pair_style(style, index)
    size = _check_style(style, size, scene)
    if style == "realistic":
        from optimization.data.synth_realistic import render_realistic

        rng = _pair_rng(seed_or_rng, index)
        pair = render_realistic(rng, _scene_rng(seed_or_rng, index, scene), size, scene)
        pair["params"] = {"index": int(index), **pair["params"]}
        return pair
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


def pair_params(
    seed: int,
    index: int,
    style: str = "flat",
    size: tuple[int, int] = VITON_SIZE,
    scene: str = "viton",
) -> dict:
    """The parameters `render_pair(seed, index, ...)` would render, without rendering (fast)."""
    style = pair_style(style, index)
    size = _check_style(style, size, scene)
    if style == "realistic":
        from optimization.data.synth_realistic import describe_only

        rng = _pair_rng(seed, index)
        return {
            "index": int(index),
            **describe_only(rng, _scene_rng(seed, index, scene), size, scene),
        }
    return _describe(index, *_sample_pair(_pair_rng(seed, index)))


def _encode(path: Path, image: np.ndarray, quality: int = JPEG_QUALITY) -> None:
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if path.suffix == ".png":
        ok, data = cv2.imencode(".png", image)
    else:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
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


def _write_pair(
    out: Path, seed: int, index: int, style: str, size: tuple[int, int], scene: str, extras: bool
) -> tuple[str, dict]:
    """Render pair `index` and write its files; returns its pairs.txt line and its record."""
    pair = render_pair(seed, index, style, size, scene)
    names = pair_names(index, extras)
    if pair_style(style, index) == "flat":
        for key, name in names.items():
            _encode(out / name, pair[key])
    else:
        params = pair["params"]
        quality = {
            "person": params["jpeg_quality"],
            "gt": params["jpeg_quality"],
            "cloth": params["product_jpeg_quality"],
            "edge": EDGE_JPEG_QUALITY,
        }
        for key, name in names.items():
            if key == "framing":
                framing = {
                    "person": Path(names["person"]).name,
                    "scene": scene,
                    "size": params["size"],
                    "aspect": params["aspect"],
                    "viton_box": params["viton_box"],
                    "changed_pixels": int(np.count_nonzero(pair["changed"])),
                }
                (out / name).write_text(json.dumps(framing, indent=1) + "\n", encoding="utf-8")
            else:
                _encode(out / name, pair[key], quality.get(key, JPEG_QUALITY))
    person, cloth = Path(names["person"]).name, Path(names["cloth"]).name
    return f"{person} {cloth}\n", {"person": person, "cloth": cloth, **pair["params"]}


def _write_pair_star(arguments) -> tuple[str, dict]:
    import cv2 as _cv2

    _cv2.setNumThreads(1)  # one pair per process; the workers are the parallelism
    return _write_pair(*arguments)


def write_dataset(
    out: Path,
    n_pairs: int,
    seed: int,
    progress: bool = True,
    style: str = "flat",
    size: tuple[int, int] = VITON_SIZE,
    scene: str = "viton",
    workers: int = 1,
) -> Path:
    """Write `n_pairs` synthetic pairs to `out` in VITON's layout, with ground truth.

    Layout: `test_img/NNNNNN_0.jpg` (person in another garment), `test_clothes/NNNNNN_1.jpg`
    (requested garment, flat), `test_edge/NNNNNN_1.jpg` (its silhouette), `gt/NNNNNN_0.jpg` (person
    wearing it), `gt_cloth_mask/NNNNNN_0.png` (its visible pixels), `pairs.txt` and `synth.json`
    (seed, generator, style and every pair's parameters). The flat style writes 192 x 256 JPEGs
    at quality 90. The realistic style writes each photo at its camera's JPEG quality (70 to 95)
    and the edge at quality 100; for another scene or size it also writes
    `changed/NNNNNN_0.png` (255 where person and ground truth differ) and `framing/NNNNNN_0.json`
    (photo size, aspect and the VITON box). Same arguments, same bytes, whatever `workers`.

    Args:
        out: the dataset folder; created, or replaced if it holds an earlier synthetic dataset.
        n_pairs: number of pairs (at least 1).
        seed: non-negative integer.
        progress: show a progress bar.
        style: "flat" or "realistic".
        size: (height, width) of the photos (realistic style).
        scene: "viton", "full-body" or "offset" (realistic style).
        workers: processes rendering pairs in parallel.

    Raises:
        ValueError: bad arguments, or `out` is a file or a non-empty folder the generator did not write.
    """
    from tqdm import tqdm

    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
        raise ValueError(f"number of pairs must be a positive integer, got {n_pairs!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    size = _check_style(style, tuple(size), scene)
    extras = style == "realistic" and (scene != "viton" or size != VITON_SIZE)
    out = Path(out)
    _prepare(out)
    for folder in EXTRA_FOLDERS if extras else ():
        (out / folder).mkdir(exist_ok=True)
    header = {
        "generator": GENERATOR,
        "style": style,
        "seed": int(seed),
        "n_pairs": int(n_pairs),
        "size": [size[1], size[0]],
        "scene": scene,
        "jpeg_quality": JPEG_QUALITY if style == "flat" else "per pair (70 to 95; flat: 90)",
    }
    (out / MARKER_FILE).write_text(
        json.dumps({**header, "complete": False}, indent=1) + "\n", encoding="utf-8"
    )
    jobs = [(out, int(seed), index, style, size, scene, extras) for index in range(int(n_pairs))]
    bar = tqdm(total=len(jobs), desc="synth", unit="pair", disable=not progress)
    if workers == 1:
        results = []
        for job in jobs:
            results.append(_write_pair(*job))
            bar.update()
    else:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(int(workers)) as pool:
            results = []
            for result in pool.imap(_write_pair_star, jobs, chunksize=4):
                results.append(result)
                bar.update()
    bar.close()
    (out / "pairs.txt").write_text("".join(line for line, _ in results), encoding="utf-8")
    document = {**header, "complete": True, "pairs": [record for _, record in results]}
    # Realistic records are long: one line each keeps the file small and still readable.
    text = json.dumps(document, indent=1) if style == "flat" else _one_line_per_pair(document)
    (out / MARKER_FILE).write_text(text + "\n", encoding="utf-8")
    return out


def _one_line_per_pair(document: dict) -> str:
    header = {key: value for key, value in document.items() if key != "pairs"}
    lines = [json.dumps(pair, separators=(",", ":")) for pair in document["pairs"]]
    head = json.dumps(header, indent=1)[:-2]
    return head + ',\n "pairs": [\n  ' + ",\n  ".join(lines) + "\n ]\n}"


def write_samples(
    out: Path,
    n: int,
    seed: int,
    style: str = "flat",
    size: tuple[int, int] = VITON_SIZE,
    scene: str = "viton",
) -> list[Path]:
    """Write the app's sample photos: `persons/person_NN.jpg` and `garments/garment_NN.jpg`.

    Person `NN` and garment `NN` come from pair `NN - 1` of the dataset `seed` (drawn in `style`,
    `size` and `scene` as `render_pair` draws them), so each person wears another garment than
    the sample of the same number. Existing samples are replaced; nothing else in `out` is
    touched.

    Returns:
        The written files.
    """
    if n < 1:
        raise ValueError(f"number of samples must be positive, got {n}")
    written = []
    for index in range(n):
        pair = render_pair(int(seed), index, style, size, scene)
        for folder, stem, key in (
            ("persons", "person", "person"),
            ("garments", "garment", "cloth"),
        ):
            path = Path(out) / folder / f"{stem}_{index + 1:02d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            _encode(path, pair[key])
            written.append(path)
    return written
