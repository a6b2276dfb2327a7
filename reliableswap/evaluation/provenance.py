"""Where an evaluation's numbers come from: the files next to ``metrics.jsonl`` and its provenance.

- ``pairs.csv``: the sampled pair list (``pair_id, source_key, source_id, target_key, target_id``;
  ``pair_id`` is the pair's position, the number above its column in ``samples.png``);
- ``dropped.csv``: input images left out before pairing (``key, reason``), header only when none;
- :func:`provenance`: the fields every ``metrics.jsonl`` row carries -- the input's absolute path,
  the SHA-256 of ``pairs.csv``'s bytes (``sha256sum pairs.csv`` gives the same), the torch and
  reliableswap versions and the git commit of the code (``null`` outside a git checkout).
"""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reliableswap.evaluation.protocols import EvalPair, Protocol

__all__ = ["PAIR_COLUMNS", "git_commit", "provenance", "write_dropped", "write_pairs"]

PAIR_COLUMNS = ("pair_id", "source_key", "source_id", "target_key", "target_id")


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """Write a CSV atomically; returns the bytes written."""
    from reliableswap.io.atomic import write_bytes_atomic

    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    write_bytes_atomic(path, data)
    return data


def write_pairs(path: Path, pairs: Sequence[EvalPair]) -> str:
    """Write ``pairs.csv``; returns the SHA-256 (hex) of its bytes."""
    rows = [(i, p.source_key, p.source_id, p.target_key, p.target_id) for i, p in enumerate(pairs)]
    return hashlib.sha256(_write_csv(path, PAIR_COLUMNS, rows)).hexdigest()


def write_dropped(path: Path, dropped: Sequence[tuple[str, str]]) -> None:
    """Write ``dropped.csv`` (``key, reason`` per input image left out before pairing)."""
    _write_csv(path, ("key", "reason"), list(dropped))


def git_commit(repo: Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the code's checkout, ``None`` when not in git (or no git)."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def provenance(protocol: Protocol, pairs_sha256: str) -> dict[str, Any]:
    """The provenance fields of every record (see module doc)."""
    import torch

    import reliableswap

    return {"input_path": protocol.input_path(), "pairs_sha256": pairs_sha256, "num_dropped": len(protocol.dropped),
            "versions": {"torch": torch.__version__, "reliableswap": reliableswap.__version__},
            "git_commit": git_commit()}
