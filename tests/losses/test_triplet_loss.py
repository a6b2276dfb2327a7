"""Triplet losses per type code (select with ``pytest -k triplet``)."""

from __future__ import annotations

import pytest
import torch

from reliableswap.losses.triplet import TripletLoss, triplet_mask


def _inputs(codes: list[int], dim: int = 16):
    torch.manual_seed(0)
    b = len(codes)
    result = torch.rand(b, 3, 16, 16, requires_grad=True)
    reference = torch.rand(b, 3, 16, 16)
    z_result = torch.randn(b, dim, requires_grad=True)
    z_reference = torch.randn(b, dim)
    return result, reference, z_result, z_reference, torch.tensor(codes)


def _rows_with_grad(loss: torch.Tensor, tensor: torch.Tensor) -> list[bool]:
    (grad,) = torch.autograd.grad(loss, tensor, retain_graph=True)
    return [bool(g.abs().sum() > 0) for g in grad]


@pytest.mark.parametrize("code", [0, 1])
def test_triplet_vanilla_codes_get_no_triplet_term(code):
    result, reference, z_r, z_ref, codes = _inputs([code, code])
    terms = TripletLoss()(result, reference, z_r, z_ref, codes)
    assert all(v.item() == 0.0 for v in terms.values())


@pytest.mark.parametrize("code", [2, 3, 4, 5])
def test_triplet_codes_get_every_term(code):
    class _FakeVGG(torch.nn.Module):  # per-sample L1 of pooled features, differentiable
        def forward(self, x, y):
            return (torch.nn.functional.avg_pool2d(x, 4) - torch.nn.functional.avg_pool2d(y, 4)).abs().flatten(1).mean(1)

    result, reference, z_r, z_ref, codes = _inputs([code, 0])
    parts = {"identity": slice(0, 12), "fixer": slice(12, 16)}
    terms = TripletLoss(vgg=_FakeVGG())(result, reference, z_r, z_ref, codes, parts)
    assert set(terms) == {"pixel", "vgg", "identity", "fixer", "total"}
    for name in ("pixel", "vgg"):
        assert terms[name].item() > 0
        assert _rows_with_grad(terms[name], result) == [True, False]  # only the triplet sample
    for name in ("identity", "fixer"):
        assert _rows_with_grad(terms[name], z_r) == [True, False]
    (grad_id,) = torch.autograd.grad(terms["identity"], z_r, retain_graph=True)
    assert grad_id[0, 12:].abs().sum() == 0 and grad_id[0, :12].abs().sum() > 0  # identity part only
    (grad_fx,) = torch.autograd.grad(terms["fixer"], z_r, retain_graph=True)
    assert grad_fx[0, :12].abs().sum() == 0 and grad_fx[0, 12:].abs().sum() > 0  # fixer part only


def test_triplet_pixel_gradient_moves_result_toward_reference():
    result, reference, z_r, z_ref, codes = _inputs([4, 5])
    loss_fn = TripletLoss({"identity": 0.0})
    before = (result - reference).abs().mean().item()
    terms = loss_fn(result, reference, z_r, z_ref, codes)
    terms["total"].backward()
    with torch.no_grad():
        stepped = result - 0.5 * result.grad / result.grad.abs().max()
    assert (stepped - reference).abs().mean().item() < before


def test_triplet_vgg_term_is_not_detached_from_the_result():
    """The original code detached the result in the VGG triplet term; ours must give it a gradient."""
    from reliableswap.losses.perceptual import VGGFeatureLoss

    vgg = VGGFeatureLoss(pretrained=False)  # random weights: only the gradient path matters here
    result, reference, z_r, z_ref, codes = _inputs([4])
    terms = TripletLoss(vgg=vgg)(result, reference, z_r, z_ref, codes)
    (grad,) = torch.autograd.grad(terms["vgg"], result)
    assert grad.abs().sum() > 0


def test_triplet_mask_shapes_and_codes():
    assert triplet_mask(torch.tensor([0, 1, 2, 3, 4, 5])).tolist() == [False, False, True, True, True, True]
    assert triplet_mask(torch.tensor([2, 4]), enabled=(4, 5)).tolist() == [False, True]
    with pytest.raises(ValueError, match=r"\(B,\)"):
        triplet_mask(torch.tensor([[4]]))


def test_triplet_unknown_weight_is_rejected():
    with pytest.raises(ValueError, match="unknown triplet loss weight"):
        TripletLoss({"pixl": 1.0})
