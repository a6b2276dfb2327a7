"""FID / KID arithmetic and the FID Inception layout (reliableswap/evaluation/fid.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reliableswap.evaluation.fid import FIDInception, frechet_distance, kernel_inception_distance


def test_frechet_distance_and_kid() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # equal covariances: FID = |mu1 - mu2|^2
    assert frechet_distance(a, a + 2.0) == pytest.approx(16.0, rel=1e-6)
    b = rng.normal(size=(400, 4))
    kid_same, _ = kernel_inception_distance(a, b, num_subsets=10, subset_size=200)
    kid_far, _ = kernel_inception_distance(a, b + 1.0, num_subsets=10, subset_size=200)
    assert abs(kid_same) < 0.05 < kid_far


def test_fid_inception_layout_gives_pool3_features() -> None:
    net = FIDInception(pretrained=False)
    assert net.net.fc.out_features == 1008 and net.net.AuxLogits is None
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 2048)
