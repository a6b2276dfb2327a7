"""Lower-face identity: mean cosine of FixerNet embeddings of swap and source."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from reliableswap.evaluation.metrics.base import Metric, MetricNotConfigured, MetricResult, SwapBatch, instantiate_node
from reliableswap.evaluation.metrics.judges import EncoderJudge

__all__ = ["FixerSimilarity"]


class FixerSimilarity(Metric):
    """Lower-face identity: mean cosine of FixerNet embeddings of swap and source.

    FixerNet is built lazily from the config node ``encoder`` (e.g. ``_target_:
    reliableswap.models.identity.fixernet.<builder>``), which must return an identity encoder
    (FFHQ crops in [-1, 1] -> unit vectors) -- nothing is imported unless configured.

    Raises:
        MetricNotConfigured: ``encoder`` is not set (the metric is reported as skipped).
    """

    name = "fixer_similarity"
    backend = "fixernet"

    def __init__(self, device: str | torch.device = "cpu", encoder: Any = None) -> None:
        super().__init__(device)
        if encoder is None:
            raise MetricNotConfigured(
                "not configured: set this metric's 'encoder' to a Hydra node building FixerNet "
                "(reliableswap/models/identity/fixernet.py, weights 'fixernet_mouthnet')")
        module = instantiate_node(encoder)
        self._judge = EncoderJudge(module, self.device)
        self._encoder_name = str(getattr(module, "name", type(module).__name__))
        self._cos: list[np.ndarray] = []

    def update(self, batch: SwapBatch) -> None:
        a, b = self._judge.embed(batch.swap), self._judge.embed(batch.source)
        self._cos.append((a * b).sum(-1))
        self.num_samples += len(batch)

    def compute(self) -> MetricResult:
        if not self._cos:
            return self._skipped("no samples")
        return self._result({"cosine_to_source": float(np.concatenate(self._cos).mean())})

    def backend_info(self) -> dict[str, Any]:
        return {"backend": "fixernet", "encoder": self._encoder_name}
