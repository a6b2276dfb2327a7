"""Runner outputs, and the sanity check of the whole metric suite on real faces.

The sanity tests are the proof that the metrics measure what they claim: on 24 shared CelebA pairs
(offline judges: dlib descriptor, 3DDFA-V2), copying the target must give ~zero pose/expression
error and chance-level identity retrieval, copying the source must give ~perfect retrieval and a
large pose error. A metric that ignores its input, compares the wrong pair, or ranks backwards
fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from reliableswap.evaluation.baselines import CopySourceAligned, CopyTarget
from reliableswap.evaluation.metrics import (
    DlibIdRetrieval,
    EncoderIdRetrieval,
    ExpressionError,
    FixerSimilarity,
    TDDFAPoseError,
    node_of,
)
from reliableswap.evaluation.protocols import FolderProtocol
from reliableswap.evaluation.runner import run
from reliableswap.io.images import write_image_atomic

NUM_PAIRS = 24


def test_run_writes_jsonl_markdown_grid_and_tensorboard(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    faces = tmp_path / "faces"
    for i in range(6):
        write_image_atomic(faces / f"{i}.png", np.full((48, 48, 3), rng.integers(0, 255, 3), dtype=np.uint8))
    cfg = OmegaConf.create({"device": "cpu", "ckpt_path": "runs/x/last.ckpt", "eval": {
        "protocol": node_of(FolderProtocol, input=str(faces), num_pairs=5, seed=0, min_size=0, check_faces=False),
        "batch_size": 2,
        "tensorboard_dir": str(tmp_path / "tb"), "grid_samples": 4,
        "metrics": [node_of(EncoderIdRetrieval, encoder={"_target_": "torch.nn.Flatten"}),
                    node_of(FixerSimilarity, encoder=None)]}})
    out = tmp_path / "out"
    records = run(cfg, CopySourceAligned(size=32), out)
    lines = [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines == json.loads(json.dumps(records)) and len(lines) == 3
    rate, first = lines[0], lines[1]
    assert rate["metric"] == "face_detection_rate" and rate["values"]["rate"] == 0.0  # flat colours
    assert rate["num_total"] == 5
    assert first["metric"] == "id_retrieval" and first["values"]["top1"] == 1.0
    assert first["model"] == "copy_source_aligned" and first["checkpoint"] == "runs/x/last.ckpt"
    assert first["protocol"]["name"] == "folder" and first["seed"] == 0 and first["num_samples"] == 5
    assert first["values"]["results_with_face"] == 0.0 and "0 of 5 results have a face" in first["note"]
    assert lines[2]["status"] == "skipped" and "not configured" in lines[2]["note"]
    md = (out / "metrics.md").read_text()
    assert "| id_retrieval | encoder |" in md and "seed=0" in md and "skipped" in md
    from reliableswap.io.images import read_rgb

    grid = read_rgb(out / "samples.png")  # + a header strip (pair ids) and a label column
    assert 3 * 32 < grid.shape[0] < 3 * 32 + 32 and 4 * 32 < grid.shape[1] < 4 * 32 + 100
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


SANITY_METRICS = [node_of(DlibIdRetrieval), node_of(TDDFAPoseError), node_of(ExpressionError)]


def _sanity(celeba_images: Path, shared_weight, tmp_path: Path, swapper) -> dict[str, dict[str, float]]:
    pytest.importorskip("dlib")
    pytest.importorskip("onnxruntime")
    shared_weight("pose_expression/3ddfa_v2_mb05_120x120.onnx")
    cfg = OmegaConf.create({"device": "cpu", "eval": {
        "protocol": node_of(FolderProtocol, input=str(celeba_images), num_pairs=NUM_PAIRS, seed=0),
        "batch_size": 12, "save_grid": False, "metrics": SANITY_METRICS}})
    records = run(cfg, swapper, tmp_path)
    assert all(r["status"] == "ok" and r["num_samples"] == r["num_total"] == NUM_PAIRS for r in records)
    assert records[0]["metric"] == "face_detection_rate" and records[0]["values"]["rate"] == 1.0
    return {r["metric"]: r["values"] for r in records}


def test_sanity_copy_target(celeba_images: Path, shared_weight, tmp_path: Path) -> None:
    v = _sanity(celeba_images, shared_weight, tmp_path, CopyTarget(size=256))
    assert v["id_retrieval"]["num_identities"] == NUM_PAIRS
    # chance is 1/24; allow a few lucky look-alikes but nothing near real retrieval
    assert v["id_retrieval"]["top1"] <= 0.2
    assert v["id_retrieval"]["distance_to_source"] > 0.7  # different people (dlib: > 0.6)
    assert v["pose_error"]["l2"] < 0.5 and v["expression_error"]["l2"] < 0.05


def test_sanity_copy_source_aligned(celeba_images: Path, shared_weight, tmp_path: Path) -> None:
    v = _sanity(celeba_images, shared_weight, tmp_path, CopySourceAligned(size=256))
    assert v["id_retrieval"]["top1"] >= 0.95 and v["id_retrieval"]["distance_to_source"] < 0.1
    assert v["pose_error"]["l2"] > 8.0 and v["pose_error"]["yaw"] > 4.0
    assert v["expression_error"]["l2"] > 1.0
