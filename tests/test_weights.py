"""Weight registry: files shipped in the repository, sha256 checks, and clear errors."""

from __future__ import annotations

import pytest

from reliableswap import weights


def test_registered_sha256_is_checked(tmp_path, monkeypatch):
    good = tmp_path / "w.pt"
    good.write_bytes(b"reference weights")
    entry = weights.WeightEntry("toy_ref", "assets/toy.pt", "repo", "made here", "toy", sha256=weights.file_sha256(good))
    monkeypatch.setitem(weights.REGISTRY, "toy_ref", entry)
    assert weights.verify("toy_ref", good) == good
    bad = tmp_path / "other.pt"
    bad.write_bytes(b"something else")
    with pytest.raises(weights.ChecksumError, match="differs from the registry"):
        weights.verify("toy_ref", bad)
    with pytest.raises(weights.MissingWeightsError, match="toy.pt"):
        weights.verify("toy_ref")  # not shipped: the error names the expected path under the repo


def test_the_demo_reference_is_shipped_with_its_checksum():
    entry = weights.get("demo_reference")
    assert entry.root == "repo" and entry.sha256 and "study_cycle_vs_vanilla" in entry.origin
    path = weights.verify("demo_reference")
    assert path.stat().st_size < 8 * 2**20  # a few MB in the repository
