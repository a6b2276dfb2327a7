"""The typed training batch and the one ``pick_batch`` of a combined vanilla + triplet loader."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import default_collate

from reliableswap.data.batch import TrainingBatch, pick_batch


def _items(n: int, triplet: bool) -> list[dict]:
    items = []
    for i in range(n):
        item = {"source": torch.full((3, 4, 4), float(i)), "target": torch.zeros(3, 4, 4), "same": torch.tensor(i == 0),
                "source_id": f"id{i}", "pair_id": str(i)}
        if triplet:
            item |= {"reference": torch.ones(3, 4, 4), "type_code": torch.tensor(4, dtype=torch.int64), "same": torch.tensor(False)}
        items.append(item)
    return items


def test_pick_batch():
    vanilla, triplet = default_collate(_items(2, False)), default_collate(_items(3, True))
    combined = {"vanilla": vanilla, "triplet": triplet}
    picked = pick_batch(combined, True)
    assert picked.is_triplet and picked.size == 3 and picked.type_code.tolist() == [4, 4, 4]
    picked = pick_batch(combined, False)
    assert not picked.is_triplet and picked.size == 2 and picked.reference is None and picked.type_code is None
    assert picked.same.tolist() == [True, False] and torch.equal(picked.source, vanilla["source"])
    assert pick_batch(vanilla).same.dtype == torch.bool  # a plain batch is used as it is
    assert pick_batch(triplet).is_triplet


def test_a_triplet_step_without_triplets_is_a_clear_error():
    with pytest.raises(ValueError, match="triplet data module"):
        pick_batch(default_collate(_items(2, False)), True)


def test_missing_keys_and_half_triplets_are_refused():
    with pytest.raises(KeyError, match="same"):
        TrainingBatch.from_collated({"source": torch.zeros(1), "target": torch.zeros(1)})
    with pytest.raises(ValueError, match="both 'reference' and 'type_code'"):
        TrainingBatch(source=torch.zeros(1, 3, 2, 2), target=torch.zeros(1, 3, 2, 2), same=torch.ones(1, dtype=torch.bool),
                      reference=torch.zeros(1, 3, 2, 2))
