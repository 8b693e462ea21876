"""Prints on synthetic garments: words in real fonts, photographic prints and simple graphics.

Everything is read from packages already installed, never downloaded:

- fonts: the DejaVu, STIX and Computer Modern TrueType fonts bundled with matplotlib
  (`mpl-data/fonts/ttf`; DejaVu under the Bitstream Vera / DejaVu licence, STIX under the SIL Open
  Font Licence, Computer Modern under the Knuth licence as matplotlib ships them), found from the
  package's location without importing it; `/usr/share/fonts/truetype/dejavu` (Debian's
  `fonts-dejavu-core`) is a fallback.
- photographs: images that scikit-image ships inside its wheel (`skimage/data`): `astronaut`
  (NASA, public domain), `camera` (CC0, Lav Varshney), `coffee` (CC0, Rachel Michetti), `chelsea`
  (CC0, Stefan van der Walt), `rocket` (SpaceX, public domain), `hubble_deep_field` (NASA, public
  domain), `coins` (Brooklyn Museum, no known copyright restrictions) and the `horse` silhouette
  (openclipart, CC0); and matplotlib's `grace_hopper.jpg` (U.S. Navy photo, public domain). Where
  scikit-image is not installed (it comes with the `rembg` extra), every photo print uses
  `grace_hopper` instead, so a dataset of the same seed then differs in those prints.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import cv2
import numpy as np

FONT_NAMES = (
    "DejaVuSans-Bold",
    "DejaVuSans",
    "DejaVuSans-BoldOblique",
    "DejaVuSerif-Bold",
    "DejaVuSerif-BoldItalic",
    "DejaVuSansMono-Bold",
    "STIXGeneralBol",
    "cmb10",
    "cmss10",
)
PHOTO_NAMES = (
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "coins",
    "grace_hopper",
)
_PHOTO_FILES = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "camera": ("skimage", "data/camera.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),
    "coins": ("skimage", "data/coins.png"),
    "horse": ("skimage", "data/horse.png"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}
WORDS = (
    "NOVA",
    "ORBIT",
    "SUMMIT",
    "BROOKLYN",
    "PARIS",
    "TOKYO",
    "1987",
    "ATHLETIC",
    "NORTH",
    "WILD",
    "GOOD DAYS",
    "LOVE",
    "SOLAR",
    "CALIFORNIA",
    "STUDIO",
    "ESSENTIAL",
    "AURA",
    "VINTAGE",
    "ORIGINAL",
    "LUNA",
    "SPORT",
    "RIVER",
    "OCEAN",
    "KIND",
    "HELLO",
    "BOLD",
    "CLUB",
    "UNITED",
    "FREE",
    "DREAM",
    "ALPINE",
    "No. 7",
    "Amour",
    "Weekend",
    "Stay Wild",
)


@dataclass(frozen=True, eq=False)
class Patch:
    """A print ready to lay on fabric: coverage (h, w) and colour (h, w, 3), float32."""

    alpha: np.ndarray
    rgb: np.ndarray


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


@cache
def font_path(name: str) -> Path:
    """The TrueType file of font `name` (one of FONT_NAMES), found offline.

    Raises:
        FileNotFoundError: neither matplotlib's fonts nor Debian's DejaVu fonts hold it.
    """
    candidates = []
    matplotlib_dir = _package_dir("matplotlib")
    if matplotlib_dir is not None:
        candidates.append(matplotlib_dir / "mpl-data" / "fonts" / "ttf" / f"{name}.ttf")
    candidates.append(Path("/usr/share/fonts/truetype/dejavu") / f"{name}.ttf")
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"font {name}: not found in matplotlib's mpl-data/fonts/ttf nor in "
        "/usr/share/fonts/truetype/dejavu (install matplotlib, the optimize extra)"
    )


@cache
def photo(name: str) -> np.ndarray:
    """A bundled photograph (H, W, 3) uint8 RGB (grey images are repeated on three channels)."""
    package, relative = _PHOTO_FILES[name]
    folder = _package_dir(package)
    path = folder / relative if folder is not None else None
    if path is None or not path.is_file():
        if name == "grace_hopper":
            raise FileNotFoundError(f"{relative}: not found (install matplotlib)")
        return photo("grace_hopper")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: unreadable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@lru_cache(maxsize=64)
def _font(name: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path(name)), size)


def _text_alpha(text: str, font: str, width_px: float, stroke: int = 0) -> np.ndarray:
    """Coverage (h, w) float32 of `text` set in `font` about `width_px` wide."""
    from PIL import Image, ImageDraw

    probe = _font(font, 64)
    left, top, right, bottom = probe.getbbox(text, stroke_width=0)
    size = int(np.clip(64 * width_px / max(right - left, 1), 4, 600))
    face = _font(font, size)
    left, top, right, bottom = face.getbbox(text, stroke_width=stroke)
    image = Image.new("L", (right - left + 2, bottom - top + 2), 0)
    ImageDraw.Draw(image).text(
        (1 - left, 1 - top), text, font=face, fill=255, stroke_width=stroke, stroke_fill=255
    )
    return np.asarray(image, np.float32) / 255.0


def text_patch(
    text: str, font: str, width_px: float, ink, second, treatment: str, fabric_rgb
) -> Patch:
    """A word print: plain ink, an outline, or knocked out of a block of ink with a bar under it."""
    ink = np.asarray(ink, np.float32)
    if treatment == "outline":
        stroke = max(1, int(round(width_px / 70)))
        outer = _text_alpha(text, font, width_px, stroke)
        inner = _text_alpha(text, font, width_px, 0)
        inner = cv2.resize(inner, outer.shape[::-1], interpolation=cv2.INTER_AREA)
        rgb = np.empty((*outer.shape, 3), np.float32)
        rgb[:] = ink
        rgb += (np.asarray(second, np.float32) - rgb) * inner[..., None]
        return Patch(outer, rgb)
    letters = _text_alpha(text, font, width_px * (0.8 if treatment == "block" else 1.0))
    if treatment != "block":
        rgb = np.empty((*letters.shape, 3), np.float32)
        rgb[:] = ink
        return Patch(letters, rgb)
    height, width = letters.shape
    pad = max(2, int(round(width * 0.1)))
    bar = max(1, int(round(height * 0.22)))
    alpha = np.zeros((height + 3 * pad + bar, width + 2 * pad), np.float32)
    alpha[: height + 2 * pad] = 1.0
    alpha[height + 2 * pad + pad // 2 : height + 2 * pad + pad // 2 + bar, pad:-pad] = 1.0
    rgb = np.empty((*alpha.shape, 3), np.float32)
    rgb[:] = ink
    region = rgb[pad : pad + height, pad : pad + width]
    region += (np.asarray(fabric_rgb, np.float32) - region) * letters[..., None]
    rgb[height + 2 * pad :] = np.asarray(second, np.float32)
    return Patch(alpha, rgb)


def photo_patch(
    name: str, width_px: float, treatment: str, ink, second, rng: np.random.Generator
) -> Patch:
    """A photographic print: a crop in colour, as a duotone, or screen-printed in one ink."""
    image = photo(name).astype(np.float32)
    height, width = image.shape[:2]
    aspect = rng.uniform(0.8, 1.25)
    crop_w = int(min(width, height / aspect) * rng.uniform(0.55, 1.0))
    crop_h = int(crop_w * aspect)
    y0 = int(rng.integers(0, max(1, height - crop_h + 1)))
    x0 = int(rng.integers(0, max(1, width - crop_w + 1)))
    out_w = max(2, int(round(width_px)))
    out_h = max(2, int(round(width_px * aspect)))
    crop = cv2.resize(
        image[y0 : y0 + crop_h, x0 : x0 + crop_w], (out_w, out_h), interpolation=cv2.INTER_AREA
    )
    grey = crop @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
    if treatment == "duotone":
        rgb = (
            np.asarray(ink, np.float32)
            + (np.asarray(second, np.float32) - np.asarray(ink, np.float32)) * grey[..., None]
        )
        alpha = np.ones(grey.shape, np.float32)
    elif treatment == "screen":
        rgb = np.empty((*grey.shape, 3), np.float32)
        rgb[:] = np.asarray(ink, np.float32)
        level = float(np.median(grey))
        alpha = np.clip((level - grey) * 6.0 + 0.5, 0, 1)
    else:
        rgb = crop
        alpha = np.ones(grey.shape, np.float32)
    shape = rng.integers(3)
    ys = np.linspace(-1, 1, out_h, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, out_w, dtype=np.float32)[None, :]
    if shape == 0:  # oval vignette
        alpha = alpha * np.clip((1.0 - np.sqrt(xs**2 + ys**2)) * 4.0, 0, 1)
    elif shape == 1:  # soft-edged rectangle
        edge = np.minimum(1 - np.abs(xs), 1 - np.abs(ys))
        alpha = alpha * np.clip(edge * 25.0, 0, 1)
    return Patch(alpha.astype(np.float32), rgb.astype(np.float32))


def graphic_patch(width_px: float, ink, second, rng: np.random.Generator) -> Patch:
    """A simple screen-printed graphic: the horse silhouette, a sunset, a star or rings."""
    size = max(8, int(round(width_px)))
    kind = int(rng.integers(4))
    alpha = np.zeros((size, size), np.float32)
    rgb = np.empty((size, size, 3), np.float32)
    rgb[:] = np.asarray(ink, np.float32)
    centre = (size - 1) / 2
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    radius = np.hypot(xs - centre, ys - centre) / (size / 2)
    if kind == 0:
        horse = photo("horse") if "horse" in _PHOTO_FILES else None
        if horse is not None and horse.mean() > 0:
            silhouette = (horse[..., 0] < 128).astype(np.float32)
            if rng.random() < 0.5:
                silhouette = silhouette[:, ::-1]
            h, w = silhouette.shape
            alpha = cv2.resize(silhouette, (size, int(size * h / w)), interpolation=cv2.INTER_AREA)
            rgb = np.empty((*alpha.shape, 3), np.float32)
            rgb[:] = np.asarray(ink, np.float32)
            return Patch(alpha, rgb)
        kind = 1
    if kind == 1:  # sunset: a disc cut by horizontal bars
        disc = np.clip((1.0 - radius) * size * 0.5, 0, 1)
        bars = (np.sin(ys / size * math.pi * 14) > -0.2) | (ys < size * 0.55)
        alpha = disc * bars
        rgb += (np.asarray(second, np.float32) - rgb) * (ys / size)[..., None]
    elif kind == 2:  # five-pointed star
        angle = np.arctan2(ys - centre, xs - centre) + math.pi / 2
        lobe = 0.55 + 0.45 * np.cos(5 * angle) ** 2 * (np.cos(5 * angle) > 0)
        alpha = np.clip((lobe - radius) * size * 0.5, 0, 1)
    else:  # rings
        alpha = np.clip((np.cos(radius * math.pi * 6) - 0.2) * 3.0, 0, 1) * (radius < 1)
    return Patch(alpha.astype(np.float32), rgb)
