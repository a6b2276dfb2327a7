"""Seeded sampling of different-identity pairs (A, B) and their split into shards.

Pairs are drawn one after another from a single seeded stream, so the first k pairs are the same
whatever ``num_pairs`` is (asking for more later extends a finished run instead of redrawing it),
and shard ``i/n`` takes the pairs whose position is ``i`` modulo ``n``: shards never overlap and
together cover every pair exactly once, on any number of processes, GPUs or nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from reliableswap.io.index import IndexRow


@dataclass(frozen=True)
class FacePair:
    number: int
    source: IndexRow  # A
    target: IndexRow  # B

    @property
    def pair_id(self) -> str:
        """Folder name of the pair: position plus readable identities (filesystem-safe)."""
        return f"{self.number:06d}_{_slug(self.source.identity)}_{_slug(self.target.identity)}"


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:limit] or "x"


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    @classmethod
    def parse(cls, text: str | None) -> Shard:
        """``"i/n"`` (0-based i) -> Shard; ``None`` or empty -> the whole job."""
        if not text:
            return cls(0, 1)
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if not match:
            raise ValueError(f"shard must look like 'i/n' (e.g. 0/4), got {text!r}")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 0 <= index < count:
            raise ValueError(f"shard {text!r}: need 0 <= i < n")
        return cls(index, count)

    def owns(self, pair: FacePair) -> bool:
        return pair.number % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def sample_pairs(rows: list[IndexRow], num_pairs: int, seed: int) -> list[FacePair]:
    """``num_pairs`` distinct ordered pairs of images of different identities.

    Raises ``ValueError`` when the data hold fewer than two identities or fewer distinct pairs
    than requested.
    """
    rows = sorted(rows, key=lambda r: r.path)
    identities = {r.identity for r in rows}
    if len(identities) < 2:
        raise ValueError(f"need images of at least 2 identities to build pairs, found {len(identities)}")
    possible = len(rows) * (len(rows) - 1)
    if num_pairs > possible:
        raise ValueError(f"asked for {num_pairs} pairs but {len(rows)} images allow at most {possible}")
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, int]] = set()
    pairs: list[FacePair] = []
    attempts = 0
    while len(pairs) < num_pairs:
        attempts += 1
        if attempts > 100 * num_pairs + 1000:
            raise ValueError(f"could only draw {len(pairs)} different-identity pairs out of {num_pairs}")
        a, b = (int(x) for x in rng.integers(0, len(rows), size=2))
        if a == b or rows[a].identity == rows[b].identity or (a, b) in seen or (b, a) in seen:
            continue
        seen.add((a, b))
        pairs.append(FacePair(len(pairs), rows[a], rows[b]))
    return pairs
