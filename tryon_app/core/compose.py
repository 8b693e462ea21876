"""A try-on at the person photo's own resolution: only what the garment changes comes from the model.

The model works on a 192x256 canvas cut from the photo (`framing`). Scaling its result back up
would blur the whole photo and re-render the face, hair and background. Instead:

* the **changed region** is found on the canvas: where the generator's composition mask puts the
  new garment, plus the parts it re-rendered that touch it (an old long sleeve turned into an
  arm), never the head above the garment's neckline and, where the person stands on a plain
  backdrop, never more than a canvas pixel off the person. Its rim is feathered inwards, by a
  canvas pixel or so;
* inside it, the try-on is composed at full resolution: the garment is taken from the *original*
  garment photo, sampled through the model's last appearance flow scaled up to the photo (the
  flow is a sampling grid, so it scales), with its mask warped the same way; the composition
  mask and the rendered person (skin, the rest of the body) are the generator's, scaled up;
* outside it, every pixel is the input photo's, bit for bit.

Coordinates: canvas pixel (i, j) covers the photo from (box.x + j * box.w / W, box.y + i *
box.h / H) to the next pixel's corner (`framing.cut_to_canvas`), so the canvas position of a
photo pixel's centre X is (X + 0.5 - box.x) * W / box.w - 0.5. The flow is PF-AFN's normalised
grid over the garment canvas (align_corners=True: -1 and 1 are the centres of the edge pixels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from tryon_app.core.framing import CANVAS_SIZE, Box, CanvasPerson, person_on_canvas

# How far (mean over RGB, in [0, 1]) the rendered person must depart from the photo for a pixel
# next to the garment to count as changed (a sleeve that became an arm); below it, the generator
# only re-rendered what was there, and the photo is kept.
DEPARTURE = 0.12
# Feathering of the changed region's rim, in canvas pixels (Gaussian sigma), inside the region.
# The garment itself is not feathered: at full resolution its own sharp mask decides (`compose`).
FEATHER = 0.7
# The garment's neckline: rows above its topmost this many canvas pixels are never changed.
HEAD_MARGIN = 2


@dataclass(frozen=True)
class GarmentSource:
    """The garment photo at full resolution, its mask, and where it sits on the model's canvas.

    Attributes:
        rgb: uint8 (h, w, 3) garment photo.
        canvas_mask: uint8 (256, 192) {0, 255}, the mask the model saw.
        canvas_box: (top, left, height, width) the whole photo covers on the garment canvas
            (letterbox: the photo scaled to fit, centred).
        mask: uint8 (h, w) the user's own mask at the photo's size (255 = garment), or None:
            then the canvas mask is scaled up (see `_garment_at_scale`).
    """

    rgb: np.ndarray
    canvas_mask: np.ndarray
    canvas_box: tuple[int, int, int, int]
    mask: np.ndarray | None = None
    # The last `_garment_at_scale` result, keyed by its size: a live view lands the same garment
    # at the same scale frame after frame, so it is resized once, not per frame.
    _at_scale: dict = field(default_factory=dict, init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Composition:
    """A full-resolution try-on.

    The try-on's region of the photo is kept apart, at its own size: a phone photo's full-size
    masks would cost tens of megabytes that only a debugging view looks at.

    Attributes:
        image: uint8 (H, W, 3), the person photo with the try-on composed in.
        region: (x0, y0, x1, y1), the rectangle of the photo the try-on may have changed.
        changed: uint8 (y1 - y0, x1 - x0): how much of each pixel of the region is the
            try-on's (0 = the photo's own).
        warped_garment: uint8 (y1 - y0, x1 - x0, 3), the garment photo warped onto the person
            at full resolution, black where it does not reach.
    """

    image: np.ndarray
    region: tuple[int, int, int, int]
    changed: np.ndarray
    warped_garment: np.ndarray

    def changed_mask(self) -> np.ndarray:
        """`changed` placed in a photo-sized uint8 mask."""
        return self._placed(self.changed)

    def warped_garment_image(self) -> np.ndarray:
        """`warped_garment` placed in a photo-sized black image."""
        return self._placed(self.warped_garment)

    def _placed(self, part: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self.region
        whole = np.zeros(self.image.shape[:2] + part.shape[2:], dtype=np.uint8)
        whole[y0:y1, x0:x1] = part
        return whole


def changed_region(
    person: np.ndarray,
    p_rendered: np.ndarray,
    m_composite: np.ndarray,
    figure: CanvasPerson | None = None,
) -> np.ndarray:
    """Where on the canvas the try-on replaces the photo: float32 (H, W) weights in [0, 1].

    Args:
        person: uint8 (H, W, 3) canvas the model saw.
        p_rendered: (1, 3, H, W) in [-1, 1]: the generator's person.
        m_composite: (1, 1, H, W) in [0, 1]: its composition mask. Not the warped garment's
            mask: where the warp overshoots (over a hand, above the neckline) the generator
            has learnt to show the person instead (PF-AFN multiplies the two).
        figure: the person on the canvas (`framing.person_on_canvas`), when found: nothing
            above the neck changes, whatever a poor warp drew over the head, and nothing beyond
            a canvas pixel off the person (the background had no garment to replace; a warp
            spilling over the outline would paint the backdrop).
    """
    garment = np.asarray(m_composite)[0, 0] > 0.5
    if not garment.any():
        return np.zeros(garment.shape, dtype=np.float32)
    rendered = (np.transpose(np.asarray(p_rendered)[0], (1, 2, 0)) + 1.0) * 0.5
    difference = np.abs(rendered - person.astype(np.float32) / 255.0).mean(axis=2)
    difference = cv2.GaussianBlur(difference, (0, 0), 1.0)
    departed = np.where(difference > DEPARTURE, 255, 0).astype(np.uint8)
    on_person = None
    if figure is not None:
        on_person = cv2.dilate(figure.silhouette.astype(np.uint8), _disc(1))
        departed = cv2.bitwise_and(departed, departed, mask=on_person)
    ring = cv2.dilate(garment.astype(np.uint8) * 255, _disc(5))
    # The departures that touch the garment: a sleeve that became an arm, the old garment's
    # hem below a shorter top. A departure elsewhere is the generator's re-rendering only.
    count, labels = cv2.connectedComponents(departed, connectivity=8)
    touching = np.unique(labels[(ring > 0) & (departed > 0)])
    changed = (np.isin(labels, touching[touching > 0]) | garment).astype(np.uint8) * 255
    changed = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, _disc(1))
    if on_person is not None:
        changed = cv2.bitwise_and(changed, changed, mask=on_person)
    neckline = int(np.flatnonzero(garment.sum(axis=1) >= 3)[0]) if garment.sum() >= 3 else 0
    head_end = max(0, neckline - HEAD_MARGIN)
    if figure is not None:
        head_end = max(head_end, figure.neck)
    changed[:head_end] = 0
    # Feathered inwards only: a pixel outside the region keeps the photo exactly (it is the
    # photo's wherever the region is right), and the seam fades in over the region's own rim.
    weights = cv2.GaussianBlur(changed.astype(np.float32) / 255.0, (0, 0), FEATHER)
    return np.where(changed > 0, np.maximum(weights, 0.5), 0.0).astype(np.float32)


def compose(
    photo: np.ndarray,
    box: Box,
    weights: np.ndarray,
    p_rendered: np.ndarray,
    m_composite: np.ndarray,
    warped_edge: np.ndarray,
    flow: np.ndarray,
    garment: GarmentSource,
) -> Composition:
    """The try-on composed into `photo` at its own resolution (see the module docstring).

    Only the rectangle around the changed region is worked on, in uint8 and single-channel
    float images with OpenCV's threaded kernels: a phone photo's region is several megapixels,
    where numpy temporaries (or OpenCV's two-channel float paths) cost more than the try-on.

    Args:
        photo: uint8 (H, W, 3) person photo.
        box: the framing box the canvas was cut from.
        weights: `changed_region`'s canvas weights.
        p_rendered, m_composite, warped_edge: the render graph's outputs, model space.
        flow: (1, 2, H, W) the final appearance flow (normalised grid over the garment canvas).
        garment: the garment photo and its mask at full resolution.
    """
    image = photo.copy()
    region = _photo_region(weights, box, photo.shape[:2])
    if region is None:
        empty = np.zeros((0, 0), dtype=np.uint8)
        return Composition(image, (0, 0, 0, 0), empty, np.zeros((0, 0, 3), dtype=np.uint8))
    x0, y0, x1, y1 = region
    to_canvas = _region_to_canvas(box, x0, y0)

    def scaled(canvas_field: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(
            np.ascontiguousarray(canvas_field),
            to_canvas,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )

    edge = np.asarray(warped_edge, dtype=np.float32)[0, 0]
    # The generator's own mask before the warped edge cut it: its edge is then the sharp one
    # of the full-resolution garment mask, not the canvas's, scaled up.
    inner = np.where(edge > 0.5, np.asarray(m_composite)[0, 0] / np.maximum(edge, 1e-6), 0.0)
    inner = np.where(edge > 0.5, inner, cv2.dilate(inner.astype(np.float32), _disc(3)))
    rendered = (np.asarray(p_rendered)[0] + 1.0) * 127.5
    # Weights as uint8: bilinear scaling keeps a weight that is 0 around a pixel exactly 0,
    # so there the photo passes through untouched. Each plane is scaled and mixed on its own:
    # OpenCV's single-channel kernels are the fast ones.
    alpha = scaled(_to_uint8(weights * 255.0))
    rendered_planes = [scaled(_to_uint8(plane)) for plane in rendered]
    rgba = _garment_at_scale(garment, box)
    map_x, map_y = _garment_maps(garment.canvas_box, rgba.shape[:2], np.asarray(flow)[0])
    *cloth_planes, cloth_mask = cv2.split(
        cv2.remap(rgba, scaled(map_x), scaled(map_y), cv2.INTER_LINEAR)
    )
    mask = cv2.multiply(scaled(_to_uint8(inner * 255.0)), cloth_mask, scale=1.0 / 255.0)
    # On the garment the try-on is whole: its sharp full-resolution outline, not the canvas's
    # feathered one, is where the new garment meets the photo; but never outside the changed
    # region (a garment warped over the head stays out of it).
    cloth_mask = cv2.min(cloth_mask, scaled(np.where(weights > 0, 255, 0).astype(np.uint8)))
    alpha = cv2.max(alpha, cloth_mask)
    photo_planes = cv2.split(photo[y0:y1, x0:x1])
    mixed = [
        _mix(_mix(cloth, rendered_plane, mask), photo_plane, alpha)
        for cloth, rendered_plane, photo_plane in zip(
            cloth_planes, rendered_planes, photo_planes, strict=True
        )
    ]
    image[y0:y1, x0:x1] = cv2.merge(mixed)
    warped_garment = cv2.copyTo(cv2.merge(cloth_planes), cloth_mask)
    return Composition(image, region, alpha, warped_garment)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _mix(top: np.ndarray, bottom: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """bottom + (top - bottom) * weight / 255, uint8 planes (weight 0: `bottom`, bit for bit)."""
    difference = cv2.subtract(top, bottom, dtype=cv2.CV_16S)
    step = cv2.multiply(difference, weight, scale=1.0 / 255.0, dtype=cv2.CV_16S)
    return cv2.add(bottom, step, dtype=cv2.CV_8U)


def compose_output(
    photo: np.ndarray, box: Box, person_canvas: np.ndarray, output, garment: GarmentSource
) -> Composition:
    """`compose` of a pipeline's `TryOnOutput` (one with `p_rendered` and `m_composite`)."""
    weights = changed_region(
        person_canvas,
        output.p_rendered,
        output.m_composite,
        person_on_canvas(person_canvas),
    )
    return compose(
        photo,
        box,
        weights,
        output.p_rendered,
        output.m_composite,
        output.warped_edge,
        output.last_flow,
        garment,
    )


def _photo_region(
    weights: np.ndarray, box: Box, photo_size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The photo rectangle (x0, y0, x1, y1) that holds every non-zero weight, or None."""
    rows = np.flatnonzero(weights.any(axis=1))
    columns = np.flatnonzero(weights.any(axis=0))
    if rows.size == 0:
        return None
    canvas_h, canvas_w = weights.shape
    scale_x, scale_y = box.w / canvas_w, box.h / canvas_h
    # One canvas pixel more on each side: bilinear sampling reaches that far.
    x0 = int(np.floor(box.x + (columns[0] - 1) * scale_x))
    x1 = int(np.ceil(box.x + (columns[-1] + 2) * scale_x))
    y0 = int(np.floor(box.y + (rows[0] - 1) * scale_y))
    y1 = int(np.ceil(box.y + (rows[-1] + 2) * scale_y))
    height, width = photo_size
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _region_to_canvas(box: Box, x0: int, y0: int) -> np.ndarray:
    """2x3 affine map from a region's pixels (its corner at photo pixel x0, y0) to the canvas.

    The canvas position of the photo pixel centre X is (X + 0.5 - box.x) * W / box.w - 0.5.
    """
    canvas_h, canvas_w = CANVAS_SIZE
    sx, sy = canvas_w / box.w, canvas_h / box.h
    return np.array(
        [[sx, 0.0, (x0 + 0.5 - box.x) * sx - 0.5], [0.0, sy, (y0 + 0.5 - box.y) * sy - 0.5]],
        dtype=np.float64,
    )


def _garment_at_scale(garment: GarmentSource, box: Box) -> np.ndarray:
    """The garment photo with its mask as a fourth channel, at about the scale it lands at.

    A garment photo much finer than where it lands is first area-averaged down, so that the
    warp does not alias its prints; one four-channel image is sampled in one pass. Without the
    user's mask, the canvas mask is scaled to this size and cut at half-way: the bilinear
    surface's iso-line is a smooth, sharp outline, where computing the mask again on a large
    photo would cost tenths of a second. The result is kept on `garment` for the next try-on
    at the same size (a live view's every frame).
    """
    rgb = garment.rgb
    height, width = rgb.shape[:2]
    landing_width = box.w / CANVAS_SIZE[1] * garment.canvas_box[3]
    # Rounded up to a 1/20 step, so that a box that moves a little keeps the cached size.
    shrink = math.ceil(1.5 * landing_width / width * 20.0) / 20.0
    size = (width, height)
    if shrink < 0.99:
        size = (max(1, round(width * shrink)), max(1, round(height * shrink)))
    cached = garment._at_scale.get(size)
    if cached is not None:
        return cached
    if size != (width, height):
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    if garment.mask is not None:
        mask = garment.mask
        if mask.shape[:2] != (size[1], size[0]):
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
    else:
        top, left, content_h, content_w = garment.canvas_box
        content = garment.canvas_mask[top : top + content_h, left : left + content_w]
        mask = cv2.resize(content, size, interpolation=cv2.INTER_LINEAR)
        if content.shape[:2] != (size[1], size[0]):
            mask = np.where(mask >= 128, 255, 0).astype(np.uint8)
    rgba = cv2.merge([*cv2.split(rgb), mask])
    rgba.flags.writeable = False  # shared by every try-on of this garment at this size
    garment._at_scale.clear()  # one size kept: a phone-sized garment is tens of megabytes
    garment._at_scale[size] = rgba
    return rgba


def _garment_maps(
    canvas_box: tuple[int, int, int, int], size: tuple[int, int], flow: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per canvas pixel, where the flow samples a garment photo of `size` (h, w): float32 x, y.

    Normalised grid -> garment canvas pixel centre u = (g + 1) * (W - 1) / 2 -> garment photo
    pixel centre (u - left + 0.5) * w / content_w - 0.5. Both steps are affine, so they are done
    on the canvas and their result scaled up, rather than on every photo pixel.
    """
    canvas_h, canvas_w = CANVAS_SIZE
    top, left, content_h, content_w = canvas_box
    photo_h, photo_w = size
    map_x = ((flow[0] + 1.0) * ((canvas_w - 1) / 2.0) - left + 0.5) * (photo_w / content_w) - 0.5
    map_y = ((flow[1] + 1.0) * ((canvas_h - 1) / 2.0) - top + 0.5) * (photo_h / content_h) - 0.5
    return map_x.astype(np.float32), map_y.astype(np.float32)


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def paste_canvas(photo: np.ndarray, box: Box, canvas: np.ndarray) -> np.ndarray:
    """The model-resolution result scaled into its box in a copy of `photo` (no composition).

    What a model without the composition outputs gives, and `--resolution model`.
    """
    height, width = photo.shape[:2]
    x0, y0 = max(box.x, 0), max(box.y, 0)
    x1, y1 = min(box.right, width), min(box.bottom, height)
    image = photo.copy()
    if x1 <= x0 or y1 <= y0:
        return image
    image[y0:y1, x0:x1] = cv2.warpAffine(
        np.ascontiguousarray(canvas),
        _region_to_canvas(box, x0, y0),
        (x1 - x0, y1 - y0),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return image
