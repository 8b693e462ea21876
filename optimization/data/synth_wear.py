"""A garment worn by the figure: its pieces mapped from the atlas onto the body, draped and lit.

The torso pieces are looked up through the body map (`Figure.to_canonical`): every pixel of the
torso finds the garment point that covers it, displaced a little by the folds (so prints bend over
them) and by a sway of the hem. Each sleeve is a tube along its arm whose (t, s) coordinates index
the flat sleeve of the pattern. Shading combines the body's roundness, the drape's folds and the
atlas relief under the scene's light, with a sheen for satin-like fabrics. Coverage comes from the
atlas too, so the ground-truth mask is exactly what is painted.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from optimization.data.synth_apparel import GarmentSpec
from optimization.data.synth_atlas import Atlas
from optimization.data.synth_canvas import GARMENT, Layer, Sprite, View, blur
from optimization.data.synth_figure import Figure
from optimization.data.synth_folds import Drape, crumples, height_field, slopes
from optimization.data.synth_light import Light, diffuse, glint, rim
from optimization.data.synth_pattern import Pattern

_CANONICAL_ARM = 57.0  # a sleeve this long (from the seam) reaches the wrist
_FLAT_TO_TUBE = 2.0 / np.pi  # a flat sleeve W wide is a tube 2W / pi across


@dataclass(frozen=True, eq=False)
class Garment:
    spec: GarmentSpec
    pattern: Pattern
    atlas: Atlas
    drape: Drape


def _source(atlas: Atlas, view: View) -> tuple[np.ndarray, np.ndarray]:
    """The atlas colour and relief, pre-blurred when the atlas is much finer than the view."""
    ratio = atlas.view.scale / view.scale
    if ratio > 1.3:
        sigma = 0.45 * ratio
        return blur(atlas.rgb, sigma), blur(atlas.relief, sigma)
    return atlas.rgb, atlas.relief


def _lookup(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray, border: int) -> np.ndarray:
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=border, borderValue=0)


def _shade(
    garment: Garment, light: Light, albedo: np.ndarray, nx: np.ndarray, ny: np.ndarray
) -> np.ndarray:
    fabric = garment.spec.fabric
    nx, ny = np.clip(nx, -0.97, 0.97), np.clip(ny, -0.97, 0.97)
    brightness = diffuse(light, nx, ny)
    rgb = albedo * brightness[..., None] * np.asarray(light.tint, np.float32)
    if fabric.sheen > 0.02:
        power = 8.0 + 40.0 * fabric.sheen
        rgb += (glint(light, nx, ny, power) * np.float32(fabric.sheen * 70.0))[..., None]
    if fabric.weave in ("fleece", "knit", "cable", "heather"):
        # Fuzzy yarn scatters light at grazing angles: a soft lift towards the silhouette.
        rgb += (rim(nx, ny) * np.float32(14.0))[..., None]
    return rgb


def _torso_box(view: View, figure: Figure, garment: Garment):
    pieces = [garment.pattern.front, garment.pattern.back_inside]
    if garment.pattern.hood is not None:
        pieces.append(garment.pattern.hood)
    points = np.concatenate(pieces)
    x, y = figure.from_canonical(points[:, 0], points[:, 1], garment.drape.wrap)
    return view.box(np.stack([x, y], 1), 3.0)


def _torso_folds(figure: Figure, garment: Garment) -> list:
    lines = []
    for fold in garment.drape.torso:
        points = np.asarray(fold.points, np.float64)
        dense = np.stack(
            [
                np.interp(np.linspace(0, len(points) - 1, 12), np.arange(len(points)), points[:, k])
                for k in range(2)
            ],
            1,
        )
        x, y = figure.from_canonical(dense[:, 0], dense[:, 1], garment.drape.wrap)
        lines.append((np.stack([x, y], 1), fold.depth, fold.width))
    return lines


def _lift(figure: Figure, xs: np.ndarray, ys: np.ndarray, scale: float) -> np.ndarray:
    """1 where the garment hangs, 0 where a hand in a pocket pushes its hem up and out of sight."""
    keep = np.ones(xs.shape, np.float32)
    for arm in figure.arms:
        if arm.mode != "pocket":
            continue
        reach = arm.wrist_half + 3.0
        x0, y0 = arm.wrist
        curve = y0 - 3.0 + ((xs - np.float32(x0)) / np.float32(reach)) ** 2 * np.float32(9.0)
        keep *= np.clip((curve - ys) * np.float32(scale) + 0.5, 0, 1)
    return keep


def wear_torso(
    view: View, figure: Figure, garment: Garment, light: Light
) -> tuple[Sprite | None, Sprite | None]:
    """The back pieces (seen behind the neck) and the front panel of the worn garment."""
    box = _torso_box(view, figure, garment)
    if box.empty:
        return None, None
    drape, atlas = garment.drape, garment.atlas
    xs, ys = view.grid(box)
    heights = height_field(view, box, _torso_folds(figure, garment))
    heights += crumples(view, box, drape.crumple, drape.seed)
    gx, gy = slopes(heights, view.scale)
    hem_y = float(
        figure.from_canonical(np.zeros(1), np.array([garment.spec.cut.hem_y]), drape.wrap)[1][0]
    )
    waist_y = figure.body.level("waist")
    hang = np.clip((ys - np.float32(waist_y)) / np.float32(max(hem_y - waist_y, 1.0)), 0, 1)
    amplitude, wavelength, phase = drape.sway
    sway = (
        np.float32(amplitude)
        * hang
        * np.sin(xs * np.float32(2 * np.pi / wavelength) + np.float32(phase))
    )
    # Folds pull the cloth (and its print) a little towards their crests.
    canonical_x, canonical_y = figure.to_canonical(
        xs + gx * np.float32(0.5), ys + gy * np.float32(0.5) + sway, drape.wrap
    )
    map_x, map_y = atlas.texels(canonical_x, canonical_y)
    colour, relief = _source(atlas, view)
    albedo = _lookup(colour, map_x, map_y, cv2.BORDER_REPLICATE)
    front = _lookup(atlas.front, map_x, map_y, cv2.BORDER_CONSTANT)
    back = _lookup(atlas.back, map_x, map_y, cv2.BORDER_CONSTANT)
    relief = _lookup(relief, map_x, map_y, cv2.BORDER_CONSTANT)
    if not drape.tucked:
        front *= _lift(figure, xs, ys, view.scale)

    body = figure.body
    ratio = np.clip((xs - figure.centre(ys)) / figure.half(ys), -1.25, 1.25)
    top = np.clip((body.level("shoulder") + 3.0 - ys) / 7.0, 0, 1) * np.clip(
        (np.abs(xs - figure.centre(ys)) - body.neck_half) / 5.0, 0, 1
    )
    bust = (
        np.float32(body.bust * 0.35)
        * np.sin(np.clip((ys - body.level("armpit")) / 12.0, 0, 1) * np.float32(np.pi))
        * np.clip(1.2 - np.abs(np.abs(ratio) - 0.45) * 3.0, 0, 1)
    )
    rx, ry = slopes(relief, view.scale)
    nx = ratio * np.float32(0.85) + gx + rx
    ny = -np.float32(0.55) * top + bust * np.float32(0.6) + gy + ry
    rgb = _shade(garment, light, albedo, nx, ny)
    # Behind the neck a worn garment shows only a narrow band of its back: the neck band running
    # round (coloured like the front's band), or a hood or collar lying behind.
    inside = _lookup(atlas.inside, map_x, map_y, cv2.BORDER_CONSTANT)
    neckline = garment.pattern.neckline
    order = np.argsort(neckline[:, 0])
    band_y = np.interp(canonical_x, neckline[order, 0], neckline[order, 1]) + np.float32(
        max(garment.spec.cut.neck_band, 1.0) * 0.5
    )
    band_x, band_y = atlas.texels(canonical_x, band_y.astype(np.float32))
    band_rgb = _shade(garment, light, _lookup(colour, band_x, band_y, cv2.BORDER_REPLICATE), nx, ny)
    visible = np.clip((np.float32(-2.6) - canonical_y) * np.float32(view.scale) + 0.5, 0, 1)
    back_alpha = (back - inside) + inside * visible
    back_rgb = rgb + (band_rgb - rgb) * inside[..., None]
    back_sprite = Sprite(
        Layer((back_alpha * (1 - front)).astype(np.float32), box),
        back_rgb * np.float32(0.82),
        GARMENT,
    )
    return back_sprite, Sprite(Layer(front.astype(np.float32), box), rgb, GARMENT)


def wear_sleeve(
    view: View, figure: Figure, garment: Garment, index: int, light: Light
) -> Sprite | None:
    """The sleeve on arm `index` (0 image left), or None for a sleeveless garment."""
    piece = garment.pattern.sleeves[index]
    if piece is None:
        return None
    arm = figure.arms[index]
    flat_top = float(np.hypot(*(piece.seam_outer - piece.seam_inner))) / 2
    flat_cuff = float(np.hypot(*(piece.cuff_outer - piece.cuff_inner))) / 2
    top_half = max(arm.upper_half + 0.4, flat_top * _FLAT_TO_TUBE * 0.9)
    # A shoulder seam beyond the body's shoulder (a dropped shoulder) widens the sleeve's top so
    # the sleeve hangs from the seam instead of leaving the panel's corner standing out.
    corner = garment.pattern.shoulder_points[index]
    corner_x, _ = figure.from_canonical(corner[:1], corner[1:], garment.drape.wrap)
    seam_reach = abs(float(corner_x[0]) - float(arm.joint[0])) + 0.8
    top_half = max(top_half, min(seam_reach, arm.upper_half + 3.5))
    end = min(piece.length * arm.length / _CANONICAL_ARM, arm.length + 1.5)
    cuff_half = max(float(arm.half_width(np.array(end))) + 0.35, flat_cuff * _FLAT_TO_TUBE)
    field = figure.arm_field(view, arm, top_half + 2.5)
    cap = arm.upper_half * 0.58
    start = -cap
    t = np.clip((field.u - np.float32(start)) / np.float32(end - start), 0, 1)
    half = np.float32(top_half) + np.float32(cuff_half - top_half) * t
    half = np.maximum(half, arm.half_width(field.u) + np.float32(0.3))
    above_joint = np.minimum(field.u, 0) * (half / np.float32(cap))
    distance = np.sqrt(above_joint**2 + field.across**2)
    alpha = np.clip((half - distance) * np.float32(view.scale) + 0.5, 0, 1) * np.clip(
        (np.float32(end) - field.u) * np.float32(view.scale) + 0.5, 0, 1
    )
    s = np.clip((1 + field.across / half) / 2, 0, 1)
    canonical_x, canonical_y = piece.point(t, s)
    map_x, map_y = garment.atlas.texels(canonical_x, canonical_y)
    colour, relief = _source(garment.atlas, view)
    albedo = _lookup(colour, map_x, map_y, cv2.BORDER_REPLICATE)
    relief = _lookup(relief, map_x, map_y, cv2.BORDER_REPLICATE)
    lines = []
    for fold in garment.drape.sleeves[index]:
        points = np.array([arm.at(u, across) for u, across in fold.points])
        lines.append((points, fold.depth, fold.width))
    heights = height_field(view, field.box, lines) + relief
    heights += crumples(view, field.box, garment.drape.crumple, garment.drape.seed + 1 + index)
    gx, gy = slopes(heights, view.scale)
    roundness = np.clip(field.across / half, -1, 1)
    dome = np.clip(-field.u / np.float32(cap), 0, 1)  # the sleeve cap faces up over the shoulder
    nx = roundness * field.inner_x * np.float32(0.9) + gx
    ny = roundness * field.inner_y * np.float32(0.9) - dome * np.float32(0.3) + gy
    rgb = _shade(garment, light, albedo, nx, ny)
    # A glimpse of the sleeve's inside at its hem, on the under side.
    hem = np.clip((field.u - np.float32(end - 0.9)) / 0.9, 0, 1) * np.clip(s * 2 - 1, 0, 1)
    rgb *= (1.0 - 0.4 * hem)[..., None]
    return Sprite(Layer(alpha.astype(np.float32), field.box), rgb, GARMENT)
