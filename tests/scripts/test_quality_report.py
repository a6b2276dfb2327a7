"""scripts/quality_report.py: per-check rejections at the build's thresholds or overrides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reliableswap.io.csv_rows import append_row
from supervision.storage import QUALITY_FIELDS

REPO = Path(__file__).resolve().parents[2]


def _report(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/quality_report.py", str(out), *extra], cwd=REPO,
                          capture_output=True, text=True)


def _quality(out: Path) -> None:
    out.mkdir()
    rows = [("p1", "AB", 30.0, 0.8), ("p1", "BA", 70.0, 0.8), ("p2", "AB", 20.0, 0.2), ("p2", "BA", 10.0, 0.9)]
    for pair, direction, step, mouth in rows:
        append_row(out / "quality.csv", QUALITY_FIELDS, {
            "pair_id": pair, "direction": direction, "accepted": 0, "checks": "colour_step",
            "id_sim_source": 0.7, "id_sim_target": 0.1, "fold_fraction": 0.0, "warp_stretch": 3.0,
            "occlusion_a": 0.1, "occlusion_b": 0.1, "colour_step": step, "mouth_iou": mouth})


def test_counts_and_recomputed_acceptance(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _quality(out)
    proc = _report(out)  # no logs/: the repo defaults (colour 55, mouth 0.4)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "accepted_pairs_at_these_thresholds=0" in lines[0]
    colour = next(line for line in lines if "check=colour_step" in line)
    assert "rejected_images=1 rejected_pairs=1" in colour
    relaxed = _report(out, "--set", "max_colour_step=80", "min_mouth_consistency=null").stdout.splitlines()[0]
    assert "accepted_pairs_at_these_thresholds=2" in relaxed


def test_bad_overrides_are_one_line_errors(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _quality(out)
    for bad in ("max_colour_step=abc", "blend_levels=3", "max_colour_step"):
        proc = _report(out, "--set", bad)
        assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert _report(tmp_path / "missing").returncode == 2
