"""Provenance of an evaluation: pairs.csv, its hash and the versions in every metrics.jsonl row,
and the labelled sample grid (kind 10 of issue 10)."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

import reliableswap
from reliableswap.evaluation.baselines import CopyTarget
from reliableswap.evaluation.metrics import node_of
from reliableswap.evaluation.protocols import FolderProtocol
from reliableswap.evaluation.provenance import PAIR_COLUMNS, git_commit
from reliableswap.evaluation.runner import run
from reliableswap.io.images import read_rgb

pytest.importorskip("dlib")


def _head() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(reliableswap.__file__).parents[1],
                             capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def test_metrics_jsonl_records_input_pairs_hash_versions_and_commit(celeba_images: Path, tmp_path: Path) -> None:
    faces = tmp_path / "my faces"
    faces.mkdir()
    for p in sorted(celeba_images.iterdir())[:6]:
        shutil.copyfile(p, faces / p.name)
    cfg = OmegaConf.create({"device": "cpu", "eval": {
        "protocol": node_of(FolderProtocol, input=str(faces), num_pairs=5, seed=2), "batch_size": 5,
        "grid_samples": 3, "metrics": []}})
    out = tmp_path / "out"
    run(cfg, CopyTarget(size=64), out)
    rows = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows and rows[0]["metric"] == "face_detection_rate"
    for r in rows:
        assert r["input_path"] == str(faces.resolve())
        assert r["pairs_sha256"] == hashlib.sha256((out / "pairs.csv").read_bytes()).hexdigest()
        assert r["versions"] == {"torch": torch.__version__, "reliableswap": reliableswap.__version__}
        assert r["git_commit"] == _head()
    with (out / "pairs.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == PAIR_COLUMNS
        pairs = list(reader)
    proto = FolderProtocol(faces, num_pairs=5, seed=2)
    assert [(int(p["pair_id"]), p["source_key"], p["target_key"]) for p in pairs] == [
        (i, p.source_key, p.target_key) for i, p in enumerate(proto.pairs)]
    assert (out / "dropped.csv").read_text() == "key,reason\n"  # written even when nothing was dropped
    assert rows[0]["pairs_sha256"] in (out / "metrics.md").read_text()


def test_sample_grid_rows_and_columns_are_labelled(celeba_images: Path, tmp_path: Path) -> None:
    cfg = OmegaConf.create({"device": "cpu", "eval": {
        "protocol": node_of(FolderProtocol, input=str(celeba_images), num_pairs=3, seed=0), "batch_size": 3,
        "grid_samples": 3, "metrics": [], "face_check": False}})
    run(cfg, CopyTarget(size=128), tmp_path)
    grid = read_rgb(tmp_path / "samples.png")
    head, label = grid.shape[0] - 3 * 128, grid.shape[1] - 3 * 128
    assert 0 < head < 40 and 40 < label < 120
    for strip in (grid[:head], grid[:, :label]):  # dark label cells with white text drawn in them
        assert (strip == 40).all(axis=-1).mean() > 0.5 and (strip > 200).all(axis=-1).any()
    # each of the three row labels is drawn: text pixels in each row's label cell
    for k in range(3):
        assert (grid[head + k * 128: head + (k + 1) * 128, :label] > 200).any()


def test_git_commit_is_none_outside_a_checkout(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    commit = git_commit()
    assert commit is None or (len(commit) == 40 and all(c in "0123456789abcdef" for c in commit))
