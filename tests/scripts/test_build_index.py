"""scripts/build_index.py on a folder of good, odd and broken files."""

from __future__ import annotations

import csv
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
from PIL import Image

from reliableswap.io.index import read_index
from reliableswap.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "build_index.py"


@pytest.fixture(scope="module")
def build_index() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_index", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def messy(tmp_path: Path, celeba_images: Path) -> Path:
    """Person folders with real faces, odd-but-valid images and broken files."""
    root = tmp_path / "faces"
    faces = sorted(celeba_images.glob("*.jpg"))[:2]
    (root / "alice").mkdir(parents=True)
    (root / "bob").mkdir()
    shutil.copy(faces[0], root / "alice" / "real.jpg")
    shutil.copy(faces[1], root / "bob" / "real.jpg")
    data = faces[0].read_bytes()
    (root / "alice" / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "bob" / "text.jpg").write_text("this is a text file, not a JPEG\n")
    ramp = np.tile(np.linspace(0, 255, 128, dtype=np.uint8), (128, 1))
    Image.fromarray(ramp, "L").save(root / "bob" / "gray.png")
    rgba = np.dstack([np.stack([ramp] * 3, axis=2), np.full((128, 128), 200, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(root / "alice" / "rgba.png")
    assert cv2.imwrite(str(root / "carol_16bit.png"), (np.stack([ramp] * 3, axis=2).astype(np.uint16) * 257))
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(root / "bob" / "tiny.png")
    (root / "alice" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def _report(path: Path) -> dict[str, str]:
    with path.open(newline="") as handle:
        return {row["path"]: row["reason"] for row in csv.DictReader(handle)}


def test_indexes_good_and_reports_bad(build_index: ModuleType, messy: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "index.csv", tmp_path / "skipped.csv"
    code = build_index.main([str(messy), "--output", str(out), "--report", str(report), "--no-progress"])
    assert code == 0
    rows = {r.path: r for r in read_index(out)}
    assert set(rows) == {"alice/real.jpg", "bob/real.jpg", "bob/gray.png", "alice/rgba.png", "carol_16bit.png"}
    assert rows["alice/real.jpg"].identity == "alice" and rows["carol_16bit.png"].identity == "carol_16bit"
    assert (rows["alice/real.jpg"].width, rows["alice/real.jpg"].height) == (512, 512)
    assert all(r.quality is not None and r.quality >= 0 for r in rows.values())  # sharpness by default
    # the real photos are sharper than a smooth ramp
    assert rows["alice/real.jpg"].quality > rows["bob/gray.png"].quality
    reasons = _report(report)
    assert set(reasons) == {"alice/truncated.jpg", "bob/text.jpg", "bob/tiny.png"}
    assert "truncated" in reasons["alice/truncated.jpg"]
    assert "not an image" in reasons["bob/text.jpg"]
    assert "too small" in reasons["bob/tiny.png"]


def test_check_faces_skips_non_faces(build_index: ModuleType, messy: Path, tmp_path: Path) -> None:
    pytest.importorskip("dlib", reason="dlib not installed")
    out, report = tmp_path / "index.csv", tmp_path / "skipped.csv"
    code = build_index.main(
        [str(messy), "-o", str(out), "--report", str(report), "--check-faces", "--no-progress"]
    )
    assert code == 0
    rows = read_index(out)
    assert {r.path for r in rows} == {"alice/real.jpg", "bob/real.jpg"}
    assert all(r.quality is not None and r.quality > 0 for r in rows)  # detection scores
    reasons = _report(report)
    assert reasons["bob/gray.png"] == "no face" and reasons["carol_16bit.png"] == "no face"
    assert "truncated" in reasons["alice/truncated.jpg"]


def test_fatal_errors(build_index: ModuleType, tmp_path: Path) -> None:
    assert build_index.main([str(tmp_path / "missing"), "-o", str(tmp_path / "i.csv"), "--no-progress"]) == 2
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.jpg").write_text("nope")
    assert build_index.main([str(tmp_path / "junk"), "-o", str(tmp_path / "i.csv"), "--no-progress"]) == 1
    assert not (tmp_path / "i.csv").exists()


def test_subprocess_run_and_help(messy: Path, tmp_path: Path) -> None:
    help_run = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    for option in ("--output", "--check-faces", "--min-size", "--report", "--quality"):
        assert option in help_run.stdout
    out = tmp_path / "index.csv"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), str(messy), "--output", str(out), "--min-size", "16"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "indexed 6 images" in run.stderr and "skipped 2" in run.stderr
    assert len(read_index(out)) == 6


def test_a_decompression_bomb_is_skipped_with_its_reason(build_index: ModuleType, tmp_path: Path, png_bomb) -> None:
    root = tmp_path / "faces"
    png_bomb(root / "alice" / "bomb.png")
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(root / "alice" / "ok.png")
    out, report = tmp_path / "index.csv", tmp_path / "skipped.csv"
    assert build_index.main([str(root), "-o", str(out), "--report", str(report), "--no-progress"]) == 0
    assert [r.path for r in read_index(out)] == ["alice/ok.png"]
    assert _report(report)["alice/bomb.png"].startswith("too many pixels (20000x20000")
