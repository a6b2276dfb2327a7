"""The swap-training contract: the main pass, the objective's extra passes and frozen BatchNorm."""

from __future__ import annotations

import torch
from torch import nn

from reliableswap.models.contract import SwapForward, SwapNetworks, frozen_batchnorm_stats


def test_frozen_batchnorm_still_normalises_with_batch_statistics_and_restores_momentum():
    bn = nn.BatchNorm2d(3, momentum=0.3).train()
    x = torch.randn(4, 3, 5, 5) * 3 + 2
    with frozen_batchnorm_stats(bn):
        y = bn(x)
    assert bn.momentum == 0.3
    assert torch.equal(bn.running_mean, torch.zeros(3)) and int(bn.num_batches_tracked) == 0
    assert y.mean().abs() < 1e-5  # batch statistics were used


class _Generator(nn.Module):
    """``(target, z) -> (result, aux)`` with a BatchNorm whose statistics the test watches."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(4, 3)

    def forward(self, target: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        result = torch.tanh(self.bn(target) + self.fc(z)[:, :, None, None])
        return result, result.mean(dim=1, keepdim=True)  # aux: a one-channel "mask"


class _Identity(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.requires_grad_(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.fc(images.mean(dim=(2, 3))), dim=1)


def _nets() -> SwapNetworks:
    torch.manual_seed(0)
    return SwapNetworks(generator=_Generator().train(), identity=_Identity(), discriminator=nn.Conv2d(3, 1, 3))


def test_forward_runs_the_main_pass_then_the_objectives_extra_passes_with_frozen_statistics():
    nets = _nets()
    source, target = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    seen = {}

    def extra_passes(n: SwapNetworks, t: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
        seen["count"] = int(n.generator.bn.num_batches_tracked)
        before = n.generator.bn.running_mean.clone()
        cycled, _ = n.generator(result.detach(), n.embed(t))
        assert torch.equal(n.generator.bn.running_mean, before)  # a pass over generated images
        return cycled

    out = nets.forward(source, target, extra_passes)
    assert isinstance(out, SwapForward)
    assert seen["count"] == 1 and int(nets.generator.bn.num_batches_tracked) == 1  # only the main pass counted
    assert out.result.shape == out.target.shape == (2, 3, 8, 8) and out.aux.shape == (2, 1, 8, 8)
    assert out.extra.shape == (2, 3, 8, 8)
    assert not out.z_source.requires_grad and out.z_result.requires_grad  # frozen judge, gradient into result
    torch.testing.assert_close(out.z_source, nets.identity(source))
    assert out.fake_outputs.shape == (2, 1, 6, 6) and out.fake_outputs.requires_grad


def test_an_objective_without_extra_passes_gets_none():
    out = _nets().forward(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), lambda *_: None)
    assert out.extra is None
