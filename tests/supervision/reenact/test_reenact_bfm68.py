"""Sparse BFM fitting: exact recovery on synthetic landmarks, small error on real dlib landmarks,
and ``combine`` keeping the source's face shape."""

from __future__ import annotations

import math

import pytest
import torch

from supervision.reenact.bfm68 import BFM68, combine, fit_landmarks


def _rotation(yaw: float, pitch: float, roll: float) -> torch.Tensor:
    cy, sy, cp, sp, cr, sr = (f(a) for a in (yaw, pitch, roll) for f in (math.cos, math.sin))
    ry = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=torch.float64)
    rx = torch.tensor([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], dtype=torch.float64)
    rz = torch.tensor([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]], dtype=torch.float64)
    return rz @ rx @ ry


def _synthetic(bfm: BFM68, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a_shp = bfm.shp_mean + torch.randn(n, 40, generator=g, dtype=torch.float64) * bfm.shp_std
    a_exp = bfm.exp_mean + torch.randn(n, 10, generator=g, dtype=torch.float64) * bfm.exp_std
    angles = (torch.rand(n, 3, generator=g, dtype=torch.float64) - 0.5) * 0.6
    flip = torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=torch.float64))  # model y up -> image y down
    cams = torch.stack([(flip @ _rotation(*a.tolist()))[:2] for a in angles]) * 8e-4
    t = torch.tensor([128.0, 135.0], dtype=torch.float64)
    x = torch.einsum("bij,bpj->bpi", cams, bfm.vertices(a_shp, a_exp)) + t
    return x.float(), a_shp, a_exp


def test_fit_recovers_synthetic_landmarks(bfm: BFM68) -> None:
    x, _, _ = _synthetic(bfm, 6)
    assert 20 < float(x.min()) and float(x.max()) < 236, "synthetic faces should lie inside a 256 crop"
    fit = fit_landmarks(x, bfm, shape_regularization=1e-5, expression_regularization=1e-5, iterations=20)
    err = fit.reprojection_error()
    assert err.max() < 0.5, err
    # The camera is scaled-orthographic: rows orthogonal with equal norm.
    rows = fit.camera
    assert torch.allclose((rows[:, 0] * rows[:, 1]).sum(-1), torch.zeros(6, dtype=rows.dtype), atol=1e-9)
    assert torch.allclose(rows[:, 0].norm(dim=-1), rows[:, 1].norm(dim=-1), rtol=1e-6)
    assert torch.allclose(fit.scale, torch.full((6,), 8e-4, dtype=torch.float64), rtol=0.15)


def test_fit_real_faces_and_combine_with_itself(bfm: BFM68, celeba_faces) -> None:
    _, lm = celeba_faces.tensors(slice(None))
    fit = fit_landmarks(lm, bfm)
    err = fit.reprojection_error()
    assert err.mean() < 3.0 and err.max() < 5.0, err  # px in 256 crops (dlib noise + 50-d model)
    assert torch.allclose(combine(fit, fit), lm.double(), atol=1e-6)
    # Without the residual, combining A with itself gives the model fit, not the landmarks.
    assert torch.allclose(combine(fit, fit, keep_residual=False), fit.fitted)


def _jaw_over_iod(lm: torch.Tensor) -> torch.Tensor:
    iod = (lm[:, 42:48].mean(1) - lm[:, 36:42].mean(1)).norm(dim=-1)
    return (lm[:, 16] - lm[:, 0]).norm(dim=-1) / iod


def test_combine_keeps_source_shape(bfm: BFM68, celeba_faces) -> None:
    _, lm = celeba_faces.tensors(slice(None))
    half = lm.shape[0] // 2
    fit_a = fit_landmarks(lm[:half], bfm)
    fit_b = fit_landmarks(lm[half:2 * half], bfm)
    target = combine(fit_a, fit_b)
    ra, rb, rt = _jaw_over_iod(fit_a.landmarks), _jaw_over_iod(fit_b.landmarks), _jaw_over_iod(target)
    assert (rt - ra).abs().mean() < 0.5 * (rb - ra).abs().mean(), (ra, rb, rt)
    # ... while moving to the driving face: target overlaps B far better than A did.
    d_before = (fit_a.landmarks - fit_b.landmarks).norm(dim=-1).mean()
    d_after = (target - fit_b.landmarks).norm(dim=-1).mean()
    assert d_after < 0.6 * d_before, (d_before, d_after)


def test_combine_options_select_parts(bfm: BFM68, celeba_faces) -> None:
    _, lm = celeba_faces.tensors(slice(0, 4))
    fit_a = fit_landmarks(lm[:2], bfm)
    fit_b = fit_landmarks(lm[2:4], bfm)
    # Neither pose nor expression from B: A's own landmarks back.
    same = combine(fit_a, fit_b, expression=False, pose=False)
    assert torch.allclose(same, fit_a.landmarks, atol=1e-6)
    pose_only = combine(fit_a, fit_b, expression=False, keep_residual=False)
    expected = fit_b.project(fit_a.alpha_shp, fit_a.alpha_exp)
    assert torch.allclose(pose_only, expected)


def test_fit_rejects_bad_shape(bfm: BFM68) -> None:
    with pytest.raises(ValueError):
        fit_landmarks(torch.zeros(1, 5, 2), bfm)
