"""The garment's texture atlas: its flat pattern painted in canonical centimetres, trims and print included.

Both the product photo and the worn garment are looked up in one atlas, so every stripe, letter and
button sits at the same place of the garment in both. The atlas holds the outside colour of every
piece (front, sleeves, collar, hood, and the inside of the back where the neck opening shows it),
the coverage of the front and back pieces, and a relief map in centimetres (collar, pocket edges,
drawstrings, seams) that the shading turns into small shadows and highlights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from optimization.data.synth_apparel import GarmentSpec
from optimization.data.synth_canvas import View, blur, ellipse_points, polygons, strokes
from optimization.data.synth_fabric import fabric_albedo
from optimization.data.synth_pattern import Pattern
from optimization.data.synth_prints import Patch, graphic_patch, photo_patch, text_patch

_MARGIN_CM = 3.0


@dataclass(frozen=True, eq=False)
class Atlas:
    view: View  # canonical cm -> atlas texels
    rgb: np.ndarray  # (H, W, 3) float32 outside colour of every piece
    front: np.ndarray  # (H, W) float32 coverage of the front panel (collar, strings included)
    back: np.ndarray  # (H, W) coverage of the back pieces seen behind (inside back, hood)
    inside: np.ndarray  # (H, W) coverage of the inside of the back alone (not a hood or collar)
    relief: np.ndarray  # (H, W) float32 height above the cloth (cm)

    def texels(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Atlas texel coordinates (for cv2.remap) of canonical points, float32."""
        scale = np.float32(self.view.scale)
        return (
            ((x - np.float32(self.view.left)) * scale).astype(np.float32),
            ((y - np.float32(self.view.top)) * scale).astype(np.float32),
        )


def _full(view: View, layer) -> np.ndarray:
    return layer.within(view.frame)


def _paste(rgb: np.ndarray, alpha_total: np.ndarray, patch: Patch, centre_px, mask: np.ndarray):
    """Blend `patch` centred at `centre_px` into `rgb`, limited to `mask`."""
    height, width = patch.alpha.shape
    y0 = int(round(centre_px[1] - height / 2))
    x0 = int(round(centre_px[0] - width / 2))
    ys = slice(max(y0, 0), min(y0 + height, rgb.shape[0]))
    xs = slice(max(x0, 0), min(x0 + width, rgb.shape[1]))
    if ys.stop <= ys.start or xs.stop <= xs.start:
        return
    inner = (slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0))
    alpha = patch.alpha[inner] * mask[ys, xs]
    region = rgb[ys, xs]
    # Ink lies on the cloth: a little of the weave shows through it.
    cloth = region.mean(axis=2, keepdims=True) / np.maximum(region.mean(), 1.0)
    ink = patch.rgb[inner] * (0.88 + 0.12 * np.clip(cloth, 0.5, 1.5))
    region += (ink - region) * alpha[..., None]
    alpha_total[ys, xs] = np.maximum(alpha_total[ys, xs], alpha)


def _print(spec: GarmentSpec, view: View, rgb: np.ndarray, front: np.ndarray) -> np.ndarray:
    printed = np.zeros(front.shape, np.float32)
    chosen = spec.print
    if chosen.kind == "none":
        return printed
    rng = np.random.default_rng(chosen.seed)
    width_px = view.px(chosen.width)
    centre = view.to_pixels([chosen.centre])[0]
    if chosen.kind == "text":
        patch = text_patch(
            chosen.text,
            chosen.font,
            width_px,
            chosen.ink_rgb,
            chosen.second_rgb,
            chosen.treatment,
            spec.fabric.rgb,
        )
    elif chosen.kind == "badge":
        if rng.random() < 0.5:
            patch = text_patch(
                chosen.text[:1] if rng.random() < 0.5 else chosen.text,
                chosen.font,
                width_px,
                chosen.ink_rgb,
                chosen.second_rgb,
                "plain",
                spec.fabric.rgb,
            )
        else:
            patch = graphic_patch(width_px, chosen.ink_rgb, chosen.second_rgb, rng)
    elif chosen.kind == "photo":
        patch = photo_patch(
            chosen.image, width_px, chosen.treatment, chosen.ink_rgb, chosen.second_rgb, rng
        )
    else:
        patch = graphic_patch(width_px, chosen.ink_rgb, chosen.second_rgb, rng)
    # Keep a print clear of the neckline and the sleeves.
    _paste(rgb, printed, patch, (centre[0], centre[1] + patch.alpha.shape[0] * 0.15), front)
    return printed


def _rib(view: View, shape: tuple[int, int], colour, depth: float = 0.1) -> tuple[np.ndarray, ...]:
    """Colour and relief of a 1x1 rib (vertical cords) over the whole atlas."""
    xs, _ = view.grid(view.frame)
    period = 0.3
    keep = float(np.clip((view.px(period) - 1.0) / 1.5, 0, 1))
    cords = np.cos(xs * np.float32(2 * math.pi / period)) * np.float32(keep)
    rgb = np.asarray(colour, np.float32) * (1.0 + 0.12 * cords)[..., None]
    return rgb, (cords * np.float32(depth * 0.3)).astype(np.float32)


def _sleeve_band(view: View, pattern: Pattern, width_cm: float, which: str):
    """Coverage of each sleeve's cuff band (or hem line) of `width_cm` at its cuff."""
    layers = []
    for piece in pattern.sleeves:
        if piece is None:
            continue
        t0 = max(0.0, 1.0 - width_cm / piece.length)
        ts = np.array([t0, t0, 1.02, 1.02])
        ss = np.array([-0.05, 1.05, 1.05, -0.05])
        x, y = piece.point(ts, ss)
        outline = np.stack([x, y], axis=1)
        if which == "line":
            layers.append(strokes(view, [outline[:2]], 0.08))
        else:
            layers.append(polygons(view, [outline]))
    return [_full(view, layer) for layer in layers]


def paint_atlas(
    spec: GarmentSpec, pattern: Pattern, resolution: float, rng: np.random.Generator
) -> Atlas:
    """Paint the garment's flat pattern at `resolution` texels per centimetre."""
    x0, y0, x1, y1 = pattern.bounds()
    width = int(math.ceil((x1 - x0 + 2 * _MARGIN_CM) * resolution)) + 1
    height = int(math.ceil((y1 - y0 + 2 * _MARGIN_CM) * resolution)) + 1
    view = View(height, width, resolution, x0 - _MARGIN_CM, y0 - _MARGIN_CM)
    texel = 1.0 / resolution
    cut, fabric = spec.cut, spec.fabric
    xs, ys = view.grid(view.frame)
    rgb = fabric_albedo(fabric, xs, ys, texel, rng)
    relief = np.zeros((height, width), np.float32)
    trim = np.asarray(fabric.trim_rgb, np.float32)
    front = _full(view, polygons(view, [pattern.front, *pattern.collar]))
    back_pieces = [pattern.back_inside] + ([pattern.hood] if pattern.hood is not None else [])
    back = _full(view, polygons(view, back_pieces))

    # The back seen through the neck opening: the inside in shadow with a label, or the outside
    # of a collar band or a hood.
    inside = _full(view, polygons(view, [pattern.back_inside]))
    if cut.collar:
        inside_colour = trim[None, None] * np.ones_like(rgb)
    else:
        inside_colour = rgb * np.float32(0.62) + np.float32(0.1) * rgb.mean(axis=2, keepdims=True)
        label_w, label_h = 2.2, 1.4
        label_top = -4.0 + 0.6
        label = _full(
            view,
            polygons(
                view,
                [
                    np.array(
                        [
                            [-label_w / 2, label_top],
                            [label_w / 2, label_top],
                            [label_w / 2, label_top + label_h],
                            [-label_w / 2, label_top + label_h],
                        ]
                    )
                ],
            ),
        )
        tone = 235.0 if rng.random() < 0.6 else 40.0
        inside_colour += (np.float32(tone) - inside_colour) * label[..., None]
    behind = inside * (1.0 - front)
    rgb += (inside_colour - rgb) * behind[..., None]
    if pattern.hood is not None:
        hood = _full(view, polygons(view, [pattern.hood]))
        lining = _full(view, strokes(view, [pattern.hood[: len(pattern.hood) // 2 + 4]], 1.8))
        lining_colour = (trim if rng.random() < 0.4 else np.asarray(fabric.rgb, np.float32)) * 0.8
        rgb += (lining_colour - rgb) * (hood * lining * (1 - front) * 0.8)[..., None]
        relief += blur(hood * (1 - front), view.px(1.0)) * np.float32(1.2)

    printed = _print(spec, view, rgb, front)

    if cut.neck_band:
        band = _full(view, strokes(view, [pattern.neckline], 2 * cut.neck_band)) * front
        rib_rgb, rib_relief = _rib(view, (height, width), trim)
        rgb += (rib_rgb - rgb) * band[..., None]
        relief += rib_relief * band
        seam = _full(view, strokes(view, [pattern.neckline + np.array([0.0, cut.neck_band])], 0.1))
        rgb *= (1.0 - 0.25 * seam * front)[..., None]
    if cut.hem_band:
        hem_y = pattern.hemline[:, 1].min()
        band = np.clip((ys - np.float32(hem_y - cut.hem_band)) * np.float32(resolution) + 0.5, 0, 1)
        rib_rgb, rib_relief = _rib(view, (height, width), np.asarray(fabric.rgb, np.float32) * 0.97)
        rgb += (rib_rgb - rgb) * (band * front)[..., None]
        relief += (rib_relief + np.float32(0.15)) * band * front
    else:
        stitch = _full(view, strokes(view, [pattern.hemline - np.array([0.0, 2.0])], 0.08))
        rgb *= (1.0 - 0.3 * stitch)[..., None]
        relief -= stitch * np.float32(0.05)
    for band in _sleeve_band(view, pattern, cut.sleeve.cuff_band if cut.sleeve else 0.0, "band"):
        if cut.sleeve and cut.sleeve.cuff_band:
            rib_rgb, rib_relief = _rib(view, (height, width), trim)
            rgb += (rib_rgb - rgb) * band[..., None]
            relief += rib_relief * band + band * np.float32(0.1)
    if cut.sleeve and not cut.sleeve.cuff_band:
        for line in _sleeve_band(view, pattern, 2.0, "line"):
            rgb *= (1.0 - 0.3 * line)[..., None]
    seams = [
        np.array([[side * cut.neck_half, -4.0], point])
        for side, point in zip((-1, 1), pattern.shoulder_points, strict=True)
    ]
    seams += [np.stack([piece.seam_outer, piece.seam_inner]) for piece in pattern.sleeves if piece]
    seam_layer = _full(view, strokes(view, seams, 0.12))
    rgb *= (1.0 - 0.22 * seam_layer)[..., None]
    relief -= seam_layer * np.float32(0.08)

    if pattern.placket is not None:
        top, bottom = pattern.placket
        edges = [np.array([[side * 1.6, top], [side * 1.6, bottom]]) for side in (-1, 1)]
        edge_layer = _full(view, strokes(view, edges, 0.12))
        rgb *= (1.0 - 0.3 * edge_layer * front)[..., None]
        relief += blur(
            _full(
                view,
                polygons(
                    view, [np.array([[-1.6, top], [1.6, top], [1.6, bottom], [-1.6, bottom]])]
                ),
            ),
            view.px(0.3),
        ) * np.float32(0.08)
    if pattern.collar:
        collar = _full(view, polygons(view, list(pattern.collar)))
        collar_colour = trim if cut.kind == "polo" else np.asarray(fabric.rgb, np.float32)
        if cut.kind == "polo":
            rib_rgb, _ = _rib(view, (height, width), collar_colour)
            rgb += (rib_rgb - rgb) * collar[..., None]
        edge = _full(view, strokes(view, list(pattern.collar), 0.12, closed=True))
        rgb *= (1.0 - 0.25 * edge * collar)[..., None]
        relief += blur(collar, view.px(0.35)) * np.float32(0.45)
    for bx, by in pattern.buttons:
        disc = _full(view, polygons(view, [ellipse_points((bx, by), (0.55, 0.55), count=16)]))
        colour = trim * 0.85 if cut.kind != "shirt" else np.array([238.0, 236.0, 230.0], np.float32)
        rgb += (colour - rgb) * disc[..., None]
        relief += blur(disc, view.px(0.15)) * np.float32(0.12)
    if pattern.pocket is not None:
        outline = _full(view, strokes(view, [pattern.pocket], 0.12, closed=True))
        rgb *= (1.0 - 0.3 * outline)[..., None]
        pocket = _full(view, polygons(view, [pattern.pocket]))
        relief += blur(pocket, view.px(0.4)) * np.float32(0.12)
    for cord in pattern.drawstrings:
        cord_layer = _full(view, strokes(view, [cord], 0.7))
        colour = trim if rng.random() < 0.5 else np.array([236.0, 234.0, 228.0], np.float32)
        rgb += (colour - rgb) * cord_layer[..., None]
        relief += blur(cord_layer, view.px(0.2)) * np.float32(0.35)
        tip = _full(view, strokes(view, [cord[-3:]], 0.8))
        rgb += (np.array([70.0, 70.0, 72.0], np.float32) - rgb) * (tip * 0.6)[..., None]
        front = np.maximum(front, cord_layer)
    relief += printed * np.float32(0.02)
    cv2.max(front, 0, dst=front)
    inside_only = inside * (1.0 - front) if not cut.collar else np.zeros_like(inside)
    return Atlas(view, np.clip(rgb, 0, 255), front, back, inside_only, relief)
