"""Identity retrieval: is each swap's nearest *source identity* the identity of its own source?

Top-1/top-5 over every source image of the protocol (each identity scored by its best-matching
source image), plus the mean similarity/distance of each swap to its own source. One class per
judge (the ``_target_`` of a config node):

- :class:`DlibIdRetrieval` (``dlib``, offline): dlib's 128-d descriptor, Euclidean distance;
  values ``distance_to_source`` and ``same_person_rate`` (distance < 0.6);
- :class:`CosFaceIdRetrieval` (``cosface``, the paper's judge): CosFace r50 (weights
  ``cosface_r50``), cosine; value ``cosine_to_source``;
- :class:`EncoderIdRetrieval` (``encoder``): any identity encoder built from the ``encoder`` node.

Every swap is scored (a faceless result simply retrieves badly); when the batch carries the face
mask (``SwapBatch.swap_face``), ``results_with_face`` counts the swaps that hold a face.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from reliableswap.evaluation.metrics.base import (
    Metric,
    MetricNotConfigured,
    MetricResult,
    SwapBatch,
    instantiate_node,
    package_version,
    to_uint8,
)
from reliableswap.evaluation.metrics.judges import EncoderJudge, dlib_descriptor
from reliableswap.evaluation.targets import node_of

__all__ = [
    "RETRIEVAL_JUDGES",
    "CosFaceIdRetrieval",
    "DlibIdRetrieval",
    "EncoderIdRetrieval",
    "IdRetrieval",
    "id_retrieval_node",
]


class IdRetrieval(Metric):
    """Top-k source-identity retrieval of swaps, and similarity of each swap to its own source.

    Subclasses give the judge: :meth:`_embed` (images -> (N, D) descriptors, NaN rows for
    failures), :meth:`_similarity` (higher = more alike), :meth:`_pair_distance` and
    :meth:`_own_values` (the per-source summary values).
    """

    name = "id_retrieval"

    def __init__(self, device: str | torch.device = "cpu", topk: Iterable[int] = (1, 5)) -> None:
        super().__init__(device)
        self.topk = tuple(int(k) for k in topk)
        self._gallery: dict[str, tuple[str, np.ndarray]] = {}  # source_key -> (identity, embedding)
        self._swaps: list[np.ndarray] = []
        self._swap_ids: list[str] = []
        self._swap_keys: list[str] = []
        self._with_face: int | None = None

    @abstractmethod
    def _embed(self, images: Tensor, rgb: list[np.ndarray]) -> np.ndarray: ...

    @abstractmethod
    def _similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(N, D), (M, D) -> (N, M), higher = more alike."""

    @abstractmethod
    def _pair_distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Row-wise distance of (N, D) and (N, D) -> (N,)."""

    @abstractmethod
    def _own_values(self, own: np.ndarray) -> dict[str, float]:
        """Summary values of each swap's similarity to its own source, (N,) with NaN failures."""

    def update(self, batch: SwapBatch) -> None:
        # Describe each distinct source image once (keys repeat across pairs and within batches).
        uniq = {k: i for i, k in enumerate(batch.source_key) if k not in self._gallery}
        if uniq:
            idx = list(uniq.values())
            emb = self._embed(batch.source[idx], [batch.source_rgb[i] for i in idx])
            for j, i in enumerate(idx):
                self._gallery[batch.source_key[i]] = (batch.source_id[i], emb[j])
        self._swaps.append(self._embed(batch.swap, batch.swap_rgb))
        self._swap_ids += batch.source_id
        self._swap_keys += batch.source_key
        self.num_samples += len(batch)
        if batch.swap_face is not None:
            self._with_face = (self._with_face or 0) + int(np.asarray(batch.swap_face, dtype=bool).sum())

    def distance_to(self, references: Tensor) -> float:
        """Mean distance of the swaps seen so far to ``references`` (B, 3, S, S), pair by pair in
        update order: the judge's distance to another image per swap (e.g. its target) without
        describing the swaps again. dlib: Euclidean; encoders: 1 - cosine; NaN pairs are skipped."""
        swaps = np.concatenate(self._swaps)
        refs = self._embed(references, to_uint8(references))
        if len(refs) != len(swaps):
            raise ValueError(f"{len(refs)} references for {len(swaps)} swaps")
        return float(np.nanmean(self._pair_distance(swaps, refs)))

    def compute(self) -> MetricResult:
        if not self.num_samples:
            return self._skipped("no samples")
        swaps = np.concatenate(self._swaps)
        keys = list(self._gallery)
        gallery = np.stack([self._gallery[k][1] for k in keys])
        gallery_ids = np.array([self._gallery[k][0] for k in keys])
        identities = sorted(set(gallery_ids.tolist()))
        sim = np.nan_to_num(self._similarity(swaps, gallery), nan=-np.inf)
        # Each identity scores by its best-matching source image (nearest-neighbour retrieval).
        per_id = np.stack([sim[:, gallery_ids == ident].max(axis=1) for ident in identities], axis=1)
        order = np.argsort(-per_id, axis=1, kind="stable")
        truth = np.array([identities.index(i) for i in self._swap_ids])
        rank = np.argmax(order == truth[:, None], axis=1)
        values: dict[str, float] = {f"top{k}": float((rank < k).mean()) for k in self.topk}
        own = np.array([self._similarity(swaps[i:i + 1], self._gallery[k][1][None])[0, 0]
                        for i, k in enumerate(self._swap_keys)])
        failed = int(np.isnan(own).sum())
        values.update(self._own_values(own))
        values["num_identities"] = float(len(identities))
        values["chance_top1"] = 1.0 / len(identities)
        notes = [f"{failed} samples without a face descriptor"] if failed else []
        if self._with_face is not None:
            values["results_with_face"] = float(self._with_face)
            notes.append(f"{self._with_face} of {self.num_samples} results have a face")
        return self._result(values, "; ".join(notes))


class DlibIdRetrieval(IdRetrieval):
    """Retrieval judged by dlib's descriptor (offline; never used in training), Euclidean."""

    backend = "dlib"

    def __init__(self, device: str | torch.device = "cpu", topk: Iterable[int] = (1, 5)) -> None:
        super().__init__(device, topk)
        dlib_descriptor()

    def _embed(self, images: Tensor, rgb: list[np.ndarray]) -> np.ndarray:
        return dlib_descriptor().describe_batch(rgb)

    def _similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Minus the Euclidean distance (higher = more alike)."""
        return -np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)

    def _pair_distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(a - b, axis=-1)

    def _own_values(self, own: np.ndarray) -> dict[str, float]:
        dist = -own
        return {"distance_to_source": float(np.nanmean(dist)), "same_person_rate": float(np.nanmean(dist < 0.6))}

    def backend_info(self) -> dict[str, Any]:
        return {"backend": self.backend, "encoder": "dlib_resnet_v1", "dlib": package_version("dlib-bin"),
                "box_mode": "aligned", "distance": "euclidean"}


class _CosineIdRetrieval(IdRetrieval):
    """Retrieval judged by an identity encoder: unit vectors, cosine similarity."""

    def __init__(self, encoder: torch.nn.Module, encoder_name: str, device: str | torch.device, topk: Iterable[int]) -> None:
        super().__init__(device, topk)
        self._judge = EncoderJudge(encoder, self.device)
        self._encoder_name = encoder_name

    def _embed(self, images: Tensor, rgb: list[np.ndarray]) -> np.ndarray:
        return self._judge.embed(images)

    def _similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a @ b.T

    def _pair_distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return 1.0 - (a * b).sum(axis=-1)

    def _own_values(self, own: np.ndarray) -> dict[str, float]:
        return {"cosine_to_source": float(np.nanmean(own))}

    def backend_info(self) -> dict[str, Any]:
        return {"backend": self.backend, "encoder": self._encoder_name, "distance": "cosine"}


class CosFaceIdRetrieval(_CosineIdRetrieval):
    """Retrieval judged by CosFace r50 (the paper's judge; weights ``cosface_r50``).

    Raises:
        MissingWeightsError: the weights file is absent (the metric is reported as skipped).
    """

    backend = "cosface"

    def __init__(self, device: str | torch.device = "cpu", weights_path: str | None = None,
                 topk: Iterable[int] = (1, 5)) -> None:
        from reliableswap import weights
        from reliableswap.models.identity import build_arcface_encoder

        path = weights.resolve("cosface_r50", weights_path)
        super().__init__(build_arcface_encoder("r50", weights_path=path), "cosface_r50", device, topk)


class EncoderIdRetrieval(_CosineIdRetrieval):
    """Retrieval judged by any identity encoder: ``encoder`` is a Hydra node (or a module).

    Raises:
        MetricNotConfigured: ``encoder`` is not set (the metric is reported as skipped).
    """

    backend = "encoder"

    def __init__(self, device: str | torch.device = "cpu", encoder: Any = None, topk: Iterable[int] = (1, 5)) -> None:
        if encoder is None:
            raise MetricNotConfigured("id_retrieval backend 'encoder' needs 'encoder' (a Hydra node building an IdentityEncoder)")
        module = instantiate_node(encoder)
        super().__init__(module, str(getattr(module, "name", type(module).__name__)), device, topk)


#: Short judge names (the health monitor's ``judge`` option) -> retrieval class.
RETRIEVAL_JUDGES: dict[str, type[IdRetrieval]] = {
    "dlib": DlibIdRetrieval,
    "cosface": CosFaceIdRetrieval,
    "encoder": EncoderIdRetrieval,
}


def id_retrieval_node(judge: str | Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """The ``_target_`` node of a retrieval metric from a short judge description.

    ``judge``: a name of :data:`RETRIEVAL_JUDGES` (``"dlib"``), a mapping ``{backend: name,
    **options}`` (e.g. ``{backend: encoder, encoder: {...}}``), or a node with ``_target_``.
    ``options`` (e.g. ``topk=[1]``) are added to the node.

    Raises:
        ValueError: an unknown judge name.
    """
    spec = {"backend": judge} if isinstance(judge, str) else {str(k): v for k, v in judge.items()}
    if "_target_" in spec:
        return {**spec, **options}
    backend = spec.pop("backend", "dlib")
    if backend not in RETRIEVAL_JUDGES:
        raise ValueError(f"unknown identity judge '{backend}'; known: {', '.join(RETRIEVAL_JUDGES)}")
    return node_of(RETRIEVAL_JUDGES[backend], **spec, **options)
