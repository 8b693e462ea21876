"""Which part of a photo the model sees, and how a result goes back into the photo.

A person photo is cut to a 3:4 box, found automatically or given (below); a garment photo is fitted
whole (`fit_to_canvas`, letterbox or crop, undone by `restore_framing`).

PF-AFN was trained on VITON photos: 192x256 portraits with the head near the top edge and the body
down to mid-thigh, filling the frame. A phone photo (full body, off-centre, landscape) has to be
cut to that framing, not squeezed whole into the canvas, or the person fills a fraction of it and
the garment lands badly.

Every framing is a `Box` in photo pixels, possibly reaching outside the photo (that part is padded
with the photo's edge colour): `letterbox` (the whole photo, padded to 3:4), `crop` (the largest
centred 3:4 part), `auto` (found from the person's silhouette) or one the user gives.

`auto` works on studio-like photos: the background is modelled from the photo's border (the same
model the garment masks use), the person is the largest foreground region, and the box follows
from the body: its height from the whole body where the feet show, else from the face's size
(`tryon_app.core.face`), else from the profile of the head and shoulders; its top from the eye
line, else from the crown. Without a plain background, or without a person, it falls back to
letterbox and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import cv2
import numpy as np

from tryon_app.core.artifact import INPUT_HEIGHT, INPUT_WIDTH
from tryon_app.core.errors import InputImageError
from tryon_app.core.face import Face, find_face
from tryon_app.core.images import WHITE, check_rgb

CANVAS_SIZE = (INPUT_HEIGHT, INPUT_WIDTH)
"""(height, width) of the model's canvas."""
ASPECT = CANVAS_SIZE[1] / CANVAS_SIZE[0]
"""Width over height of every framing box."""

FRAMINGS = ("auto", "letterbox", "crop")

# VITON's framing in shares of the box, measured on our synthetic scenes (`optimize synth
# --scene full-body|offset`, which know each scene's VITON box; seeds other than the benchmark's):
# the crown this far below the top edge, the box this tall for a whole body (crown to soles), the
# neck this far below the crown on a VITON canvas.
_CROWN_MARGIN = 0.018
_STATURE_SHARE = 0.61
_HEAD_SHARE = 0.244
# The silhouette's width, in shares of the box height, at depths below the crown of 0, 0.05, ...,
# 0.55 box heights (head, neck, shoulders, chest), the median over those scenes, and how much it
# varies there (interquartile range): a body cut by the photo's bottom edge is scaled by the
# height that best fits its profile to this one.
_WIDTH_PROFILE = (0.025, 0.162, 0.203, 0.224, 0.23, 0.234, 0.314, 0.403, 0.435, 0.45, 0.465, 0.475)
_WIDTH_SPREAD = (0.033, 0.021, 0.03, 0.048, 0.087, 0.101, 0.058, 0.064, 0.094, 0.139, 0.168, 0.166)
_PROFILE_STEP = 0.05
# A silhouette reaching the photo's bottom edge is a whole body (feet on the edge) when it is at
# least this many box heights long by its profile; a cut one is at most this long, and shows at
# least the box (VITON's framing ends at mid-thigh).
_WHOLE_BODY_SPAN = 1.45
_CUT_BODY_MIN_SPAN = 1.0
# The face (`tryon_app.core.face`), measured on the same scenes (tuning seeds 43 and 53,
# full-body and offset, 200 photos): the eyes' distance in shares of the box height (median; half
# of them within 1.6% of it once VITON's own spread of the box's bottom is taken out, where the
# profile of a cut body is within 5.3%, and off by up to 41%), and the eye line this far below
# the box's top (standard deviation 0.014 box heights; the crown's 0.020, hair piled up on the
# head making most of it).
_EYE_DISTANCE_SHARE = 0.0585
_EYE_LINE_DEPTH = 0.1467
# A face is used when its features match their layout at least this well and its eyes are at
# least this dark (`face.Face`). The 300 faces of tuning seeds 43, 53, 62 and 63 scored 0.40 and
# more, with eyes 0.15 and darker but for one match at the wrong size (0.09); the featureless
# heads of `bench.sample_person_photo` scored up to 0.39, and 0.37 at most where their noise
# made "eyes" of 0.1 or darker. It is looked for at sizes from half to 1.6 times what the body
# gives (a cut body's profile gave 0.80 to 1.63 times the true size there), and its eye line is
# used where it puts the top within this share of the box height of where the crown puts it (up
# to 0.09 apart there).
_MIN_FACE_SCORE = 0.4
_MIN_EYE_DARKNESS = 0.1
_EYE_TOP_SLACK = 0.1
# The head's axis: the middle of the silhouette's rows this many box heights below the crown.
_HEAD_DEPTH = 0.12
# A photo already framed like VITON is taken whole rather than resampled by a near-identical box.
_WHOLE_PHOTO_IOU = 0.75
# A box that leaves the photo by less than this share of its size is pushed back inside.
_NUDGE_SHARE = 0.15
_WORK_SIDE = 256
_MIN_PERSON_SHARE = 0.005
# Hysteresis: pixels this far (a share of the threshold) off the background join the person.
_FAINT_SHARE = 0.5
# An edge: the colour changes faster than this (Lab units per pixel at the working size), or than
# this many times the border's typical change, whichever is more. A backdrop's light (a spotlight,
# a vignette, the floor's shading) changes by a few units per pixel at most.
_EDGE_SLOPE = 4.0
_EDGE_SLOPE_SHARE = 4.0
_MAX_PERSON_SHARE = 0.85


@dataclass(frozen=True)
class Box:
    """A region of a photo: top-left corner (x, y) and size (w, h) in whole pixels.

    It may reach outside the photo (negative x, or x + w beyond the width): that part is padding.
    """

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self):
        if self.w < 1 or self.h < 1:
            raise ValueError(f"a box needs a positive size, got {self.w}x{self.h}")

    @classmethod
    def parse(cls, text: str) -> Box:
        """From "X,Y,W,H" (pixels)."""
        numbers = re.fullmatch(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text)
        if numbers is None:
            raise ValueError(f"expected X,Y,W,H in pixels, got {text!r}")
        return cls(*(int(value) for value in numbers.groups()))

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def inside(self, height: int, width: int) -> bool:
        return self.x >= 0 and self.y >= 0 and self.right <= width and self.bottom <= height

    def iou(self, other: Box) -> float:
        """Intersection over union of the two areas."""
        overlap_w = max(0, min(self.right, other.right) - max(self.x, other.x))
        overlap_h = max(0, min(self.bottom, other.bottom) - max(self.y, other.y))
        overlap = overlap_w * overlap_h
        return overlap / (self.w * self.h + other.w * other.h - overlap)

    def scaled(self, factor: float) -> Box:
        """The same region in a photo `factor` times as large."""
        return Box(
            round(self.x * factor),
            round(self.y * factor),
            max(1, round(self.w * factor)),
            max(1, round(self.h * factor)),
        )


@dataclass(frozen=True)
class Framing:
    """The box a try-on used, how it was chosen, and a note for the user when it fell back."""

    box: Box
    how: str  # "auto", "letterbox", "crop" or "given"
    note: str | None = None


def box_3_4(centre_x: float, top: float, height: float) -> Box:
    """The 3:4 box of `height` whose top edge is at `top`, centred on `centre_x`."""
    height = max(1, round(height))
    width = max(1, round(height * ASPECT))
    return Box(round(centre_x - width / 2), round(top), width, height)


def letterbox_box(height: int, width: int) -> Box:
    """The smallest 3:4 box holding the whole photo, centred on it."""
    box_h = max(height, width / ASPECT)
    return box_3_4(width / 2, (height - box_h) / 2, box_h)


def crop_box(height: int, width: int) -> Box:
    """The largest 3:4 box inside the photo, centred on it."""
    box_h = min(height, width / ASPECT)
    box = box_3_4(width / 2, (height - box_h) / 2, box_h)
    return _pushed_inside(box, height, width, share=1.0)


def choose_framing(rgb: np.ndarray, framing: str | Box = "auto") -> Framing:
    """The box for `framing`: "auto", "letterbox", "crop" or a given `Box`.

    Raises:
        InputImageError: a given box does not overlap the photo.
    """
    chosen = _chosen_framing(rgb, framing)
    return Framing(snapped(chosen.box), chosen.how, chosen.note)


def _chosen_framing(rgb: np.ndarray, framing: str | Box) -> Framing:
    height, width = rgb.shape[:2]
    if isinstance(framing, Box):
        if framing.right <= 0 or framing.bottom <= 0 or framing.x >= width or framing.y >= height:
            raise InputImageError(f"framing box {framing} lies outside the {width}x{height} photo")
        return Framing(framing, "given")
    if framing == "letterbox":
        return Framing(letterbox_box(height, width), "letterbox")
    if framing == "crop":
        return Framing(crop_box(height, width), "crop")
    if framing != "auto":
        raise ValueError(f"framing must be one of {FRAMINGS} or a Box, not {framing!r}")
    box = find_person_box(rgb)
    if box is None:
        note = "no person found on a plain background: the whole photo is used (letterbox)"
        return Framing(letterbox_box(height, width), "letterbox", note)
    return Framing(box, "auto")


def find_person_box(rgb: np.ndarray) -> Box | None:
    """VITON's framing of the person in `rgb`, or None when no person stands out.

    Measures the body on a copy at most `_WORK_SIDE` pixels long, the face in the photo itself.
    """
    height, width = rgb.shape[:2]
    # A whole shrink factor: area averaging by an integer factor is four times faster, and the
    # few border pixels it drops do not move a person.
    factor = max(1, -(-max(height, width) // _WORK_SIDE))
    small = rgb
    if factor > 1:
        cut = rgb[: height - height % factor, : width - width % factor]
        size = (cut.shape[1] // factor, cut.shape[0] // factor)
        small = cv2.resize(cut, size, interpolation=cv2.INTER_AREA)
    person = _person_silhouette(small)
    if person is None:
        return None
    box = _box_from_silhouette(person, rgb, factor)
    if box is None:
        return None
    return _settled(box, height, width)


@dataclass(frozen=True)
class CanvasPerson:
    """The person on a VITON-framed canvas, as composition needs it.

    Attributes:
        silhouette: bool (H, W), the person against the plain background.
        neck: the row of the neck: the silhouette's narrowest row below the head, or, where it
            shows no neck (hair over the shoulders, a hood), a VITON head's length below the
            crown.
    """

    silhouette: np.ndarray
    neck: int


def person_on_canvas(canvas: np.ndarray) -> CanvasPerson | None:
    """The person on the model's canvas, or None when no person stands out.

    Found at half the canvas's size (a quarter of the time, which a live view pays every
    frame); composition needs the silhouette only to a pixel or two.
    """
    height, width = canvas.shape[:2]
    half = cv2.resize(canvas, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    person = _person_silhouette(half)
    measured = None if person is None else _measure(person)
    if measured is None:
        return None
    silhouette = cv2.resize(
        person.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
    ).astype(bool)
    neck = measured.top + measured.head_length if measured.head_length else None
    if neck is None:
        neck = measured.top + round(_HEAD_SHARE * half.shape[0])
    return CanvasPerson(silhouette, 2 * neck)


def _person_silhouette(rgb: np.ndarray) -> np.ndarray | None:
    """The person: the largest foreground region (bool (H, W)), or None when none stands out.

    The backdrop is what the border's plain colour reaches without crossing an edge: light on a
    backdrop (a spotlight, a vignette, the floor's shading) changes its colour slowly, a person's
    outline suddenly. Its colour is then filled in behind the person from the backdrop around
    (`_backdrop_everywhere`), and foreground is decided against that with hysteresis: pixels
    clearly off the backdrop, grown into the fainter ones connected to them, so that a white
    shirt on a pale wall joins the person it belongs to while the wall's own faint noise stays
    out. Rows along the bottom that are foreground nearly across the whole photo are a floor, not
    a person, and are dropped.
    """
    from tryon_app.core.masks import distance_from_background

    lab, _, distance, threshold = distance_from_background(rgb)
    strong = distance > threshold
    border = np.concatenate([strong[0], strong[-1], strong[:, 0], strong[:, -1]])
    if np.count_nonzero(border) > 0.5 * border.size:
        return None  # no plain background to stand out from
    unit = max(rgb.shape[:2]) / 256.0
    size = max(3, 2 * round(1.5 * unit) + 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    background = _backdrop_reached(lab, ~strong)
    # The second pass takes back what the first left out but matches the backdrop.
    for _ in range(2):
        backdrop = _backdrop_everywhere(lab, background, unit)
        distance = np.linalg.norm(lab - backdrop, axis=2)
        noise = 1.4826 * float(np.median(distance[background])) if background.any() else 0.0
        threshold = max(4.0 * noise, 3.0)
        strong = distance > threshold
        background = cv2.dilate(strong.astype(np.uint8), kernel, iterations=2) == 0
    faint = cv2.morphologyEx(
        np.where(distance > _FAINT_SHARE * threshold, 255, 0).astype(np.uint8),
        cv2.MORPH_OPEN,
        kernel,
    )
    count, labels = cv2.connectedComponents(faint, connectivity=8)
    kept = np.unique(labels[strong & (faint > 0)])
    mask = np.where(np.isin(labels, kept[kept > 0]), 255, 0).astype(np.uint8)
    floor = mask.mean(axis=1) > 0.9 * 255
    bottom_rows = len(floor) - int(np.argmin(floor[::-1])) if floor[-1] else len(floor)
    mask[bottom_rows:] = 0
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count < 2:
        return None
    person = 1 + int(np.argmax([_person_likeness(stats[i], mask.shape) for i in range(1, count)]))
    share = stats[person, cv2.CC_STAT_AREA] / mask.size
    if not _MIN_PERSON_SHARE <= share <= _MAX_PERSON_SHARE:
        return None
    return labels == person


def _backdrop_reached(lab: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """The backdrop: pixels connected, without crossing an edge, to the photo's border where it
    has the border's plain colour (`plain`, bool (H, W)). Bool (H, W)."""
    slope_x = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3)
    slope_y = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3)
    # A Sobel kernel answers 8 to a ramp of one unit per pixel.
    slope = (
        np.sqrt(
            np.einsum("hwc,hwc->hw", slope_x, slope_x) + np.einsum("hwc,hwc->hw", slope_y, slope_y)
        )
        / 8.0
    )
    ring = np.concatenate([slope[1], slope[-2], slope[:, 1], slope[:, -2]])
    edge = slope > max(_EDGE_SLOPE, _EDGE_SLOPE_SHARE * float(np.median(ring)))
    # Thickened by a pixel, so that the backdrop does not slip through a gap in an outline.
    edge = cv2.dilate(edge.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    _, regions = cv2.connectedComponents((~edge).astype(np.uint8), connectivity=4)
    seeds = np.zeros(plain.shape, dtype=bool)
    seeds[:2] = seeds[-2:] = True
    seeds[:, :2] = seeds[:, -2:] = True
    reached = np.unique(regions[seeds & plain & ~edge])
    return np.isin(regions, reached[reached > 0])


def _backdrop_everywhere(lab: np.ndarray, known: np.ndarray, unit: float) -> np.ndarray:
    """The backdrop's colour (H, W, 3) everywhere, from where it is `known` (bool (H, W)).

    Normalised convolution over an image pyramid: each pixel takes the backdrop's mean near it
    at the finest scale where enough of it is known, so behind a person the colour comes from
    the backdrop around them, and elsewhere it follows the light closely.
    """
    weight = cv2.GaussianBlur(known.astype(np.float32), (0, 0), 1.5 * unit)
    total = cv2.GaussianBlur(lab * known[..., None], (0, 0), 1.5 * unit)
    levels = [(total, weight)]
    while min(levels[-1][1].shape) > 8:
        levels.append((cv2.pyrDown(levels[-1][0]), cv2.pyrDown(levels[-1][1])))
    estimate = None
    for total, weight in reversed(levels):
        mean = total / np.maximum(weight, 1e-4)[..., None]
        if estimate is None:
            estimate = mean
            continue
        coarser = cv2.pyrUp(estimate, dstsize=(weight.shape[1], weight.shape[0]))
        share = np.clip(weight / 0.5, 0.0, 1.0)[..., None]
        estimate = share * mean + (1.0 - share) * coarser
    return estimate


def _person_likeness(stats: np.ndarray, shape: tuple[int, int]) -> float:
    """How much a foreground region looks like a standing person: its area, less for one that is
    wider than tall or hangs from the top or a side of the photo (a vignette, a backdrop's edge)."""
    x, y, w, h, area = (int(v) for v in stats[:5])
    height, width = shape
    score = float(area)
    if w > h:
        score *= (h / w) ** 2
    if y == 0:
        score *= 0.1 if w > h else 0.5
    if x == 0 or x + w == width:
        score *= 0.5
    return score


@dataclass(frozen=True)
class _Silhouette:
    """What framing reads off a person's silhouette, in its pixels."""

    top: int  # the crown
    span: int  # crown to the lowest foreground row
    feet_visible: bool  # the silhouette ends above the photo's bottom edge
    head_length: int  # crown to the neck's narrowest row (0: no neck found)
    shoulders: float  # widest row within about half a head below the neck
    centre: float  # horizontal centre of the chest
    widths: np.ndarray = field(compare=False, repr=False)  # per row, crown to bottom


def _measure(person: np.ndarray) -> _Silhouette | None:
    """Crown, neck, shoulders and chest centre of a silhouette, or None when it is too small."""
    rows = np.flatnonzero(person.any(axis=1))
    top, bottom = int(rows[0]), int(rows[-1])
    span = bottom - top + 1
    if span < 8:
        return None
    columns = np.arange(person.shape[1])
    occupied = person[top : bottom + 1]
    left = np.where(occupied, columns, person.shape[1]).min(axis=1)
    right = np.where(occupied, columns, -1).max(axis=1)
    extents = np.maximum(right - left + 1, 0).astype(np.float32)
    widths = np.convolve(extents, np.ones(3, dtype=np.float32) / 3, mode="same")

    # The neck: past the head's widest row (where the profile first narrows), the narrowest row
    # before the silhouette widens again beyond the head (the shoulders).
    reach = max(4, round(0.5 * span))
    running_max = np.maximum.accumulate(widths[:reach])
    narrowing = np.flatnonzero(widths[:reach] < 0.85 * running_max)
    neck = head_length = 0
    if narrowing.size:
        start = int(narrowing[0])
        wider = np.flatnonzero(widths[start:reach] > 1.3 * running_max[start])
        end = start + (int(wider[0]) if wider.size else reach - start)
        neck = start + int(np.argmin(widths[start : max(end, start + 1)]))
        head_length = neck
    shoulder_rows = widths[neck : neck + max(2, round(0.6 * head_length))]
    shoulders = float(shoulder_rows.max()) if head_length and shoulder_rows.size else 0.0
    if head_length < 3 or shoulders < 2 * float(widths[neck]):
        # No neck between head and shoulders (long hair, a hood, a back view).
        neck, head_length, shoulders = 0, 0, float(np.percentile(widths[:reach], 90))
    chest_start = neck if head_length else round(0.2 * span)
    chest = slice(chest_start, min(span, chest_start + max(2, head_length or round(0.1 * span))))
    return _Silhouette(
        top=top,
        span=span,
        feet_visible=bottom < person.shape[0] - 1 - max(1, round(0.01 * person.shape[0])),
        head_length=head_length,
        shoulders=shoulders,
        centre=float(np.median((left[chest] + right[chest]) / 2.0)),
        widths=extents,
    )


def _box_from_silhouette(person: np.ndarray, photo: np.ndarray, factor: int) -> Box | None:
    """VITON's framing of a silhouette, in `photo`'s pixels (`factor` times the silhouette's:
    rounding the box in the latter would move its edges by up to half a factor, a percent of a
    small person's box).

    Its height: from the whole body's where the feet are in the photo, else from the face's size
    where a face is found (`_face_of`), else from the profile of the head and shoulders
    (`_profile_height`), unless that says the body is whole and only stands on the photo's bottom
    edge. Its top: from the eye line where a face is found, else from the crown.
    """
    measured = _measure(person)
    if measured is None:
        return None
    whole_body = _STATURE_SHARE * measured.span
    from_body = whole_body if measured.feet_visible else _profile_height(measured.widths)
    face = _face_of(photo, person, measured.top, from_body, factor)
    box_height = whole_body
    if not measured.feet_visible:
        longest = measured.span / _CUT_BODY_MIN_SPAN
        if face is not None:
            # Between a body standing on the bottom edge and one cut at the box's bottom: no
            # threshold between the two, where a few percent of the face's size would flip it.
            from_face = face.eye_distance / factor / _EYE_DISTANCE_SHARE
            box_height = float(np.clip(from_face, whole_body, longest))
        elif measured.span < _WHOLE_BODY_SPAN * from_body:
            box_height = float(np.clip(from_body, measured.span / _WHOLE_BODY_SPAN, longest))
    top = measured.top - _CROWN_MARGIN * box_height
    if face is not None:
        below_eyes = face.eye_y / factor - _EYE_LINE_DEPTH * box_height
        if abs(below_eyes - top) <= _EYE_TOP_SLACK * box_height:
            top = below_eyes
    return box_3_4(measured.centre * factor, top * factor, box_height * factor)


def _face_of(
    photo: np.ndarray, person: np.ndarray, crown: int, box_height: float, factor: int
) -> Face | None:
    """The face of the silhouette `person` whose crown is at row `crown` and whose box is about
    `box_height` tall (its pixels), found in `photo` (`factor` times as large), or None when no
    face matches well."""
    head = person[crown : crown + max(2, round(_HEAD_DEPTH * box_height))]
    rows = head.any(axis=1)
    columns = np.arange(person.shape[1])
    left = np.where(head, columns, person.shape[1]).min(axis=1)[rows]
    right = np.where(head, columns, -1).max(axis=1)[rows]
    axis = float(np.median((left + right + 1) / 2.0))
    face = find_face(
        photo, (axis * factor, crown * factor), _EYE_DISTANCE_SHARE * box_height * factor
    )
    if face is None or face.score < _MIN_FACE_SCORE or face.eye_darkness < _MIN_EYE_DARKNESS:
        return None
    return face


def _profile_height(widths: np.ndarray) -> float:
    """The box height whose scaled `_WIDTH_PROFILE` best fits a silhouette's widths (per row from
    the crown down), in a robust sense: each depth counts its misfit in units of the profile's
    spread there, at most 3, so that an arm held out or long hair does not decide alone."""
    depths = _PROFILE_STEP * np.arange(len(_WIDTH_PROFILE))
    span = len(widths)
    rows = np.arange(span)
    best_height, best_cost = span / _STATURE_SHARE, np.inf
    for height in np.geomspace(_STATURE_SHARE * span, span / 0.9, 60):
        at = depths * height
        seen = at <= span - 1
        if np.count_nonzero(seen) < 4:
            continue
        width = np.interp(at[seen], rows, widths) / height
        misfit = np.abs(width - np.asarray(_WIDTH_PROFILE)[seen])
        cost = float(
            np.minimum(misfit / np.maximum(np.asarray(_WIDTH_SPREAD)[seen], 0.02), 3.0).mean()
        )
        if cost < best_cost:
            best_height, best_cost = float(height), cost
    return best_height


def _settled(box: Box, height: int, width: int) -> Box:
    """`box` adjusted to the photo: no bigger than it, nudged inside, or the photo itself.

    A box larger than the photo along an axis shrinks to fit (keeping 3:4 and its top); one
    that leaves the photo by a little is pushed back in; a 3:4 photo that already has about
    this framing is taken whole, since resampling it by a near-identical box only blurs it.
    """
    whole = Box(0, 0, width, height)
    scale = min(1.0, height / box.h, width / box.w)
    if scale < 1.0:
        centre_x = box.x + box.w / 2
        box = box_3_4(centre_x, box.y, box.h * scale)
    box = _pushed_inside(box, height, width, share=_NUDGE_SHARE)
    is_3_4 = abs(width / height - ASPECT) <= 0.02 * ASPECT
    if is_3_4 and box.iou(whole) >= _WHOLE_PHOTO_IOU:
        return whole
    return box


def _pushed_inside(box: Box, height: int, width: int, share: float) -> Box:
    """Move `box` back inside the photo along each axis it leaves by at most `share` of its size
    (and on one side only: a box larger than the photo stays where it is)."""

    def settle(start: int, size: int, limit: int) -> int:  # along one axis
        below, beyond = -start, start + size - limit
        if size > limit:
            return start
        if 0 < below <= share * size:
            return 0
        if 0 < beyond <= share * size:
            return limit - size
        return start

    return Box(settle(box.x, box.w, width), settle(box.y, box.h, height), box.w, box.h)


def cut_to_canvas(
    rgb: np.ndarray, box: Box, pad: tuple[int, int, int], size: tuple[int, int] = CANVAS_SIZE
) -> np.ndarray:
    """The part of `rgb` inside `box`, scaled to `size` (height, width); outside the photo, `pad`.

    Pixel edges map to pixel edges: canvas pixel (i, j) covers photo x from
    box.x + j * box.w / width to box.x + (j + 1) * box.w / width (likewise y), which is
    OpenCV's resize convention and what `compose` assumes on the way back.
    """
    height, width = rgb.shape[:2]
    x0, y0 = max(box.x, 0), max(box.y, 0)
    x1, y1 = min(box.right, width), min(box.bottom, height)
    region = rgb[y0:y1, x0:x1]
    if not box.inside(height, width):
        region = cv2.copyMakeBorder(
            np.ascontiguousarray(region),
            y0 - box.y,
            box.bottom - y1,
            x0 - box.x,
            box.right - x1,
            cv2.BORDER_CONSTANT,
            value=tuple(int(c) for c in pad),
        )
    canvas_h, canvas_w = size
    if region.shape[:2] == (canvas_h, canvas_w):
        return np.array(region)
    region = np.ascontiguousarray(region)
    if box.h < canvas_h or box.w < canvas_w:
        return cv2.resize(region, (canvas_w, canvas_h), interpolation=cv2.INTER_LINEAR)
    factor = whole_factor(box, size)
    if factor > 1:  # exact (see `snapped`): OpenCV's fast integer area path, then the rest
        region = cv2.resize(
            region, (box.w // factor, box.h // factor), interpolation=cv2.INTER_AREA
        )
    return cv2.resize(region, (canvas_w, canvas_h), interpolation=cv2.INTER_AREA)


def whole_factor(box: Box, size: tuple[int, int] = CANVAS_SIZE) -> int:
    """The whole factor a box shrinks by first on its way to the canvas (1: none)."""
    factor = min(box.w // size[1], box.h // size[0])
    return factor if factor > 1 and box.w % factor == 0 and box.h % factor == 0 else 1


def snapped(box: Box, size: tuple[int, int] = CANVAS_SIZE) -> Box:
    """`box` trimmed by less than a whole shrink factor so that its sides divide by it.

    Area averaging a phone photo's box straight to the canvas takes OpenCV's general path (86 ms
    at 12 megapixels here); by a whole factor first, its fast path (22 ms). Trimming a few pixels
    off a box thousands wide moves its framing by less than a canvas pixel.
    """
    factor = min(box.w // size[1], box.h // size[0])
    if factor < 2:
        return box
    return Box(box.x, box.y, box.w - box.w % factor, box.h - box.h % factor)


# --------------------------------------------------------------------------- a whole photo
# A garment photo is fitted whole to the canvas, and a canvas-sized result (its mask) is put back.

# Border pixels whose spread (grey levels) stays under this count as one flat colour.
_FLAT_BORDER_SPREAD = 12

# Most pixels one border strip contributes to the padding colour. Strips of real photos (2 pixels
# deep, under 32768 long) are used whole; longer ones are sampled evenly, so the work stays
# bounded whatever the array.
_EDGE_SAMPLES = 1 << 16


@dataclass(frozen=True)
class CanvasFit:
    """How a photo was fitted to the model canvas, so a result can be put back in its place.

    Boxes are (top, left, height, width) in pixels. `photo_box` is the part of the photo that
    was used (all of it for letterbox); `canvas_box` is where it landed on the canvas (all of it
    for crop). `source` is the photo itself, kept (not copied) only when pixels outside
    `photo_box` are needed to restore it, i.e. for crop.
    """

    mode: str
    photo_size: tuple[int, int]
    canvas_size: tuple[int, int]
    photo_box: tuple[int, int, int, int]
    canvas_box: tuple[int, int, int, int]
    pad_value: tuple[int, int, int] | None = None
    source: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def is_identity(self) -> bool:
        """True when the photo was already canvas-sized and went through untouched."""
        return self.photo_size == self.canvas_size and self.photo_box == self.canvas_box == (
            0,
            0,
            *self.canvas_size,
        )

    @property
    def scale(self) -> float:
        """Canvas pixels per photo pixel (vertically; horizontal differs only by rounding)."""
        return self.canvas_box[2] / self.photo_box[2]


def fit_to_canvas(
    rgb: np.ndarray,
    size: tuple[int, int] = CANVAS_SIZE,
    mode: str = "letterbox",
    *,
    pad_value: int | tuple[int, int, int] | None = None,
) -> tuple[np.ndarray, CanvasFit]:
    """Fit a photo of any size and shape to the model canvas (3:4 portrait by default).

    "letterbox" scales the whole photo to fit and pads the rest, with `pad_value` if given, else
    the colour of the photo's edges where they are flat, else white. "crop" scales the photo to
    cover the canvas and cuts the overflow equally on both sides. A photo already of `size` is
    returned bit-identical with an identity framing.

    Args:
        rgb: uint8 (H, W, 3) photo.
        size: (height, width) of the canvas.
        mode: "letterbox" or "crop".
        pad_value: grey level or RGB triple for letterbox padding.

    Returns:
        (canvas, framing): uint8 (size[0], size[1], 3) and what `restore_framing` needs.
    """
    rgb = check_rgb(rgb, "rgb")
    if mode not in ("letterbox", "crop"):
        raise ValueError(f"mode must be 'letterbox' or 'crop', not {mode!r}")
    canvas_h, canvas_w = (int(size[0]), int(size[1]))
    if canvas_h <= 0 or canvas_w <= 0:
        raise ValueError(f"canvas size must be positive, got {size}")
    photo_h, photo_w = rgb.shape[:2]
    whole_canvas = (0, 0, canvas_h, canvas_w)
    whole_photo = (0, 0, photo_h, photo_w)

    if (photo_h, photo_w) == (canvas_h, canvas_w):
        framing = CanvasFit(
            mode, (photo_h, photo_w), (canvas_h, canvas_w), whole_photo, whole_canvas
        )
        return rgb.copy(), framing

    if mode == "crop":
        if photo_w * canvas_h > photo_h * canvas_w:  # wider than the canvas: cut the sides
            used_h, used_w = photo_h, _clamp(round(photo_h * canvas_w / canvas_h), 1, photo_w)
        else:  # taller: cut top and bottom
            used_h, used_w = _clamp(round(photo_w * canvas_h / canvas_w), 1, photo_h), photo_w
        top, left = (photo_h - used_h) // 2, (photo_w - used_w) // 2
        region = rgb[top : top + used_h, left : left + used_w]
        canvas = _resize(region, canvas_h, canvas_w)
        photo_box = (top, left, used_h, used_w)
        source = None if photo_box == whole_photo else rgb
        framing = CanvasFit(
            mode, (photo_h, photo_w), (canvas_h, canvas_w), photo_box, whole_canvas, source=source
        )
        return canvas, framing

    scale = min(canvas_h / photo_h, canvas_w / photo_w)
    content_h = _clamp(round(photo_h * scale), 1, canvas_h)
    content_w = _clamp(round(photo_w * scale), 1, canvas_w)
    top, left = (canvas_h - content_h) // 2, (canvas_w - content_w) // 2
    if pad_value is None:
        colour = edge_colour(
            rgb, pad_sides=content_w < canvas_w, pad_top_bottom=content_h < canvas_h
        )
    elif np.ndim(pad_value) == 0:
        colour = (int(pad_value),) * 3
    else:
        colour = tuple(int(v) for v in pad_value)
        if len(colour) != 3:
            raise ValueError(f"pad_value must be a grey level or an RGB triple, got {pad_value!r}")
    canvas = np.empty((canvas_h, canvas_w, 3), dtype=np.uint8)
    canvas[:] = np.asarray(colour, dtype=np.uint8)
    canvas[top : top + content_h, left : left + content_w] = _resize(rgb, content_h, content_w)
    canvas_box = (top, left, content_h, content_w)
    framing = CanvasFit(
        mode, (photo_h, photo_w), (canvas_h, canvas_w), whole_photo, canvas_box, pad_value=colour
    )
    return canvas, framing


def restore_framing(result: np.ndarray, framing: CanvasFit) -> np.ndarray:
    """Put a canvas-sized result back into the framing of the photo it was made from.

    Letterbox: the padding is cut off and the rest scaled to the photo's size. Crop: the result
    is scaled to the cropped region and pasted into a copy of the original photo, so what was cut
    away comes back unchanged.

    Args:
        result: uint8 (canvas_h, canvas_w, 3), e.g. the try-on.
        framing: from the `fit_to_canvas` call that made the input canvas.

    Returns:
        uint8 (photo_h, photo_w, 3), a new array.
    """
    result = check_rgb(result, "result")
    if result.shape[:2] != framing.canvas_size:
        raise ValueError(
            f"result is {result.shape[:2]}, the framing's canvas is {framing.canvas_size}"
        )
    if framing.is_identity:
        return result.copy()
    canvas_top, canvas_left, canvas_h, canvas_w = framing.canvas_box
    photo_top, photo_left, photo_h, photo_w = framing.photo_box
    content = result[canvas_top : canvas_top + canvas_h, canvas_left : canvas_left + canvas_w]
    restored = _resize(content, photo_h, photo_w)
    if (photo_h, photo_w) == framing.photo_size:
        return restored
    if framing.source is None or framing.source.shape[:2] != framing.photo_size:
        raise ValueError("this framing cropped the photo but does not hold it; cannot restore")
    photo = framing.source.copy()
    photo[photo_top : photo_top + photo_h, photo_left : photo_left + photo_w] = restored
    return photo


def edge_colour(rgb: np.ndarray, *, pad_sides: bool, pad_top_bottom: bool) -> tuple[int, int, int]:
    """Median colour of the photo edges that will touch the padding, or white if they are busy."""
    strips = []
    if pad_sides:
        strips += [rgb[:, :2], rgb[:, -2:]]
    if pad_top_bottom:
        strips += [rgb[:2], rgb[-2:]]
    if not strips:
        return WHITE
    pixels = np.concatenate([_sampled(strip.reshape(-1, 3)) for strip in strips]).astype(np.int16)
    median = np.median(pixels, axis=0)
    spread = np.percentile(np.abs(pixels - median), 90, axis=0)
    if spread.max() > _FLAT_BORDER_SPREAD:
        return WHITE
    return tuple(int(round(v)) for v in median)


def _sampled(pixels: np.ndarray) -> np.ndarray:
    """At most _EDGE_SAMPLES of `pixels` (N, 3), evenly spaced; all of them when they are fewer."""
    step = -(-len(pixels) // _EDGE_SAMPLES)
    return pixels[::step]


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image.copy()
    shrinking = height <= image.shape[0] and width <= image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=interpolation)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, int(value)))
