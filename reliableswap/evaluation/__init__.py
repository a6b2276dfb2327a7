"""Evaluation: metrics and the independent judges they use.

The judges here are deliberately *not* the networks the training/synthesis pipeline uses, so a
swap is not graded by its own teacher:

- :class:`DlibFaceDescriptor` -- dlib's 128-d ResNet face descriptor (identity; same person when
  the Euclidean distance is < 0.6). Needs the ``faces`` extra.
- :class:`TDDFAPoseEstimator` -- 3DDFA-V2 MobileNet(0.5): yaw/pitch/roll, 10 expression and 40
  shape coefficients. Needs the ``onnx`` extra (onnxruntime).

Benchmarking (see :mod:`.runner`): :func:`run` evaluates a :class:`~reliableswap.swapping.Swapper`
on a protocol (:mod:`.protocols`: ``FolderProtocol``, ``FaceForensicsProtocol``) with configured
metrics (:mod:`.metrics` package, one module per family: identity retrieval, pose, expression,
FixerNet similarity, FID/KID); both are chosen in ``configs/eval/*.yaml`` by ``_target_`` nodes
(:mod:`.targets` resolves them). :mod:`.face_check` (dlib HOG) drops faceless, tiny and
unreadable inputs before pairing and checks every result for a face (the face-detection rate;
pose/expression score only results with a face); :mod:`.provenance` writes ``pairs.csv`` /
``dropped.csv`` and the provenance of every record. :mod:`.baselines` holds the ``copy_target`` /
``copy_source_aligned`` sanity swappers (``configs/baseline/``). This package never imports
:mod:`reliableswap.inference`.

Heavy dependencies are imported when a judge is constructed, not when this package is imported.
"""

from reliableswap.evaluation.identity_dlib import (
    SAME_PERSON_THRESHOLD,
    DlibFaceDescriptor,
    face_distance,
)
from reliableswap.evaluation.baselines import CopySourceAligned, CopyTarget
from reliableswap.evaluation.metrics import MetricResult, SwapBatch, build_metric, build_metrics
from reliableswap.evaluation.pose_3ddfa import PoseExpression, TDDFAPoseEstimator
from reliableswap.evaluation.protocols import EvalPair, FaceForensicsProtocol, FolderProtocol, build_protocol
from reliableswap.evaluation.runner import run

__all__ = [
    "SAME_PERSON_THRESHOLD",
    "CopySourceAligned",
    "CopyTarget",
    "EvalPair",
    "FaceForensicsProtocol",
    "FolderProtocol",
    "MetricResult",
    "SwapBatch",
    "build_metric",
    "build_metrics",
    "build_protocol",
    "run",
    "DlibFaceDescriptor",
    "PoseExpression",
    "TDDFAPoseEstimator",
    "face_distance",
]
