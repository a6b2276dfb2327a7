"""What every metric shares: the swap batch it reads, the result it returns, the base class.

Protocol of a metric: ``update(batch)`` once per swapped batch (:class:`SwapBatch`), then
``compute() -> MetricResult``. Each metric class is one (metric, backend) pair: ``name`` and
``backend`` are class attributes, so a config names exactly what measures (``_target_``) and a
metric that cannot be built can still be reported under its name and backend
(:class:`SkippedMetric`, see :mod:`.build`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from reliableswap.data.transforms import images_to_uint8

__all__ = [
    "Metric",
    "MetricNotConfigured",
    "MetricResult",
    "SkippedMetric",
    "SwapBatch",
    "instantiate_node",
    "package_version",
    "to_uint8",
]


class MetricNotConfigured(RuntimeError):
    """A metric needs a backend that the config does not provide (reported as ``skipped``)."""


def to_uint8(images: Tensor) -> list[np.ndarray]:
    """(B, 3, H, W) in [-1, 1] -> list of HxWx3 RGB ``uint8`` (what the classical judges read)."""
    return list(images_to_uint8(images))


def package_version(distribution: str) -> str:
    """Installed version of ``distribution`` for the report, ``"unknown"`` when it cannot be read."""
    try:
        from importlib.metadata import version

        return version(distribution)
    except Exception:  # noqa: BLE001 - version info is best effort
        return "unknown"


def instantiate_node(node: Any) -> Any:
    """Build an object from a Hydra node (``_target_``), a plain dict, or pass an object through."""
    if isinstance(node, Mapping) or hasattr(node, "_target_") or type(node).__name__ == "DictConfig":
        from hydra.utils import instantiate

        return instantiate(node)
    return node


@dataclass
class SwapBatch:
    """One batch of swaps with its inputs and labels; tensors (B, 3, S, S) in [-1, 1], CPU.

    ``source_key``/``target_key`` name the image (file or video frame), so judges describe each
    distinct source image once and the retrieval gallery holds each source image once.
    ``swap_face`` (B,) bool says which swap results hold a face (an independent detector, see
    :mod:`reliableswap.evaluation.face_check`); metrics that read the face's geometry (pose,
    expression) score only those. ``None`` = not checked: every sample is scored.
    """

    source: Tensor
    target: Tensor
    swap: Tensor
    source_id: list[str]
    target_id: list[str]
    source_key: list[str]
    target_key: list[str]
    swap_face: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.swap.shape[0])

    @cached_property
    def source_rgb(self) -> list[np.ndarray]:
        return to_uint8(self.source)

    @cached_property
    def target_rgb(self) -> list[np.ndarray]:
        return to_uint8(self.target)

    @cached_property
    def swap_rgb(self) -> list[np.ndarray]:
        return to_uint8(self.swap)


@dataclass
class MetricResult:
    """A metric's outcome; ``values`` is empty unless ``status == "ok"``.

    ``num_samples`` counts the samples the values are computed on; ``num_total`` the samples the
    metric saw (``None`` = the same: it scores every sample).
    """

    metric: str
    backend: str
    values: dict[str, float] = field(default_factory=dict)
    num_samples: int = 0
    status: str = "ok"
    note: str = ""
    backend_info: dict[str, Any] = field(default_factory=dict)
    num_total: int | None = None


class Metric(ABC):
    """Base class of one (metric, backend) pair; options come from the config node."""

    name: ClassVar[str]
    backend: ClassVar[str]

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.num_samples = 0
        self.num_total: int | None = None  # set by _face_rows: samples seen when faces are checked

    @abstractmethod
    def update(self, batch: SwapBatch) -> None: ...

    @abstractmethod
    def compute(self) -> MetricResult: ...

    def backend_info(self) -> dict[str, Any]:
        return {"backend": self.backend}

    def _face_rows(self, batch: SwapBatch) -> list[int]:
        """Indices of ``batch`` to score: those whose swap holds a face (all when unchecked).

        Counts them in ``num_samples`` and, when faces were checked, every sample in ``num_total``.
        """
        if batch.swap_face is None:
            rows = list(range(len(batch)))
        else:
            rows = [i for i, f in enumerate(np.asarray(batch.swap_face, dtype=bool)) if f]
            self.num_total = (self.num_total or 0) + len(batch)
        self.num_samples += len(rows)
        return rows

    def _scored_note(self) -> str:
        """``"scored on n of N results with a face"`` when faces were checked, else ``""``."""
        if self.num_total is None:
            return ""
        return f"scored on {self.num_samples} of {self.num_total} results with a face"

    def _result(self, values: Mapping[str, float], note: str = "") -> MetricResult:
        return MetricResult(self.name, self.backend, {k: float(v) for k, v in values.items()},
                            self.num_samples, "ok", note, self.backend_info(), self.num_total)

    def _skipped(self, note: str) -> MetricResult:
        """A ``skipped`` result with the reason (e.g. ``"no samples"``)."""
        if not self.num_samples and self.num_total:
            note = f"0 of {self.num_total} results have a face; nothing scored"
        return MetricResult(self.name, self.backend, {}, self.num_samples, "skipped", note, self.backend_info(),
                            self.num_total)


class SkippedMetric(Metric):
    """Stand-in for a metric that cannot run here; reports ``skipped`` with the reason."""

    def __init__(self, name: str, backend: str, reason: str) -> None:  # noqa: D107 - no device needed
        self.name, self.backend, self.reason, self.num_samples = name, backend, reason, 0  # type: ignore[misc]

    def update(self, batch: SwapBatch) -> None:
        self.num_samples += len(batch)

    def compute(self) -> MetricResult:
        return MetricResult(self.name, self.backend, {}, self.num_samples, "skipped", self.reason, {"backend": self.backend})
