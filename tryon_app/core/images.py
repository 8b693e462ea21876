"""Reading and writing photos: any file a user picks in, model-ready arrays out, and back.

Everything here works on numpy arrays: photos are uint8 (H, W, 3) RGB, masks uint8 (H, W). Every
problem with a file the user gave becomes a `TryOnError` whose message names that file.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import stat
import sys
import tempfile
import threading
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tryon_app.core.errors import InputImageError, OutputError, TryOnError

log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000
"""Larger images are refused before any pixel is decoded (decompression bombs, 100 MP scans)."""

MAX_FILE_BYTES = 512 * 1024 * 1024

MAX_ASPECT_RATIO = 20
"""Longer side over shorter side beyond which a file is refused as not a photo: a 20:1 phone
panorama still loads; a 1 x 50,000,000 "image" (a few bytes of PNG) is not worth decoding."""

READ_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "TIFF", "BMP", "GIF", "PPM")
"""Pillow decoders we let loose on user files (those this Pillow build has); exotic ones (EPS,
PSD, ...) are not offered. Multi-picture JPEGs from cameras (MPO) come through the JPEG one."""

WRITE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

# Outputs that `check_writable` accepts without an image extension (reports, lists).
_DATA_SUFFIXES = frozenset({".json", ".txt", ".csv"})

WHITE = (255, 255, 255)

# Little- and big-endian TIFF, and BigTIFF: the files Pillow hands to libtiff.
_TIFF_SIGNATURES = frozenset({b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"})

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


# --------------------------------------------------------------------------- reading


def load_image(
    path: str | os.PathLike[str], *, what: str = "image", max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Read a photo as the model sees colour: RGB, 8 bits, upright, transparency on white.

    EXIF orientation is applied; palette, grey, CMYK and 16-bit images are converted; transparent
    pixels are composited on white (product photos are shot on white).

    Args:
        path: the file to read.
        what: what the file is to the user ("person photo"); used in error messages.
        max_pixels: images with more pixels are refused before they are decoded.

    Returns:
        uint8 (H, W, 3) RGB array, C-contiguous.

    Raises:
        InputImageError: the file is missing, unreadable, not an image, truncated, corrupt or too
            large. The message names the file.
    """
    rgb, _alpha = load_image_with_alpha(path, what=what, max_pixels=max_pixels)
    return rgb


def load_image_with_alpha(
    path: str | os.PathLike[str], *, what: str = "image", max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, np.ndarray | None]:
    """`load_image`, plus the transparency when the file has some.

    Returns:
        (rgb, alpha): rgb as from `load_image` (composited on white); alpha uint8 (H, W) with 0
        for transparent, or None when the image has no alpha channel or is opaque everywhere.
    """
    path = Path(path)
    data = _read_bytes(path, what)
    with _QuietDecoders(data) as decoder_output:
        image = _decode(data, path, what, max_pixels, decoder_output)
        try:
            rgb, alpha = _rgb_and_alpha(image)
        except Exception as error:  # noqa: BLE001 - Pillow's converters raise several types
            raise InputImageError(
                f"{path}: unsupported colour mode {image.mode} ({_first_line(error)})", path=path
            ) from None
    if alpha is None:
        return rgb, None
    return _composite(rgb, alpha, WHITE), alpha


def load_mask(
    path: str | os.PathLike[str], *, what: str = "garment mask", max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Read a garment mask (white garment on black) as uint8 (H, W) grey levels.

    Colour masks are turned grey with Pillow's `convert("L")`, as the official loader does, so a
    VITON edge JPEG gives exactly the official values. Transparent pixels count as black
    (not garment). Use `binarize_mask` to get the {0, 1} mask the model takes.

    Raises:
        InputImageError: as `load_image`.
    """
    path = Path(path)
    data = _read_bytes(path, what)
    with _QuietDecoders(data) as decoder_output:
        image = _decode(data, path, what, max_pixels, decoder_output)
        try:
            if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
                return _deep_grey_to_uint8(image)
            if image.mode in _ALPHA_MODES or "transparency" in image.info:
                rgba = np.asarray(image.convert("RGBA"))
                on_black = _composite(rgba[..., :3], rgba[..., 3], (0, 0, 0))
                return np.array(Image.fromarray(on_black).convert("L"))
            return np.array(image.convert("L"))
        except Exception as error:  # noqa: BLE001 - Pillow's converters raise several types
            raise InputImageError(
                f"{path}: unsupported colour mode {image.mode} ({_first_line(error)})", path=path
            ) from None


def binarize_mask(mask: np.ndarray) -> np.ndarray:
    """The official binarisation: garment where the grey level is >= 128 (i.e. x / 255 > 0.5).

    Args:
        mask: uint8 grey levels (any shape), or floats in [0, 1], or booleans.

    Returns:
        float32 array of the same shape holding only 0.0 and 1.0.
    """
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        garment = mask
    elif np.issubdtype(mask.dtype, np.integer):
        garment = mask >= 128
    else:
        garment = mask > 0.5
    return garment.astype(np.float32)


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputImageError(f"{path}: {what} not found", path=path) from None
    except OSError as error:
        raise InputImageError(
            f"{path}: cannot open the {what} ({_os_reason(error)})", path=path
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputImageError(f"{path}: is a folder, expected the {what} file", path=path)
    if not stat.S_ISREG(info.st_mode):
        raise InputImageError(f"{path}: not a regular file, expected the {what} file", path=path)
    if info.st_size == 0:
        raise InputImageError(f"{path}: empty file (0 bytes), expected the {what}", path=path)
    if info.st_size > MAX_FILE_BYTES:
        raise InputImageError(
            f"{path}: file too large for a {what} ({info.st_size / 2**20:.0f} MiB; "
            f"limit {MAX_FILE_BYTES / 2**20:.0f} MiB)",
            path=path,
        )
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputImageError(
            f"{path}: cannot read the {what} ({_os_reason(error)})", path=path
        ) from None


class _QuietDecoders:
    """Keeps what the decoders say about a damaged file off the user's screen while it is decoded.

    The user hears about a file from us alone, in one line. Pillow warns through `warnings`
    (corrupt EXIF, skipped tags, truncated reads): those are ignored. libtiff prints its errors
    and warnings on the process's stderr itself, so while TIFF data is decoded file descriptor 2
    points at a temporary file; `lines()` returns what landed there (the reason to show when
    Pillow only says "decoder error -2"), and the rest goes to the debug log. Other threads'
    stderr output during that window lands there too, hence TIFF only.

    One file is decoded at a time: warning filters are process-wide, and two threads entering and
    leaving `catch_warnings` out of order would leave the filters of one of them in place.
    """

    _lock = threading.Lock()

    def __init__(self, data: bytes):
        self._redirect = data[:4] in _TIFF_SIGNATURES
        self._warnings = warnings.catch_warnings()
        self._sink = None
        self._saved_stderr: int | None = None

    def __enter__(self) -> _QuietDecoders:
        self._lock.acquire()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        # Pillow only warns between its own limit and twice that; a bomb is a bomb.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        if self._redirect:
            try:
                sys.stderr.flush()
                self._sink = tempfile.TemporaryFile()
                self._saved_stderr = os.dup(2)
                os.dup2(self._sink.fileno(), 2)
            except (OSError, AttributeError, ValueError):  # no stderr at all (a windowed app)
                self._restore()
        return self

    def lines(self) -> list[str]:
        """Non-empty lines the native decoders have printed so far."""
        if self._sink is None:
            return []
        self._sink.seek(0)
        text = self._sink.read().decode("utf-8", "replace")
        # libtiff starts each line with the file's name, which Pillow gives as "tempfile.tif".
        lines = (line.strip().removeprefix("tempfile.tif:").strip() for line in text.splitlines())
        return [line.rstrip(".") for line in lines if line]

    def __exit__(self, *exc_info) -> None:
        try:
            if self._redirect:
                printed = self.lines()
                self._restore()
                if printed:
                    log.debug("the image decoders said: %s", " | ".join(printed))
        finally:
            self._warnings.__exit__(*exc_info)
            self._lock.release()

    def _restore(self) -> None:
        try:
            if self._saved_stderr is not None:
                os.dup2(self._saved_stderr, 2)
                os.close(self._saved_stderr)
            if self._sink is not None:
                self._sink.close()
        finally:
            self._saved_stderr = self._sink = None
            self._redirect = False


def _decode(
    data: bytes, path: Path, what: str, max_pixels: int, decoder_output: _QuietDecoders
) -> Image.Image:
    """Fully decoded, upright Pillow image; any decoder failure becomes an InputImageError."""
    try:
        image = Image.open(io.BytesIO(data), formats=_readable_formats())
        _check_pixel_count(image.size, path, what, max_pixels)
        # Decode now, inside the try: Image.open only reads the header, and without
        # LOAD_TRUNCATED_IMAGES a short file raises here instead of giving grey pixels.
        image.load()
        _check_pixel_count(image.size, path, what, max_pixels)
        image = _upright(image)
    except TryOnError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        found = re.search(r"(\d+) pixels", str(error))
        size = f"{int(found.group(1)) / 1e6:.0f} MP; " if found else ""
        raise InputImageError(
            f"{path}: {what} too large ({size}limit {max_pixels / 1e6:.0f} MP)", path=path
        ) from None
    except UnidentifiedImageError:
        raise InputImageError(
            f"{path}: not an image (cannot identify the format)", path=path
        ) from None
    except MemoryError:
        raise InputImageError(f"{path}: {what} too large to decode in memory", path=path) from None
    except Exception as error:  # noqa: BLE001 - decoders raise anything on hostile bytes
        if "truncated" in str(error).lower():
            problem = "truncated image data (the file is incomplete)"
        else:
            # "decoder error -2" tells nothing; what libtiff printed says what is wrong.
            native = decoder_output.lines()
            reason = native[-1] if native else _first_line(error)
            problem = f"corrupt image data ({reason})"
        raise InputImageError(f"{path}: {problem}", path=path) from None
    return image


@functools.cache
def _readable_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(name for name in READ_FORMATS if name in Image.OPEN)


def _check_pixel_count(size: tuple[int, int], path: Path, what: str, max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InputImageError(f"{path}: {what} has no pixels ({width}x{height})", path=path)
    if width * height > max_pixels:
        raise InputImageError(
            f"{path}: {what} too large ({width}x{height} = {width * height / 1e6:.0f} MP; "
            f"limit {max_pixels / 1e6:.0f} MP)",
            path=path,
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise InputImageError(
            f"{path}: {what} is {width}x{height} pixels, too elongated for a photo "
            f"(aspect ratio over {MAX_ASPECT_RATIO}:1)",
            path=path,
        )


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; an unreadable EXIF block leaves the pixels as stored."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - broken metadata should not cost the user the photo
        return image


def _rgb_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in ("I", "F"):
        grey = _deep_grey_to_uint8(image)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)), None
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"))
        alpha = rgba[..., 3]
        if alpha.min() == 255:
            return np.ascontiguousarray(rgba[..., :3]), None
        return np.ascontiguousarray(rgba[..., :3]), np.array(alpha)
    return np.array(image.convert("RGB")), None


def _deep_grey_to_uint8(image: Image.Image) -> np.ndarray:
    """Grey images deeper than 8 bits scaled to 0..255 (16-bit: round(v / 257))."""
    values = np.asarray(image)
    if image.mode == "F":
        values = np.nan_to_num(values.astype(np.float64), nan=0.0)
        # Float images come as [0, 1] or as grey levels; a maximum above 1 means levels.
        scale = 255.0 if values.max(initial=0.0) <= 1.0 else 1.0
        return np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
    values = values.astype(np.int64)
    if image.mode == "I" and values.max(initial=0) <= 255:
        # A 32-bit container holding 8-bit levels (e.g. from some TIFF writers).
        return np.clip(values, 0, 255).astype(np.uint8)
    return ((np.clip(values, 0, 65535) + 128) // 257).astype(np.uint8)


def _composite(rgb: np.ndarray, alpha: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """rgb over a flat background colour, with rounding: uint8 (H, W, 3)."""
    weight = alpha.astype(np.uint32)[..., None]
    back = np.asarray(background, dtype=np.uint32)
    blended = (rgb.astype(np.uint32) * weight + back * (255 - weight) + 127) // 255
    return blended.astype(np.uint8)


# --------------------------------------------------------------------------- writing


def check_writable(path: str | os.PathLike[str], *, kind: str = "auto") -> Path:
    """Make sure a result can be written at `path`, before any time is spent computing it.

    Args:
        path: where the result will go.
        kind: "image" requires an image extension that `save_image` knows; "any" accepts any
            name; "auto" means "any" for .json/.txt/.csv and "image" otherwise.

    Returns:
        The path, as a Path.

    Raises:
        OutputError: unknown image extension, a folder in the way, a missing folder, or a folder
            where files cannot be created. The message names the path.
    """
    path = Path(path)
    if kind not in ("auto", "image", "any"):
        raise ValueError(f"kind must be 'auto', 'image' or 'any', not {kind!r}")
    if kind == "image" or (kind == "auto" and path.suffix.lower() not in _DATA_SUFFIXES):
        _write_format(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, expected a file name", path=path)
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"{path}: cannot write here, the folder {folder} {problem}", path=path)
    probe = _temporary_sibling(path)
    try:
        descriptor = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise OutputError(f"{path}: cannot write here ({_os_reason(error)})", path=path) from None
    os.close(descriptor)
    os.unlink(probe)
    return path


def check_outputs(
    outputs: Mapping[str, str | os.PathLike[str] | None],
    inputs: Mapping[str, str | os.PathLike[str] | None],
) -> None:
    """Check every output of a command before any work: writable, and no input or other output.

    Two paths are the same file when they spell it differently (`./a.png`, `dir/../a.png`), reach
    it through a symbolic link or are hard links to it.

    Args:
        outputs: what each output is to the user ("result") -> where it goes; None: not asked for.
        inputs: what each input is ("person photo") -> its file; None: not given.

    Raises:
        OutputError: an output `check_writable` refuses, or one that would overwrite an input or
            another output. The message names the output path.
    """
    checked: list[tuple[str, Path]] = []
    for what, path in outputs.items():
        if path is None:
            continue
        path = check_writable(path, kind="image")
        for other_what, other in [*inputs.items(), *checked]:
            if other is not None and _same_file(path, Path(other)):
                raise OutputError(
                    f"{path}: the {what} would overwrite the {other_what} ({other}); "
                    "choose another file name",
                    path=path,
                )
        checked.append((what, path))


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:  # one of them does not exist (yet): compare where they would be
        return os.path.normcase(first.resolve()) == os.path.normcase(second.resolve())


def save_image(path: str | os.PathLike[str], image: np.ndarray, *, quality: int = 95) -> Path:
    """Write an image atomically: the file at `path` is either the whole new image or untouched.

    The image goes to a hidden temporary file in the same folder first and is then renamed over
    `path` (`os.replace`), so a crash, a full disk or an encoder error never leaves half a file.

    Args:
        path: destination; its extension picks the format (.png, .jpg/.jpeg, .webp, .bmp, .tif).
        image: uint8 (H, W, 3) RGB or (H, W) grey.
        quality: JPEG/WebP quality, 1-100.

    Returns:
        The path written, as a Path.

    Raises:
        OutputError: unknown extension or the file cannot be written; the message names the path.
        ValueError: `image` is not a uint8 (H, W, 3) or (H, W) array.
    """
    path = Path(path)
    image_format = _write_format(path)
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (
        image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
    ):
        raise ValueError(
            f"expected a uint8 (H, W, 3) or (H, W) image, got {image.dtype} {image.shape}"
        )
    if image.size == 0:
        raise ValueError(f"cannot save an empty image of shape {image.shape}")
    options: dict[str, object] = {}
    if image_format in ("JPEG", "WEBP"):
        options["quality"] = int(quality)
    elif image_format == "PNG":
        options["compress_level"] = 4
    encoded = Image.fromarray(np.ascontiguousarray(image))

    temporary = _temporary_sibling(path)
    try:
        # 0o666 lets the umask decide the final permissions, as for any newly created file.
        descriptor = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
        )
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({_os_reason(error)})", path=path) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            encoded.save(handle, format=image_format, **options)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise OutputError(f"{path}: cannot write ({_os_reason(error)})", path=path) from None
        raise
    return path


def _write_format(path: Path) -> str:
    image_format = WRITE_FORMATS.get(path.suffix.lower())
    if image_format is None:
        known = ", ".join(sorted(WRITE_FORMATS))
        shown = f"'{path.suffix}'" if path.suffix else "no extension"
        raise OutputError(f"{path}: unknown image type ({shown}; use one of {known})", path=path)
    return image_format


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


def remove_leftover_temporaries(folder: str | os.PathLike[str], name_pattern: str) -> list[Path]:
    """Delete the temporary files that `save_image` left in `folder` when its process was killed.

    `save_image` writes `.<name>.<12 hex digits>.tmp` beside `<name>` and renames it; a process
    killed in between (kill -9, power loss) leaves it behind. Only such files whose `<name>`
    matches `name_pattern` are removed: the caller's own outputs, nobody else's hidden files.
    A save in progress in another process into the same folder would lose its temporary file.

    Args:
        folder: where the outputs go; a missing folder has nothing to clean.
        name_pattern: regular expression the whole output name must match (`.+__.+[.]png`).

    Returns:
        The files removed.
    """
    leftover = re.compile(rf"\.(?:{name_pattern})\.[0-9a-f]{{12}}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if leftover.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except OSError:
                continue
            removed.append(Path(entry.path))
    return removed


def _os_reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        return "folder does not exist"
    if isinstance(error, IsADirectoryError):
        return "is a folder"
    if isinstance(error, NotADirectoryError):
        return "a part of the path is not a folder"
    return (error.strerror or error.__class__.__name__).rstrip(".")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else error.__class__.__name__


def check_rgb(rgb: np.ndarray, name: str) -> np.ndarray:
    """`rgb` as an array, or a ValueError naming it when it is not a uint8 (H, W, 3) picture."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"{name} must be a uint8 (H, W, 3) array, got {rgb.dtype} {rgb.shape}")
    return rgb


# --------------------------------------------------------------------------- model tensors


def to_model_input(rgb: np.ndarray) -> np.ndarray:
    """Photo to network input as the official loader makes it (ToTensor, Normalize(0.5, 0.5)).

    Args:
        rgb: uint8 (H, W, 3) RGB, normally the (256, 192, 3) canvas.

    Returns:
        float32 (1, 3, H, W) in [-1, 1], C-contiguous, computed as (x / 255 - 0.5) / 0.5 in
        float32 so values match torchvision's to the bit.
    """
    rgb = check_rgb(rgb, "rgb")
    scaled = rgb.astype(np.float32) / np.float32(255.0)
    normalised = (scaled - np.float32(0.5)) / np.float32(0.5)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None])


def from_model_output(tensor: np.ndarray) -> np.ndarray:
    """Network output in [-1, 1] back to an image: clip, (x + 1) / 2 * 255, round.

    Args:
        tensor: float (1, C, H, W) or (C, H, W) with C = 3 (RGB) or 1.

    Returns:
        uint8 (H, W, 3), or (H, W) for a single channel.
    """
    tensor = np.asarray(tensor)
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"expected a batch of one, got shape {tensor.shape}")
        tensor = tensor[0]
    if tensor.ndim != 3 or tensor.shape[0] not in (1, 3):
        raise ValueError(f"expected (1, C, H, W) or (C, H, W) with C in (1, 3), got {tensor.shape}")
    values = np.clip(np.nan_to_num(tensor.astype(np.float32), nan=0.0), -1.0, 1.0)
    levels = np.rint((values + 1.0) / 2.0 * 255.0).astype(np.uint8)
    if levels.shape[0] == 1:
        return np.ascontiguousarray(levels[0])
    return np.ascontiguousarray(levels.transpose(1, 2, 0))

