"""Input hygiene before pairing, and the independent face check of inputs and results.

Kind 10 of issue 10: evaluation scored non-faces. Inputs that are unreadable, tiny, not square or
faceless are dropped before any pair is drawn, each with its reason (``dropped.csv``), and a
swapper that returns noise gets a face-detection rate of ~0 and no pose/expression numbers.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from reliableswap.evaluation.baselines import CopyTarget
from reliableswap.evaluation.face_check import MIN_INPUT_SIZE, face_check, screen_inputs
from reliableswap.evaluation.metrics import DlibIdRetrieval, ExpressionError, TDDFAPoseError, node_of
from reliableswap.evaluation.protocols import FolderProtocol, NoUsableInputs
from reliableswap.evaluation.runner import run
from reliableswap.io.images import read_rgb, write_image_atomic

pytest.importorskip("dlib")


def _faces(celeba_images: Path, folder: Path, n: int) -> list[str]:
    """Copy ``n`` shared CelebA crops into ``folder``; their file names."""
    names = sorted(p.name for p in celeba_images.iterdir() if p.suffix == ".jpg")[:n]
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(celeba_images / name, folder / name)
    return names


def _bad_inputs(celeba_images: Path, folder: Path) -> dict[str, str]:
    """Write one input of each bad kind into ``folder``; file name -> expected reason prefix."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    face = read_rgb(next(p for p in sorted(celeba_images.iterdir()) if p.suffix == ".jpg"))
    (folder / "broken.png").write_bytes(rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    (folder / "empty.jpg").write_bytes(b"")
    write_image_atomic(folder / "tiny.png", face[::16, ::16])  # a real face, 32x32
    write_image_atomic(folder / "noise.png", rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
    write_image_atomic(folder / "grey.png", np.full((256, 256, 3), 128, np.uint8))
    write_image_atomic(folder / "wide.png", face[:256])  # 512x256
    return {"broken.png": "unreadable", "empty.jpg": "unreadable", "tiny.png": "tiny", "noise.png": "no face",
            "grey.png": "no face", "wide.png": "not square"}


def test_shared_faces_are_found_and_noise_is_not(celeba_images: Path) -> None:
    check = face_check()
    faces = [read_rgb(p) for p in sorted(celeba_images.iterdir())[:10] if p.suffix == ".jpg"]
    assert check.mask(faces).all()
    for size in (64, 128, 256):  # result size does not matter: every image is checked at one size
        assert check.has_face(np.ascontiguousarray(faces[0][:: 512 // size, :: 512 // size]))
    rng = np.random.default_rng(1)
    assert not check.mask([rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(10)]).any()


def test_bad_inputs_are_dropped_with_reasons_and_never_paired(celeba_images: Path, tmp_path: Path) -> None:
    good = _faces(celeba_images, tmp_path / "in", 5)
    bad = _bad_inputs(celeba_images, tmp_path / "in")
    proto = FolderProtocol(tmp_path / "in", num_pairs=8, seed=0)
    dropped = dict(proto.dropped)
    assert set(dropped) == set(bad)
    assert all(dropped[k].startswith(reason) for k, reason in bad.items())
    used = {p.source_key for p in proto.pairs} | {p.target_key for p in proto.pairs}
    assert used <= set(good) and len(proto.pairs) == 8
    assert proto.describe()["num_dropped"] == len(bad) and proto.describe()["min_size"] == MIN_INPUT_SIZE
    # the runner writes them next to the numbers
    cfg = OmegaConf.create({"device": "cpu", "eval": {
        "protocol": node_of(FolderProtocol, input=str(tmp_path / "in"), num_pairs=4, seed=0),
        "batch_size": 4, "save_grid": False, "metrics": []}})
    records = run(cfg, CopyTarget(size=128), tmp_path / "out")
    with (tmp_path / "out" / "dropped.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["key"]: r["reason"] for r in rows} == dropped
    assert records[0]["num_dropped"] == len(bad)


def test_screening_can_be_switched_off_and_all_bad_inputs_say_why(celeba_images: Path, tmp_path: Path) -> None:
    bad = _bad_inputs(celeba_images, tmp_path)
    keys = sorted(bad)
    kept, dropped = screen_inputs(tmp_path, keys, min_size=0, check_faces=False)
    assert {keys[i] for i in kept} == {"noise.png", "grey.png", "tiny.png"}
    with pytest.raises(NoUsableInputs, match=r"0 usable images of 6 \(6 dropped"):
        FolderProtocol(tmp_path, num_pairs=2)


def test_test_py_says_in_one_line_when_no_input_is_usable(celeba_images: Path, tmp_path: Path) -> None:
    _bad_inputs(celeba_images, tmp_path / "in")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "test.py", "baseline=copy_target", "eval=folder", "eval.metrics=[]",
                           f"eval.input={tmp_path / 'in'}", f"output={tmp_path / 'out'}"],
                          cwd=repo, capture_output=True, text=True, timeout=300)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 2, said[-2000:]
    assert "0 usable images of 6 (6 dropped" in said and "Traceback" not in said


class _NoiseOnOdd:
    """A fake swapper: uniform noise for odd pairs of a batch (or all, ``every=True``), else the target."""

    def __init__(self, size: int, every: bool) -> None:
        self.size, self.every, self.name = size, every, "noise"
        self._rng = np.random.default_rng(0)

    def swap(self, source, target):
        import torch

        out = target.clone()
        for i in range(out.shape[0]):
            if self.every or i % 2:
                out[i] = torch.from_numpy(self._rng.uniform(-1, 1, out[i].shape).astype(np.float32))
        return out


def _run_noise(celeba_images: Path, shared_weight, tmp_path: Path, every: bool) -> dict[str, dict]:
    pytest.importorskip("onnxruntime")
    shared_weight("pose_expression/3ddfa_v2_mb05_120x120.onnx")
    cfg = OmegaConf.create({"device": "cpu", "eval": {
        "protocol": node_of(FolderProtocol, input=str(celeba_images), num_pairs=8, seed=0), "batch_size": 4,
        "save_grid": False, "metrics": [node_of(DlibIdRetrieval), node_of(TDDFAPoseError), node_of(ExpressionError)]}})
    return {r["metric"]: r for r in run(cfg, _NoiseOnOdd(256, every), tmp_path)}


def test_noise_results_get_no_faces_and_no_pose_or_expression(celeba_images: Path, shared_weight, tmp_path: Path) -> None:
    r = _run_noise(celeba_images, shared_weight, tmp_path, every=True)
    rate = r["face_detection_rate"]
    assert rate["status"] == "ok" and rate["values"]["rate"] <= 0.05 and rate["num_total"] == 8
    for name in ("pose_error", "expression_error"):
        assert r[name]["status"] == "skipped" and r[name]["values"] == {}
        assert r[name]["num_samples"] == 0 and r[name]["num_total"] == 8
        assert "0 of 8 results have a face" in r[name]["note"]
    ident = r["id_retrieval"]  # keeps its definition (every swap), says how many had a face
    assert ident["num_samples"] == 8 and ident["values"]["results_with_face"] == 0.0


def test_pose_and_expression_score_only_results_with_a_face(celeba_images: Path, shared_weight, tmp_path: Path) -> None:
    r = _run_noise(celeba_images, shared_weight, tmp_path, every=False)  # half copies of the target
    assert r["face_detection_rate"]["values"]["with_face"] == 4.0
    for name in ("pose_error", "expression_error"):
        assert r[name]["status"] == "ok" and (r[name]["num_samples"], r[name]["num_total"]) == (4, 8)
        assert "scored on 4 of 8" in r[name]["note"]
    # only the copied targets were scored: ~zero error, as for copy_target
    assert r["pose_error"]["values"]["l2"] < 0.5 and r["expression_error"]["values"]["l2"] < 0.05
    assert "| pose_error | 3ddfa |" in (tmp_path / "metrics.md").read_text()
