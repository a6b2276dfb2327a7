"""The training-step benchmark runs a real iteration and prints its machine-readable line."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_train_step.py"


def test_bench_train_step_prints_one_parsable_line(shared_weight, capsys):
    shared_weight("recognition/mobilefacenet_arcface.pt")
    spec = importlib.util.spec_from_file_location("bench_train_step", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    line = bench.main(["--size", "64", "--batch", "2", "--width", "0.0625", "--d-width", "8", "--warmup", "1", "--repeats", "2"])
    assert line in capsys.readouterr().out
    fields = dict(re.findall(r"(\w+)=(\S+)", line))
    assert fields["bench"] == "train_step" and fields["batch"] == "2" and fields["size"] == "64"
    assert float(fields["median_s"]) > 0
    assert float(fields["img_per_s"]) == pytest.approx(2 / float(fields["median_s"]), rel=1e-2)


def test_bench_train_step_takes_an_experiments_recipe(shared_weight, capsys):
    shared_weight("recognition/mobilefacenet_arcface.pt")
    spec = importlib.util.spec_from_file_location("bench_train_step", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    line = bench.main(["--experiment", "cpu_study_vanilla", "--size", "64", "--batch", "2", "--warmup", "1", "--repeats", "1"])
    fields = dict(re.findall(r"(\w+)=(\S+)", line))
    assert fields["experiment"] == "cpu_study_vanilla" and fields["width"] == "0.125" and fields["size"] == "64"
    assert fields["compile"] == "false" and float(fields["median_s"]) > 0
