"""Evaluation: metrics and the independent judges they use.

The judges here are deliberately *not* the networks the training/synthesis pipeline uses, so a
swap is not graded by its own teacher:

- :class:`DlibFaceDescriptor` -- dlib's 128-d ResNet face descriptor (identity; same person when
  the Euclidean distance is < 0.6). Needs the ``faces`` extra.
- :class:`TDDFAPoseEstimator` -- 3DDFA-V2 MobileNet(0.5): yaw/pitch/roll, 10 expression and 40
  shape coefficients. Needs the ``onnx`` extra (onnxruntime).

Heavy dependencies are imported when a judge is constructed, not when this package is imported.
"""

from reliableswap.evaluation.identity_dlib import (
    SAME_PERSON_THRESHOLD,
    DlibFaceDescriptor,
    face_distance,
)
from reliableswap.evaluation.pose_3ddfa import PoseExpression, TDDFAPoseEstimator

__all__ = [
    "SAME_PERSON_THRESHOLD",
    "DlibFaceDescriptor",
    "PoseExpression",
    "TDDFAPoseEstimator",
    "face_distance",
]
