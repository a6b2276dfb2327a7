"""The one atomic write: permissions follow the umask, a failed write leaves nothing behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reliableswap.io.atomic import atomic_open, write_bytes_atomic, write_text_atomic


@pytest.fixture
def umask():
    """Set a umask for the test and restore the previous one."""
    previous = os.umask(0o022)
    yield lambda value: os.umask(value)
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_file_mode_follows_the_umask_like_open(tmp_path, umask, mask, expected):
    umask(mask)
    write_text_atomic(tmp_path / "report.json", "{}")
    with open(tmp_path / "plain.json", "w") as handle:  # what a plain open() gives
        handle.write("{}")
    assert _mode(tmp_path / "report.json") == expected == _mode(tmp_path / "plain.json")


def test_writes_text_and_bytes_and_creates_the_folder(tmp_path):
    assert write_text_atomic(tmp_path / "a" / "b.txt", "héllo\n").read_text(encoding="utf-8") == "héllo\n"
    assert write_bytes_atomic(tmp_path / "c.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    with atomic_open(tmp_path / "d.csv", "w", newline="") as handle:
        handle.write("x,y\r\n")
    assert (tmp_path / "d.csv").read_bytes() == b"x,y\r\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b.txt", "c.bin", "d.csv"]


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "index.csv", "old\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_open(target, "w") as handle:
            handle.write("new, but half")
            raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["index.csv"]


def test_failure_before_the_first_write_leaves_no_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_open(tmp_path / "grid.png", "wb"):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_temporary_is_a_dot_file_beside_the_destination(tmp_path):
    with atomic_open(tmp_path / "out.json", "w") as handle:
        handle.write("{}")
        (tmp,) = [p for p in tmp_path.iterdir()]
        assert tmp.name.startswith(".out.json.") and tmp.suffix == ".tmp"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_rejects_append_and_read_modes(tmp_path):
    with pytest.raises(ValueError, match="whole files"):
        with atomic_open(tmp_path / "x", "a"):  # type: ignore[arg-type]
            pass
