"""Cut FFHQ-aligned crops out of full photos/frames, and locate them again for pasting back.

The swap models were trained on FFHQ-style aligned crops, so inference must produce exactly that
crop: the similarity transform that maps the face's 5 ArcFace keypoints (eye centres, nose tip,
mouth corners; :attr:`~reliableswap.faces.face.Face.kps`) onto
:func:`reliableswap.faces.alignment.ffhq_template` at the model's size. The same 2x3 matrix,
inverted, pastes the result back (:mod:`reliableswap.inference.paste` uses :func:`crop_region`).
"""

from __future__ import annotations

import cv2
import numpy as np

from reliableswap.faces.alignment import ffhq_template, similarity_transform
from reliableswap.faces.face import Face

__all__ = ["align_face", "align_faces", "alignment_matrix", "crop_region", "matrix_scale"]


def alignment_matrix(kps: np.ndarray, size: int) -> np.ndarray:
    """2x3 similarity: image pixel coordinates -> the ``size`` FFHQ crop (5-point least squares)."""
    return similarity_transform(np.asarray(kps, np.float64).reshape(5, 2), ffhq_template(size))


def matrix_scale(matrix: np.ndarray) -> float:
    """Uniform scale of a similarity matrix (crop pixels per image pixel)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:, :2]))))


def crop_region(matrix: np.ndarray, size: int, height: int, width: int, margin: int = 2) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1), clipped to the image, of where the crop lies in the image."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [-0.5, size - 0.5], [size - 0.5, size - 0.5]])
    pts = corners @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(pts.min(0)).astype(int) - margin
    x1, y1 = np.ceil(pts.max(0)).astype(int) + margin + 1
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


def align_face(rgb: np.ndarray, kps: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the ``size`` x ``size`` FFHQ-aligned crop of one face; returns (crop uint8, matrix).

    Only the face's region of the image is touched (fast on 4K frames). When the crop is much
    smaller than the face (a 1,000 px face into a 64 px crop), the region is first shrunk with
    area averaging, because ``warpAffine``'s bilinear sampling would alias.
    """
    matrix = alignment_matrix(kps, size)
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = crop_region(matrix, size, h, w)
    if x1 <= x0 or y1 <= y0:  # face entirely outside the frame (can happen with smoothed points)
        return np.zeros((size, size, 3), np.uint8), matrix
    roi = rgb[y0:y1, x0:x1]
    scale = matrix_scale(matrix)
    r = min(1.0, 1.5 * scale)
    if r < 1.0:
        rw, rh = max(1, round((x1 - x0) * r)), max(1, round((y1 - y0) * r))
        roi = cv2.resize(roi, (rw, rh), interpolation=cv2.INTER_AREA)
        rx, ry = rw / (x1 - x0), rh / (y1 - y0)
        # roi pixel q -> image pixel p = (q + 0.5) / r - 0.5 + offset (pixel-centre convention)
        back = np.array([[1 / rx, 0, 0.5 / rx - 0.5 + x0], [0, 1 / ry, 0.5 / ry - 0.5 + y0], [0, 0, 1]])
    else:
        back = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    local = (np.vstack([matrix, [0, 0, 1]]) @ back)[:2]
    crop = cv2.warpAffine(roi, local, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, matrix


def align_faces(rgb: np.ndarray, faces: list[Face], size: int) -> tuple[np.ndarray, np.ndarray]:
    """All faces of one image: crops (N, size, size, 3) uint8 and matrices (N, 2, 3)."""
    if not faces:
        return np.zeros((0, size, size, 3), np.uint8), np.zeros((0, 2, 3))
    pairs = [align_face(rgb, f.kps, size) for f in faces]
    return np.stack([c for c, _ in pairs]), np.stack([m for _, m in pairs])
