"""Pair sampling and sharding: seeded, stable prefixes, disjoint shards covering everything."""

from __future__ import annotations

import pytest

from reliableswap.io.index import IndexRow
from supervision.sampling import Shard, sample_pairs


def _rows(n_people: int, per_person: int = 2) -> list[IndexRow]:
    return [IndexRow(f"p{p}/{i}.jpg", f"p{p}") for p in range(n_people) for i in range(per_person)]


def test_pairs_are_different_identities_distinct_and_seeded():
    rows = _rows(10)
    pairs = sample_pairs(rows, 40, seed=3)
    assert all(p.source.identity != p.target.identity for p in pairs)
    keys = {frozenset((p.source.path, p.target.path)) for p in pairs}
    assert len(keys) == 40
    assert [p.pair_id for p in sample_pairs(rows, 40, seed=3)] == [p.pair_id for p in pairs]
    assert [p.pair_id for p in sample_pairs(rows, 40, seed=4)] != [p.pair_id for p in pairs]


def test_first_pairs_do_not_depend_on_num_pairs():
    rows = _rows(8)
    assert [p.pair_id for p in sample_pairs(rows, 10, 0)] == [p.pair_id for p in sample_pairs(rows, 25, 0)[:10]]


@pytest.mark.parametrize("n", [2, 3])
def test_shards_cover_every_pair_exactly_once(n):
    pairs = sample_pairs(_rows(12), 50, seed=1)
    owned = [[p.pair_id for p in pairs if Shard(i, n).owns(p)] for i in range(n)]
    flat = [pid for part in owned for pid in part]
    assert sorted(flat) == sorted(p.pair_id for p in pairs)
    assert len(set(flat)) == len(flat)
    assert all(owned)


def test_shard_parsing_and_errors():
    assert Shard.parse("1/4") == Shard(1, 4)
    assert Shard.parse(None) == Shard(0, 1)
    for bad in ("4/4", "x", "1/0", "-1/2"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_too_few_identities_or_pairs_are_clear_errors():
    with pytest.raises(ValueError, match="2 identities"):
        sample_pairs(_rows(1, per_person=5), 1, 0)
    with pytest.raises(ValueError, match="at most"):
        sample_pairs(_rows(2, per_person=1), 3, 0)
