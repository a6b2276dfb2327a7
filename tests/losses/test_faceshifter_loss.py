"""Per-sample routing of the FaceShifter terms, checked through gradients."""

from __future__ import annotations

import pytest
import torch

from reliableswap.losses import AttributeLoss, HingeAdversarialLoss, IdentityLoss, SwapLossMasks
from reliableswap.losses.faceshifter import FaceShifterGeneratorLoss, FaceShifterPasses
from reliableswap.models.contract import SwapForward


def _forward(batch: int = 2) -> SwapForward:
    torch.manual_seed(0)
    leaf = lambda *shape: torch.randn(*shape, requires_grad=True)  # noqa: E731
    return SwapForward(
        target=torch.randn(batch, 3, 8, 8),
        result=leaf(batch, 3, 8, 8),
        z_source=torch.nn.functional.normalize(torch.randn(batch, 16), dim=1),
        z_result=leaf(batch, 16),
        aux=[torch.randn(batch, 4, 2, 2), torch.randn(batch, 2, 4, 4)],  # the target's attributes
        extra=FaceShifterPasses(result_attrs=[leaf(batch, 4, 2, 2), leaf(batch, 2, 4, 4)], cycled=leaf(batch, 3, 8, 8)),
        fake_outputs=[[torch.randn(batch, 1, 3, 3, requires_grad=True)]],
    )


def _grad_rows(loss: torch.Tensor, tensor: torch.Tensor) -> list[bool]:
    (grad,) = torch.autograd.grad(loss, tensor, retain_graph=True, allow_unused=True)
    if grad is None:
        return [False] * tensor.shape[0]
    return [bool(g.abs().sum() > 0) for g in grad]


def test_same_pair_gets_reconstruction_only_and_different_pair_identity_and_attribute():
    out = _forward()
    masks = SwapLossMasks.from_same_flags(torch.tensor([True, False]))
    terms = FaceShifterGeneratorLoss()(out, masks)
    assert _grad_rows(terms["reconstruction"], out.result) == [True, False]
    assert _grad_rows(terms["identity"], out.z_result) == [False, True]
    assert _grad_rows(terms["attribute"], out.extra.result_attrs[0]) == [False, True]
    assert _grad_rows(terms["cycle"], out.extra.cycled) == [True, True]
    assert set(terms) == {"adversarial", "identity", "attribute", "reconstruction", "cycle", "total"}
    assert terms["total"].item() == pytest.approx(sum(v.item() for k, v in terms.items() if k != "total"), rel=1e-6)


def test_all_same_batch_has_zero_identity_and_attribute_terms():
    terms = FaceShifterGeneratorLoss()(_forward(), SwapLossMasks.from_same_flags(torch.tensor([True, True])))
    assert terms["identity"].item() == 0.0 and terms["attribute"].item() == 0.0
    assert terms["reconstruction"].item() > 0.0


def test_weights_scale_terms_and_unknown_weights_are_rejected():
    out = _forward()
    masks = SwapLossMasks.from_same_flags(torch.tensor([False, False]))
    base = FaceShifterGeneratorLoss({"identity": 1.0})(out, masks)["identity"]
    scaled = FaceShifterGeneratorLoss({"identity": 5.0})(out, masks)["identity"]
    assert scaled.item() == pytest.approx(5 * base.item(), rel=1e-6)
    with pytest.raises(ValueError, match="unknown loss weight"):
        FaceShifterGeneratorLoss({"identiy": 1.0})


def test_identity_loss_is_cosine_distance_per_sample():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert IdentityLoss()(a, b).tolist() == pytest.approx([0.0, 1.0])


def test_attribute_loss_sums_levels_and_keeps_target_constant():
    target = [torch.zeros(1, 2, 2, 2, requires_grad=True), torch.zeros(1, 1, 4, 4, requires_grad=True)]
    result = [torch.ones(1, 2, 2, 2, requires_grad=True), torch.full((1, 1, 4, 4), 2.0, requires_grad=True)]
    loss = AttributeLoss()(result, target)
    assert loss.tolist() == pytest.approx([1.0 + 4.0])
    loss.sum().backward()
    assert target[0].grad is None  # the target's attributes are constants
    assert result[0].grad is not None


def test_hinge_losses():
    adv = HingeAdversarialLoss()
    real = [[torch.full((1, 1, 2, 2), 2.0)], [torch.full((1, 1, 1, 1), 0.0)]]
    fake = [[torch.full((1, 1, 2, 2), -2.0)], [torch.full((1, 1, 1, 1), 0.0)]]
    # scale 0: relu(1-2)+relu(1-2)=0 / scale 1: 1 + 1 -> mean over scales: (0 + 1)/2 + (0 + 1)/2
    assert adv.discriminator(real, fake).item() == pytest.approx(1.0)
    assert adv.generator(fake).item() == pytest.approx((2.0 + 0.0) / 2)
