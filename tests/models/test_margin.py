"""ArcFace margin head: logit values at known angles, threshold and easy-margin handling."""

from __future__ import annotations

import math

import pytest
import torch

from reliableswap.models.margin import ArcFaceMargin, arcface_logits


def _cos(*angles: float) -> torch.Tensor:
    return torch.tensor([[math.cos(a) for a in angles]])


def test_target_logit_gets_the_angular_margin() -> None:
    theta = math.pi / 3  # cos 0.5
    logits = arcface_logits(_cos(theta, 1.0, 2.0), torch.tensor([0]), s=64.0, m=0.5)
    assert logits[0, 0].item() == pytest.approx(64 * math.cos(theta + 0.5), abs=1e-4)  # 64*cos(1.547) = 1.510
    assert logits[0, 0].item() == pytest.approx(1.5102, abs=1e-3)
    torch.testing.assert_close(logits[0, 1:], 64 * _cos(1.0, 2.0)[0, :])  # other classes: plain s*cos


def test_past_the_threshold_the_cosface_fallback_applies() -> None:
    m = 0.5
    theta = math.pi - 0.2  # theta + m > pi: cos(theta + m) would rise again
    logit = arcface_logits(_cos(theta, 0.0), torch.tensor([0]), s=1.0, m=m)[0, 0].item()
    assert logit == pytest.approx(math.cos(theta) - m * math.sin(m), abs=1e-5)
    # Still decreasing in theta across the threshold (InsightFace's fallback steps down there:
    # -1 just inside vs -cos(m) - m*sin(m) just outside), never rising back as cos(theta + m) would.
    eps = 1e-4
    just_in = arcface_logits(_cos(math.pi - m - eps, 0.0), torch.tensor([0]), 1.0, m)[0, 0].item()
    just_out = arcface_logits(_cos(math.pi - m + eps, 0.0), torch.tensor([0]), 1.0, m)[0, 0].item()
    assert just_in == pytest.approx(-1.0, abs=1e-3)
    assert just_out == pytest.approx(-math.cos(m) - m * math.sin(m), abs=1e-3) and just_in > just_out
    angles = torch.linspace(0.0, math.pi, 200)
    curve = arcface_logits(torch.stack([angles.cos(), torch.zeros(200)], 1), torch.zeros(200, dtype=torch.long), 1.0, m)
    assert (curve[1:, 0] < curve[:-1, 0]).all()


def test_easy_margin_leaves_obtuse_angles_alone() -> None:
    m = 0.5
    obtuse = arcface_logits(_cos(2.0, 0.0), torch.tensor([0]), s=1.0, m=m, easy_margin=True)[0, 0].item()
    assert obtuse == pytest.approx(math.cos(2.0), abs=1e-6)
    acute = arcface_logits(_cos(1.0, 0.0), torch.tensor([0]), s=1.0, m=m, easy_margin=True)[0, 0].item()
    assert acute == pytest.approx(math.cos(1.5), abs=1e-6)


def test_head_normalises_and_trains() -> None:
    torch.manual_seed(0)
    head = ArcFaceMargin(8, 4, s=16.0, m=0.3)
    x = torch.randn(6, 8)
    cos = head.cosine(x * 10)
    torch.testing.assert_close(cos, head.cosine(x))  # scale invariant
    assert cos.shape == (6, 4) and cos.abs().max() <= 1 + 1e-6
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    logits = head(x, labels)
    assert logits.shape == (6, 4)
    # The margin only lowers the target logit.
    plain = 16.0 * cos
    target = logits.gather(1, labels[:, None])
    assert (target < plain.gather(1, labels[:, None])).all()
    torch.nn.functional.cross_entropy(logits, labels).backward()
    assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="classes"):
        ArcFaceMargin(8, 1)
    with pytest.raises(ValueError, match="labels"):
        arcface_logits(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
