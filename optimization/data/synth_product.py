"""The product photo: the garment laid flat or on a ghost mannequin, on white or light grey.

The garment fills most of the frame as in VITON's product shots. A ghost-mannequin shot keeps
the volume of an invisible body (the front panel rounds away at the sides, sleeves are tubes); a
flat lay is evenly lit with a soft drop shadow. Both show the inside of the back through the neck
opening. The edge image is the exact silhouette of what is drawn (255 on the garment).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from optimization.data.synth_apparel import GarmentSpec
from optimization.data.synth_atlas import Atlas
from optimization.data.synth_canvas import View, blur, polygons
from optimization.data.synth_folds import crumples, height_field, sample_flat_folds, slopes
from optimization.data.synth_light import Light, diffuse
from optimization.data.synth_pattern import Pattern

_PRODUCT_LIGHT = Light(
    direction=(0.0, -0.35, 0.94), fill=0.72, wrap=0.8, tint=(1, 1, 1), shadow=0.2, falloff=0.0
)


@dataclass(frozen=True, eq=False)
class ProductPhoto:
    rgb: np.ndarray  # (H, W, 3) float32 scene, before the camera
    edge: np.ndarray  # (H, W) uint8 silhouette
    view: View


def product_view(spec: GarmentSpec, pattern: Pattern, height: int, width: int) -> View:
    """The view that frames the garment like a VITON product shot."""
    x0, y0, x1, y1 = pattern.bounds()
    shot = spec.product
    scale = shot.fill * min(width / (x1 - x0), height / (y1 - y0))
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    left = centre[0] - ((width - 1) / 2 + shot.shift[0] * width) / scale
    top = centre[1] - ((height - 1) / 2 + shot.shift[1] * height) / scale
    return View(height, width, scale, left, top)


def _sleeve_roundness(view: View, pattern: Pattern, front: np.ndarray) -> np.ndarray:
    """nx of the sleeves as tubes, over the whole frame (zero off the sleeves)."""
    nx = np.zeros(front.shape, np.float32)
    xs, ys = view.grid(view.frame)
    for piece in pattern.sleeves:
        if piece is None:
            continue
        axis = (piece.cuff_outer + piece.cuff_inner) / 2 - (piece.seam_outer + piece.seam_inner) / 2
        axis /= np.hypot(*axis)
        normal = np.array([axis[1], -axis[0]])
        centre = (piece.seam_outer + piece.seam_inner + piece.cuff_outer + piece.cuff_inner) / 4
        half = np.hypot(*(piece.seam_outer - piece.seam_inner)) / 2
        across = ((xs - centre[0]) * normal[0] + (ys - centre[1]) * normal[1]) / np.float32(half)
        inside = polygons(view, [piece.outline(0.0)]).within(view.frame)
        nx += np.clip(across, -1, 1) * np.float32(0.7 * normal[0]) * inside * (1 - front)
    return nx


def photograph_product(
    spec: GarmentSpec,
    pattern: Pattern,
    atlas: Atlas,
    height: int,
    width: int,
    rng: np.random.Generator,
) -> ProductPhoto:
    """Render the product photo scene and its silhouette at `height` x `width`."""
    view = product_view(spec, pattern, height, width)
    shot = spec.product
    background = np.asarray(shot.background, np.float32)
    ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
    glow = 1.0 + 0.02 * (1 - xs**2 - ys**2)
    scene = np.broadcast_to(background, (height, width, 3)) * glow[..., None]
    scene = np.ascontiguousarray(scene, np.float32)

    silhouette = polygons(view, pattern.silhouette()).within(view.frame)
    if shot.shadow > 0:
        shadow = blur(silhouette, view.px(1.2))
        shadow = np.roll(shadow, (max(1, round(view.px(0.6))), max(1, round(view.px(0.3)))), (0, 1))
        scene *= (1.0 - shot.shadow * shadow * (1 - silhouette))[..., None]

    grid_x, grid_y = view.grid(view.frame)
    map_x, map_y = atlas.texels(grid_x, grid_y)
    ratio = atlas.view.scale / view.scale
    source = blur(atlas.rgb, 0.45 * ratio) if ratio > 1.2 else atlas.rgb
    colour = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    relief = cv2.remap(atlas.relief, map_x, map_y, cv2.INTER_LINEAR)
    back = cv2.remap(atlas.back, map_x, map_y, cv2.INTER_LINEAR)
    front = cv2.remap(atlas.front, map_x, map_y, cv2.INTER_LINEAR)

    ghost = shot.style == "ghost"
    folds = sample_flat_folds(rng, pattern.bounds(), ghost)
    lines = [(np.asarray(f.points), f.depth, f.width) for f in folds]
    heights = height_field(view, view.frame, lines) + relief
    heights += crumples(view, view.frame, 0.12 if ghost else 0.2, int(rng.integers(2**31)))
    nx, ny = slopes(heights, view.scale)
    if ghost:
        x0, _, x1, _ = pattern.bounds()
        half = max(abs(x0), abs(x1)) * 0.55
        round_x = np.clip(grid_x / np.float32(half), -1, 1) * np.float32(0.55) * front
        nx = nx + round_x + _sleeve_roundness(view, pattern, front)
    light = diffuse(_PRODUCT_LIGHT, np.clip(nx, -0.95, 0.95), np.clip(ny, -0.95, 0.95))
    # The inside of the back sits in the garment's shade; the cloth's own edges curl a little.
    inner_shade = 1.0 - 0.35 * back * (1 - front)
    edge_shade = 1.0 - 0.12 * (1.0 - blur(silhouette, view.px(0.5)))
    lit = colour * (light * inner_shade * edge_shade)[..., None]
    scene += (lit - scene) * silhouette[..., None]
    edge = np.where(silhouette >= 0.5, 255, 0).astype(np.uint8)
    return ProductPhoto(np.clip(scene, 0, 255), edge, view)
