"""Batched TPS warp: identity, agreement with cv2.warpAffine, batch == per image, validity mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from supervision.reenact.warp import border_anchors, fit_tps, warp_tps

cv2 = pytest.importorskip("cv2")


def _images(n: int = 3, size: int = 96, seed: int = 0) -> tuple[np.ndarray, torch.Tensor]:
    """Smooth random colour images (so bilinear resampling differences stay small)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(n, size // 8, size // 8, 3), dtype=np.uint8)
    imgs = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_CUBIC) for im in small])
    return imgs, torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1


def _points(n: int, k: int, size: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, k, 2, generator=g) * (size * 0.6) + size * 0.2


def test_identity_correspondence_returns_input() -> None:
    _, x = _images()
    p = _points(3, 20, 96)
    out = warp_tps(x, p, p, anchors_per_side=4)
    assert torch.allclose(out.image, x, atol=1e-4)
    assert out.valid.min() == 1


def test_affine_correspondence_matches_cv2_warp_affine() -> None:
    imgs, x = _images(n=1)
    m = np.array([[0.92, 0.12, 6.0], [-0.10, 1.05, -4.0]], dtype=np.float32)
    p = _points(1, 12, 96)
    q = p @ torch.from_numpy(m[:, :2]).T + torch.from_numpy(m[:, 2])
    out = warp_tps(x, p, q)  # no anchors: anchors are fixed points, not affine-consistent
    ref = cv2.warpAffine(imgs[0], m, (96, 96), flags=cv2.INTER_LINEAR)
    ours = ((out.image[0].permute(1, 2, 0) + 1) * 127.5).numpy()
    g = out.grid[0]
    inside = ((g >= 0) & (g <= 95)).all(-1).numpy()  # samples strictly inside: no border handling
    assert inside.mean() > 0.7
    diff = np.abs(ours - ref.astype(np.float32))[inside]
    assert diff.max() < 1.5 and diff.mean() < 0.5, (diff.max(), diff.mean())
    # Pixels cv2 filled from outside the image are exactly those our mask marks invalid (up to the rim).
    outside = ~((g >= -0.5) & (g <= 95.5)).all(-1).numpy()
    assert (out.valid[0, 0].numpy()[outside] == 0).all()


def test_batch_equals_per_image() -> None:
    _, x = _images(n=3)
    p, q = _points(3, 15, 96, seed=2), _points(3, 15, 96, seed=3)
    batched = warp_tps(x, p, q, anchors_per_side=4, regularization=1e-3)
    for i in range(3):
        single = warp_tps(x[i:i + 1], p[i:i + 1], q[i:i + 1], anchors_per_side=4, regularization=1e-3)
        assert torch.allclose(batched.image[i:i + 1], single.image, atol=1e-5)
        assert torch.equal(batched.valid[i:i + 1], single.valid)


def test_tps_interpolates_points_and_anchors_stay() -> None:
    p, q = _points(2, 10, 128, seed=4), _points(2, 10, 128, seed=5)
    anchors = border_anchors(128, 128, 5).expand(2, -1, -1)
    tps = fit_tps(torch.cat([p, anchors], 1), torch.cat([q, anchors], 1), size=128)
    assert torch.allclose(tps(p.double()), q.double(), atol=1e-6)
    assert torch.allclose(tps(anchors.double()), anchors.double(), atol=1e-6)
    assert anchors.shape[1] == 16


def test_translation_marks_uncovered_border_invalid() -> None:
    _, x = _images(n=1)
    p = _points(1, 8, 96)
    out = warp_tps(x, p, p + torch.tensor([10.0, 0.0]))  # content moves right by 10 px
    valid = out.valid[0, 0]
    assert valid[:, :9].sum() == 0 and valid[:, 11:].min() == 1
    assert torch.allclose(out.image[0, :, :, 20:], x[0, :, :, 10:-10], atol=1e-4)
