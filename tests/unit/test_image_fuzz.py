"""Fuzzing the image decoding: corrupted files load or fail with our one-line error, nothing else.

1000 files are made from one small photo in five formats by bit flips, truncations, inserted and
deleted runs and edits of the header fields decoders trust (sizes, depths, offsets), with a fixed
seed. Each goes through `load_image` and `load_mask`; only `InputImageError` may come out, and
neither Pillow's warnings nor what a C decoder prints may reach the user.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from tryon_app.core.errors import InputImageError
from tryon_app.core.images import load_image, load_mask

FORMATS = {
    ".png": ("PNG", {}),
    ".jpg": ("JPEG", {"quality": 85}),
    ".tif": ("TIFF", {"compression": "tiff_lzw"}),
    ".webp": ("WEBP", {"quality": 80}),
    ".bmp": ("BMP", {}),
}
FILES_PER_FORMAT = 200


def seed_photo() -> np.ndarray:
    """24x32 RGB with smooth gradients and an edge: every decoder has real work to do."""
    rows, columns = np.mgrid[0:32, 0:24]
    photo = np.stack([rows * 7, columns * 9, (rows + columns) * 4], axis=-1).astype(np.uint8)
    photo[8:24, 6:18] = (200, 40, 90)
    return photo


def encoded(image_format: str, options: dict) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(seed_photo())
    if image_format == "TIFF":
        exif = Image.Exif()
        exif[0x0112] = 6  # rotated: the orientation is applied, so the EXIF path is fuzzed too
        options = {**options, "exif": exif}
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def header_length(data: bytes) -> int:
    """How many leading bytes hold the fields a decoder trusts before it reads pixels."""
    if data.startswith(b"\xff\xd8"):
        scan = data.find(b"\xff\xda")  # JPEG: everything up to the start of scan
        return scan + 12 if scan > 0 else 64
    if data.startswith(b"II*\x00"):
        (ifd,) = struct.unpack_from("<I", data, 4)  # TIFF: the header and the IFD
        return len(data) if ifd > 8 else 8 + 2 + 12 * 16
    if data.startswith(b"\x89PNG"):
        return 8 + 25  # signature and IHDR
    if data.startswith(b"RIFF"):
        return 30  # RIFF header, VP8 chunk header and frame size
    return 54  # BMP file and info headers


def with_png_crcs(data: bytearray) -> bytearray:
    """Recompute every chunk CRC, so that edits reach the decoder instead of the CRC check."""
    position = 8
    while position + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, position)
        end = position + 8 + length
        if end + 4 > len(data):
            break
        struct.pack_into(">I", data, end, zlib.crc32(data[position + 4 : end]) & 0xFFFFFFFF)
        position = end + 4
    return data


def mutate(source: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(source)
    kind = int(rng.integers(0, 5))
    if kind == 0:  # flip a few bits anywhere
        for _ in range(int(rng.integers(1, 9))):
            position = int(rng.integers(0, len(data)))
            data[position] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:  # cut the file short
        del data[int(rng.integers(1, len(data))) :]
    elif kind == 2:  # insert junk
        position = int(rng.integers(0, len(data)))
        data[position:position] = rng.integers(0, 256, int(rng.integers(1, 64)), np.uint8).tobytes()
    elif kind == 3:  # delete a run
        start = int(rng.integers(0, len(data)))
        del data[start : start + int(rng.integers(1, 32))]
    else:  # edit header fields: sizes, depths, offsets, counts, with extreme values
        limit = min(header_length(source), len(data) - 4)
        for _ in range(int(rng.integers(1, 4))):
            position = int(rng.integers(0, limit))
            width = int(rng.choice([1, 2, 4]))
            value = int(rng.choice([0, 1, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF]))
            if rng.random() < 0.5:
                value = int(rng.integers(0, 2 ** (8 * width)))
            data[position : position + width] = (value % 2 ** (8 * width)).to_bytes(
                width, "little" if rng.random() < 0.5 else "big"
            )
        if source.startswith(b"\x89PNG") and rng.random() < 0.8:
            data = with_png_crcs(data)
    return bytes(data) or b"\x00"


def test_a_thousand_corrupted_images_load_or_fail_with_our_error(tmp_path, capfd):
    rng = np.random.default_rng(20250121)
    outcomes = {suffix: {"loaded": 0, "refused": 0} for suffix in FORMATS}
    unexpected = []
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        for suffix, (image_format, options) in FORMATS.items():
            source = encoded(image_format, options)
            for index in range(FILES_PER_FORMAT):
                path = tmp_path / f"fuzz{index}{suffix}"
                path.write_bytes(mutate(source, rng))
                load = load_image if index % 4 else load_mask
                try:
                    pixels = load(path)
                except InputImageError as error:
                    message = str(error)
                    assert message.startswith(f"{path}: ") and "\n" not in message
                    outcomes[suffix]["refused"] += 1
                except Exception as error:  # noqa: BLE001 - what the test is looking for
                    unexpected.append(f"{path.name}: {type(error).__name__}: {error}")
                else:
                    assert pixels.dtype == np.uint8 and pixels.size > 0
                    assert pixels.ndim == (3 if load is load_image else 2)
                    outcomes[suffix]["loaded"] += 1
                path.unlink()
    assert unexpected == []
    assert [str(warning.message) for warning in warned] == []
    printed = capfd.readouterr()
    assert printed.err == "" and printed.out == ""
    # Every format must both load and refuse some files, or its mutations test nothing.
    for suffix, counts in outcomes.items():
        assert counts["loaded"] >= 5 and counts["refused"] >= 20, (suffix, counts)
    assert sum(sum(counts.values()) for counts in outcomes.values()) >= 1000


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_the_seed_images_load(tmp_path, suffix):
    image_format, options = FORMATS[suffix]
    path = tmp_path / f"seed{suffix}"
    path.write_bytes(encoded(image_format, options))
    photo = load_image(path)
    expected_shape = (24, 32, 3) if image_format == "TIFF" else (32, 24, 3)  # TIFF is rotated
    assert photo.shape == expected_shape
