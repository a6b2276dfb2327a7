"""Distribution metrics: FID and KID of the swaps against the targets (FID Inception features).

The reference set is the *distinct* target images of the protocol; the Inception network is
:class:`~reliableswap.evaluation.fid.FIDInception` (weights ``inception_fid``; a missing file
reports the metric as skipped with the path).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from reliableswap.evaluation.metrics.base import Metric, MetricResult, SwapBatch

__all__ = ["FID", "KID"]


class _InceptionMetric(Metric):
    """Collects FID-Inception features of swaps (generated) and targets (real reference)."""

    backend = "inception"

    def __init__(self, device: str | torch.device = "cpu", weights_path: str | None = None) -> None:
        super().__init__(device)
        from reliableswap.evaluation.fid import FIDInception

        self._net = FIDInception(weights_path).to(self.device)
        self._fake: list[np.ndarray] = []
        self._real: dict[str, np.ndarray] = {}

    def update(self, batch: SwapBatch) -> None:
        self._fake.append(self._net(batch.swap.to(self.device)).double().cpu().numpy())
        new = [i for i, k in enumerate(batch.target_key) if k not in self._real]
        if new:
            feats = self._net(batch.target[new].to(self.device)).double().cpu().numpy()
            for j, i in enumerate(new):
                self._real[batch.target_key[i]] = feats[j]
        self.num_samples += len(batch)

    def backend_info(self) -> dict[str, Any]:
        return {"backend": "inception", "weights": "pt_inception-2015-12-05", "reference": "distinct target images"}


class FID(_InceptionMetric):
    """Fréchet Inception distance of swaps to the distinct targets (value ``fid``)."""

    name = "fid"

    def compute(self) -> MetricResult:
        from reliableswap.evaluation.fid import frechet_distance

        if self.num_samples < 2:
            return self._skipped("needs >= 2 samples")
        fake, real = np.concatenate(self._fake), np.stack(list(self._real.values()))
        return self._result({"fid": frechet_distance(fake, real)}, f"{len(real)} reference images")


class KID(_InceptionMetric):
    """Kernel Inception distance of swaps to the distinct targets (values ``kid``, ``kid_std``)."""

    name = "kid"

    def compute(self) -> MetricResult:
        from reliableswap.evaluation.fid import kernel_inception_distance

        if self.num_samples < 2:
            return self._skipped("needs >= 2 samples")
        mean, std = kernel_inception_distance(np.concatenate(self._fake), np.stack(list(self._real.values())))
        return self._result({"kid": mean, "kid_std": std})
