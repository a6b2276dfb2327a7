"""Artifact metrics of supervision.evaluate against ground-truth label maps (synthetic build)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from reliableswap.faces.parsing.labels import ID
from reliableswap.io.csv_rows import append_row
from reliableswap.io.images import write_image_atomic
from reliableswap.io.triplets_csv import TRIPLET_FIELDS, image_name
from supervision.evaluate import artifact_metrics, main
from supervision.maps import save_maps

S = 64


def _build(tmp_path, mirrored_band: bool = False):
    out, gt = tmp_path / "out", tmp_path / "gt"
    (out / "p1").mkdir(parents=True)
    gt.mkdir()
    grey = np.full((S, S, 3), 128, np.uint8)
    for column in ("source", "target", "output_st", "output_ts"):
        write_image_atomic(out / "p1" / image_name(column), grey, quality=100)
    target = np.full((S, S), ID["skin"], np.uint8)
    target[16:24, 16:48] = ID["hair"]  # a fringe: 8 of the 32 mask rows
    source = np.full((S, S), ID["skin"], np.uint8)
    Image.fromarray(target).save(gt / "b.png")
    Image.fromarray(source).save(gt / "a.png")
    mask = torch.zeros(2, 1, S, S)
    mask[:, :, 16:48, 16:48] = 1.0
    yy, xx = torch.meshgrid(torch.arange(float(S)), torch.arange(float(S)), indexing="ij")
    grid = torch.stack([xx, yy], -1).expand(2, -1, -1, -1).clone()
    if mirrored_band:
        grid[0, :, 24:32, 0] = 55.0 - grid[0, :, 24:32, 0]  # x reversed inside a band: a fold
    save_maps(out / "p1" / "maps.npz", {"mask": mask, "drop": torch.zeros_like(mask), "grid": grid})
    row = {"pair_id": "p1", "source_image": "a.jpg", "target_image": "b.jpg",
           **{k: f"p1/{image_name(k)}" for k in ("source", "target", "output_st", "output_ts")}}
    append_row(out / "triplets.csv", TRIPLET_FIELDS, row)
    return out, gt


def test_occluder_share_fold_and_haze(tmp_path):
    out, gt = _build(tmp_path, mirrored_band=True)
    report = artifact_metrics(out, gt)
    assert report.swaps == 2
    # AB covers the target's fringe (8/32 of the mask); BA's target is A (no occluders)
    assert report.occluder_target == pytest.approx(0.125, abs=1e-3)
    # BA's source is B: its fringe is sampled through the identity grid; AB's source A has none
    assert report.occluder_source == pytest.approx(0.125, abs=0.02)
    assert report.swaps_over_1pct == 2
    assert report.swaps_with_fold == 1 and report.fold_area > 0.05
    assert report.haze == pytest.approx(0.0, abs=0.5)


def test_cli_needs_masks_for_artifacts_only(tmp_path, capsys):
    out, gt = _build(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main([str(out), "--artifacts-only"])
    assert exc.value.code == 2
    report = main([str(out), "--masks", str(gt), "--artifacts-only", "--json", str(tmp_path / "r.json")])
    assert report.swaps_with_fold == 0
    assert "eval=triplet_artifacts swaps=2" in capsys.readouterr().out
    assert (tmp_path / "r.json").is_file()


def test_a_build_without_maps_is_explained(tmp_path):
    out, gt = _build(tmp_path)
    (out / "p1" / "maps.npz").unlink()
    with pytest.raises(ValueError, match="save_maps=true"):
        artifact_metrics(out, gt)
