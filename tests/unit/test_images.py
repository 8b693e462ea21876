"""Photo reading, writing, fitting to the canvas and model tensors: every bad file becomes a
one-line TryOnError."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tryon_app.core import images
from tryon_app.core.errors import InputImageError, OutputError, TryOnError
from tryon_app.core.framing import CANVAS_SIZE, fit_to_canvas, restore_framing
from tryon_app.core.images import (
    binarize_mask,
    check_outputs,
    check_writable,
    from_model_output,
    load_image,
    load_image_with_alpha,
    load_mask,
    save_image,
    to_model_input,
)


def smooth_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like image without fine detail, so resampling round trips stay close."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 226, size=(4, 3, 3), dtype=np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def encode(array: np.ndarray, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=image_format, **options)
    return buffer.getvalue()


@pytest.fixture
def jpeg_bytes() -> bytes:
    return encode(smooth_photo(32, 24), "JPEG", quality=90)


@pytest.fixture
def png_bytes() -> bytes:
    return encode(smooth_photo(32, 24), "PNG")


def with_png_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG claiming other dimensions in its header (CRC recomputed, pixels unchanged)."""
    assert png[12:16] == b"IHDR"
    header = struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF)
    return png[:16] + header + crc + png[33:]


# --------------------------------------------------------------------------- errors


def test_error_message_is_one_line_and_names_the_file():
    error = TryOnError("person.jpg: not an image\n  (cannot decode)", path="person.jpg")
    assert str(error) == "person.jpg: not an image (cannot decode)"
    assert error.path == "person.jpg"
    assert issubclass(InputImageError, TryOnError) and issubclass(OutputError, TryOnError)


def assert_fails(path: Path, pattern: str, **kwargs) -> InputImageError:
    with pytest.raises(InputImageError, match=pattern) as caught:
        load_image(path, **kwargs)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return caught.value


def test_missing_file(tmp_path):
    assert_fails(tmp_path / "person.jpg", "person photo not found", what="person photo")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    assert_fails(path, "empty file")


def test_directory(tmp_path):
    folder = tmp_path / "looks_like.jpg"
    folder.mkdir()
    assert_fails(folder, "is a folder")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not pixels\n" * 20)
    assert_fails(path, r"not an image \(cannot identify the format\)")


def test_corrupt_jpeg_body(tmp_path, jpeg_bytes):
    rng = np.random.default_rng(3)
    path = tmp_path / "noise.jpg"
    # A real JPEG header followed by noise where the tables and scan should be.
    path.write_bytes(jpeg_bytes[:20] + rng.integers(0, 256, 2000, dtype=np.uint8).tobytes())
    assert_fails(path, "corrupt|truncated|not an image")


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg(tmp_path, jpeg_bytes, keep):
    path = tmp_path / "cut.jpg"
    path.write_bytes(jpeg_bytes[: int(len(jpeg_bytes) * keep)])
    assert_fails(path, "truncated")


def test_jpeg_missing_only_its_end_marker_is_still_truncated(tmp_path, jpeg_bytes):
    path = tmp_path / "cut.jpg"
    path.write_bytes(jpeg_bytes[:-2])
    assert_fails(path, "truncated")


@pytest.mark.parametrize("keep", [0.3, 0.8])
def test_truncated_png(tmp_path, png_bytes, keep):
    path = tmp_path / "cut.png"
    path.write_bytes(png_bytes[: int(len(png_bytes) * keep)])
    assert_fails(path, "truncated|corrupt")


def test_unreadable_file_is_reported_as_such(tmp_path, jpeg_bytes, monkeypatch):
    path = tmp_path / "locked.jpg"
    path.write_bytes(jpeg_bytes)

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    # Tests may run as root, which ignores file modes; simulate the OS refusing instead.
    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert_fails(path, "permission denied")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_for_real(tmp_path, jpeg_bytes):
    path = tmp_path / "locked.jpg"
    path.write_bytes(jpeg_bytes)
    path.chmod(0)
    try:
        assert_fails(path, "permission denied")
    finally:
        path.chmod(0o600)


def lzw_tiff_with_exif() -> bytes:
    """A small LZW TIFF (decoded by libtiff) with an orientation and a Make tag in its IFD."""
    exif = Image.Exif()
    exif[0x0112] = 1  # orientation: upright
    exif[0x010F] = "Camera"  # Make
    return encode(smooth_photo(32, 24), "TIFF", compression="tiff_lzw", exif=exif)


def with_tiff_entry(tiff: bytes, tag: int, entry: tuple[int, int, int, int]) -> bytes:
    """`tiff` with the first IFD's `tag` entry replaced by (tag, type, count, value)."""
    assert tiff[:4] == b"II*\x00"
    (ifd,) = struct.unpack_from("<I", tiff, 4)
    (count,) = struct.unpack_from("<H", tiff, ifd)
    for index in range(count):
        position = ifd + 2 + 12 * index
        if struct.unpack_from("<H", tiff, position)[0] == tag:
            return tiff[:position] + struct.pack("<HHII", *entry) + tiff[position + 12 :]
    raise AssertionError(f"no tag {tag} in this TIFF")


EXIF_IFD, MAKE, ORIENTATION = 0x8769, 0x010F, 0x0112


@pytest.mark.parametrize(
    "damage",
    [
        # Pillow warns "Corrupt EXIF data" (twice) and decodes the pixels.
        lambda tiff: with_tiff_entry(tiff, MAKE, (EXIF_IFD, 4, 1, 0xFFFFFF00)),
        # Pillow warns "Tag data larger than file" and "Corrupt EXIF data".
        lambda tiff: with_tiff_entry(tiff, MAKE, (EXIF_IFD, 4, 1, 8)),
        # Pillow warns "Truncated File Read", then cannot identify the file.
        lambda tiff: with_tiff_entry(tiff, ORIENTATION, (ORIENTATION, 3, 5, 0xFFFFFF00)),
        # libtiff itself prints "LZWDecode: ..." on the process's stderr.
        lambda tiff: tiff[:20] + b"\xff" * 40 + tiff[60:],
    ],
    ids=["exif-past-the-end", "exif-in-the-pixels", "orientation-past-the-end", "lzw-codes"],
)
def test_damaged_tiff_makes_the_libraries_print_nothing(tmp_path, capfd, damage):
    path = tmp_path / "damaged.tif"
    path.write_bytes(damage(lzw_tiff_with_exif()))
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        for load in (load_image, load_mask):
            try:
                load(path)
            except InputImageError as error:
                assert str(error).startswith(f"{path}: ")
    # Printed by the warnings module, or straight to file descriptor 2 by a C library.
    assert [str(warning.message) for warning in warned] == []
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


@pytest.mark.parametrize(
    ("width", "height", "pattern"),
    [
        (9_000, 9_000, r"too large \(9000x9000 = 81 MP; limit 50 MP\)"),  # our limit
        (10_000, 10_000, "too large"),  # between Pillow's warning and error thresholds
        (20_000, 20_000, "too large"),  # Pillow's own DecompressionBombError
    ],
)
def test_decompression_bomb_refused_before_decoding(tmp_path, png_bytes, width, height, pattern):
    path = tmp_path / "bomb.png"
    path.write_bytes(with_png_size(png_bytes, width, height))
    # The pixel data is for 24x32: had it been decoded, the error would say "truncated".
    assert_fails(path, pattern)


def test_pixel_limit_is_configurable(tmp_path, png_bytes):
    path = tmp_path / "small.png"
    path.write_bytes(png_bytes)
    assert load_image(path).shape == (32, 24, 3)
    assert_fails(path, "too large", max_pixels=500)


def test_absurd_aspect_ratio_is_refused_before_decoding(tmp_path):
    # 67 bytes declaring 1 x 49,999,999 one-bit pixels: under the pixel cap, and Pillow fills
    # the missing rows without complaint. Fitting that to the canvas took 30 s and 6.4 GB.
    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    path = tmp_path / "needle.png"
    path.write_bytes(with_png_size(buffer.getvalue(), 1, 49_999_999))
    assert_fails(path, r"1x49999999 .*aspect ratio", what="person photo")
    with pytest.raises(InputImageError, match="aspect ratio"):
        load_mask(path)


def test_elongated_but_plausible_photos_still_load(tmp_path):
    path = tmp_path / "panorama.png"
    path.write_bytes(encode(smooth_photo(40, 800), "PNG"))  # 20:1, a phone panorama
    assert load_image(path).shape == (40, 800, 3)


def test_edge_colour_work_is_bounded_by_the_pixels_it_needs(monkeypatch):
    measured = []
    median = np.median

    def counting_median(values, *args, **kwargs):
        measured.append(np.shape(values)[0])
        return median(values, *args, **kwargs)

    monkeypatch.setattr(np, "median", counting_median)
    strip = np.full((400_000, 1, 3), 77, dtype=np.uint8)
    canvas, framing = fit_to_canvas(strip, mode="letterbox")
    assert framing.pad_value == (77, 77, 77)
    assert measured and max(measured) <= 4 * 2**16


# --------------------------------------------------------------------------- conversions


def test_plain_rgb_jpeg_matches_pillow_convert(tmp_path, jpeg_bytes):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes)
    rgb = load_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (32, 24, 3) and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, np.asarray(Image.open(path).convert("RGB")))


def test_exif_orientation_is_applied(tmp_path):
    stored = np.zeros((20, 40, 3), dtype=np.uint8)  # 40 wide, 20 high
    stored[:, :20] = (255, 0, 0)  # left half red
    stored[:, 20:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)

    upright = load_image(path)
    assert upright.shape == (40, 20, 3)
    # Turning clockwise brings the left half to the top.
    assert upright[5, 10, 0] > 200 and upright[5, 10, 2] < 50
    assert upright[35, 10, 2] > 200 and upright[35, 10, 0] < 50


def test_rgba_is_composited_on_white_and_alpha_is_returned(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., :3] = (200, 0, 0)
    rgba[0, :, 3] = 0
    rgba[1, :, 3] = 255
    rgba[2:, :, 3] = 128
    path = tmp_path / "product.png"
    Image.fromarray(rgba).save(path)

    rgb, alpha = load_image_with_alpha(path)
    np.testing.assert_array_equal(alpha, rgba[..., 3])
    np.testing.assert_array_equal(rgb[0, 0], (255, 255, 255))
    np.testing.assert_array_equal(rgb[1, 0], (200, 0, 0))
    np.testing.assert_allclose(rgb[2, 0].astype(int), (228, 127, 127), atol=1)
    np.testing.assert_array_equal(load_image(path), rgb)


def test_opaque_rgba_has_no_alpha(tmp_path):
    rgba = np.full((4, 4, 4), 255, dtype=np.uint8)
    path = tmp_path / "opaque.png"
    Image.fromarray(rgba).save(path)
    _, alpha = load_image_with_alpha(path)
    assert alpha is None


def test_palette_with_transparency(tmp_path):
    palette_image = Image.new("P", (3, 2), 0)
    palette_image.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    palette_image.putpixel((1, 0), 1)
    path = tmp_path / "icon.png"
    palette_image.save(path, transparency=0)
    rgb = load_image(path)
    np.testing.assert_array_equal(rgb[0, 0], (255, 255, 255))  # transparent index -> white
    np.testing.assert_array_equal(rgb[0, 1], (10, 200, 30))


@pytest.mark.parametrize("mode", ["L", "LA", "1"])
def test_grey_images_become_three_equal_channels(tmp_path, mode):
    grey = Image.fromarray(np.tile(np.arange(0, 256, 16, dtype=np.uint8), (4, 1))).convert(mode)
    path = tmp_path / f"grey_{mode}.png"
    grey.save(path)
    rgb = load_image(path)
    assert rgb.shape == (4, 16, 3)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, quality=95)
    rgb = load_image(path)
    assert rgb.shape == (8, 8, 3)
    np.testing.assert_allclose(rgb[4, 4].astype(int), (255, 0, 0), atol=6)


@pytest.mark.parametrize("image_format", ["PNG", "TIFF"])
def test_16_bit_grey_is_scaled_not_clipped(tmp_path, image_format):
    values = np.array([[0, 257 * 100, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / f"deep.{image_format.lower()}"
    Image.fromarray(values).save(path, format=image_format)
    assert Image.open(path).mode.startswith("I;16")
    rgb = load_image(path)
    np.testing.assert_array_equal(rgb[0, :, 0], (0, 100, 128, 255))
    np.testing.assert_array_equal(load_mask(path)[0], (0, 100, 128, 255))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_colour_keeps_its_levels(tmp_path, suffix):
    rgb16 = np.zeros((2, 2, 3), dtype=np.uint16)
    rgb16[..., 0] = 65535
    rgb16[..., 1] = 257 * 128
    rgb16[..., 2] = 257 * 10
    path = tmp_path / f"deep{suffix}"
    assert cv2.imwrite(str(path), rgb16[..., ::-1])  # OpenCV writes BGR
    np.testing.assert_allclose(load_image(path)[0, 0].astype(int), (255, 128, 10), atol=1)


def test_load_mask_matches_the_official_grey_conversion(tmp_path):
    rng = np.random.default_rng(5)
    edge = rng.integers(0, 256, size=(16, 12, 3), dtype=np.uint8)
    path = tmp_path / "edge.jpg"
    Image.fromarray(edge).save(path, quality=90)
    mask = load_mask(path)
    assert mask.dtype == np.uint8 and mask.shape == (16, 12)
    np.testing.assert_array_equal(mask, np.asarray(Image.open(path).convert("L")))


def test_load_mask_treats_transparent_as_background(tmp_path):
    rgba = np.full((4, 4, 4), 255, dtype=np.uint8)
    rgba[:2, :, 3] = 0
    path = tmp_path / "mask.png"
    Image.fromarray(rgba).save(path)
    mask = load_mask(path)
    assert (mask[:2] == 0).all() and (mask[2:] == 255).all()


def test_load_mask_errors_name_the_file(tmp_path):
    with pytest.raises(InputImageError, match=r"edge\.png: garment mask not found"):
        load_mask(tmp_path / "edge.png", what="garment mask")


def test_binarize_mask_uses_the_official_threshold():
    levels = np.array([0, 127, 128, 255], dtype=np.uint8)
    binary = binarize_mask(levels)
    assert binary.dtype == np.float32
    np.testing.assert_array_equal(binary, (0, 0, 1, 1))
    np.testing.assert_array_equal(binary, (levels / 255.0 > 0.5).astype(np.float32))
    np.testing.assert_array_equal(binarize_mask(np.array([0.5, 0.51])), (0, 1))
    np.testing.assert_array_equal(binarize_mask(np.array([True, False])), (1, 0))


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg", ".webp"])
def test_save_round_trip(tmp_path, suffix):
    photo = smooth_photo(40, 30)
    path = save_image(tmp_path / f"out{suffix}", photo)
    back = load_image(path)
    if suffix == ".png":
        np.testing.assert_array_equal(back, photo)
    else:
        assert cv2.PSNR(back, photo) > 35
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out{suffix}"]


def test_save_grey_image(tmp_path):
    mask = np.zeros((8, 6), dtype=np.uint8)
    mask[2:6] = 255
    np.testing.assert_array_equal(load_mask(save_image(tmp_path / "mask.png", mask)), mask)


def test_save_unknown_extension(tmp_path):
    with pytest.raises(OutputError, match=r"result\.gif2: unknown image type"):
        save_image(tmp_path / "result.gif2", smooth_photo(8, 8))
    assert list(tmp_path.iterdir()) == []


def test_save_into_missing_folder(tmp_path):
    target = tmp_path / "no" / "such" / "out.png"
    with pytest.raises(OutputError, match=str(target).replace("\\", r"\\") + ": cannot write"):
        save_image(target, smooth_photo(8, 8))


def test_save_over_a_folder(tmp_path):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(OutputError, match="out.png"):
        save_image(tmp_path / "out.png", smooth_photo(8, 8))
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_failed_save_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    old = tmp_path / "keep.png"
    old.write_bytes(b"previous result")
    fresh = tmp_path / "fresh.png"

    def fail_half_way(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half of an image")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", fail_half_way)
    for target in (old, fresh):
        with pytest.raises(OutputError, match=f"{target.name}: cannot write .*No space left"):
            save_image(target, smooth_photo(8, 8))
    assert old.read_bytes() == b"previous result"
    assert not fresh.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]  # no temporary files left


def test_save_rejects_arrays_that_are_not_images(tmp_path):
    with pytest.raises(ValueError):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        save_image(tmp_path / "x.png", np.zeros((4, 4, 2), dtype=np.uint8))


def test_leftover_temporaries_of_our_own_outputs_are_removed(tmp_path):
    ours = [".a__b.png.0123456789ab.tmp", ".person 1__cloth.png.ffffffffffff.tmp"]
    others = [
        ".holiday.jpg.0123456789ab.tmp",  # another output name
        ".a__b.png.0123456789ab.tmp.part",  # not save_image's pattern
        ".a__b.png.0123456789.tmp",
        "a__b.png.0123456789ab.tmp",
        "a__b.png",
    ]
    for name in ours + others:
        (tmp_path / name).write_bytes(b"partial")
    (tmp_path / ".c__d.png.abcdefabcdef.tmp").mkdir()  # not a file: left alone
    removed = images.remove_leftover_temporaries(tmp_path, r"[^/]+__[^/]+\.png")
    assert sorted(path.name for path in removed) == sorted(ours)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [*others, ".c__d.png.abcdefabcdef.tmp"]
    )
    assert images.remove_leftover_temporaries(tmp_path / "missing", ".*") == []


def test_save_image_temporaries_match_the_leftover_pattern(tmp_path, monkeypatch):
    seen = []
    replace = os.replace

    def spy(source, destination):
        seen.append(Path(source).name)
        replace(source, destination)

    monkeypatch.setattr(images.os, "replace", spy)
    save_image(tmp_path / "a__b.png", smooth_photo(8, 6))
    (tmp_path / seen[0]).write_bytes(b"left by a killed process")
    assert images.remove_leftover_temporaries(tmp_path, r".+__.+\.png") == [tmp_path / seen[0]]


def test_check_writable(tmp_path):
    assert check_writable(tmp_path / "out.png") == tmp_path / "out.png"
    assert check_writable(tmp_path / "report.json") == tmp_path / "report.json"
    assert list(tmp_path.iterdir()) == []  # the probe file is gone
    with pytest.raises(OutputError, match="unknown image type"):
        check_writable(tmp_path / "out.xyz")
    with pytest.raises(OutputError, match="unknown image type"):
        check_writable(tmp_path / "report.json", kind="image")
    with pytest.raises(OutputError, match="does not exist"):
        check_writable(tmp_path / "missing" / "out.png")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        check_writable(tmp_path / "file.txt" / "out.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        check_writable(tmp_path / "dir.png")


def test_check_writable_reports_a_refusing_folder(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images.os, "open", refuse)
    with pytest.raises(OutputError, match="out.png: cannot write here .permission denied"):
        check_writable(tmp_path / "out.png")


def _other_spellings(path: Path) -> dict[str, Path]:
    """`path` reached in other ways: the same file for every one of them."""
    relative = Path(os.path.relpath(path))
    symlink = path.with_name("link-" + path.name)
    symlink.symlink_to(path)
    hard_link = path.with_name("hard-" + path.name)
    os.link(path, hard_link)
    return {
        "same": path,
        "dot": path.parent / "." / path.name,
        "dotdot": path.parent / ".." / path.parent.name / path.name,
        "relative": relative,
        "symlink": symlink,
        "hard-link": hard_link,
    }


@pytest.mark.parametrize("spelling", ["same", "dot", "dotdot", "relative", "symlink", "hard-link"])
def test_an_output_that_is_an_input_is_refused(tmp_path, png_bytes, spelling):
    person = tmp_path / "person.png"
    person.write_bytes(png_bytes)
    out = _other_spellings(person)[spelling]
    cloth = tmp_path / "cloth.png"
    with pytest.raises(OutputError, match=r"the result would overwrite the person photo"):
        check_outputs({"result": out}, {"person photo": person, "garment photo": cloth})
    with pytest.raises(OutputError, match=r"the warped garment would overwrite the person photo"):
        check_outputs(
            {"result": tmp_path / "result.png", "warped garment": out}, {"person photo": person}
        )
    assert person.read_bytes() == png_bytes


def test_two_outputs_may_not_be_one_file(tmp_path):
    out = tmp_path / "result.png"
    with pytest.raises(OutputError, match="the warped garment would overwrite the result"):
        check_outputs({"result": out, "warped garment": tmp_path / "." / "result.png"}, {})
    check_outputs(
        {"result": out, "warped garment": tmp_path / "warped.png", "unused": None},
        {"person photo": tmp_path / "person.png", "garment mask": None},
    )
    assert sorted(tmp_path.iterdir()) == []  # checking writes nothing


# --------------------------------------------------------------------------- framing


@pytest.mark.parametrize("mode", ["letterbox", "crop"])
def test_canvas_sized_photo_passes_through_untouched(mode):
    photo = np.random.default_rng(1).integers(0, 256, size=(256, 192, 3), dtype=np.uint8)
    canvas, framing = fit_to_canvas(photo, mode=mode)
    assert framing.is_identity and framing.scale == 1.0
    np.testing.assert_array_equal(canvas, photo)
    assert canvas is not photo
    np.testing.assert_array_equal(restore_framing(canvas, framing), photo)


@pytest.mark.parametrize(
    ("height", "width"), [(300, 500), (900, 300), (60, 40), (512, 384), (7, 1000)]
)
def test_letterbox_restores_the_photo(height, width):
    photo = smooth_photo(height, width)
    canvas, framing = fit_to_canvas(photo, mode="letterbox")
    assert canvas.shape == (*CANVAS_SIZE, 3) and canvas.dtype == np.uint8
    top, left, content_h, content_w = framing.canvas_box
    assert content_h == CANVAS_SIZE[0] or content_w == CANVAS_SIZE[1]  # fills one dimension
    restored = restore_framing(canvas, framing)
    assert restored.shape == photo.shape
    if min(height, width) >= 20:  # a 7-pixel strip cannot come back from 1-2 canvas rows
        assert cv2.PSNR(restored, photo) > 30


def test_letterbox_pads_with_the_flat_border_colour_or_white():
    photo = np.full((100, 300, 3), (200, 190, 180), dtype=np.uint8)
    photo[30:70, 100:200] = (10, 20, 30)
    canvas, framing = fit_to_canvas(photo, mode="letterbox")
    assert framing.pad_value == (200, 190, 180)
    np.testing.assert_array_equal(canvas[0, 0], (200, 190, 180))

    busy = np.random.default_rng(2).integers(0, 256, size=(100, 300, 3), dtype=np.uint8)
    canvas, framing = fit_to_canvas(busy, mode="letterbox")
    assert framing.pad_value == (255, 255, 255)
    np.testing.assert_array_equal(canvas[0, 0], (255, 255, 255))

    canvas, framing = fit_to_canvas(busy, mode="letterbox", pad_value=0)
    assert framing.pad_value == (0, 0, 0) and (canvas[0] == 0).all()


@pytest.mark.parametrize(("height", "width"), [(300, 500), (900, 300), (60, 40)])
def test_crop_restores_the_photo_and_keeps_what_was_cut_away(height, width):
    photo = smooth_photo(height, width)
    canvas, framing = fit_to_canvas(photo, mode="crop")
    assert canvas.shape == (*CANVAS_SIZE, 3)
    top, left, used_h, used_w = framing.photo_box
    assert abs(used_w / used_h - 192 / 256) < 0.02

    restored = restore_framing(canvas, framing)
    assert restored.shape == photo.shape
    assert cv2.PSNR(restored, photo) > 30

    # A try-on replaces the cropped region only; the rest of the photo is bit-identical.
    tried_on = restore_framing(np.zeros_like(canvas), framing)
    inside = np.zeros(photo.shape[:2], dtype=bool)
    inside[top : top + used_h, left : left + used_w] = True
    assert (tried_on[inside] == 0).all()
    np.testing.assert_array_equal(tried_on[~inside], photo[~inside])
    assert (photo[inside] != 0).any()  # the photo itself was not modified


def test_restore_rejects_a_result_of_the_wrong_size():
    _, framing = fit_to_canvas(smooth_photo(100, 100))
    with pytest.raises(ValueError):
        restore_framing(np.zeros((100, 100, 3), dtype=np.uint8), framing)


def test_fit_rejects_bad_arguments():
    with pytest.raises(ValueError):
        fit_to_canvas(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError):
        fit_to_canvas(np.zeros((10, 10, 3), dtype=np.uint8), mode="stretch")


# --------------------------------------------------------------------------- tensors


def test_model_input_is_the_official_normalisation():
    rgb = np.zeros((256, 192, 3), dtype=np.uint8)
    rgb[0, 0] = (0, 128, 255)
    tensor = to_model_input(rgb)
    assert (
        tensor.shape == (1, 3, 256, 192)
        and tensor.dtype == np.float32
        and tensor.flags.c_contiguous
    )
    expected = (np.float32(128) / np.float32(255) - np.float32(0.5)) / np.float32(0.5)
    assert tensor[0, 0, 0, 0] == -1.0 and tensor[0, 2, 0, 0] == 1.0  # RGB order kept
    assert tensor[0, 1, 0, 0] == expected


def test_model_output_round_trip_and_clipping():
    photo = np.random.default_rng(4).integers(0, 256, size=(256, 192, 3), dtype=np.uint8)
    np.testing.assert_array_equal(from_model_output(to_model_input(photo)), photo)
    out_of_range = np.array([[[[-3.0, 2.0, np.nan, 0.0]]]], dtype=np.float32)
    np.testing.assert_array_equal(from_model_output(out_of_range), [[0, 255, 128, 128]])
    assert from_model_output(np.zeros((3, 4, 5), dtype=np.float32)).shape == (4, 5, 3)
    with pytest.raises(ValueError):
        from_model_output(np.zeros((2, 3, 4, 5), dtype=np.float32))
