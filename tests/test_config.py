"""reliableswap.config: one-line refusals of command lines Hydra would answer with a traceback.

Issue 10, kind 13: a non-ASCII path typed without quotes fails in Hydra's lexer with no hint;
every entry point must say how to quote it (exit 2, one line).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reliableswap.config import non_ascii_error

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["/photos/Zoë.jpg", "/p/日本/写真.png", "café", "/p/Ärger's.png"])
def test_unquoted_non_ascii_value_gets_the_quoted_form(value):
    msg = non_ascii_error(["device=cpu", f"source={value}"], "python test.py")
    assert msg is not None and "\n" not in msg and value in msg
    quoted = msg.split("write ", 1)[1].split(" (the outer", 1)[0]
    inner = quoted[1:-1]  # what the shell hands over
    assert non_ascii_error([inner], "python test.py") is None  # the suggested form parses


@pytest.mark.parametrize("ok", ['source="/photos/Zoë.jpg"', "source='/p/日本.png'", "source=/photos/plain.jpg",
                                "--help", "name_without_value"])
def test_quoted_or_ascii_overrides_pass(ok):
    assert non_ascii_error([ok], "python test.py") is None


@pytest.mark.parametrize("entry", [["test.py"], ["train.py"], ["-m", "supervision.build_triplets"]])
def test_entry_points_refuse_unquoted_non_ascii_in_one_line(entry, tmp_path):
    proc = subprocess.run([sys.executable, *entry, f"paths.output_dir={tmp_path}/Zoë"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"'paths.output_dir=\"{tmp_path}/Zoë\"'" in lines[0]
    assert "Traceback" not in proc.stderr


def test_the_quoted_form_reaches_the_app(tmp_path):
    proc = subprocess.run([sys.executable, "test.py", "baseline=copy_target", f'source="{tmp_path}/Zoë.jpg"'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "missing target=..." in proc.stdout + proc.stderr  # parsed; next problem said
