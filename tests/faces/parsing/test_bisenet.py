"""BiSeNet face parser: state dict == the official checkpoint's manifest; loader; forward."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from reliableswap.faces.parsing.bisenet import BiSeNet, BiSeNetParser
from reliableswap.faces.parsing.labels import BISENET_TO_CANONICAL, ID
from reliableswap.faces.parsing.protocol import FaceParser
from reliableswap.manifests import count_manifest_params, diff_state_dict
from reliableswap.weights import MissingWeightsError




def test_state_dict_matches_manifest(manifest: Callable[[str], dict]) -> None:
    entry = manifest("bisenet_faceparsing_19")
    net = BiSeNet()
    diff = diff_state_dict(net.state_dict(), entry)
    assert diff.ok, str(diff)
    assert sum(p.numel() for p in net.parameters()) == count_manifest_params(entry) == 13_300_416


def test_manifest_checkpoint_round_trips_through_loader(tmp_path, manifest: Callable[[str], dict]) -> None:
    torch.manual_seed(0)
    net = BiSeNet()
    for m in net.modules():  # non-trivial BN statistics so the check can fail
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "79999_iter.pth"
    torch.save(net.state_dict(), path)
    assert diff_state_dict(torch.load(path, weights_only=True), manifest("bisenet_faceparsing_19")).ok
    parser = BiSeNetParser(weights_path=path, input_size=128)
    loaded = parser.net.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in net.state_dict().items())
    assert isinstance(parser, FaceParser)
    labels = parser.parse(torch.rand(2, 3, 64, 64) * 2 - 1, torch.zeros(2, 68, 2))
    assert labels.shape == (2, 64, 64) and labels.dtype == torch.int64
    # Canonical labels: argmax of the network in BiSeNet order, remapped.
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    expected_bisenet = parser.net(((x + 1) / 2 - parser._mean) / parser._std).argmax(1)
    expected = torch.tensor(BISENET_TO_CANONICAL)[expected_bisenet]
    assert torch.equal(parser.parse(x), expected)


def test_label_mapping() -> None:
    assert BISENET_TO_CANONICAL[10] == ID["nose"] and BISENET_TO_CANONICAL[17] == ID["hair"]
    assert sorted(BISENET_TO_CANONICAL) == list(range(19))


def test_forward_random_init_manifest_shape() -> None:
    torch.manual_seed(0)
    net = BiSeNet().eval()
    with torch.no_grad():
        logits = net(torch.randn(1, 3, 512, 512))
        aux = net.forward_all(torch.randn(1, 3, 64, 64))
    assert logits.shape == (1, 19, 512, 512)
    labels = torch.tensor(BISENET_TO_CANONICAL)[logits.argmax(1)]
    assert labels.shape == (1, 512, 512) and labels.min() >= 0 and labels.max() <= 18
    assert [tuple(a.shape) for a in aux] == [(1, 19, 64, 64)] * 3


def test_missing_weights_error_names_path(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "79999_iter.pth"
    with pytest.raises(MissingWeightsError, match="79999_iter.pth") as err:
        BiSeNetParser(weights_path=missing)
    assert str(missing) in str(err.value)


def test_mismatched_checkpoint_is_rejected(tmp_path) -> None:
    state = BiSeNet().state_dict()
    state.pop("conv_out.conv_out.weight")
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="missing"):
        BiSeNetParser(weights_path=path)
