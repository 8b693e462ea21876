"""Garment masks for product photos: the photo's alpha, a local rembg model, or an OpenCV cut-out.

PF-AFN needs, next to the garment photo, a filled silhouette of the garment (the VITON "edge").
The authors made theirs with GrabCut. Here:

* an alpha channel, when the product photo has a real one, is the mask;
* rembg, when it is installed *and* one of its model files is already on disk, segments the
  photo (nothing is ever downloaded);
* otherwise an OpenCV method separates the garment from a plain studio background: a smooth
  model of the background fitted to the photo's border, a colour-distance threshold in Lab that
  adapts to the garment's contrast, hole filling, morphology, the large components, and a
  half-way (alpha = 0.5) boundary. It takes a few milliseconds at 192x256.

rembg model files looked for, in this order of preference: `u2net.onnx`, `u2netp.onnx`,
`u2net_cloth_seg.onnx`, each at the places rembg itself reads (see `rembg_model_candidates`):
`$U2NET_HOME/models/<name>/<name>.onnx` and `$U2NET_HOME/<name>.onnx` when U2NET_HOME is set;
otherwise `$REMBG_HOME/models/<name>/<name>.onnx` (REMBG_HOME defaulting to
`$XDG_DATA_HOME/rembg` or `~/.rembg`) and `~/.u2net/<name>.onnx` (or `$XDG_DATA_HOME/.u2net`).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from tryon_app.core.errors import TryOnError

log = logging.getLogger(__name__)

METHODS = ("auto", "opencv", "rembg")

REMBG_MODELS = ("u2net", "u2netp", "u2net_cloth_seg")
"""rembg models we use, best first: u2net is a salient-object model, which is what a product photo
needs; u2net_cloth_seg was trained on people wearing clothes, so it comes last."""

# The OpenCV method works at most at this size (longest side); larger photos are cut out small
# and the mask scaled back, which keeps the cost flat.
_WORK_SIDE = 512

# Lab distances (OpenCV 8-bit Lab units) of the adaptive threshold: at most the ceiling, which
# already separates any visible garment, unless the background's own noise (4 sigmas) is
# higher; never below the floor.
_THRESHOLD_CEILING = 12.0
_THRESHOLD_FLOOR = 3.0

# A mask smaller than this share of the photo means nothing was found.
_MIN_GARMENT_SHARE = 0.005

# Pale enough (8-bit Lab lightness, chroma) to be an empty studio background.
_BLANK_LIGHTNESS = 235
_BLANK_CHROMA = 10


def garment_mask(
    cloth_rgb: np.ndarray, *, alpha: np.ndarray | None = None, method: str = "auto"
) -> np.ndarray:
    """Filled silhouette of the garment in a product photo.

    Args:
        cloth_rgb: uint8 (H, W, 3) RGB garment photo, or (H, W, 4) RGBA whose fourth channel is
            taken as `alpha`.
        alpha: uint8 (H, W) transparency of the photo (0 transparent). When it has transparent
            pixels it is the mask (opaque where >= 128) and `method` is not used; an alpha that
            is opaque everywhere says nothing and is ignored.
        method: "auto" (rembg if it and a model file are available, else OpenCV), "opencv", or
            "rembg" (fails with a TryOnError saying where to put the model when it is missing).

    Returns:
        uint8 (H, W) mask with 255 on the garment and 0 elsewhere. For a photo in which nothing
        stands out from its border (a blank frame), the mask is empty when the photo is white or
        very pale, and full when it has a colour (a close-up of fabric).
    """
    rgb, alpha = _split_alpha(cloth_rgb, alpha)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if alpha is not None and alpha.min() < 255:
        return np.where(alpha >= 128, 255, 0).astype(np.uint8)
    if method == "opencv":
        return opencv_garment_mask(rgb)
    if method == "rembg":
        return _rembg_mask_or_explain(rgb)
    model = find_rembg_model() if rembg_installed() else None
    if model is not None:
        try:
            return rembg_garment_mask(rgb, model)
        except Exception as error:  # noqa: BLE001 - the OpenCV mask is always there to fall back on
            log.warning("rembg failed on %s (%s); using the OpenCV garment mask", model, error)
    return opencv_garment_mask(rgb)


def _split_alpha(
    cloth_rgb: np.ndarray, alpha: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    image = np.asarray(cloth_rgb)
    if (
        image.dtype != np.uint8
        or image.ndim != 3
        or image.shape[2] not in (3, 4)
        or 0 in image.shape
    ):
        raise ValueError(
            f"cloth_rgb must be a uint8 (H, W, 3) or (H, W, 4) array, got {image.dtype} {image.shape}"
        )
    if image.shape[2] == 4:
        if alpha is None:
            alpha = image[..., 3]
        weight = image[..., 3:].astype(np.uint32)
        image = ((image[..., :3] * weight + 255 * (255 - weight) + 127) // 255).astype(np.uint8)
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.shape != image.shape[:2] or alpha.dtype != np.uint8:
            raise ValueError(
                f"alpha must be uint8 {image.shape[:2]}, got {alpha.dtype} {alpha.shape}"
            )
    return image, alpha


# --------------------------------------------------------------------------- rembg


def rembg_installed() -> bool:
    """Whether rembg can be imported (checked without importing it: the import is slow)."""
    try:
        return importlib.util.find_spec("rembg") is not None
    except (ImportError, ValueError):
        return False


def rembg_model_candidates(name: str = "u2net") -> list[Path]:
    """Where rembg reads `<name>.onnx` from, in its order, given the current environment."""
    file_name = f"{name}.onnx"
    xdg_data = os.environ.get("XDG_DATA_HOME")
    u2net_home = os.environ.get("U2NET_HOME")
    legacy = Path(u2net_home or os.path.join(xdg_data or "~", ".u2net")).expanduser()
    if u2net_home:
        home = Path(u2net_home).expanduser()
    else:
        default_home = os.path.join(xdg_data, "rembg") if xdg_data else os.path.join("~", ".rembg")
        home = Path(os.environ.get("REMBG_HOME") or default_home).expanduser()
    return [home / "models" / name / file_name, legacy / file_name]


def find_rembg_model() -> tuple[str, Path] | None:
    """(model name, file) of the best rembg model present on disk, or None. Never downloads."""
    for name in REMBG_MODELS:
        for candidate in rembg_model_candidates(name):
            try:
                if candidate.is_file() and candidate.stat().st_size > 0:
                    return name, candidate
            except OSError:
                continue
    return None


def rembg_garment_mask(cloth_rgb: np.ndarray, model: tuple[str, Path]) -> np.ndarray:
    """Mask from a local rembg model: uint8 (H, W) {0, 255}.

    Args:
        cloth_rgb: uint8 (H, W, 3) RGB.
        model: (name, file) from `find_rembg_model`.
    """
    from PIL import Image

    name, model_file = model
    session = _rembg_session(name, str(model_file))
    soft_masks = session.predict(Image.fromarray(cloth_rgb))
    # u2net_cloth_seg gives one mask per clothing category; the garment is wherever any is on.
    soft = np.max(np.stack([np.asarray(m.convert("L")) for m in soft_masks]), axis=0)
    mask = np.where(soft >= 128, 255, 0).astype(np.uint8)
    return _fill_holes(_keep_large_components(mask))


@functools.lru_cache(maxsize=2)
def _rembg_session(name: str, model_file: str):
    from rembg import new_session

    try:
        from rembg.sessions import sessions as session_classes
    except ImportError:
        session_classes = {}
    session_class = session_classes.get(name)
    resolve = getattr(session_class, "resolve_existing", None)
    # rembg decides the path itself; make sure it agrees the file is there, so that creating the
    # session cannot start a download.
    if resolve is not None and resolve(f"{name}.onnx") is None:
        raise FileNotFoundError(f"rembg does not see {model_file}")
    return new_session(name)


def _rembg_mask_or_explain(rgb: np.ndarray) -> np.ndarray:
    if not rembg_installed():
        raise TryOnError(
            "rembg: not installed; install it with `pip install 'openvino-tryon[rembg]'` or use the OpenCV mask"
        )
    model = find_rembg_model()
    if model is None:
        where = rembg_model_candidates("u2net")[0]
        raise TryOnError(
            f"{where}: rembg model not found; download u2net.onnx from the rembg releases and put it "
            "there (or set U2NET_HOME to the folder holding it)",
            path=where,
        )
    try:
        return rembg_garment_mask(rgb, model)
    except Exception as error:  # noqa: BLE001 - onnxruntime and rembg raise many types
        message = " ".join(str(error).split())[:200] or error.__class__.__name__
        raise TryOnError(
            f"{model[1]}: rembg could not segment the garment ({message})", path=model[1]
        ) from None


# --------------------------------------------------------------------------- OpenCV


def opencv_garment_mask(cloth_rgb: np.ndarray) -> np.ndarray:
    """Garment silhouette on a plain background, by colour distance to the border's colour.

    Works for white, grey or coloured studio backgrounds, also with a smooth gradient or
    vignette, for garments of any colour that differ from the background by a few grey levels.

    Args:
        cloth_rgb: uint8 (H, W, 3) RGB.

    Returns:
        uint8 (H, W) {0, 255}.
    """
    rgb, _ = _split_alpha(cloth_rgb, None)
    height, width = rgb.shape[:2]
    shrink = min(1.0, _WORK_SIDE / max(height, width))
    if shrink < 1.0:
        small = cv2.resize(
            rgb,
            (max(1, round(width * shrink)), max(1, round(height * shrink))),
            interpolation=cv2.INTER_AREA,
        )
        mask = _silhouette(small)
        scaled = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        return np.where(scaled >= 128, 255, 0).astype(np.uint8)
    return _silhouette(rgb)


def distance_from_background(
    rgb: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """How far each pixel is from a plain studio background fitted to the photo's border.

    Args:
        rgb: uint8 (H, W, 3) RGB.

    Returns:
        (lab, difference, distance, threshold): the photo in float Lab, its difference from the
        background model (H, W, 3), the length of that difference (H, W), and the distance above
        which a pixel is foreground (adaptive; see `_adaptive_threshold`).
    """
    height, width = rgb.shape[:2]
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).astype(np.float32)
    unit = max(height, width) / 256.0
    background, noise = _background_model(lab, strip=max(1, round(2 * unit)))
    difference = lab - background
    distance = np.sqrt(np.einsum("hwc,hwc->hw", difference, difference))
    return lab, difference, distance, _adaptive_threshold(distance, noise)


def _silhouette(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    # Kernel sizes were tuned at 192x256; scale them with the picture.
    unit = max(height, width) / 256.0
    lab, difference, distance, threshold = distance_from_background(rgb)

    mask = np.where(distance > threshold, 255, 0).astype(np.uint8)
    # Fill enclosed holes (prints, logos, the inside of a collar) on the raw threshold, before any
    # closing: closing first would also seal the gap between a sleeve and the body.
    mask = _fill_holes(mask)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_odd(5 * unit), _odd(5 * unit)))
    # Closing bridges seams and specks of a pale garment that fell just under the threshold, but
    # it would also bridge a narrow gap of background (a sleeve hanging beside the body): take
    # back what it added where the colour is clearly the background's.
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    closed[(mask == 0) & (distance < 0.5 * threshold)] = 0
    mask = cv2.morphologyEx(closed, cv2.MORPH_OPEN, kernel)
    mask = _keep_large_components(mask)
    if np.count_nonzero(mask) < _MIN_GARMENT_SHARE * height * width:
        return _blank_frame_mask(lab)
    mask = _halfway_boundary(mask, difference, threshold, unit)
    return _fill_holes(mask, max_area=0.002 * height * width)


def _background_model(lab: np.ndarray, strip: int) -> tuple[np.ndarray, float]:
    """Smooth background over the whole image, fitted to the border pixels.

    A quadratic surface per Lab channel is fitted to a `strip`-pixel frame around the picture,
    twice, each time only on pixels close to the current fit, so garment pixels that touch the
    border do not pull it. Returns the (H, W, 3) background and the noise sigma of the frame.
    """
    height, width = lab.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    on_border = np.zeros((height, width), dtype=bool)
    on_border[:strip] = on_border[-strip:] = True
    on_border[:, :strip] = on_border[:, -strip:] = True
    samples = lab[on_border]

    def design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u = x / max(width - 1, 1) * 2 - 1
        v = y / max(height - 1, 1) * 2 - 1
        return np.stack([np.ones_like(u), u, v, u * v, u * u, v * v], axis=-1)

    border_design = design(xs[on_border], ys[on_border])
    median = np.median(samples, axis=0)
    residual = np.linalg.norm(samples - median, axis=1)
    inliers = residual <= max(6.0, 3 * 1.4826 * float(np.median(residual)))
    coefficients = None
    for _ in range(2):
        if inliers.sum() < 3 * border_design.shape[1]:
            break
        coefficients, *_ = np.linalg.lstsq(border_design[inliers], samples[inliers], rcond=None)
        residual = np.linalg.norm(samples - border_design @ coefficients, axis=1)
        inliers = residual <= max(4.0, 3 * 1.4826 * float(np.median(residual)))
    if coefficients is None:
        background = np.broadcast_to(median.astype(np.float32), lab.shape)
        noise = 1.4826 * float(np.median(np.linalg.norm(samples - median, axis=1)))
        return background, noise
    background = (design(xs, ys).reshape(-1, 6) @ coefficients).reshape(height, width, 3)
    noise = 1.4826 * float(np.median(residual[inliers])) if inliers.any() else 0.0
    return background.astype(np.float32), noise


def _adaptive_threshold(distance: np.ndarray, noise: float) -> float:
    """Half of Otsu's split between background and garment, capped, but above the noise.

    A dark garment on white is far from the background and gets the ceiling; a pale one (a white
    shirt on white) is a few units away and gets a threshold just above the noise.
    """
    levels = np.clip(distance, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    floor = max(_THRESHOLD_FLOOR, 4.0 * noise)
    return float(max(floor, min(_THRESHOLD_CEILING, 0.5 * otsu)))


def _halfway_boundary(
    mask: np.ndarray, difference: np.ndarray, threshold: float, unit: float
) -> np.ndarray:
    """Move the outline to where pixels are half garment, half background.

    The threshold is low so that faint garments are found, which puts the outline on the outer
    edge of the anti-aliased (and JPEG-blurred) boundary. For each pixel near the outline, the
    local garment colour is averaged from the mask's interior nearby, and the pixel is kept when
    its colour lies at least half-way from the background to that garment colour.
    """
    square = np.ones((3, 3), dtype=np.uint8)
    steps = max(1, round(2 * unit))
    interior = cv2.erode(mask, square, iterations=steps)
    band = (cv2.dilate(mask, square, iterations=steps) > 0) & (interior == 0)
    weight = (interior > 0).astype(np.float32)
    window = (_odd(7 * unit), _odd(7 * unit))
    weight_sum = cv2.boxFilter(weight, -1, window, normalize=False)
    colour_sum = cv2.boxFilter(difference * weight[..., None], -1, window, normalize=False)
    garment_colour = colour_sum / np.maximum(weight_sum, 1e-6)[..., None]
    contrast = np.einsum("hwc,hwc->hw", garment_colour, garment_colour)
    share = np.einsum("hwc,hwc->hw", difference, garment_colour) / np.maximum(contrast, 1e-6)
    decidable = band & (weight_sum > 0) & (contrast > threshold**2)
    garment = mask > 0
    garment[decidable] = share[decidable] >= 0.5
    return np.where(garment, 255, 0).astype(np.uint8)


def _blank_frame_mask(lab: np.ndarray) -> np.ndarray:
    """Nothing stands out from the border: empty for a pale studio frame, full for a fabric."""
    lightness = float(np.median(lab[..., 0]))
    chroma = float(np.hypot(np.median(lab[..., 1]) - 128, np.median(lab[..., 2]) - 128))
    blank = lightness >= _BLANK_LIGHTNESS and chroma <= _BLANK_CHROMA
    return np.full(lab.shape[:2], 0 if blank else 255, dtype=np.uint8)


def _fill_holes(mask: np.ndarray, max_area: float | None = None) -> np.ndarray:
    """Set to 255 the background regions that do not touch the image border (4-connected).

    With `max_area`, only holes up to that many pixels are filled.
    """
    background = (mask == 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(background, connectivity=4)
    if count <= 1:
        return mask
    touching = np.zeros(count, dtype=bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        touching[edge] = True
    fill = ~touching
    fill[0] = False  # label 0 is the garment itself
    if max_area is not None:
        fill &= stats[:, cv2.CC_STAT_AREA] <= max_area
    if not fill.any():
        return mask
    return np.where(fill[labels], 255, mask).astype(np.uint8)


def _keep_large_components(mask: np.ndarray, share_of_largest: float = 0.1) -> np.ndarray:
    """Keep the largest 8-connected component and any at least `share_of_largest` of its size.

    A pair of trousers or a strap top can come apart into a few large pieces; specks of dust,
    labels and shadows are much smaller than the garment.
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, dtype=bool)
    keep[1:] = areas >= share_of_largest * areas.max()
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _odd(size: float) -> int:
    size = max(1, round(size))
    return size if size % 2 else size + 1
