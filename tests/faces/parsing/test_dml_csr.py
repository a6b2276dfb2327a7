"""DML-CSR face parser: state dict == the derived manifest of the official checkpoint; loader; forward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from reliableswap.faces.parsing.dml_csr import (
    DMLCSR,
    ActivatedBatchNorm,
    DMLCSRParser,
    normalize_checkpoint,
)
from reliableswap.faces.parsing.labels import DML_CSR_TO_CANONICAL, ID, NAMES
from reliableswap.faces.parsing.protocol import FaceParser
from reliableswap.manifests import count_manifest_params, diff_state_dict
from reliableswap.weights import MissingWeightsError

MANIFEST = Path(__file__).resolve().parents[2] / "manifests" / "dml_csr_celeba.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def official_state() -> dict[str, torch.Tensor]:
    """Random weights in the official layout, with non-trivial BN statistics and GCN gammas."""
    torch.manual_seed(0)
    net = DMLCSR()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
        for name, p in net.named_parameters():
            if name.endswith(("gamma", "gamma1")):
                p.fill_(0.5)
    return net.state_dict()


def test_state_dict_matches_manifest(manifest: dict) -> None:
    net = DMLCSR()
    diff = diff_state_dict(net.state_dict(), manifest)
    assert diff.ok, str(diff)
    n = sum(p.numel() for p in net.parameters())
    assert n == count_manifest_params(manifest) == manifest["num_params"] == 68_060_213
    assert len(net.state_dict()) == manifest["num_tensors"] == 755
    assert manifest["source"]["repo"] == "deepinsight/insightface" and len(manifest["source"]["commit"]) == 40


def test_manifest_has_no_training_only_edge_branch(manifest: dict) -> None:
    assert not any(k.startswith(("edge_layer.", "module.")) for k in manifest["keys"])


def test_official_layout_loads_strictly_and_parses(tmp_path: Path, manifest: dict, official_state) -> None:
    path = tmp_path / "dml_csr_celebA.pth"
    torch.save(official_state, path)
    assert diff_state_dict(torch.load(path, weights_only=True), manifest).ok
    parser = DMLCSRParser(weights_path=path, input_size=64, batch_size=1)
    loaded = parser.net.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in official_state.items())
    assert isinstance(parser, FaceParser) and parser.needs_landmarks68 is False
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    labels = parser.parse(x, None)
    assert labels.shape == (2, 64, 64) and labels.dtype == torch.int64
    assert labels.min() >= 0 and labels.max() < len(NAMES)
    # parse == official recipe: BGR, ImageNet stats, network, bilinear (align_corners) upsampling, argmax
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = parser.net(((x[:, [2, 1, 0]] + 1) / 2 - mean) / std)
    assert logits.shape == (2, 19, 16, 16)
    logits = torch.nn.functional.interpolate(logits, size=(64, 64), mode="bilinear", align_corners=True)
    assert torch.equal(labels, torch.tensor(DML_CSR_TO_CANONICAL)[logits.argmax(1)])
    assert parser.parse(x[:1]).shape == (1, 64, 64)


def test_dataparallel_prefix_and_old_abn_files_load(tmp_path: Path, official_state) -> None:
    state = {"module." + k: v for k, v in official_state.items()
             if not (k.endswith("num_batches_tracked") and "bn_wg" not in k and "bn_adj" not in k)}
    path = tmp_path / "old.pth"
    torch.save(state, path)
    parser = DMLCSRParser(weights_path=path, input_size=64)
    assert torch.equal(parser.net.state_dict()["layer6.conv4.weight"], official_state["layer6.conv4.weight"])
    assert set(normalize_checkpoint(state)) == set(official_state)


def test_reliableswap_preprocess_feeds_the_tensor_as_given(tmp_path: Path, official_state) -> None:
    path = tmp_path / "dml_csr_celebA.pth"
    torch.save(official_state, path)
    parser = DMLCSRParser(weights_path=path, input_size=64, preprocess="reliableswap")
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert torch.equal(parser.prepare(x), x)
    with pytest.raises(ValueError, match="preprocess"):
        DMLCSRParser(weights_path=path, preprocess="rgb")


def test_activated_batch_norm_is_eval_bn_then_leaky_relu() -> None:
    torch.manual_seed(0)
    abn = ActivatedBatchNorm(4).eval()
    with torch.no_grad():
        abn.running_mean.uniform_(-1, 1)
        abn.running_var.uniform_(0.5, 2)
        abn.bias.uniform_(-1, 1)
    x = torch.randn(2, 4, 3, 3)
    bn = (x - abn.running_mean.view(1, 4, 1, 1)) / torch.sqrt(abn.running_var.view(1, 4, 1, 1) + abn.eps)
    bn = bn * abn.weight.view(1, 4, 1, 1) + abn.bias.view(1, 4, 1, 1)
    expected = torch.where(bn >= 0, bn, 0.01 * bn)
    assert torch.allclose(abn(x), expected, atol=1e-6)
    assert (abn(x) < 0).any()  # the negative slope is really applied (not ReLU)
    assert sorted(dict(abn.state_dict())) == ["bias", "num_batches_tracked", "running_mean", "running_var", "weight"]


def test_label_mapping() -> None:
    assert len(DML_CSR_TO_CANONICAL) == 19 and sorted(DML_CSR_TO_CANONICAL) == list(range(19))
    # the release's class ids (CelebAMask-HQ order): 2 nose, 4/5 eyes, 10 mouth, 13 hair, 17 neck
    assert DML_CSR_TO_CANONICAL[2] == ID["nose"] and DML_CSR_TO_CANONICAL[13] == ID["hair"]
    assert DML_CSR_TO_CANONICAL[4] == ID["l_eye"] and DML_CSR_TO_CANONICAL[10] == ID["mouth"]
    assert DML_CSR_TO_CANONICAL[17] == ID["neck"] and DML_CSR_TO_CANONICAL[3] == ID["eyeglasses"]


def test_missing_weights_error_names_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "dml_csr_celebA.pth"
    with pytest.raises(MissingWeightsError, match="dml_csr_celebA.pth") as err:
        DMLCSRParser(weights_path=missing)
    assert str(missing) in str(err.value)


def test_mismatched_checkpoint_is_rejected(tmp_path: Path, official_state) -> None:
    state = dict(official_state)
    state.pop("layer6.conv4.bias")
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match="missing"):
        DMLCSRParser(weights_path=path)
