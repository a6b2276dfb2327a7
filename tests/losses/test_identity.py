"""One split of a combined identity embedding, with the fallback each loss needs."""

from __future__ import annotations

import pytest

from reliableswap.losses.identity import EmbeddingSplit, split_embedding


@pytest.mark.parametrize("fallback", ["all", "outside_fixer"])
def test_named_parts_are_used_as_they_are(fallback):
    parts = {"identity": slice(0, 512), "fixer": slice(512, 640)}
    assert split_embedding(parts, 640, fallback) == EmbeddingSplit(identity=slice(0, 512), fixer=slice(512, 640))


@pytest.mark.parametrize("parts", [None, {}])
@pytest.mark.parametrize("fallback", ["all", "outside_fixer"])
def test_a_plain_embedding_is_all_identity(parts, fallback):
    assert split_embedding(parts, 8, fallback) == EmbeddingSplit(identity=slice(None), fixer=None)


def test_without_an_identity_slice_the_fallback_decides():
    parts = {"fixer": slice(2, 4)}
    assert split_embedding(parts, 6, "all") == EmbeddingSplit(identity=slice(None), fixer=slice(2, 4))
    assert split_embedding(parts, 6, "outside_fixer") == EmbeddingSplit(identity=[0, 1, 4, 5], fixer=slice(2, 4))
    with pytest.raises(ValueError, match="fallback"):
        split_embedding({}, 6, "rest")  # type: ignore[arg-type]
