"""Synthetic garments of the flat style, sampled: the cut, the texture and the drape as typed
parameters, recorded JSON-ready in `synth.json`. `synth_garment_build` makes the garment and its
product photo from them, `synth_garment_wear` puts it on a figure.

A garment is a front panel polygon plus two sleeves, each sleeve a strip of two bilinear quads
(armhole seam -> bend -> cuff), all in canonical garment space (see `synth_body`). Its texture lives
in *template* space, the pixels of the product photo, which is the canonical garment scaled and
centred to fill the 192 x 256 frame like a VITON product shot. The worn garment samples that same
texture through the body map (torso) and through arm-following coordinates (sleeves), so the flat
and the worn garment correspond pixel for pixel up to the deformation and the shading.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np

from optimization.data.synth_draw import (
    hsv_colour,
    luminance,
    scaled,
)

CUTS = ("tshirt", "long_sleeve", "tank", "blouse", "vneck")
TEXTURES = ("solid", "stripes", "checks", "dots", "logo", "gradient")
_WORDS = (
    "NOVA",
    "ORBIT",
    "LUMA",
    "KITE",
    "ZEST",
    "ECHO",
    "PIXEL",
    "TERRA",
    "VELA",
    "SOLAR",
    "MOSS",
    "AURA",
    "FLUX",
    "JUNO",
    "BLOOM",
    "WAVE",
    "88",
    "07",
    "CITY",
    "NORTH",
    "HELLO",
    "PEAK",
    "RIO",
    "OAK",
)
FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
)
_EMBLEMS = ("none", "none", "disc", "box", "band")


@dataclass(frozen=True)
class SleeveShape:
    """A sleeve in canonical units: a strip from the armhole seam to a bend, then to the cuff.

    Attributes:
        angle: degrees from straight down of the part below the bend.
        bend_angle: degrees from straight down of the part above it.
        bend_fraction: where along the sleeve the bend is (0 armhole .. 1 cuff).
        length: from the middle of the armhole seam to the cuff.
        cuff_half, bend_half: half-widths at the cuff and at the bend.
    """

    angle: float
    bend_angle: float
    bend_fraction: float
    length: float
    cuff_half: float
    bend_half: float


@dataclass(frozen=True)
class Geometry:
    """A garment's cut in canonical garment space (x from the centre line, y down from the neck).

    Attributes:
        neck_half, neck_depth: the front neck opening's half-width and depth.
        neck_shape: "round" or "v".
        back_depth: how far the inside of the back shows below the neck corners.
        shoulder_half, shoulder_drop: the shoulder point (outer end of the armhole seam).
        armpit_half, armpit_y: the armpit (inner end of the armhole seam).
        waist_half, waist_y, hem_half, hem_y: the side seam's waist and hem points.
        hem_curve: how far the hem dips at the centre (half the Bezier's control offset).
        sleeve: the sleeves' shape; None for a sleeveless cut.
        buttons: buttons down a front placket, 0 for none.
    """

    neck_half: float
    neck_depth: float
    neck_shape: str
    back_depth: float
    shoulder_half: float
    shoulder_drop: float
    armpit_half: float
    armpit_y: float
    waist_half: float
    waist_y: float
    hem_half: float
    hem_y: float
    hem_curve: float
    sleeve: SleeveShape | None
    buttons: int

    @classmethod
    def from_json(cls, document: dict) -> Geometry:
        """The geometry of `sample_garment`'s params (``params["geometry"]``)."""
        sleeve = document["sleeve"]
        return cls(**{**document, "sleeve": None if sleeve is None else SleeveShape(**sleeve)})


@dataclass(frozen=True)
class Drape:
    """How a garment sits on the body (`sample_drape`'s params, typed).

    Attributes:
        cylinder: how strongly the front panel wraps round the torso (0 flat).
        wobble_x, wobble_y: (amplitude px, wavelength px, phase rad) of the hanging cloth's waves.
        side_shade, vertical_shade: darkening towards the sides and from top to bottom.
        folds: canonical (start, middle, end) points of quadratic fold lines.
        fold_depth: how dark a fold line is.
        sleeve_cap: extra height of a sleeve's dome over the shoulder joint.
        sleeve_ease: extra half-width at the sleeve's top, at a short cuff and at a long cuff.
    """

    cylinder: float
    wobble_x: tuple[float, float, float]
    wobble_y: tuple[float, float, float]
    side_shade: float
    vertical_shade: float
    folds: list
    fold_depth: float
    sleeve_cap: float
    sleeve_ease: tuple[float, float, float]

    @classmethod
    def from_json(cls, document: dict) -> Drape:
        return cls(**document)


def _r(value: float) -> float:
    return round(float(value), 3)


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


# ---------------------------------------------------------------------------------------------------
# Sampling (every random choice ends up in the JSON-ready params; building from params is deterministic)


def _sample_colour(rng: np.random.Generator) -> list[int]:
    family = rng.random()
    if family < 0.12:
        return hsv_colour(rng.random(), rng.uniform(0, 0.15), rng.uniform(0.08, 0.25))
    if family < 0.24:
        return hsv_colour(rng.random(), rng.uniform(0, 0.08), rng.uniform(0.86, 0.97))
    if family < 0.32:
        return hsv_colour(rng.random(), rng.uniform(0, 0.1), rng.uniform(0.4, 0.7))
    return hsv_colour(rng.random(), rng.uniform(0.35, 0.9), rng.uniform(0.35, 0.93))


def _contrasting(rng: np.random.Generator, colour: list[int], minimum: float = 60.0) -> list[int]:
    for _ in range(12):
        other = _sample_colour(rng)
        if abs(luminance(other) - luminance(colour)) >= minimum:
            return other
    return [245, 245, 242] if luminance(colour) < 128 else [25, 25, 30]


def _short_sleeve(rng: np.random.Generator, puffy: bool = False) -> SleeveShape:
    angle = rng.uniform(48, 62)
    return SleeveShape(
        angle=_r(angle),
        bend_angle=_r(angle),
        bend_fraction=0.5,
        length=_r(rng.uniform(18, 26) if puffy else rng.uniform(20, 30)),
        cuff_half=_r(rng.uniform(11, 13) if puffy else rng.uniform(9.5, 12)),
        bend_half=_r(rng.uniform(14, 17)),
    )


def _long_sleeve(rng: np.random.Generator, loose: bool = False) -> SleeveShape:
    return SleeveShape(
        angle=_r(rng.uniform(6, 14)),
        bend_angle=_r(rng.uniform(28, 38)),
        bend_fraction=_r(rng.uniform(0.18, 0.26)),
        length=_r(rng.uniform(75, 106) if loose else rng.uniform(96, 106)),
        cuff_half=_r(rng.uniform(8, 10) if loose else rng.uniform(6.5, 8.5)),
        bend_half=_r(rng.uniform(9.5, 11.5)),
    )


def _sample_geometry(rng: np.random.Generator, cut: str) -> Geometry:
    u = rng.uniform
    # Keyword arguments are evaluated in order: the draws keep the order of the generator's
    # first version, so a seed gives the same garments.
    geometry = Geometry(
        neck_half=u(12, 16),
        neck_depth=u(6, 10),
        neck_shape="round",
        back_depth=u(1.5, 3.5),
        shoulder_half=u(43, 47),
        shoulder_drop=u(6, 9),
        armpit_half=u(38, 41),
        armpit_y=u(42, 48),
        waist_half=u(35, 39),
        waist_y=90.0,
        hem_half=u(37, 42),
        hem_y=u(112, 128),
        hem_curve=u(0, 3),
        sleeve=None,
        buttons=0,
    )
    if cut == "tshirt":
        geometry = replace(geometry, sleeve=_short_sleeve(rng))
    elif cut == "vneck":
        geometry = replace(geometry, neck_shape="v", neck_half=u(12, 15), neck_depth=u(24, 36))
        sleeve = _short_sleeve(rng) if rng.random() < 0.7 else _long_sleeve(rng)
        geometry = replace(geometry, sleeve=sleeve)
    elif cut == "long_sleeve":
        geometry = replace(geometry, waist_half=u(34, 37), sleeve=_long_sleeve(rng))
    elif cut == "tank":
        neck_half = u(13, 17)
        geometry = replace(
            geometry,
            neck_half=neck_half,
            neck_depth=u(14, 24),
            shoulder_half=neck_half + u(7, 12),
            shoulder_drop=u(1, 3),
            armpit_half=u(37, 40),
            armpit_y=u(50, 58),
            hem_y=u(110, 124),
        )
    elif cut == "blouse":
        geometry = replace(
            geometry,
            neck_shape="v",
            neck_half=u(11, 14),
            neck_depth=u(14, 22),
            hem_half=u(41, 47),
            hem_y=u(122, 138),
            hem_curve=u(3, 7),
            waist_half=u(33, 37),
            buttons=int(rng.integers(4, 7)),
        )
        sleeve = (
            _long_sleeve(rng, loose=True) if rng.random() < 0.5 else _short_sleeve(rng, puffy=True)
        )
        geometry = replace(geometry, sleeve=sleeve)
    else:
        raise ValueError(f"unknown cut {cut!r}")
    rounded = {
        field.name: _r(value)
        for field in fields(geometry)
        if isinstance(value := getattr(geometry, field.name), float)
    }
    return replace(geometry, **rounded)


def _sample_texture(rng: np.random.Generator, kind: str) -> dict:
    u = rng.uniform
    base = _sample_colour(rng)
    texture: dict = {"kind": kind, "colours": [base]}
    if kind == "stripes":
        angle = _pick(rng, (0.0, 90.0)) if rng.random() < 0.5 else u(0, 180)
        texture.update(
            angle=_r(angle), period=_r(u(6, 22)), duty=_r(u(0.25, 0.6)), phase=_r(u(0, 30))
        )
    elif kind == "checks":
        texture.update(
            angle=0.0 if rng.random() < 0.75 else 45.0,
            period=_r(u(10, 26)),
            duty=_r(u(0.35, 0.55)),
            phase=[_r(u(0, 30)), _r(u(0, 30))],
        )
    elif kind == "dots":
        spacing = u(10, 24)
        texture.update(
            spacing=_r(spacing),
            radius=_r(spacing * u(0.14, 0.32)),
            stagger=bool(rng.random() < 0.6),
            angle=_r(u(-20, 20)),
        )
    elif kind == "logo":
        placement = "chest" if rng.random() < 0.75 else "left_chest"
        emblem = _pick(rng, _EMBLEMS)
        texture.update(
            text=_pick(rng, _WORDS),
            font=int(rng.integers(len(FONTS))),
            thickness=_r(u(1.0, 2.6)),
            placement=placement,
            width_ratio=_r(u(0.35, 0.7)),
            height=_r(u(0.28, 0.42)),
            emblem=emblem if placement == "chest" else "none",
        )
    elif kind == "gradient":
        texture.update(angle=_r(90 + u(-35, 35)))
    elif kind != "solid":
        raise ValueError(f"unknown texture {kind!r}")
    if kind != "solid":
        texture["colours"].append(_contrasting(rng, base, 45.0 if kind == "gradient" else 60.0))
    return texture


def sample_garment(
    rng: np.random.Generator, avoid_cut: str | None = None, avoid_texture: str | None = None
) -> dict:
    """Random garment params (cut, geometry, texture, trims, product-photo layout), JSON-ready."""
    cut = _pick(rng, [c for c in CUTS if c != avoid_cut])
    geometry = _sample_geometry(rng, cut)
    texture = _sample_texture(rng, _pick(rng, [t for t in TEXTURES if t != avoid_texture]))
    base = texture["colours"][0]
    trim = _contrasting(rng, base) if rng.random() < 0.25 else [int(v) for v in scaled(base, 0.82)]
    white = rng.uniform(238, 255)
    layout = {
        "margin": [_r(rng.uniform(5, 12)), _r(rng.uniform(6, 18))],
        "max_stretch": _r(rng.uniform(1.0, 1.15)),
        "shift": [_r(rng.uniform(-2, 2)), _r(rng.uniform(-3, 3))],
        "background": [int(round(np.clip(white + rng.normal(0, 1.5), 0, 255))) for _ in range(3)],
        "shadow": _r(rng.uniform(0, 0.08)),
    }
    buttons = [int(v) for v in (_contrasting(rng, base, 40.0) if geometry.buttons else base)]
    return {
        "cut": cut,
        "geometry": asdict(geometry),
        "texture": texture,
        "trim": trim,
        "buttons_rgb": buttons,
        "layout": layout,
    }


def sample_drape(rng: np.random.Generator, geometry: dict) -> dict:
    """How a garment sits on the body: cylinder wrap, wobble, fold lines, shading, sleeve ease."""
    u = rng.uniform
    g = Geometry.from_json(geometry)
    folds = []
    for _ in range(int(rng.integers(2, 6))):
        kind = _pick(rng, ("armpit", "armpit", "waist", "drape"))
        side = _pick(rng, (-1, 1))
        if kind == "armpit":
            start = [side * g.armpit_half * 0.95, g.armpit_y + u(0, 6)]
            end = [side * g.armpit_half * u(0.3, 0.6), g.armpit_y + u(14, 34)]
        elif kind == "waist":
            y = g.waist_y + u(-12, 12)
            start = [-g.waist_half * u(0.4, 0.9), y]
            end = [g.waist_half * u(0.4, 0.9), y + u(-5, 5)]
        else:
            x = u(-0.6, 0.6) * g.waist_half
            start = [x, g.armpit_y + u(5, 25)]
            end = [x + u(-6, 6), g.hem_y - u(2, 12)]
        bulge = u(-0.25, 0.25)
        middle = [
            (start[0] + end[0]) / 2 - bulge * (end[1] - start[1]),
            (start[1] + end[1]) / 2 + bulge * (end[0] - start[0]),
        ]
        folds.append([[_r(v) for v in start], [_r(v) for v in middle], [_r(v) for v in end]])
    return {
        "cylinder": _r(u(0.4, 0.85)),
        "wobble_x": [_r(u(0.5, 2.0)), _r(u(28, 64)), _r(u(0, 2 * math.pi))],
        "wobble_y": [_r(u(0.3, 1.4)), _r(u(30, 70)), _r(u(0, 2 * math.pi))],
        "side_shade": _r(u(0.1, 0.25)),
        "vertical_shade": _r(u(-0.02, 0.1)),
        "folds": folds,
        "fold_depth": _r(u(0.1, 0.3)),
        "sleeve_cap": _r(u(-0.5, 1.5)),
        "sleeve_ease": [
            _r(u(1.5, 3.2)),
            _r(u(2.0, 4.0)),
            _r(u(1.2, 2.4)),
        ],  # top; short cuff; long cuff
    }
