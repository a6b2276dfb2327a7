"""read_rgb / write_image_atomic on the odd files real datasets contain."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from reliableswap.io.images import ImageReadError, read_rgb, write_image_atomic


def _rgb_pattern(h: int = 24, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 7 % 256, y * 11 % 256, (x + y) * 5 % 256], axis=2).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".webp"])
def test_lossless_roundtrip(tmp_path: Path, suffix: str) -> None:
    rgb = _rgb_pattern()
    path = tmp_path / f"img{suffix}"
    write_image_atomic(path, rgb, quality=101 if suffix == ".webp" else 95)  # webp >100 = lossless
    out = read_rgb(path)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    np.testing.assert_array_equal(out, rgb)  # also proves the channel order is RGB, not BGR


def test_jpeg_is_rgb_order(tmp_path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 220  # pure red
    write_image_atomic(tmp_path / "red.jpg", rgb)
    out = read_rgb(tmp_path / "red.jpg")
    assert out[..., 0].mean() > 200 and out[..., 2].mean() < 30


def test_grayscale_expanded(tmp_path: Path) -> None:
    gray = _rgb_pattern()[..., 0]
    Image.fromarray(gray, "L").save(tmp_path / "g.png")
    out = read_rgb(tmp_path / "g.png")
    assert out.shape == (*gray.shape, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_rgba_composited_on_black(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = (200, 100, 50)
    rgba[0, :, 3] = 0
    rgba[1, :, 3] = 255
    rgba[2, :, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_rgb(tmp_path / "a.png")
    assert out.shape == (4, 4, 3)
    np.testing.assert_array_equal(out[0], 0)  # transparent -> black
    np.testing.assert_array_equal(out[1], np.tile([200, 100, 50], (4, 1)))  # opaque -> colour
    np.testing.assert_allclose(out[2, 0], np.array([200, 100, 50]) * 128 / 255, atol=1)


def test_gray_alpha(tmp_path: Path) -> None:
    la = np.zeros((3, 3, 2), np.uint8)
    la[..., 0] = 200
    la[..., 1] = 255
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    out = read_rgb(tmp_path / "la.png")
    assert out.shape == (3, 3, 3)
    np.testing.assert_array_equal(out, 200)


def test_16bit_scaled_not_truncated(tmp_path: Path) -> None:
    bgr16 = np.zeros((2, 3, 3), np.uint16)
    bgr16[0, 0] = 65535  # white
    bgr16[0, 1] = 257 * 100  # exactly 100 in 8 bits
    bgr16[0, 2] = 255  # tiny: must become ~1, not 255 (clipping) or 0 (high byte would be ok too)
    bgr16[1, 0] = (0, 0, 65535)  # pure red in BGR order
    assert cv2.imwrite(str(tmp_path / "x16.png"), bgr16)
    out = read_rgb(tmp_path / "x16.png")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], 255)
    np.testing.assert_array_equal(out[0, 1], 100)
    np.testing.assert_array_equal(out[0, 2], 1)
    np.testing.assert_array_equal(out[1, 0], (255, 0, 0))


def test_16bit_gray(tmp_path: Path) -> None:
    gray16 = np.array([[0, 257 * 7, 65535]], np.uint16)
    assert cv2.imwrite(str(tmp_path / "g16.png"), gray16)
    out = read_rgb(tmp_path / "g16.png")
    np.testing.assert_array_equal(out[0, :, 0], [0, 7, 255])
    assert out.shape == (1, 3, 3)


def test_exif_orientation_applied_for_jpeg(tmp_path: Path) -> None:
    img = Image.fromarray(np.zeros((20, 40, 3), np.uint8))  # 40 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert read_rgb(tmp_path / "rot.jpg").shape == (40, 20, 3)


def test_reduced_jpeg_decode(tmp_path: Path) -> None:
    write_image_atomic(tmp_path / "big.jpg", np.full((64, 64, 3), 128, np.uint8))
    assert read_rgb(tmp_path / "big.jpg", reduce=4).shape == (16, 16, 3)
    assert read_rgb(tmp_path / "big.jpg", reduce=3).shape == (64, 64, 3)  # unsupported -> full size


def _truncated_jpeg(tmp_path: Path) -> Path:
    path = tmp_path / "full.jpg"
    write_image_atomic(path, _rgb_pattern(64, 64))
    data = path.read_bytes()
    bad = tmp_path / "truncated.jpg"
    bad.write_bytes(data[: len(data) // 2])
    return bad


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d: (d / "text.jpg").write_text("definitely not an image\n") and d / "text.jpg", "not an image"),
        (lambda d: (d / "empty.png").write_bytes(b"") or d / "empty.png", "empty file"),
        (lambda d: d / "missing.jpg", "file not found"),
        (_truncated_jpeg, "truncated JPEG"),
        (lambda d: (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40) and d / "bad.png", "corrupt PNG"),
    ],
)
def test_bad_files_raise_clear_error(tmp_path: Path, make, reason: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ImageReadError) as info:
        read_rgb(path)
    assert reason in info.value.reason
    assert str(path) in str(info.value)
    assert isinstance(info.value, OSError)


def test_write_atomic_leaves_no_temp_and_validates(tmp_path: Path) -> None:
    write_image_atomic(tmp_path / "sub" / "a.png", _rgb_pattern())
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.png"]
    with pytest.raises(ValueError):
        write_image_atomic(tmp_path / "b.png", _rgb_pattern().astype(np.float32))
    with pytest.raises(ValueError):
        write_image_atomic(tmp_path / "c.txt", _rgb_pattern())
    assert not (tmp_path / "b.png").exists()


# -- decompression bombs (issue 10, kind 8) --------------------------------------------------------


def test_a_png_declaring_20000x20000_is_refused_from_its_header(tmp_path: Path, png_bomb) -> None:
    import time
    import tracemalloc

    from reliableswap.io.images import read_stored

    path = png_bomb(tmp_path / "bomb.png")
    assert path.stat().st_size < 200
    for reader in (read_rgb, read_stored):
        tracemalloc.start()
        t0 = time.perf_counter()
        with pytest.raises(ImageReadError, match=r"too many pixels \(20000x20000 = 400.0 megapixels > limit 100") as info:
            reader(path)
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert elapsed < 2.0 and peak < 20 * 2**20  # nothing near the 400 MB a decode would take
        assert "\n" not in str(info.value) and "RELIABLESWAP_MAX_IMAGE_PIXELS" in info.value.reason


def test_the_pixel_limit_is_configurable(tmp_path: Path, monkeypatch) -> None:
    from reliableswap.io.images import MAX_IMAGE_PIXELS, MAX_PIXELS_ENV, max_image_pixels

    path = tmp_path / "a.png"
    write_image_atomic(path, _rgb_pattern(24, 32))
    assert max_image_pixels() == MAX_IMAGE_PIXELS == 100_000_000
    assert read_rgb(path, max_pixels=24 * 32).shape == (24, 32, 3)
    with pytest.raises(ImageReadError, match="too many pixels"):
        read_rgb(path, max_pixels=24 * 32 - 1)
    monkeypatch.setenv(MAX_PIXELS_ENV, "500")
    with pytest.raises(ImageReadError, match="limit 0.0005"):
        read_rgb(path)
    monkeypatch.setenv(MAX_PIXELS_ENV, "lots")
    with pytest.raises(ValueError, match="RELIABLESWAP_MAX_IMAGE_PIXELS must be a positive integer"):
        read_rgb(path)


# -- full-fidelity reads and writes (issue 10, kind 2) -------------------------------------------


def test_stored_image_keeps_alpha_depth_and_gray_and_merges_only_changed_pixels(tmp_path: Path) -> None:
    from reliableswap.io.images import merge_rgb, read_stored, write_stored_atomic

    rng = np.random.default_rng(0)
    bgra16 = rng.integers(0, 65536, (20, 30, 4), dtype=np.uint16)
    bgra16[:5, :, 3] = 0  # fully transparent rows with arbitrary colour
    assert cv2.imwrite(str(tmp_path / "a.png"), bgra16)
    stored = read_stored(tmp_path / "a.png")
    assert stored.format == "png" and stored.description == "PNG 16-bit RGBA"
    assert np.array_equal(stored.pixels, bgra16) and stored.rgb.dtype == np.uint8
    after = stored.rgb.copy()
    after[10:12, 10:12] = (255, 0, 10)
    merged = merge_rgb(stored, stored.rgb, after)
    changed = np.zeros((20, 30), bool)
    changed[10:12, 10:12] = True
    assert np.array_equal(merged[~changed], bgra16[~changed])  # 16-bit values and alpha kept exactly
    assert (merged[changed][:, :3] == np.array([10, 0, 255]) * 257).all()
    assert np.array_equal(merged[..., 3], bgra16[..., 3])
    assert write_stored_atomic(tmp_path / "b.png", merged) == "PNG 16-bit RGBA"
    assert np.array_equal(cv2.imread(str(tmp_path / "b.png"), cv2.IMREAD_UNCHANGED), merged)
    assert write_stored_atomic(tmp_path / "b.jpg", merged) == "JPEG 8-bit RGB"

    gray = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    assert cv2.imwrite(str(tmp_path / "g.jpg"), gray)
    assert read_stored(tmp_path / "g.jpg").description == "JPEG 8-bit gray"
