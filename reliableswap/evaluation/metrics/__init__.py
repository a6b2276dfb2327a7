"""Swap metrics, one module per family, one class per (metric, backend) pair.

Why backends: the paper's judges (CosFace, HopeNet, Deep3DFaceRecon, Inception) are large
downloads, while offline judges (dlib's descriptor, 3DDFA-V2) are available everywhere. A config
(``configs/eval/*.yaml: metrics``) lists ``_target_`` nodes naming the class, e.g.
``{_target_: reliableswap.evaluation.metrics.pose.HopeNetPoseError}``; every result records the
metric, the backend and its version so a number is never separated from what measured it. A
metric whose backend cannot run (weights missing, module not configured) still produces a result
with ``status="skipped"`` and the reason (:mod:`.build`).

- :mod:`.base`: :class:`SwapBatch` (what ``update`` reads), :class:`MetricResult`, :class:`Metric`;
- :mod:`.judges`: the shared dlib / 3DDFA-V2 judges and :class:`EncoderJudge`;
- :mod:`.identity`: ``id_retrieval`` -- :class:`DlibIdRetrieval`, :class:`CosFaceIdRetrieval`,
  :class:`EncoderIdRetrieval` (top-1/top-5 source retrieval + similarity to the own source);
- :mod:`.pose`: ``pose_error`` -- :class:`TDDFAPoseError`, :class:`HopeNetPoseError` (degrees);
- :mod:`.expression`: ``expression_error`` -- :class:`ExpressionError` (3DDFA-V2 coefficients);
- :mod:`.fixer`: ``fixer_similarity`` -- :class:`FixerSimilarity` (needs an ``encoder`` node);
- :mod:`.distribution`: ``fid`` / ``kid`` -- :class:`FID`, :class:`KID` (FID Inception);
- :mod:`.build`: :func:`build_metric` / :func:`build_metrics` from config nodes.

Adding a metric: a :class:`Metric` subclass with ``name`` and ``backend`` in a family module,
then a ``_target_`` entry in ``configs/eval/*.yaml``; nothing is registered.
"""

from reliableswap.evaluation.metrics.base import Metric, MetricNotConfigured, MetricResult, SkippedMetric, SwapBatch, to_uint8
from reliableswap.evaluation.metrics.build import build_metric, build_metrics
from reliableswap.evaluation.metrics.distribution import FID, KID
from reliableswap.evaluation.metrics.expression import ExpressionError
from reliableswap.evaluation.metrics.fixer import FixerSimilarity
from reliableswap.evaluation.metrics.identity import (
    CosFaceIdRetrieval,
    DlibIdRetrieval,
    EncoderIdRetrieval,
    IdRetrieval,
    id_retrieval_node,
)
from reliableswap.evaluation.metrics.pose import HopeNetPoseError, PoseError, TDDFAPoseError
from reliableswap.evaluation.targets import node_of

__all__ = [
    "FID",
    "KID",
    "CosFaceIdRetrieval",
    "DlibIdRetrieval",
    "EncoderIdRetrieval",
    "ExpressionError",
    "FixerSimilarity",
    "HopeNetPoseError",
    "IdRetrieval",
    "Metric",
    "MetricNotConfigured",
    "MetricResult",
    "PoseError",
    "SkippedMetric",
    "SwapBatch",
    "TDDFAPoseError",
    "build_metric",
    "build_metrics",
    "id_retrieval_node",
    "node_of",
    "to_uint8",
]
