"""HopeNet: official key layout, bin decoding, safe loading of a legacy-format state dict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from reliableswap import weights
from reliableswap.evaluation.hopenet import HopeNet, HopeNetPoseEstimator, bins_to_degrees, hopenet_crop_box
from reliableswap.manifests import count_manifest_params, diff_state_dict


def test_hopenet_matches_manifest(manifest) -> None:
    entry = manifest("hopenet_resnet50_66bins")
    model = HopeNet()
    diff = diff_state_dict(model.state_dict(), entry)
    assert diff.ok, str(diff)
    assert sum(p.numel() for p in model.parameters()) == count_manifest_params(entry) == entry["num_params"]


def test_bins_to_degrees_expected_value() -> None:
    logits = torch.full((3, 66), -1e4)
    for row, k in enumerate((0, 33, 65)):
        logits[row, k] = 0.0
    assert torch.allclose(bins_to_degrees(logits), torch.tensor([-99.0, 0.0, 96.0]))
    # uniform distribution: mean index 32.5 -> -1.5 degrees
    assert bins_to_degrees(torch.zeros(66)).item() == pytest.approx(3 * 32.5 - 99)


def test_crop_box_follows_deep_head_pose_margins() -> None:
    assert hopenet_crop_box((100, 100, 200, 200)) == (50.0, 25.0, 250.0, 225.0)


def test_missing_hopenet_weights_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELIABLESWAP_WEIGHT_HOPENET", str(tmp_path / "nope.pkl"))
    with pytest.raises(weights.MissingWeightsError, match="nope.pkl"):
        HopeNetPoseEstimator()


def test_legacy_pickled_state_dict_loads_with_weights_only(tmp_path: Path) -> None:
    """The release is a pre-zip ``torch.save`` of a state dict; weights_only=True must read it."""
    torch.manual_seed(0)
    model = HopeNet().eval()
    path = tmp_path / "hopenet_robust_alpha1.pkl"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=False)
    est = HopeNetPoseEstimator(path)
    img = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    angles = est.angles_batch([img])
    assert angles.shape == (1, 3) and np.all(np.abs(angles) <= 99)
    crop = torch.from_numpy(est._crop(img, None)).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        ref = model.angles((crop - est._mean) / est._std).double().numpy()[0]
    np.testing.assert_allclose(angles[0], ref, atol=1e-4)
