"""Synthetic garments built from their sampled parameters (`synth_garment`): the cut's polygons
and sleeve quads in canonical garment space, the texture with its print and trims in template
space, and the flat product photo. Building is deterministic: every random choice was made when
sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from optimization.data.synth_draw import (
    FULL_BOX,
    GARMENT,
    GRID_X,
    GRID_Y,
    HEIGHT,
    WIDTH,
    Canvas,
    Layer,
    full_frame,
    gaussian_blur,
    lines_layer,
    polygon_layer,
    quad_bezier,
    scaled,
)
from optimization.data.synth_garment import FONTS, Geometry


@dataclass(frozen=True, eq=False)
class SleeveQuads:
    """One sleeve placed on the garment: the canonical corners of its two quads, (2,) each.

    Attributes:
        seam_outer, seam_inner: the armhole seam's ends (shoulder, armpit).
        bend_outer, bend_inner: the bend's top and underarm edges.
        cuff_outer, cuff_inner: the cuff's.
        bend_fraction, length: as in its `SleeveShape`.
    """

    seam_outer: np.ndarray
    seam_inner: np.ndarray
    bend_outer: np.ndarray
    bend_inner: np.ndarray
    cuff_outer: np.ndarray
    cuff_inner: np.ndarray
    bend_fraction: float
    length: float


@dataclass(frozen=True, eq=False)
class Garment:
    """A garment ready to photograph or wear; arrays in template space are (256, 192)."""

    params: dict
    geometry: Geometry  # params["geometry"], typed
    scale: np.ndarray  # template px per canonical unit, (x, y)
    offset: np.ndarray  # template px of the canonical origin
    front: np.ndarray  # canonical polygon of the front panel (N, 2)
    back_neck: np.ndarray  # canonical polygon of the inside back seen through the neck opening
    sleeves: tuple[SleeveQuads | None, SleeveQuads | None]  # image-left and image-right sleeve
    texture: np.ndarray  # (H, W, 3) float32 RGB in [0, 255], print and trims included
    worn_texture: np.ndarray  # the texture slightly blurred, for sampling at a smaller scale
    front_alpha: np.ndarray  # (H, W) float32 coverage of the front panel

    def to_template(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            x * np.float32(self.scale[0]) + np.float32(self.offset[0]),
            y * np.float32(self.scale[1]) + np.float32(self.offset[1]),
        )

    def points(self, canonical: np.ndarray) -> np.ndarray:
        """Canonical points (N, 2) -> template px."""
        return np.asarray(canonical, np.float64) * self.scale + self.offset


def _neckline(g: Geometry) -> np.ndarray:
    """Front neckline from the right neck corner to the left one."""
    half, depth = g.neck_half, g.neck_depth
    if g.neck_shape == "v":
        return np.array(
            [
                [half, 0],
                [half * 0.5, depth * 0.53],
                [0, depth],
                [-half * 0.5, depth * 0.53],
                [-half, 0],
            ]
        )
    t = np.linspace(0, np.pi, 15)
    return np.stack([half * np.cos(t), depth * np.sin(t)], axis=1)


def _hem(g: Geometry) -> np.ndarray:
    """Hem from left to right."""
    return quad_bezier(
        (-g.hem_half, g.hem_y), (0, g.hem_y + 2 * g.hem_curve), (g.hem_half, g.hem_y), 13
    )


def _round_corner(outline: np.ndarray, index: int, before: float, after: float) -> np.ndarray:
    """`outline` with the corner at `index` replaced by a curve starting `before` units ahead of it
    and ending `after` units past it."""
    corner = outline[index]
    incoming = outline[index - 1] - corner
    outgoing = outline[index + 1] - corner
    start = corner + incoming * min(before / np.hypot(*incoming), 0.45)
    end = corner + outgoing * min(after / np.hypot(*outgoing), 0.45)
    curve = quad_bezier(start, corner, end, 6)
    return np.concatenate([outline[:index], curve, outline[index + 1 :]])


def _front_polygon(g: Geometry) -> np.ndarray:
    seam_outer = np.array([-g.shoulder_half, g.shoulder_drop])
    armpit = np.array([-g.armpit_half, g.armpit_y])
    left = [np.array([[-g.neck_half, 0.0]]), seam_outer[None]]
    if g.sleeve is None:  # a scooped armhole
        control = (-(g.shoulder_half + 1.5), g.armpit_y * 0.82)
        left.append(quad_bezier(seam_outer, control, armpit, 10)[1:-1])
    left += [armpit[None], np.array([[-g.waist_half, g.waist_y]])]
    left = _round_corner(np.concatenate(left), 1, 6.0, 7.0)  # the shoulder point
    right = left[::-1] * np.array([-1.0, 1.0])
    return np.concatenate([left, _hem(g), right, _neckline(g)[1:-1]])


def _back_neck_polygon(g: Geometry) -> np.ndarray:
    back = quad_bezier((-g.neck_half, 0), (0, 2 * g.back_depth), (g.neck_half, 0), 9)
    # Reach 1.5 units under the front neckline so the union with the front has no crack.
    return np.concatenate([back, _neckline(g) + np.array([0.0, 1.5])])


def _sleeve_quads(g: Geometry, side: int) -> SleeveQuads | None:
    sleeve = g.sleeve
    if sleeve is None:
        return None
    seam_outer = np.array([side * g.shoulder_half, g.shoulder_drop])
    seam_inner = np.array([side * g.armpit_half, g.armpit_y])

    def direction(angle_deg: float) -> np.ndarray:
        angle = math.radians(angle_deg)
        return np.array([side * math.sin(angle), math.cos(angle)])

    def outward(angle_deg: float) -> np.ndarray:
        angle = math.radians(angle_deg)
        return np.array([side * math.cos(angle), -math.sin(angle)])

    bend_length = sleeve.length * sleeve.bend_fraction
    bend = (seam_outer + seam_inner) / 2 + bend_length * direction(sleeve.bend_angle)
    cuff = bend + (sleeve.length - bend_length) * direction(sleeve.angle)
    return SleeveQuads(
        seam_outer=seam_outer,
        seam_inner=seam_inner,
        bend_outer=bend + sleeve.bend_half * outward(sleeve.bend_angle),
        bend_inner=bend - sleeve.bend_half * outward(sleeve.bend_angle),
        cuff_outer=cuff + sleeve.cuff_half * outward(sleeve.angle),
        cuff_inner=cuff - sleeve.cuff_half * outward(sleeve.angle),
        bend_fraction=sleeve.bend_fraction,
        length=sleeve.length,
    )


def sleeve_point(
    quads: SleeveQuads, along: np.ndarray, outer: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical point of a sleeve at `along` (0 armhole .. 1 cuff) and `outer` (0 underarm .. 1 top)."""
    fraction = quads.bend_fraction
    first = along < fraction
    t = np.where(first, along / fraction, (along - fraction) / (1.0 - fraction))
    coords = []
    for axis in (0, 1):
        top_inner = np.where(first, quads.seam_inner[axis], quads.bend_inner[axis])
        top_outer = np.where(first, quads.seam_outer[axis], quads.bend_outer[axis])
        low_inner = np.where(first, quads.bend_inner[axis], quads.cuff_inner[axis])
        low_outer = np.where(first, quads.bend_outer[axis], quads.cuff_outer[axis])
        top = top_inner + (top_outer - top_inner) * outer
        low = low_inner + (low_outer - low_inner) * outer
        coords.append((top + (low - top) * t).astype(np.float32))
    return coords[0], coords[1]


def _sleeve_polygon(quads: SleeveQuads, extend: float = 0.0) -> np.ndarray:
    """Canonical outline of a sleeve; `extend` pushes the armhole edge into the body panel."""
    seam_outer, seam_inner = quads.seam_outer, quads.seam_inner
    if extend:
        into_outer = seam_outer - quads.bend_outer
        into_inner = seam_inner - quads.bend_inner
        seam_outer = seam_outer + extend * into_outer / np.hypot(*into_outer)
        seam_inner = seam_inner + extend * into_inner / np.hypot(*into_inner)
    return np.array(
        [
            seam_outer,
            quads.bend_outer,
            quads.cuff_outer,
            quads.cuff_inner,
            quads.bend_inner,
            seam_inner,
        ]
    )


def _fit(points: np.ndarray, layout: dict) -> tuple[np.ndarray, np.ndarray]:
    """Scale and offset that centre the garment's canonical outline in the frame, VITON-style."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    scale_x = (WIDTH - 2 * layout["margin"][0]) / span[0]
    scale_y = (HEIGHT - 2 * layout["margin"][1]) / span[1]
    scale_y = min(scale_y, scale_x * layout["max_stretch"])
    if scale_y < scale_x * 0.95:
        scale_x = scale_y / 0.95
    scale = np.array([scale_x, scale_y])
    offset = (
        np.array([WIDTH / 2, HEIGHT / 2]) - (low + high) / 2 * scale + np.array(layout["shift"])
    )
    return scale, offset


def _band(angle_deg: float, period: float, duty: float, phase: float) -> np.ndarray:
    """Anti-aliased parallel stripes (coverage in [0, 1]) across the template frame."""
    angle = math.radians(angle_deg)
    position = np.mod(
        GRID_X * np.float32(math.cos(angle)) + GRID_Y * np.float32(math.sin(angle)) + phase, period
    )
    width = duty * period
    signed = np.where(
        position < width,
        np.minimum(position, width - position),
        -np.minimum(position - width, period - position),
    )
    return np.clip(signed + 0.5, 0, 1)


def _blend(image: np.ndarray, coverage: np.ndarray, colour) -> np.ndarray:
    return image + (np.asarray(colour, np.float32) - image) * coverage[..., None]


def _blend_layer(image: np.ndarray, layer: Layer, colour, strength: float = 1.0) -> np.ndarray:
    """`image` with `colour` blended in over `layer` (in place, only inside the layer's box)."""
    if not layer.empty:
        region = image[layer.box]
        region += (np.asarray(colour, np.float32) - region) * (layer.alpha * np.float32(strength))[
            ..., None
        ]
    return image


def _print_logo(
    image: np.ndarray,
    texture: dict,
    garment_centre: np.ndarray,
    garment_width: float,
    chest_y: float,
    scale: float,
) -> np.ndarray:
    base, ink = (np.asarray(c, np.float32) for c in texture["colours"])
    font = FONTS[texture["font"]]
    thickness = max(1, int(round(texture["thickness"] * scale)))
    if texture["placement"] == "left_chest":
        target_width = garment_width * 0.2
        centre = (garment_centre[0] + garment_width * 0.22, chest_y - 4 * scale)
    else:
        target_width = garment_width * texture["width_ratio"]
        centre = (garment_centre[0], chest_y)
    (unit_width, _), _ = cv2.getTextSize(texture["text"], font, 1.0, thickness)
    font_scale = target_width / max(unit_width, 1)
    (text_width, text_height), _ = cv2.getTextSize(texture["text"], font, font_scale, thickness)
    emblem = texture["emblem"]
    shape = np.zeros((HEIGHT, WIDTH), np.uint8)
    text_colour = ink
    if emblem == "disc":
        cv2.circle(
            shape,
            (int(round(centre[0])), int(round(centre[1]))),
            int(round(text_width * 0.62)),
            255,
            -1,
            cv2.LINE_AA,
        )
        text_colour = base
    elif emblem == "box":
        pad = 4 * scale
        top_left = (
            int(round(centre[0] - text_width / 2 - pad)),
            int(round(centre[1] - text_height / 2 - pad)),
        )
        bottom_right = (
            int(round(centre[0] + text_width / 2 + pad)),
            int(round(centre[1] + text_height / 2 + pad)),
        )
        cv2.rectangle(
            shape, top_left, bottom_right, 255, max(1, int(round(1.5 * scale))), cv2.LINE_AA
        )
    elif emblem == "band":
        shape[int(round(centre[1] - text_height)) : int(round(centre[1] + text_height)), :] = 255
        text_colour = base
    image = _blend(image, shape.astype(np.float32) / 255, ink)
    letters = np.zeros((HEIGHT, WIDTH), np.uint8)
    origin = (int(round(centre[0] - text_width / 2)), int(round(centre[1] + text_height / 2)))
    cv2.putText(letters, texture["text"], origin, font, font_scale, 255, thickness, cv2.LINE_AA)
    return _blend(image, letters.astype(np.float32) / 255, text_colour)


def _texture(
    params: dict,
    g: Geometry,
    scale: np.ndarray,
    offset: np.ndarray,
    silhouette_box: tuple[slice, slice],
) -> np.ndarray:
    texture = params["texture"]
    kind = texture["kind"]
    base = np.asarray(texture["colours"][0], np.float32)
    image = np.empty((HEIGHT, WIDTH, 3), np.float32)
    image[:] = base
    if kind == "stripes":
        image = _blend(
            image,
            _band(texture["angle"], texture["period"], texture["duty"], texture["phase"]),
            texture["colours"][1],
        )
    elif kind == "checks":
        across = _band(texture["angle"], texture["period"], texture["duty"], texture["phase"][0])
        down = _band(texture["angle"] + 90, texture["period"], texture["duty"], texture["phase"][1])
        image = _blend(image, 0.5 * across + 0.5 * down, texture["colours"][1])
    elif kind == "dots":
        angle = math.radians(texture["angle"])
        spacing = texture["spacing"]
        along = GRID_X * np.float32(math.cos(angle)) + GRID_Y * np.float32(math.sin(angle))
        across = -GRID_X * np.float32(math.sin(angle)) + GRID_Y * np.float32(math.cos(angle))
        if texture["stagger"]:
            along = along + np.mod(np.floor(across / spacing), 2) * (spacing / 2)
        dx = np.mod(along, spacing) - spacing / 2
        dy = np.mod(across, spacing) - spacing / 2
        image = _blend(
            image, np.clip(texture["radius"] - np.hypot(dx, dy) + 0.5, 0, 1), texture["colours"][1]
        )
    elif kind == "gradient":
        angle = math.radians(texture["angle"])
        projection = GRID_X * np.float32(math.cos(angle)) + GRID_Y * np.float32(math.sin(angle))
        inside = projection[silhouette_box]
        low, high = float(inside.min()), float(inside.max())
        image = _blend(
            image, np.clip((projection - low) / max(high - low, 1.0), 0, 1), texture["colours"][1]
        )
    elif kind == "logo":
        width = 2 * g.armpit_half * scale[0]
        chest_y = offset[1] + scale[1] * (
            g.armpit_y + (g.hem_y - g.armpit_y) * (texture["height"] - 0.2)
        )
        image = _print_logo(image, texture, offset, width, chest_y, float(scale[0]))
    return image


def _trims(image: np.ndarray, garment: Garment) -> np.ndarray:
    """Neck rib, hem stitching, cuff bands, placket and buttons, drawn into the texture."""
    params, g = garment.params, garment.geometry
    base = np.asarray(params["texture"]["colours"][0], np.float32)
    rib = lines_layer([garment.points(_neckline(g))], max(2, int(round(3 * garment.scale[0]))))
    image = _blend_layer(image, rib, params["trim"])
    stitch = lines_layer([garment.points(_hem(g) - np.array([0.0, 3.5]))], 1)
    image = _blend_layer(image, stitch, scaled(base, 0.6), 0.55)
    for quads in garment.sleeves:
        if quads is not None:
            ends = [
                sleeve_point(quads, np.array([0.92]), np.array([value])) for value in (-0.05, 1.05)
            ]
            cuff_line = np.array([[float(x[0]), float(y[0])] for x, y in ends])
            band = lines_layer(
                [garment.points(cuff_line)], max(1, int(round(1.5 * garment.scale[0])))
            )
            image = _blend_layer(image, band, scaled(base, 0.72), 0.6)
    if g.buttons:
        top, bottom = g.neck_depth + 4, g.hem_y - 6
        for x in (-2.5, 2.5):
            placket = lines_layer([garment.points(np.array([[x, top - 3], [x, bottom + 4]]))], 1)
            image = _blend_layer(image, placket, scaled(base, 0.65), 0.45)
        buttons = np.zeros((HEIGHT, WIDTH), np.uint8)
        for y in np.linspace(top, bottom - 10, g.buttons):
            centre = garment.points(np.array([[0.0, y]]))[0]
            cv2.circle(
                buttons,
                (int(round(centre[0] * 16)), int(round(centre[1] * 16))),
                int(round(1.8 * garment.scale[0] * 16)),
                255,
                -1,
                cv2.LINE_AA,
                4,
            )
        image = _blend(image, buttons.astype(np.float32) / 255, params["buttons_rgb"])
    return image


def build_garment(params: dict) -> Garment:
    """Geometry, template fit and texture of a garment described by `sample_garment` params."""
    g = Geometry.from_json(params["geometry"])
    front = _front_polygon(g)
    back_neck = _back_neck_polygon(g)
    sleeves = (_sleeve_quads(g, -1), _sleeve_quads(g, 1))
    outline = [front, back_neck] + [_sleeve_polygon(q) for q in sleeves if q is not None]
    scale, offset = _fit(np.concatenate(outline), params["layout"])
    draft = Garment(
        params, g, scale, offset, front, back_neck, sleeves, np.zeros(0), np.zeros(0), np.zeros(0)
    )
    front_layer = polygon_layer(draft.points(front))
    texture = _texture(params, g, scale, offset, front_layer.box)
    texture = _trims(texture, draft)
    return Garment(
        params,
        g,
        scale,
        offset,
        front,
        back_neck,
        sleeves,
        texture,
        gaussian_blur(texture, 0.6),
        full_frame(front_layer),
    )


# ---------------------------------------------------------------------------------------------------
# The flat product photo


def product_photo(garment: Garment) -> tuple[np.ndarray, np.ndarray]:
    """The garment laid flat on a near-white background, and its filled silhouette.

    Returns:
        (256, 192, 3) uint8 RGB photo and (256, 192) uint8 silhouette, 255 on the garment, 0 elsewhere.
    """
    params = garment.params
    layout = params["layout"]
    base = np.asarray(params["texture"]["colours"][0], np.float32)
    canvas = Canvas(np.asarray(layout["background"], np.float32))
    sleeve_outlines = [
        garment.points(_sleeve_polygon(q, extend=2.0)) for q in garment.sleeves if q is not None
    ]
    front = garment.points(garment.front)
    back_neck = garment.points(garment.back_neck)
    silhouette = full_frame(polygon_layer(front, back_neck, *sleeve_outlines))
    shadow = np.roll(gaussian_blur(silhouette, 4.0), (3, 2), axis=(0, 1))
    canvas.rgb *= (1.0 - layout["shadow"] * shadow * (1.0 - silhouette))[..., None]
    edge_light = (
        1.0 - 0.12 * (1.0 - gaussian_blur(silhouette, 2.5)) + 0.03 * (0.5 - GRID_Y / HEIGHT)
    )
    flat = garment.texture * edge_light[..., None]
    canvas.paint(polygon_layer(back_neck), scaled(base, 0.6), GARMENT)
    for outline in sleeve_outlines:
        canvas.paint(polygon_layer(outline), flat, GARMENT)
    canvas.paint(Layer(garment.front_alpha, FULL_BOX), flat, GARMENT)
    seams = [
        garment.points(np.array([q.seam_outer, q.seam_inner]))
        for q in garment.sleeves
        if q is not None
    ]
    if seams:
        seam_layer = lines_layer(seams, 1)
        canvas.paint(Layer(seam_layer.alpha * 0.35, seam_layer.box), scaled(base, 0.55), GARMENT)
    edge = np.where(silhouette >= 0.5, 255, 0).astype(np.uint8)
    return canvas.to_uint8(), edge
