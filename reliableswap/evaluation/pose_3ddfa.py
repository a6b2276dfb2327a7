"""Head pose, expression and shape from 3DDFA-V2 (MobileNet 0.5), an *evaluation-only* backend.

Why this model: the training and synthesis pipeline never sees it (reenactment is LIA, identity
is ArcFace/MobileFaceNet), so pose and expression errors measured with it are an independent
judgement of a swap -- the triplet builder's acceptance test ("AB has B's head pose") and the
``test.py`` pose/expression metrics use it. It is small (3.4 MB, ~1.3 ms per face on one CPU core)
and available offline (``pose_expression/`` in the shared weights).

Pipeline (3DDFA-V2's conventions, re-implemented here):

1. **Crop.** A square region of interest (ROI) around the face, from a detector box
   (:func:`roi_from_box`: side 1.58 x the mean box side, centre moved down by 0.14 x that side,
   the convention 3DDFA-V2 uses with its FaceBoxes detector) or from 68 landmarks
   (:func:`roi_from_landmarks`: the landmarks' bounding square enlarged by sqrt(2), 3DDFA-V2's
   tracking crop). The ROI is warped (sub-pixel exact, zero padding outside the image) to
   120x120 BGR and normalised ``(x - 127.5) / 128``.
2. **Regress** 62 normalised parameters with the ONNX export (ONNX Runtime, CPU), de-normalise
   them with the training mean/std: 12 camera parameters (3x4 row-major matrix ``P``), 40 shape
   and 10 expression coefficients of the BFM (3DDFA-V2's PCA bases).
3. **Decompose** ``P = [s R | t]`` (:func:`decompose_camera`): a scaled-orthographic camera
   (only the first two rows project); ``s`` is the mean norm of the first two rows, ``R`` the
   nearest rotation whose first two rows match them (polar decomposition, third row their cross
   product), ``t`` the last column. ``s`` and ``t`` are in 120x120 crop units.
4. **Angles** (:func:`rotation_to_angles`), degrees, with 3DDFA-V2's numeric convention so the
   numbers are comparable with published 3DDFA-V2 outputs:
   ``yaw = asin(R[2,0])``, ``pitch = atan2(R[2,1], R[2,2])``, ``roll = atan2(R[1,0], R[0,0])``,
   i.e. ``R = Rz(roll) @ Ry(-yaw) @ Rx(pitch)``. The model frame is x to the image's right,
   y *up*, z towards the camera (checked on the BFM bases: nose tip has the largest z, chin the
   lowest y). Hence, as seen in the image:

   - ``yaw > 0``: the nose points to the image's left (the person turns to their own right);
   - ``pitch > 0``: the nose points down (head tilted down / chin lowered);
   - ``roll > 0``: the face rotates counter-clockwise on screen (the eye on the image's right
     is higher).

   Mirroring an image negates yaw and roll and keeps pitch (tested).

For FFHQ-style aligned crops (the project's dataset convention) no detector is needed: with
``box=None`` the fixed :data:`ALIGNED_ROI` is used (see there).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from reliableswap import weights

log = logging.getLogger(__name__)

__all__ = [
    "ALIGNED_ROI",
    "INPUT_SIZE",
    "PoseExpression",
    "TDDFAPoseEstimator",
    "decompose_camera",
    "rotation_to_angles",
    "roi_from_box",
    "roi_from_landmarks",
]

INPUT_SIZE = 120

#: Square ROI (x0, y0, x1, y1) for an FFHQ-style aligned crop, as fractions of the crop side
#: (corner coordinates: 0 = left/top border, 1 = right/bottom border). Derived empirically:
#: 3DDFA-V2 run on the 1,000 CelebAMask-HQ crops of the shared data from a generic centred square,
#: then twice re-cropped with its own landmark ROI (:func:`roi_from_landmarks`); the mean final
#: ROI has centre (0.502, 0.653) and side 0.783 (std 0.057, 0.013, 0.041). Centred exactly on the
#: vertical middle line so that mirroring a crop mirrors the ROI. It is the ROI 3DDFA-V2's own
#: tracking crop lands on for an average aligned face (angles differ from the per-image refined
#: ROI by ~1 degree on average); it extends past the bottom border, which is zero-padded.
ALIGNED_ROI: tuple[float, float, float, float] = (0.1084, 0.2610, 0.8916, 1.0442)


@dataclass(frozen=True)
class PoseExpression:
    """3DDFA-V2 result for one face.

    Angles are in degrees (signs in the module docstring). ``expression`` (10,) and ``shape``
    (40,) are de-normalised BFM coefficients (compare them between faces; 0 is the mean face /
    neutral expression). ``rotation`` (3, 3), ``scale`` and ``translation`` (3,) are the
    decomposed camera in 120x120 crop units; ``roi`` is the crop square in input pixels.
    """

    yaw: float
    pitch: float
    roll: float
    expression: np.ndarray
    shape: np.ndarray
    scale: float = float("nan")
    rotation: np.ndarray = field(default_factory=lambda: np.full((3, 3), np.nan))
    translation: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    roi: np.ndarray = field(default_factory=lambda: np.full(4, np.nan))

    @property
    def angles(self) -> np.ndarray:
        """``(yaw, pitch, roll)`` in degrees."""
        return np.array([self.yaw, self.pitch, self.roll], dtype=np.float64)


def roi_from_box(box: Sequence[float]) -> np.ndarray:
    """3DDFA-V2's square crop for a detector box ``(x0, y0, x1, y1)``.

    The face box of a detector is tighter than the region 3DDFA-V2 was trained on and sits high
    (forehead cut, chin included), so the ROI is 1.58x the mean box side and moved down by
    0.14x it -- the constants 3DDFA-V2 pairs with its FaceBoxes detector.
    """
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    side = ((x1 - x0) + (y1 - y0)) / 2.0
    cx = (x0 + x1) / 2.0
    cy = (y0 + y1) / 2.0 + 0.14 * side
    half = 0.79 * side
    return np.array([cx - half, cy - half, cx + half, cy + half], dtype=np.float64)


def roi_from_landmarks(points: np.ndarray) -> np.ndarray:
    """3DDFA-V2's tracking crop from landmarks ``(2, N)`` or ``(N, 2)`` in pixel coordinates.

    The bounding *square* of the landmarks (68 points span brow to chin, ear to ear) enlarged by
    sqrt(2) so the whole head with some context is inside, as during 3DDFA-V2 training.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[0] != 2:
        pts = pts.T
    x0, y0 = pts.min(axis=1)
    x1, y1 = pts.max(axis=1)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    half = max(x1 - x0, y1 - y0) / 2.0 * np.sqrt(2.0)
    return np.array([cx - half, cy - half, cx + half, cy + half], dtype=np.float64)


def aligned_roi(height: int, width: int) -> np.ndarray:
    """:data:`ALIGNED_ROI` scaled to a crop of the given size (corner coordinates)."""
    x0, y0, x1, y1 = ALIGNED_ROI
    return np.array([x0 * width, y0 * height, x1 * width, y1 * height], dtype=np.float64)


def crop_input(rgb: np.ndarray, roi: np.ndarray) -> np.ndarray:
    """Warp the ROI of an RGB image to the network input ``(1, 3, 120, 120)`` float32 BGR.

    An affine warp instead of integer slicing keeps the crop sub-pixel exact (mirror-symmetric
    ROIs give mirror-symmetric inputs) and pads outside the image with black like 3DDFA-V2.
    Corner-coordinate ROI ``[x0, x1]`` maps onto ``[0, 120]``; pixel centres are at +0.5.
    """
    x0, y0, x1, y1 = (float(v) for v in roi)
    sx = INPUT_SIZE / (x1 - x0)
    sy = INPUT_SIZE / (y1 - y0)
    # dst_pixel + 0.5 = (src_pixel + 0.5 - x0) * s
    m = np.array(
        [[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5]], dtype=np.float64
    )
    # INTER_AREA has no warp variant; for strong downscaling blur first so the warp does not alias.
    src = rgb
    shrink = min(sx, sy)
    if shrink < 0.5:
        sigma = 0.5 / shrink * 0.6
        src = cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma)
    crop = cv2.warpAffine(
        src, m, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
    )
    bgr = crop[:, :, ::-1].astype(np.float32)
    x = (bgr - 127.5) / 128.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def decompose_camera(camera: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Split a 3x4 scaled-orthographic camera ``[s R | t]`` into ``(s, R, t)``.

    Only the first two rows are meaningful (the third is not used by the projection and is not
    constrained in training), so ``R``'s first two rows are the nearest orthonormal pair to the
    normalised first two rows (SVD / polar decomposition, which treats both rows symmetrically
    rather than favouring the first like Gram-Schmidt), and its third row is their cross product,
    giving a proper rotation (det = +1).
    """
    p = np.asarray(camera, dtype=np.float64).reshape(3, 4)
    rows = p[:2, :3]
    norms = np.linalg.norm(rows, axis=1)
    scale = float(norms.mean())
    u, _, vt = np.linalg.svd(rows / norms[:, None], full_matrices=False)
    r12 = u @ vt
    rot = np.vstack([r12, np.cross(r12[0], r12[1])])
    return scale, rot, p[:, 3].copy()


def rotation_to_angles(rot: np.ndarray) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees from a rotation, 3DDFA-V2 convention (module docstring).

    ``R = Rz(roll) @ Ry(-yaw) @ Rx(pitch)``; at the gimbal lock (|yaw| = 90) roll is set to 0.
    """
    r = np.asarray(rot, dtype=np.float64)
    sin_yaw = float(np.clip(r[2, 0], -1.0, 1.0))
    yaw = np.arcsin(sin_yaw)
    if abs(sin_yaw) < 0.99999:
        pitch = np.arctan2(r[2, 1], r[2, 2])
        roll = np.arctan2(r[1, 0], r[0, 0])
    else:  # gimbal lock: only pitch -/+ roll is defined
        roll = 0.0
        pitch = np.arctan2(r[0, 1], r[1, 1]) * (1.0 if sin_yaw > 0 else -1.0)
    return float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll))


class TDDFAPoseEstimator:
    """3DDFA-V2 mb05 on ONNX Runtime (CPU by default): pose, expression and shape per face.

    ``refine=True`` runs a second pass on the ROI of the 68 landmarks reconstructed by the first
    pass (3DDFA-V2's tracking crop); it makes the result depend less on where the box came from
    at twice the cost. Needs the BFM landmark bases (``tddfa_v2_bfm68``).
    """

    def __init__(
        self,
        onnx_path: str | os.PathLike[str] | None = None,
        stats_path: str | os.PathLike[str] | None = None,
        bases_path: str | os.PathLike[str] | None = None,
        refine: bool = False,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "TDDFAPoseEstimator needs onnxruntime: pip install 'reliableswap[onnx]'"
            ) from e
        model = weights.resolve("tddfa_v2_mb05_onnx", onnx_path)
        stats = np.load(weights.resolve("tddfa_v2_param_stats", stats_path))
        self._mean = stats["mean"].astype(np.float64)
        self._std = stats["std"].astype(np.float64)
        if self._mean.shape != (62,) or self._std.shape != (62,):
            raise ValueError(f"param stats must be (62,) arrays, got {self._mean.shape}, {self._std.shape}")
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), sess_options=opts, providers=list(providers))
        self._input = self._session.get_inputs()[0].name
        self.refine = refine
        self._bases: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if refine:
            self._bases = _load_bfm68(weights.resolve("tddfa_v2_bfm68", bases_path))
        log.debug("3DDFA-V2 mb05 loaded from %s (refine=%s)", model, refine)

    # -- raw network --------------------------------------------------------------------------
    def params(self, rgb: np.ndarray, roi: np.ndarray) -> np.ndarray:
        """De-normalised 62 parameters for the given crop ROI."""
        out = self._session.run(None, {self._input: crop_input(rgb, roi)})[0]
        return out.reshape(62).astype(np.float64) * self._std + self._mean

    def landmarks(self, params: np.ndarray, roi: np.ndarray) -> np.ndarray:
        """68 sparse BFM landmarks ``(3, 68)`` in input-image pixels (z in the same scale).

        3DDFA-V2's camera works in a y-up frame of the 120x120 crop with 1-based (MATLAB)
        offsets: crop x = X - 1, crop y = 120 - Y; here mapped through the ROI to the image.
        """
        if self._bases is None:
            self._bases = _load_bfm68(weights.resolve("tddfa_v2_bfm68"))
        u, w_shp, w_exp = self._bases
        p = params[:12].reshape(3, 4)
        verts = (u + w_shp @ params[12:52] + w_exp @ params[52:62]).reshape(-1, 3).T
        pts = p[:, :3] @ verts + p[:, 3:]
        x0, y0, x1, y1 = roi
        sx, sy = (x1 - x0) / INPUT_SIZE, (y1 - y0) / INPUT_SIZE
        out = np.empty_like(pts)
        out[0] = (pts[0] - 1.0) * sx + x0
        out[1] = (INPUT_SIZE - pts[1]) * sy + y0
        out[2] = (pts[2] - 1.0) * (sx + sy) / 2.0
        return out

    # -- public API ---------------------------------------------------------------------------
    def estimate(self, rgb: np.ndarray, box: Sequence[float] | None = None) -> PoseExpression:
        """Pose/expression/shape of the face in ``box`` of an RGB ``uint8`` image.

        ``box`` is a detector box ``(x0, y0, x1, y1)`` in pixels (cropped with
        :func:`roi_from_box`). ``box=None`` means the image is an FFHQ-style aligned crop and the
        fixed :data:`ALIGNED_ROI` is used -- wrong for unaligned photos, give a box there.
        """
        img = _check_rgb(rgb)
        roi = aligned_roi(*img.shape[:2]) if box is None else roi_from_box(box)
        params = self.params(img, roi)
        if self.refine:
            roi = roi_from_landmarks(self.landmarks(params, roi)[:2])
            params = self.params(img, roi)
        return _to_result(params, roi)

    def estimate_batch(
        self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[float] | None] | None = None
    ) -> list[PoseExpression]:
        """:meth:`estimate` for each image (the ONNX export has a fixed batch size of 1)."""
        if boxes is None:
            boxes = [None] * len(images)
        if len(boxes) != len(images):
            raise ValueError(f"{len(images)} images but {len(boxes)} boxes")
        return [self.estimate(img, b) for img, b in zip(images, boxes)]

    def angles_batch(
        self, images: Sequence[np.ndarray], boxes: Sequence[Sequence[float] | None] | None = None
    ) -> np.ndarray:
        """``(N, 3)`` array of (yaw, pitch, roll) degrees, for metrics that only need pose."""
        return np.stack([r.angles for r in self.estimate_batch(images, boxes)]) if len(images) else np.zeros((0, 3))


def _to_result(params: np.ndarray, roi: np.ndarray) -> PoseExpression:
    scale, rot, trans = decompose_camera(params[:12])
    yaw, pitch, roll = rotation_to_angles(rot)
    return PoseExpression(
        yaw=yaw, pitch=pitch, roll=roll,
        expression=params[52:62].copy(), shape=params[12:52].copy(),
        scale=scale, rotation=rot, translation=trans, roi=np.asarray(roi, dtype=np.float64),
    )


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    img = np.asarray(rgb)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB uint8 image, got {img.dtype} {img.shape}")
    return img


def _load_bfm68(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BFM mean shape and bases at the 68 landmarks; vectors are x, y, z interleaved per point."""
    import json

    with open(path) as f:
        d = json.load(f)
    u = np.asarray(d["u_base"], dtype=np.float64).reshape(204)
    w_shp = np.asarray(d["w_shp_base"], dtype=np.float64).reshape(204, 40)
    w_exp = np.asarray(d["w_exp_base"], dtype=np.float64).reshape(204, 10)
    return u, w_shp, w_exp
