"""Metrics from config nodes; a metric whose backend cannot run becomes a ``skipped`` result.

A config entry is a Hydra node ``{_target_: <Metric class>, **options}`` (e.g. ``_target_:
reliableswap.evaluation.metrics.identity.DlibIdRetrieval``); the class is checked first, then
built with ``device`` and the options (nested nodes such as ``encoder`` are built by the metric
itself, only when it needs them). Missing weights, an unconfigured option or a missing optional
package give a :class:`SkippedMetric` with the reason, so a metric is never silently absent from
the report; a ``_target_`` that is not a metric class is a config error and raises.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import torch

from reliableswap.evaluation.metrics.base import Metric, MetricNotConfigured, SkippedMetric
from reliableswap.evaluation.targets import resolve_target
from reliableswap.weights import MissingWeightsError

log = logging.getLogger(__name__)

__all__ = ["build_metric", "build_metrics"]


def _missing_weights_reason(error: MissingWeightsError) -> str:
    """``missing <path> (<where to get it>)`` from the registry's two-line message."""
    lines = str(error).splitlines()
    path = lines[0].split(" not found at ")[-1].rstrip(".") if " not found at " in lines[0] else lines[0]
    origin = lines[1].strip() if len(lines) > 1 else ""
    return f"missing {path}" + (f" ({origin})" if origin else "")


def build_metric(node: Any, device: str | torch.device = "cpu") -> Metric:
    """The metric of one ``_target_`` node; unavailable backends give a :class:`SkippedMetric`.

    Raises:
        ValueError: the node has no ``_target_`` or it names no :class:`Metric` class.
        TypeError: an option the metric class does not take.
    """
    cls, options = resolve_target(node, Metric, "eval.metrics entry")
    try:
        return cls(device=device, **options)
    except MissingWeightsError as e:
        reason = _missing_weights_reason(e)
        log.warning("metric %s (%s) skipped: %s", cls.name, cls.backend, reason)
        return SkippedMetric(cls.name, cls.backend, reason)
    except (MetricNotConfigured, ImportError) as e:  # ImportError: the backend's optional package
        log.warning("metric %s (%s) skipped: %s", cls.name, cls.backend, e)
        return SkippedMetric(cls.name, cls.backend, str(e))


def build_metrics(nodes: Iterable[Any], device: str | torch.device = "cpu") -> list[Metric]:
    """Metrics from config entries (``_target_`` nodes, or dotted class paths), in order."""
    return [build_metric(node, device=device) for node in nodes]
