"""FaceSwapModule: separate learning rates, warm-up, skipped passes and honest BatchNorm statistics."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from reliableswap.data.batch import TrainingBatch
from reliableswap.lightning.swap_module import FaceSwapModule
from reliableswap.losses.faceshifter import FaceShifterGeneratorLoss
from reliableswap.models.aei_net import AEINet
from reliableswap.models.discriminator import MultiScalePatchDiscriminator


class ToyIdentity(nn.Module):
    """Frozen unit-vector embedding of a downsampled image (stands in for ArcFace)."""

    embedding_dim = 8

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3 * 4 * 4, 8)
        self.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(images, 4).flatten(1)
        return nn.functional.normalize(self.proj(x), dim=1)


def make_module(**kwargs) -> FaceSwapModule:
    torch.manual_seed(0)
    options = {"channels_last": False} | kwargs
    return FaceSwapModule(
        generator=functools.partial(AEINet, size=32, width=1 / 32, identity_init=options.pop("identity_init", "faceshifter")),
        discriminator=MultiScalePatchDiscriminator(base_channels=4, num_scales=2),
        identity_encoder=ToyIdentity(),
        generator_loss=functools.partial(FaceShifterGeneratorLoss),
        **options,
    )


def batch(n: int = 2, same: bool = False) -> TrainingBatch:
    g = torch.Generator().manual_seed(1)
    return TrainingBatch(
        source=torch.rand(n, 3, 32, 32, generator=g) * 2 - 1,
        target=torch.rand(n, 3, 32, 32, generator=g) * 2 - 1,
        same=torch.full((n,), same),
    )


def test_separate_learning_rates_for_generator_identity_layers_and_discriminator():
    module = make_module(lr=4e-4, lr_d=1e-4, identity_lr_scale=10.0)
    opt_g, opt_d = module.configure_optimizers()
    assert [g["lr"] for g in opt_g.param_groups] == [4e-4, pytest.approx(4e-3)]
    assert opt_d.param_groups[0]["lr"] == 1e-4
    identity = {id(p) for p in module.generator.identity_parameters()}
    assert {id(p) for p in opt_g.param_groups[1]["params"]} == identity
    everything = [p for g in opt_g.param_groups for p in g["params"]]
    assert len(everything) == len(list(module.generator.parameters())) == len({id(p) for p in everything})


def test_defaults_are_the_papers_shared_rate():
    opt_g, opt_d = make_module(lr=1e-4).configure_optimizers()
    assert len(opt_g.param_groups) == 1 and opt_g.param_groups[0]["lr"] == opt_d.param_groups[0]["lr"] == 1e-4


def test_warmup_ramps_both_learning_rates_linearly():
    module = make_module(lr=1e-3, lr_d=2e-3, warmup_steps=4)
    (opt_g, opt_d), schedulers = module.configure_optimizers()
    seen = []
    for _ in range(6):
        seen.append((opt_g.param_groups[0]["lr"], opt_d.param_groups[0]["lr"]))
        opt_g.step()
        opt_d.step()
        for s in schedulers:
            s.step()
    assert [g for g, _ in seen] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    assert [d for _, d in seen] == pytest.approx([5e-4, 1e-3, 1.5e-3, 2e-3, 2e-3, 2e-3])


def test_bad_schedule_options_are_refused():
    with pytest.raises(ValueError, match="identity_lr_scale"):
        make_module(identity_lr_scale=0.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        make_module(warmup_steps=-1)


def test_passes_over_generated_images_leave_running_statistics_alone():
    """Only the real target's encoder pass may move the BatchNorm statistics used at inference."""
    module = make_module()
    bns = [m for m in module.generator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns
    target = batch().target
    expected = [(m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked)) for m in bns]
    with torch.no_grad():  # what one real pass does to the statistics, on a copy
        reference = AEINet(id_dim=8, size=32, width=1 / 32)
        reference.load_state_dict(module.generator.state_dict())
        reference.train()(target, torch.zeros(2, 8))
    after_real = [m for m in reference.modules() if isinstance(m, nn.BatchNorm2d)]

    opt_g, opt_d = module.configure_optimizers()
    module.train()
    module.train_iteration(batch(), opt_g, opt_d, torch.Tensor.backward)  # real pass + attribute + cycle passes
    for m, ref, (mean0, _, count0) in zip(bns, after_real, expected, strict=True):
        assert not torch.equal(m.running_mean, mean0)  # the real target pass did update them ...
        torch.testing.assert_close(m.running_mean, ref.running_mean)  # ... and nothing else did
        torch.testing.assert_close(m.running_var, ref.running_var)
        assert int(m.num_batches_tracked) == count0 + 1



def test_zero_weighted_cycle_and_attribute_passes_are_skipped():
    calls = []
    module = make_module(loss_weights={"cycle": 0.0, "attribute": 0.0})
    module.generator.register_forward_hook(lambda *_: calls.append("G"))
    module.generator.encoder.register_forward_hook(lambda *_: calls.append("E"))
    opt_g, opt_d = module.configure_optimizers()
    terms, _, _ = module.train_iteration(batch(), opt_g, opt_d, torch.Tensor.backward)
    assert calls == ["E", "G"]  # one generator pass (its encoder inside), no attribute or cycle pass
    assert terms["cycle"].item() == 0.0 and terms["attribute"].item() == 0.0


def test_identity_lr_scale_needs_identity_layers():
    from reliableswap.models.simswap import SimSwapGenerator

    with pytest.raises(ValueError, match="identity_parameters"):
        FaceSwapModule(
            generator=functools.partial(SimSwapGenerator, size=32, width=1 / 16),
            discriminator=MultiScalePatchDiscriminator(base_channels=4, num_scales=2),
            identity_encoder=ToyIdentity(),
            generator_loss=functools.partial(FaceShifterGeneratorLoss),
            identity_lr_scale=10.0,
        )
