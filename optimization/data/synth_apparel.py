"""Sampling the garments of a realistic scene: cut, fabric, print and the product shot.

A garment is a frozen `GarmentSpec`: its `Cut` (kind, neckline, widths and lengths in canonical
centimetres, see `synth_figure`), its `Fabric` (weave, colours, yarn-dyed pattern, sheen), an
optional `Print` and the `ProductShot` that photographs it. Geometry is built from the cut by
`synth_pattern`, the texture by `synth_atlas`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimization.data.synth_prints import FONT_NAMES, PHOTO_NAMES, WORDS
from optimization.data.synth_sampling import hsv, jitter, luminance, pick

KINDS = ("tee", "long_sleeve", "sleeveless", "polo", "shirt", "hoodie", "knit", "blouse")
KIND_WEIGHTS = (0.22, 0.13, 0.11, 0.08, 0.14, 0.1, 0.11, 0.11)
SLEEVE_CLASSES = ("none", "short", "elbow", "long")
WEAVES = (
    "jersey",
    "heather",
    "pique",
    "rib",
    "fleece",
    "knit",
    "cable",
    "poplin",
    "oxford",
    "twill",
    "chambray",
    "satin",
    "chiffon",
)
PATTERNS = ("solid", "stripes", "checks", "plaid", "dots", "floral")
PRINT_KINDS = ("none", "text", "photo", "graphic", "badge")
# A garment lies flat at about 1.3 times the width it shows on a body seen from the front (half its
# circumference against the body's width): widths are sampled as seen and stored flat.
FLAT_WIDTH = 1.3

_WEAVES_OF = {
    "tee": (("jersey", "heather", "rib"), (0.6, 0.3, 0.1)),
    "long_sleeve": (("jersey", "heather", "rib"), (0.5, 0.25, 0.25)),
    "sleeveless": (("jersey", "rib", "satin", "chiffon"), (0.35, 0.25, 0.2, 0.2)),
    "polo": (("pique", "jersey"), (0.8, 0.2)),
    "shirt": (("poplin", "oxford", "twill", "chambray"), (0.35, 0.25, 0.15, 0.25)),
    "hoodie": (("fleece", "heather"), (0.5, 0.5)),
    "knit": (("knit", "cable", "rib"), (0.5, 0.3, 0.2)),
    "blouse": (("chiffon", "satin", "poplin"), (0.4, 0.3, 0.3)),
}
_PATTERNS_OF = {
    "tee": (0.55, 0.3, 0.0, 0.0, 0.07, 0.08),
    "long_sleeve": (0.55, 0.35, 0.0, 0.0, 0.05, 0.05),
    "sleeveless": (0.55, 0.15, 0.0, 0.0, 0.1, 0.2),
    "polo": (0.8, 0.2, 0.0, 0.0, 0.0, 0.0),
    "shirt": (0.35, 0.25, 0.15, 0.25, 0.0, 0.0),
    "hoodie": (0.9, 0.1, 0.0, 0.0, 0.0, 0.0),
    "knit": (0.75, 0.25, 0.0, 0.0, 0.0, 0.0),
    "blouse": (0.35, 0.1, 0.05, 0.0, 0.15, 0.35),
}
_PRINTS_OF = {
    "tee": (0.3, 0.25, 0.15, 0.15, 0.15),
    "long_sleeve": (0.5, 0.25, 0.1, 0.1, 0.05),
    "sleeveless": (0.7, 0.15, 0.05, 0.1, 0.0),
    "polo": (0.5, 0.0, 0.0, 0.0, 0.5),
    "shirt": (0.8, 0.0, 0.0, 0.0, 0.2),
    "hoodie": (0.3, 0.4, 0.1, 0.1, 0.1),
    "knit": (0.9, 0.05, 0.0, 0.0, 0.05),
    "blouse": (1.0, 0.0, 0.0, 0.0, 0.0),
}


@dataclass(frozen=True)
class Sleeve:
    length: float  # shoulder seam to hem along the arm (cm)
    top_half: float  # half-width at the armhole
    cuff_half: float
    flat_angle: float  # degrees from vertical in the product photo
    cuff_band: float  # rib or cuff height (cm), 0 without

    @property
    def length_class(self) -> str:
        if self.length < 26:
            return "short"
        return "elbow" if self.length < 46 else "long"


@dataclass(frozen=True)
class Cut:
    kind: str
    neck: str  # crew, v, scoop, boat, polo, shirt, hood
    neck_half: float
    neck_depth: float  # front neckline below the notch (cm; the side neck point is at -4.5)
    shoulder_half: float  # where the shoulder seam ends
    strap_half: float  # sleeveless: half-width of the shoulder strap, 0 for a full shoulder
    chest_half: float
    waist_half: float
    hem_half: float
    hem_y: float
    hem_curve: float  # how far the sides of a shirt-tail hem rise (cm)
    armpit_y: float
    sleeve: Sleeve | None
    neck_band: float  # rib height at the neckline (cm)
    hem_band: float  # rib band at the hem (cm)
    buttons: int
    placket_length: float
    collar: float  # collar point length (cm), 0 without
    pocket: str  # none, chest, kangaroo
    drawstrings: bool

    @property
    def sleeve_class(self) -> str:
        return "none" if self.sleeve is None else self.sleeve.length_class


@dataclass(frozen=True)
class Fabric:
    weave: str
    rgb: tuple[float, float, float]
    second_rgb: tuple[float, float, float]  # pattern, fleck or stripe colour
    pattern: str
    period: float  # pattern repeat (cm)
    duty: float
    angle: float  # degrees
    sheen: float  # specular strength, 0 matte .. 1 satin
    trim_rgb: tuple[float, float, float]  # ribbing, collar and buttons


@dataclass(frozen=True)
class Print:
    kind: str  # one of PRINT_KINDS
    text: str
    font: str
    image: str
    ink_rgb: tuple[float, float, float]
    second_rgb: tuple[float, float, float]
    centre: tuple[float, float]  # canonical cm
    width: float  # cm
    treatment: str  # photo: colour, duotone, screen; text: plain, outline, block
    seed: int


@dataclass(frozen=True)
class ProductShot:
    style: str  # flat or ghost
    background: tuple[float, float, float]
    fill: float  # share of the frame the garment spans
    shift: tuple[float, float]  # off-centre placement, share of the frame
    shadow: float


@dataclass(frozen=True)
class GarmentSpec:
    cut: Cut
    fabric: Fabric
    print: Print
    product: ProductShot


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """A garment colour: many neutrals (black, white, greys, navy, beige), some bright, some pastel."""
    family = rng.random()
    if family < 0.16:
        return hsv(rng.random(), rng.uniform(0, 0.12), rng.uniform(0.07, 0.2))
    if family < 0.32:
        return hsv(rng.uniform(0.05, 0.15), rng.uniform(0, 0.08), rng.uniform(0.88, 0.97))
    if family < 0.42:
        return hsv(rng.random(), rng.uniform(0, 0.08), rng.uniform(0.35, 0.75))
    if family < 0.52:
        return hsv(rng.uniform(0.58, 0.68), rng.uniform(0.45, 0.8), rng.uniform(0.18, 0.45))
    if family < 0.6:
        return hsv(rng.uniform(0.06, 0.12), rng.uniform(0.2, 0.45), rng.uniform(0.55, 0.85))
    if family < 0.75:
        return hsv(rng.random(), rng.uniform(0.15, 0.4), rng.uniform(0.75, 0.95))
    return hsv(rng.random(), rng.uniform(0.45, 0.9), rng.uniform(0.35, 0.9))


def _contrasting(rng: np.random.Generator, colour, minimum: float = 60.0):
    for _ in range(12):
        other = _colour(rng)
        if abs(luminance(other) - luminance(colour)) >= minimum:
            return other
    return (240.0, 240.0, 236.0) if luminance(colour) < 128 else (24.0, 24.0, 28.0)


def _sleeve(rng: np.random.Generator, length_class: str, loose: float) -> Sleeve | None:
    u = rng.uniform
    if length_class == "none":
        return None
    if length_class == "short":
        return Sleeve(u(13, 23), u(7.2, 9.0) + loose, u(5.6, 7.6) + loose, u(28, 48), 0.0)
    if length_class == "elbow":
        return Sleeve(u(30, 44), u(7.0, 8.6) + loose, u(4.8, 6.4) + loose, u(16, 30), 0.0)
    return Sleeve(u(55, 62), u(6.6, 8.2) + loose, u(3.6, 4.8) + 0.5 * loose, u(6, 18), 0.0)


def _sleeve_class(rng: np.random.Generator, kind: str, avoid: str | None) -> str:
    options = {
        "tee": ("short",),
        "long_sleeve": ("long",),
        "sleeveless": ("none",),
        "polo": ("short", "short", "long"),
        "shirt": ("long", "long", "long", "short", "elbow"),
        "hoodie": ("long",),
        "knit": ("long", "long", "long", "elbow"),
        "blouse": ("short", "elbow", "long", "long", "none"),
    }[kind]
    allowed = [o for o in options if o != avoid] or list(options)
    return pick(rng, allowed)


def _kind(rng: np.random.Generator, avoid_sleeve: str | None) -> str:
    if avoid_sleeve is None:
        return pick(rng, KINDS, KIND_WEIGHTS)
    # Kinds that can be cut with another sleeve length than the one to avoid.
    kinds, weights = zip(
        *[
            (kind, weight)
            for kind, weight in zip(KINDS, KIND_WEIGHTS, strict=True)
            if not (kind in ("tee",) and avoid_sleeve == "short")
            and not (kind in ("long_sleeve", "hoodie") and avoid_sleeve == "long")
            and not (kind == "sleeveless" and avoid_sleeve == "none")
        ],
        strict=True,
    )
    return pick(rng, kinds, weights)


def _cut(rng: np.random.Generator, kind: str, avoid_sleeve: str | None) -> Cut:
    u = rng.uniform
    loose = {"hoodie": u(1.5, 4.0), "knit": u(1.0, 3.5), "blouse": u(0.5, 3.0)}.get(
        kind, u(0.0, 2.2)
    )
    sleeve = _sleeve(rng, _sleeve_class(rng, kind, avoid_sleeve), loose * 0.5)
    chest = 16.6 + loose + u(0.0, 1.5)
    cut = dict(
        kind=kind,
        neck="crew",
        neck_half=u(7.2, 8.6),
        neck_depth=u(1.5, 4.5),
        shoulder_half=u(17.6, 18.8) + loose * 0.8,
        strap_half=0.0,
        chest_half=chest,
        waist_half=chest - u(0.5, 2.8) + loose * 0.3,
        hem_half=chest + u(-1.5, 1.5),
        hem_y=u(46, 58),
        hem_curve=u(0.0, 1.2),
        armpit_y=u(14.0, 17.0) + loose * 0.6,
        sleeve=sleeve,
        neck_band=u(1.2, 2.0),
        hem_band=0.0,
        buttons=0,
        placket_length=0.0,
        collar=0.0,
        pocket="none",
        drawstrings=False,
    )
    neck = pick(rng, ("crew", "crew", "v", "scoop"))
    if kind in ("tee", "long_sleeve"):
        cut["neck"] = neck
    elif kind == "sleeveless":
        cut["neck"] = pick(rng, ("crew", "scoop", "v", "boat"))
        cut["strap_half"] = u(3.0, 8.0) if rng.random() < 0.6 else 0.0
        cut["armpit_y"] = u(17.0, 21.0)
        cut["neck_band"] = u(0.6, 1.2)
    elif kind == "polo":
        cut.update(
            neck="polo",
            buttons=int(rng.integers(2, 4)),
            placket_length=u(11, 15),
            collar=u(4.5, 6.5),
            neck_depth=1.0,
        )
    elif kind == "shirt":
        cut.update(
            neck="shirt",
            buttons=int(rng.integers(6, 9)),
            collar=u(5.0, 7.5),
            neck_depth=u(2.0, 9.0),
            hem_curve=u(3.0, 7.0),
            hem_y=u(52, 64),
            pocket="chest" if rng.random() < 0.35 else "none",
            neck_band=0.0,
        )
    elif kind == "hoodie":
        cut.update(
            neck="hood",
            hem_band=u(4.0, 6.5),
            neck_depth=u(3.0, 6.0),
            pocket="kangaroo" if rng.random() < 0.75 else "none",
            drawstrings=bool(rng.random() < 0.8),
            hem_y=u(48, 58),
            hem_curve=0.0,
        )
    elif kind == "knit":
        cut.update(
            neck=pick(rng, ("crew", "crew", "v")),
            hem_band=u(3.0, 6.0),
            neck_band=u(1.8, 2.8),
            hem_curve=0.0,
        )
    else:  # blouse
        cut.update(
            neck=pick(rng, ("v", "scoop", "crew", "boat")),
            hem_y=u(44, 60),
            hem_half=chest + u(0.5, 3.0),
            neck_band=u(0.5, 1.0),
            buttons=int(rng.integers(3, 6)) if rng.random() < 0.3 else 0,
        )
        if cut["buttons"]:
            cut["placket_length"] = u(10, 16)
    if cut["neck"] == "v":
        cut["neck_depth"] = u(8.0, 17.0)
        cut["neck_half"] = u(7.0, 8.8)
    elif cut["neck"] == "scoop":
        cut["neck_depth"] = u(6.0, 12.0)
        cut["neck_half"] = u(8.5, 10.5)
    elif cut["neck"] == "boat":
        cut["neck_depth"] = u(0.0, 3.0)
        cut["neck_half"] = u(11.0, 13.5)
    if (
        sleeve is not None
        and kind in ("long_sleeve", "hoodie", "knit", "polo")
        and (sleeve.length_class == "long")
    ):
        cut["sleeve"] = Sleeve(
            sleeve.length, sleeve.top_half, sleeve.cuff_half, sleeve.flat_angle, u(4.0, 7.0)
        )
    elif sleeve is not None and kind == "shirt" and sleeve.length_class == "long":
        cut["sleeve"] = Sleeve(
            sleeve.length, sleeve.top_half, sleeve.cuff_half + 0.4, sleeve.flat_angle, u(5.0, 6.5)
        )
    elif sleeve is not None and kind == "polo":
        cut["sleeve"] = Sleeve(
            sleeve.length, sleeve.top_half, sleeve.cuff_half, sleeve.flat_angle, u(1.5, 2.5)
        )
    if kind != "sleeveless" and rng.random() < 0.12:
        cut["hem_y"] = u(30, 40)  # a cropped top
    for key in ("neck_half", "shoulder_half", "strap_half", "chest_half", "waist_half", "hem_half"):
        cut[key] *= FLAT_WIDTH
    return Cut(**cut)


def _fabric(rng: np.random.Generator, kind: str) -> Fabric:
    weaves, weights = _WEAVES_OF[kind]
    weave = pick(rng, weaves, weights)
    pattern = pick(rng, PATTERNS, _PATTERNS_OF[kind])
    rgb = _colour(rng)
    if weave in ("chambray", "twill") and rng.random() < 0.6:
        rgb = jitter(rng, pick(rng, ((72, 98, 140), (108, 136, 176), (46, 62, 98))), 6.0)
    if weave == "heather" and rng.random() < 0.5:
        rgb = hsv(rng.random(), rng.uniform(0, 0.06), rng.uniform(0.45, 0.78))
    second = _contrasting(rng, rgb, 50.0 if pattern != "solid" else 25.0)
    if weave == "heather":
        second = tuple(float(np.clip(c * rng.uniform(0.6, 1.35), 0, 255)) for c in rgb)
    sheen = {
        "satin": rng.uniform(0.5, 0.9),
        "chiffon": rng.uniform(0.15, 0.35),
        "poplin": rng.uniform(0.08, 0.2),
    }.get(weave, rng.uniform(0.0, 0.1))
    angle = 0.0 if rng.random() < 0.8 else rng.uniform(-50, 50)
    period = {
        "stripes": rng.uniform(0.5, 4.5),
        "checks": rng.uniform(0.6, 3.0),
        "plaid": rng.uniform(5.0, 11.0),
        "dots": rng.uniform(1.2, 4.0),
        "floral": rng.uniform(4.0, 12.0),
    }.get(pattern, 1.0)
    trim = (
        tuple(float(v) * 0.94 for v in rgb) if rng.random() < 0.75 else _contrasting(rng, rgb, 40)
    )
    return Fabric(
        weave=weave,
        rgb=rgb,
        second_rgb=second,
        pattern=pattern,
        period=period,
        duty=rng.uniform(0.2, 0.55),
        angle=angle,
        sheen=sheen,
        trim_rgb=trim,
    )


def _print(rng: np.random.Generator, kind: str, cut: Cut, fabric: Fabric) -> Print:
    u = rng.uniform
    which = pick(rng, PRINT_KINDS, _PRINTS_OF[kind])
    if fabric.pattern in ("plaid", "floral", "checks") and which != "badge":
        which = "none"
    ink = _contrasting(rng, fabric.rgb, 70.0)
    second = _contrasting(rng, fabric.rgb, 40.0)
    top = cut.neck_depth + (3.0 if cut.neck in ("crew", "boat", "hood", "polo") else 1.5)
    centre_y = max(top, 6.0) + u(4.0, 9.0)
    width = cut.chest_half * 2 * u(0.38, 0.62)
    centre = (u(-1.0, 1.0), centre_y)
    if which == "badge":
        width = u(3.0, 6.0)
        centre = (cut.chest_half * u(0.4, 0.6) * pick(rng, (-1, 1)), u(7.0, 11.0))
    return Print(
        kind=which,
        text=pick(rng, WORDS),
        font=pick(rng, FONT_NAMES),
        image=pick(rng, PHOTO_NAMES),
        ink_rgb=ink,
        second_rgb=second,
        centre=centre,
        width=width,
        treatment=pick(rng, ("colour", "duotone", "screen"))
        if which == "photo"
        else pick(rng, ("plain", "plain", "outline", "block")),
        seed=int(rng.integers(2**31)),
    )


def _product(rng: np.random.Generator) -> ProductShot:
    grey = rng.uniform(236, 255) if rng.random() < 0.7 else rng.uniform(218, 236)
    return ProductShot(
        style="ghost" if rng.random() < 0.55 else "flat",
        background=jitter(rng, (grey, grey, grey), 1.5),
        fill=rng.uniform(0.76, 0.9),
        shift=(rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)),
        shadow=rng.uniform(0.0, 0.25),
    )


def sample_garment(rng: np.random.Generator, avoid_sleeve: str | None = None) -> GarmentSpec:
    """A random upper garment; `avoid_sleeve` (a SLEEVE_CLASSES name) rules that sleeve length out."""
    kind = _kind(rng, avoid_sleeve)
    cut = _cut(rng, kind, avoid_sleeve)
    fabric = _fabric(rng, kind)
    return GarmentSpec(cut, fabric, _print(rng, kind, cut, fabric), _product(rng))
