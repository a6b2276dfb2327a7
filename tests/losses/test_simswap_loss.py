"""Per-sample routing and semantics of the SimSwap generator terms, checked through gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from reliableswap.losses import SwapLossMasks
from reliableswap.losses.simswap import SimSwapGeneratorLoss, SimSwapPasses, WeakFeatureMatchingLoss
from reliableswap.models.contract import SwapForward


def _features(batch: int, requires_grad: bool, scales: int = 2, layers: int = 4) -> list[list[torch.Tensor]]:
    """Per scale: ``layers`` intermediate maps then a 1-channel logit map, like the PatchGAN."""
    return [
        [torch.randn(batch, 2, 4, 4, requires_grad=requires_grad) for _ in range(layers)]
        + [torch.randn(batch, 1, 3, 3, requires_grad=requires_grad)]
        for _ in range(scales)
    ]


def _forward(batch: int = 2, id_dim: int = 16) -> SwapForward:
    torch.manual_seed(0)
    leaf = lambda *shape: torch.randn(*shape, requires_grad=True)  # noqa: E731
    return SwapForward(
        target=torch.randn(batch, 3, 8, 8),
        result=leaf(batch, 3, 8, 8),
        z_source=F.normalize(torch.randn(batch, id_dim), dim=1),
        z_result=leaf(batch, id_dim),
        aux=[],
        fake_outputs=_features(batch, requires_grad=True),
        # set like the objective's extra pass does: D(target) without grad
        extra=SimSwapPasses(real_outputs=_features(batch, requires_grad=False)),
    )


def _grad_rows(loss: torch.Tensor, tensor: torch.Tensor) -> list[bool]:
    (grad,) = torch.autograd.grad(loss, tensor, retain_graph=True, allow_unused=True)
    if grad is None:
        return [False] * tensor.shape[0]
    return [bool(g.abs().sum() > 0) for g in grad]


def test_same_pair_gets_reconstruction_not_identity_and_every_pair_feature_matching():
    out = _forward()
    same = torch.tensor([True, False])
    masks = SwapLossMasks.from_same_flags(same)
    before = {k: v.clone() for k, v in vars(masks).items()}
    terms = SimSwapGeneratorLoss()(out, masks)
    assert _grad_rows(terms["reconstruction"], out.result) == [True, False]
    assert _grad_rows(terms["identity"], out.z_result) == [False, True]
    assert _grad_rows(terms["feature_matching"], out.fake_outputs[0][-2]) == [True, True]
    assert _grad_rows(terms["adversarial"], out.fake_outputs[0][-1]) == [True, True]
    assert set(terms) == {"adversarial", "identity", "feature_matching", "reconstruction", "total"}
    assert terms["total"].item() == pytest.approx(sum(v.item() for k, v in terms.items() if k != "total"), rel=1e-6)
    assert all(torch.equal(before[k], v) for k, v in vars(masks).items())  # masks are never mutated


def test_default_weights_are_simswaps():
    assert SimSwapGeneratorLoss().weights == {
        "adversarial": 1.0, "identity": 30.0, "feature_matching": 10.0, "reconstruction": 10.0, "fixer": 0.1
    }


def test_weights_scale_terms_and_unknown_weights_are_rejected():
    out = _forward()
    masks = SwapLossMasks.from_same_flags(torch.tensor([True, False]))
    base = SimSwapGeneratorLoss({name: 1.0 for name in ("identity", "feature_matching", "reconstruction")})(out, masks)
    scaled = SimSwapGeneratorLoss({"identity": 3.0, "feature_matching": 7.0, "reconstruction": 0.5})(out, masks)
    for name, factor in (("identity", 3.0), ("feature_matching", 7.0), ("reconstruction", 0.5)):
        assert base[name].item() > 0
        assert scaled[name].item() == pytest.approx(factor * base[name].item(), rel=1e-6), name
    with pytest.raises(ValueError, match="unknown loss weight"):
        SimSwapGeneratorLoss({"attribute": 1.0})


def test_weak_feature_matching_pulls_only_the_deep_result_features_towards_the_target():
    torch.manual_seed(0)
    fake, real = _features(2, requires_grad=True), _features(2, requires_grad=True)
    loss = WeakFeatureMatchingLoss(num_layers=2)(fake, real)
    assert loss.shape == (2,)
    loss.sum().backward()
    for fake_scale, real_scale in zip(fake, real):
        for f, r in zip(fake_scale[-3:-1], real_scale[-3:-1]):
            # Gradient descent moves every element of the result's feature towards the target's.
            assert torch.all(f.grad * (f - r).detach() > 0)
            assert r.grad is None  # the real target's features are constants
        # "weak": the shallow layers and the patch logits are not matched at all
        assert all(t.grad is None for t in fake_scale[:-3] + fake_scale[-1:])
    # a descent step lowers the loss
    with torch.no_grad():
        stepped = [[t - 0.01 * t.grad if t.grad is not None else t for t in scale] for scale in fake]
    assert WeakFeatureMatchingLoss(2)(stepped, real).sum() < loss.sum()


def test_feature_matching_is_zero_for_identical_features_and_checks_structure():
    feats = _features(3, requires_grad=False)
    assert WeakFeatureMatchingLoss(2)(feats, feats).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="intermediate features"):
        WeakFeatureMatchingLoss(5)(feats, feats)  # only 4 intermediate maps per scale
    with pytest.raises(ValueError, match="at least one"):
        WeakFeatureMatchingLoss(0)


def test_missing_real_outputs_is_a_clear_error():
    out = _forward()
    out.extra.real_outputs = None
    with pytest.raises(ValueError, match="real_outputs"):
        SimSwapGeneratorLoss()(out, SwapLossMasks.from_same_flags(torch.tensor([False, False])))


def test_fixer_term_uses_its_slice_and_identity_the_rest():
    out = _forward(id_dim=16)
    masks = SwapLossMasks.from_same_flags(torch.tensor([True, False]))
    loss = SimSwapGeneratorLoss()
    terms = loss(out, masks, {"identity": slice(0, 12), "fixer": slice(12, 16)})
    assert "fixer" in terms
    (g_fix,) = torch.autograd.grad(terms["fixer"], out.z_result, retain_graph=True)
    (g_id,) = torch.autograd.grad(terms["identity"], out.z_result, retain_graph=True)
    assert g_fix[:, :12].abs().sum() == 0 and g_fix[1, 12:].abs().sum() > 0
    assert g_id[:, 12:].abs().sum() == 0 and g_id[1, :12].abs().sum() > 0
    assert g_fix[0].abs().sum() == 0  # same pair: no fixer term either
    expected = 0.1 * (1 - F.cosine_similarity(out.z_result[1:, 12:], out.z_source[1:, 12:], dim=1)).mean()
    assert terms["fixer"].item() == pytest.approx(expected.item(), rel=1e-5)
    # without an explicit identity slice, the identity term scores everything but the fixer slice
    terms = loss(out, masks, {"fixer": slice(0, 4)})
    (g_id,) = torch.autograd.grad(terms["identity"], out.z_result)
    assert g_id[:, :4].abs().sum() == 0 and g_id[1, 4:].abs().sum() > 0


@pytest.mark.parametrize("parts", [None, {}, {"identity": slice(0, 16)}])
def test_without_fixer_part_the_term_is_skipped(parts):
    out = _forward()
    masks = SwapLossMasks.from_same_flags(torch.tensor([False, False]))
    terms = SimSwapGeneratorLoss()(out, masks, parts)
    assert "fixer" not in terms
    expected = 30 * (1 - F.cosine_similarity(out.z_result, out.z_source, dim=1)).mean()
    assert terms["identity"].item() == pytest.approx(expected.item(), rel=1e-5)


class _ToyIdentity(torch.nn.Module):
    """A fixed random projection to unit vectors: stands in for a frozen face recogniser."""

    embedding_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, self.embedding_dim)
        self.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(images.mean(dim=(2, 3))), dim=1)


def test_face_swap_module_runs_one_simswap_iteration():
    """The LightningModule picks the SimSwap loss from a ``generator_loss`` partial and feeds it."""
    import functools
    import inspect

    from reliableswap.data.batch import TrainingBatch
    from reliableswap.lightning.swap_module import FaceSwapModule
    from reliableswap.models.discriminator import MultiScalePatchDiscriminator
    from reliableswap.models.simswap import SimSwapGenerator

    if "generator_loss" not in inspect.signature(FaceSwapModule).parameters:
        pytest.skip("FaceSwapModule has no generator_loss argument yet (SimSwap loss not wired)")
    torch.manual_seed(0)
    module = FaceSwapModule(
        generator=functools.partial(SimSwapGenerator, size=32, width=1 / 16),
        discriminator=MultiScalePatchDiscriminator(base_channels=4, num_scales=2),
        identity_encoder=_ToyIdentity(),
        generator_loss=functools.partial(SimSwapGeneratorLoss),
        loss_weights={"identity": 30.0},
        lr=4e-4,
        betas=(0.0, 0.99),
        channels_last=False,
    )
    assert isinstance(module.g_loss, SimSwapGeneratorLoss)
    opt_g, opt_d = module.configure_optimizers()
    batch = TrainingBatch(source=torch.rand(2, 3, 32, 32) * 2 - 1, target=torch.rand(2, 3, 32, 32) * 2 - 1,
                          same=torch.tensor([True, False]))
    terms, d_loss, _ = module.train_iteration(batch, opt_g, opt_d, lambda t: t.backward())
    assert set(terms) == {"adversarial", "identity", "feature_matching", "reconstruction", "total"}
    assert terms["feature_matching"].item() > 0 and torch.isfinite(d_loss)
