"""The CPU study's --quick mode: the whole pipeline (split, triplets, both arms, monitor, report)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("celeba_images")
def test_quick_study_runs_both_arms_and_reports_the_monitor_metrics(tmp_path, shared_weight):
    pytest.importorskip("dlib")
    pytest.importorskip("matplotlib")
    shared_weight("recognition/mobilefacenet_arcface.pt")
    sys.path.insert(0, str(REPO / "scripts"))
    import study_cycle_vs_vanilla as study

    line = study.main(["--quick", "--out", str(tmp_path / "work"), "--results", str(tmp_path / "results")])
    assert line.startswith("study=cpu_study arms=vanilla,cycle seeds=42 steps=2 records=6")
    rows = [json.loads(x) for x in (tmp_path / "results" / "cpu_study.jsonl").read_text().splitlines()]
    assert sorted({(r["arm"], r["step"]) for r in rows}) == [(a, s) for a in ("cycle", "vanilla") for s in (0, 1, 2)]
    for r in rows:
        assert 0.0 <= r["id_top1"] <= 1.0 and r["id_distance_to_source"] > 0 and r["identity_sensitivity"] > 0
    report = (tmp_path / "results" / "cpu_study.md").read_text()
    assert "**Answer.**" in report and "Copy-target baseline" in report
    assert "python train.py experiment=cpu_study_cycle" in report
    for key in ("id_top1", "id_distance_to_source", "identity_sensitivity"):
        assert (tmp_path / "results" / f"cpu_study_{key}.png").stat().st_size > 1000
    # resumable: a second call keeps the finished runs and writes the same records
    study.main(["--quick", "--out", str(tmp_path / "work"), "--results", str(tmp_path / "results")])
    again = [json.loads(x) for x in (tmp_path / "results" / "cpu_study.jsonl").read_text().splitlines()]
    assert again == rows
