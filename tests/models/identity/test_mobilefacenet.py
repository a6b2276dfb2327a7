"""MobileFaceNet port: exact weights, ONNX parity on real faces, and real identity separation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from reliableswap.faces.alignment import ffhq_to_arcface
from reliableswap.models.identity import IdentityEncoder, build_mobilefacenet, build_mobilefacenet_encoder
from reliableswap.models.identity.mobilefacenet import MOBILEFACENET_MEAN, MOBILEFACENET_STD, MobileFaceNet
from reliableswap.weights import MissingWeightsError, load_state_dict


@pytest.fixture(scope="module")
def weights_file(shared_weight: Callable[[str], Path]) -> Path:
    return shared_weight("recognition/mobilefacenet_arcface.pt")


@pytest.fixture(scope="module")
def encoder(weights_file: Path) -> IdentityEncoder:
    return build_mobilefacenet_encoder(weights_path=weights_file)


def _normalise(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MOBILEFACENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(MOBILEFACENET_STD).view(1, 3, 1, 1)
    return ((x + 1) / 2 - mean) / std


def test_state_dict_matches_the_shipped_file_key_for_key(weights_file: Path) -> None:
    shipped = load_state_dict(weights_file)
    own = MobileFaceNet().state_dict()
    assert len(shipped) == len(own) == 307
    assert {k: tuple(v.shape) for k, v in own.items()} == {k: tuple(v.shape) for k, v in shipped.items()}


def test_torch_equals_onnxruntime_on_real_aligned_faces(
    weights_file: Path, celeba_batch: torch.Tensor, mobilefacenet_onnx
) -> None:
    backbone = build_mobilefacenet(weights_path=weights_file)
    x = _normalise(ffhq_to_arcface(celeba_batch))
    with torch.no_grad():
        ours = backbone(x)
    reference = mobilefacenet_onnx(x)
    per_sample = (ours - reference).abs().amax(dim=1)
    assert ours.shape == reference.shape == (len(x), 128)
    assert (per_sample < 1e-4).all(), per_sample


def _pairs(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    labels = np.array(names)
    same = labels[:, None] == labels[None]
    upper = np.triu(np.ones_like(same), k=1).astype(bool)
    return same & upper, ~same & upper


def test_same_person_is_more_similar_than_different_people(encoder: IdentityEncoder, wild_faces) -> None:
    crops, names = wild_faces
    enc112 = IdentityEncoder(encoder.backbone, 128, MOBILEFACENET_MEAN, MOBILEFACENET_STD, input_layout="arcface112")
    with torch.no_grad():
        z = enc112(crops).numpy()
    sim = z @ z.T
    same, diff = _pairs(names)
    assert same.sum() >= 5 and diff.sum() >= 20
    s, d = sim[same], sim[diff]
    auc = (s[:, None] > d[None, :]).mean()
    # Measured with the shipped data: same 0.72 mean (min 0.56), different 0.00 mean (max 0.50).
    assert s.mean() - d.mean() > 0.4, (s.mean(), d.mean())
    assert auc > 0.98, auc


def test_fixed_ffhq_warp_agrees_with_per_image_landmark_alignment(
    encoder: IdentityEncoder, celeba_batch: torch.Tensor, celeba_detected_crops: torch.Tensor
) -> None:
    """The fixed FFHQ->ArcFace warp yields the same identity as aligning each face from SCRFD."""
    enc112 = IdentityEncoder(encoder.backbone, 128, MOBILEFACENET_MEAN, MOBILEFACENET_STD, input_layout="arcface112")
    with torch.no_grad():
        fixed = encoder(celeba_batch)
        detected = enc112(celeba_detected_crops)
    agree = (fixed * detected).sum(1)
    others = fixed @ fixed.T - 2 * torch.eye(len(fixed))
    assert (agree > 0.8).all(), agree
    assert agree.min() > others.max() + 0.3, (agree, others.max())


def test_missing_mobilefacenet_weights_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABLESWAP_WEIGHTS", str(tmp_path))
    monkeypatch.delenv("RELIABLESWAP_WEIGHT_MOBILEFACENET_ARCFACE", raising=False)
    with pytest.raises(MissingWeightsError) as err:
        build_mobilefacenet_encoder()
    assert str(tmp_path / "recognition" / "mobilefacenet_arcface.pt") in str(err.value)
    assert "foamliu/MobileFaceNet" in str(err.value)
