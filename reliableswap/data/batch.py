"""The typed training batch of swap training, and the one place that reads a collated batch's keys.

Datasets yield plain dicts (``FacePairDataset``: ``source``, ``target``, ``same`` plus index/id/path
keys; ``TripletDataset``: the same and ``reference``, ``type_code``). They stay dicts on purpose:
PyTorch's default collation, Lightning's ``CombinedLoader`` (``{"vanilla": batch, "triplet":
batch}``) and its device transfer all work on dicts without a custom ``collate_fn`` in every loader.
The Lightning module and callbacks never index those dicts: :func:`pick_batch` turns the collated
loader output into a :class:`TrainingBatch` once, and everything after reads typed fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

#: Keys of a combined loader's batch (``reliableswap.data.triplets.MixedSwapDataModule``).
VANILLA, TRIPLET = "vanilla", "triplet"


@dataclass(frozen=True)
class TrainingBatch:
    """One training batch of swap pairs (optionally triplets with a pixel ground truth).

    Attributes:
        source: (B, 3, S, S) identity images in [-1, 1].
        target: (B, 3, S, S) attribute images in [-1, 1].
        same: (B,) bool, True where source and target show the same person (reconstruction pairs).
        reference: (B, 3, S, S) ground truth of the swap in [-1, 1] for triplet batches, else ``None``.
        type_code: (B,) int64 triplet type codes 2-5 (see ``reliableswap.data.triplets``) for
            triplet batches, else ``None``.
    """

    source: Tensor
    target: Tensor
    same: Tensor
    reference: Tensor | None = None
    type_code: Tensor | None = None

    def __post_init__(self) -> None:
        if (self.reference is None) != (self.type_code is None):
            raise ValueError("a triplet batch needs both 'reference' and 'type_code' (a vanilla batch neither)")

    @property
    def size(self) -> int:
        """The number of pairs B."""
        return int(self.source.shape[0])

    @property
    def is_triplet(self) -> bool:
        """True for a triplet batch (it has a reference image per pair)."""
        return self.reference is not None

    @classmethod
    def from_collated(cls, batch: Mapping[str, Any]) -> TrainingBatch:
        """The record of one collated dataset batch (extra keys such as ids and paths are dropped).

        Raises:
            KeyError: naming the missing keys when ``source``, ``target`` or ``same`` is absent.
        """
        missing = [key for key in ("source", "target", "same") if key not in batch]
        if missing:
            raise KeyError(f"a training batch needs 'source', 'target' and 'same'; missing {missing} in {sorted(batch)}")
        return cls(
            source=batch["source"],
            target=batch["target"],
            same=batch["same"],
            reference=batch.get("reference"),
            type_code=batch.get("type_code"),
        )


def pick_batch(batch: Mapping[str, Any], use_triplet: bool = False) -> TrainingBatch:
    """The batch of this step from a loader's collated output.

    A combined ``{"vanilla", "triplet"}`` batch gives its triplet part when ``use_triplet`` and its
    vanilla part otherwise; a plain batch is used as it is.

    Raises:
        ValueError: ``use_triplet`` with a batch that has no triplet part (a vanilla data module).
    """
    if use_triplet and TRIPLET not in batch:
        raise ValueError("triplet_rate > 0 needs a triplet data module (data.triplets=...)")
    if VANILLA in batch:
        batch = batch[TRIPLET] if use_triplet else batch[VANILLA]
    return TrainingBatch.from_collated(batch)
