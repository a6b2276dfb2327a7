"""VGG perceptual loss: loads weights through the registry; missing weights fail loudly."""

from __future__ import annotations

import pytest
import torch

from reliableswap.losses.perceptual import VGGFeatureLoss
from reliableswap.weights import MissingWeightsError


def test_missing_vgg_weights_name_the_expected_path(tmp_path):
    missing = tmp_path / "vgg19.pth"
    with pytest.raises(MissingWeightsError, match=str(missing)) as err:
        VGGFeatureLoss(weights_path=missing)
    assert "torchvision" in str(err.value)


def test_vgg_loss_loads_a_state_dict_and_gives_gradients(tmp_path):
    from torchvision.models import vgg19

    torch.manual_seed(0)
    path = tmp_path / "vgg19.pth"
    torch.save(vgg19().state_dict(), path)
    loss_fn = VGGFeatureLoss(weights_path=path)
    x = torch.rand(2, 3, 32, 32, requires_grad=True) * 2 - 1
    y = torch.rand(2, 3, 32, 32) * 2 - 1
    loss = loss_fn(x, y)
    assert loss.shape == (2,)
    assert torch.all(loss > 0)
    assert loss_fn(y, y).abs().max() == 0
    loss.sum().backward()
    assert not any(p.requires_grad for p in loss_fn.parameters())
