"""The installed commands behave exactly like the ``python ...`` forms (same help, messages, exit codes).

The commands are the ``[project.scripts]`` of ``pyproject.toml``; where this environment has not
installed them (not a ``pip install -e`` of this checkout) the comparison is skipped with the reason,
but the entry functions they name are still checked to exist.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: command -> the python form it must equal (run from the repository root)
FORMS = {
    "reliableswap-train": ["train.py"],
    "reliableswap-swap": ["test.py"],
    "reliableswap-triplets": ["-m", "supervision.build_triplets"],
    "reliableswap-app": ["-m", "reliableswap.app"],
}

#: a usage error of each entry point, refused before any work (one line, exit 2)
USAGE_ERRORS = {
    "reliableswap-train": [],  # python train.py alone: data.root is not set
    "reliableswap-swap": ["model=copy_target"],
    "reliableswap-triplets": ["input=/nonexistent/faces", "output=/tmp/never_written_rs", "num_pairs=1"],
    "reliableswap-app": [],
}


def _scripts() -> dict[str, str]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def test_every_command_names_an_existing_function():
    scripts = _scripts()
    assert set(scripts) == set(FORMS)
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), f"{name} -> {target}"


def _command(name: str) -> Path:
    path = Path(sys.executable).parent / name
    if not path.is_file():
        pytest.skip(f"{name} is not installed in {path.parent} (pip install -e . installs it)")
    return path


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_help_is_the_same_from_any_folder(name, tmp_path):
    installed = _run([str(_command(name)), "--help"], tmp_path)  # not the checkout: configs still found
    python_form = _run([sys.executable, *FORMS[name], "--help"], REPO)
    assert installed.returncode == python_form.returncode == 0, installed.stderr[-1000:]
    assert installed.stdout == python_form.stdout


@pytest.mark.parametrize("name", sorted(FORMS))
def test_usage_errors_are_the_same(name, tmp_path):
    args = [*USAGE_ERRORS[name], f"hydra.run.dir={tmp_path / 'run'}"] if name != "reliableswap-triplets" \
        else USAGE_ERRORS[name]
    installed = _run([str(_command(name)), *args], tmp_path)
    python_form = _run([sys.executable, *FORMS[name], *args], REPO)
    assert installed.returncode == python_form.returncode == 2, (installed.stderr[-1500:], python_form.stderr[-1500:])
    last = [p.stderr.strip().splitlines()[-1] for p in (installed, python_form)]
    assert last[0] == last[1] and "error" in last[0]
    assert "Traceback" not in installed.stderr
