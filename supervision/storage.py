"""Crash-safe output of the triplet builder.

Invariants, whatever moment the process is killed at:

- a pair folder ``<out>/<pair_id>/`` exists only complete: files are written into
  ``<out>/.tmp-<pair_id>/`` and the folder is renamed into place (atomic on one filesystem);
- ``triplets.csv`` gets a pair's row only after the rename; on resume, a folder without a row (a
  kill between rename and append) is removed and the pair redone, and leftover ``.tmp-*`` folders
  of this shard are removed;
- rows are appended with :func:`reliableswap.io.csv_rows.append_row` (one ``write`` under an
  exclusive ``flock``), so concurrent shards can share the CSV files; the ``triplets.csv`` format
  is :mod:`reliableswap.io.triplets_csv`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from reliableswap.io.csv_rows import append_row, read_rows
from reliableswap.io.triplets_csv import append_triplet, triplets_path

log = logging.getLogger(__name__)

FAILURES_CSV = "failures.csv"
FAILURE_FIELDS = ("pair_id", "stage", "reason")
TMP_PREFIX = ".tmp-"


class TripletStore:
    """The output folder of a build: finished pairs, failures, and atomic pair commits."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.triplets_csv = triplets_path(self.root)
        self.failures_csv = self.root / FAILURES_CSV
    def finished_ids(self) -> set[str]:
        return {r["pair_id"] for r in read_rows(self.triplets_csv)}

    def failed_ids(self) -> set[str]:
        return {r["pair_id"] for r in read_rows(self.failures_csv)}

    def recover(self, owned_ids: set[str]) -> int:
        """Remove half-done work of the pairs in ``owned_ids`` (this shard's); returns how many."""
        finished = self.finished_ids()
        removed = 0
        for path in self.root.iterdir():
            if not path.is_dir():
                continue
            name = path.name
            pair_id = name[len(TMP_PREFIX):] if name.startswith(TMP_PREFIX) else name
            if pair_id not in owned_ids:
                continue
            if name.startswith(TMP_PREFIX) or pair_id not in finished:
                shutil.rmtree(path)
                removed += 1
        if removed:
            log.info("resume: removed %d unfinished pair folder(s)", removed)
        return removed

    def staging_dir(self, pair_id: str) -> Path:
        path = self.root / f"{TMP_PREFIX}{pair_id}"
        if path.exists():
            shutil.rmtree(path)
        path.mkdir()
        return path

    def commit(self, pair_id: str, staging: Path, row: Mapping[str, object]) -> Path:
        """Rename the staged folder into place, then record its ``triplets.csv`` row."""
        final = self.root / pair_id
        if final.exists():  # a previous, unrecorded attempt: replace it
            shutil.rmtree(final)
        os.replace(staging, final)
        append_triplet(self.root, row)
        return final

    def record_failure(self, pair_id: str, stage: str, reason: str) -> None:
        append_row(self.failures_csv, FAILURE_FIELDS, {"pair_id": pair_id, "stage": stage, "reason": reason})
