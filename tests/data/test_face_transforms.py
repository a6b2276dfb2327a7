"""Face augmentations: output contract, alignment preservation, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reliableswap.data.transforms import FaceTransform, jpeg_reduce_factor, resize_uint8, to_tensor


def _face_like(size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_output_contract() -> None:
    out = FaceTransform(size=32, hue=0.05)(_face_like(), np.random.default_rng(1))
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_no_augment_is_plain_resize() -> None:
    img = _face_like()
    out = FaceTransform(size=32, augment=False)(img, np.random.default_rng(5))
    torch.testing.assert_close(out, to_tensor(resize_uint8(img, 32)))
    assert to_tensor(np.full((2, 2, 3), 255, np.uint8)).eq(1).all()
    assert to_tensor(np.zeros((2, 2, 3), np.uint8)).eq(-1).all()


def test_flip_only_is_exact_mirror() -> None:
    img = _face_like()
    t = FaceTransform(size=64, hflip_p=1.0, brightness=0, contrast=0, saturation=0, hue=0)
    torch.testing.assert_close(t(img, np.random.default_rng(0)), to_tensor(img).flip(-1))
    t0 = FaceTransform(size=64, hflip_p=0.0, brightness=0, contrast=0, saturation=0)
    torch.testing.assert_close(t0(img, np.random.default_rng(0)), to_tensor(img))


def test_jitter_is_mild_and_seeded() -> None:
    img = _face_like()
    t = FaceTransform(size=64, hflip_p=0.0, brightness=0.1, contrast=0.1, saturation=0.1, hue=0.02)
    a = t(img, np.random.default_rng(3))
    b = t(img, np.random.default_rng(3))
    c = t(img, np.random.default_rng(4))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    base = to_tensor(img)
    assert 0 < (a - base).abs().mean() < 0.25  # changed, but not a different picture


def test_area_resize_antialiases() -> None:
    # A 1-pixel checkerboard must average to grey, not alias into stripes.
    board = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
    img = np.repeat(board[..., None], 3, axis=2)
    small = resize_uint8(img, 16)
    assert abs(small.astype(float).mean() - 127.5) < 2 and small.std() < 2


def test_non_square_center_cropped() -> None:
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 255  # the central square is white
    assert resize_uint8(img, 20).min() == 255


@pytest.mark.parametrize(
    ("w", "h", "size", "factor"),
    [
        (512, 512, 128, 4),
        (512, 512, 256, 2),
        (512, 512, 64, 8),
        (512, 512, 300, 1),
        (None, None, 64, 1),
        (1024, 600, 128, 4),
    ],
)
def test_jpeg_reduce_factor(w, h, size, factor) -> None:
    assert jpeg_reduce_factor(w, h, size) == factor


@pytest.mark.parametrize("kwargs", [{"size": 0}, {"hflip_p": 1.5}, {"brightness": 1.0}, {"hue": 0.6}])
def test_invalid_config(kwargs) -> None:
    with pytest.raises(ValueError):
        FaceTransform(**kwargs)
