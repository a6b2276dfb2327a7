"""Crash-safe output of the triplet builder.

Invariants, whatever moment the process is killed at:

- a pair folder ``<out>/<pair_id>/`` exists only complete: files are written into
  ``<out>/.tmp-<pair_id>/`` and the folder is renamed into place (atomic on one filesystem);
- ``triplets.csv`` gets a pair's row only after the rename; on resume, a folder without a row (a
  kill between rename and append) is removed and the pair redone, and leftover ``.tmp-*`` folders
  of this shard are removed;
- one build per output and shard at a time: :meth:`TripletStore.lock` holds an exclusive,
  non-blocking ``flock`` on ``<out>/.lock-<i>of<n>`` for the whole run (released by the kernel
  when the process dies, so a killed run never leaves a stale lock); a second identical run is
  refused with :class:`OutputBusyError` before it reads or writes anything;
- ``triplets.csv`` never gets a pair id twice: :meth:`TripletStore.commit` refuses an id that
  is already recorded (:class:`DuplicatePairError`);
- rows are appended with :func:`reliableswap.io.csv_rows.append_row` (one ``write`` under an
  exclusive ``flock``), so concurrent shards can share the CSV files; the ``triplets.csv`` format
  is :mod:`reliableswap.io.triplets_csv`.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from reliableswap.io.csv_rows import append_row, read_rows
from reliableswap.io.triplets_csv import append_triplet, triplets_path

log = logging.getLogger(__name__)

FAILURES_CSV = "failures.csv"
#: ``check``: the quality checks that rejected the pair, ``;``-separated (empty for other stages);
#: ``reason``: one reason per failing check and direction, ``;``-separated.
FAILURE_FIELDS = ("pair_id", "stage", "check", "reason")
#: Outputs of builds made before the ``check`` column existed keep their header.
LEGACY_FAILURE_FIELDS = ("pair_id", "stage", "reason")
#: ``quality.csv``: one row per synthesized image (accepted or not) with every quality measurement,
#: for calibrating thresholds. A resumed run may repeat the rows of a pair it redoes: readers keep
#: the last row per (pair_id, direction).
QUALITY_CSV = "quality.csv"
QUALITY_METRICS = ("id_sim_source", "id_sim_target", "face_score", "fold_fraction", "warp_stretch",
                   "occlusion_a", "occlusion_b", "colour_step", "mouth_iou", "mouth_open_a", "mouth_open_b")
QUALITY_FIELDS = ("pair_id", "direction", "accepted", "checks", *QUALITY_METRICS)
TMP_PREFIX = ".tmp-"
LOCK_PREFIX = ".lock-"


class OutputBusyError(RuntimeError):
    """Another process is building the same output and shard."""


class DuplicatePairError(ValueError):
    """A pair id that ``triplets.csv`` already records was committed again."""


class TripletStore:
    """The output folder of a build: finished pairs, failures, and atomic pair commits."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.triplets_csv = triplets_path(self.root)
        self.failures_csv = self.root / FAILURES_CSV
        self._recorded: set[str] | None = None

    @contextmanager
    def lock(self, shard: str) -> Iterator[Path]:
        """Hold the exclusive lock of this output and ``shard`` (``"i/n"``) for the ``with`` block.

        Raises :class:`OutputBusyError` at once (non-blocking) when another process holds it.
        Yields the lock file's path; the file stays (an unlocked lock file is harmless).
        """
        path = self.root / f"{LOCK_PREFIX}{str(shard).replace('/', 'of')}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise OutputBusyError(
                    f"{self.root} (shard {shard}) is being built by another process (lock {path.name}); "
                    "wait for it or choose another output"
                ) from None
            yield path
        finally:
            os.close(fd)  # closing releases the flock

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
        if self._recorded is None:
            self._recorded = self.finished_ids()
        if pair_id in self._recorded:
            raise DuplicatePairError(f"pair {pair_id} is already recorded in {self.triplets_csv}")
        final = self.root / pair_id
        if final.exists():  # a previous, unrecorded attempt: replace it
            shutil.rmtree(final)
        os.replace(staging, final)
        append_triplet(self.root, row)
        self._recorded.add(pair_id)
        return final

    def record_failure(self, pair_id: str, stage: str, reason: str, check: str = "") -> None:
        """One ``failures.csv`` row for the pair (a file from an older build keeps its 3 columns;
        the check names then lead the reason)."""
        if self._failure_fields() == LEGACY_FAILURE_FIELDS:
            text = f"[{check}] {reason}" if check else reason
            append_row(self.failures_csv, LEGACY_FAILURE_FIELDS, {"pair_id": pair_id, "stage": stage, "reason": text})
            return
        append_row(self.failures_csv, FAILURE_FIELDS, {"pair_id": pair_id, "stage": stage, "check": check, "reason": reason})

    def _failure_fields(self) -> tuple[str, ...]:
        if not self.failures_csv.is_file() or self.failures_csv.stat().st_size == 0:
            return FAILURE_FIELDS
        with self.failures_csv.open(encoding="utf-8") as handle:
            header = tuple(handle.readline().strip().split(","))
        return LEGACY_FAILURE_FIELDS if header == LEGACY_FAILURE_FIELDS else FAILURE_FIELDS

    def record_quality(self, rows: list[Mapping[str, object]], fields: tuple[str, ...]) -> None:
        """Append per-direction quality measurements (accepted and rejected) to ``quality.csv``."""
        for row in rows:
            append_row(self.root / QUALITY_CSV, fields, row)
