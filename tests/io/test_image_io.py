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
