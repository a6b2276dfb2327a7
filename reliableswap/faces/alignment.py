"""The one alignment convention: FFHQ-aligned crops -> the 112x112 ArcFace crop.

Datasets store FFHQ-style aligned face crops (one centred face, any square size S: 128, 256,
512, ...). Face recognisers (ArcFace iresnet, MobileFaceNet, FixerNet) were trained on the
InsightFace 112x112 crop defined by a 5-point template. This module maps one to the other with a
*fixed* similarity transform, so every identity loss, metric and filter in the project sees the
same crop:

1. :data:`FFHQ_TEMPLATE_5PT` is the mean position of the five ArcFace landmarks (eye centres,
   nose tip, mouth corners) inside an FFHQ crop, measured with SCRFD-500M on the 1,000
   CelebAMask-HQ crops (``scripts/derive_ffhq_template.py``), in normalised coordinates.
2. :func:`arcface_matrix` fits the least-squares similarity (Umeyama) from that template, scaled
   to the crop size S, onto :data:`ARCFACE_TEMPLATE_112`. Because the template is normalised with
   an explicit pixel convention, the matrix is exact for every S (the original code assumed
   S = 256 and produced a wrong crop at 512).
3. :func:`ffhq_to_arcface` applies it as a batched, differentiable ``affine_grid``/``grid_sample``
   warp, so the identity loss back-propagates into the generator's output.

Coordinate conventions (the source of most alignment bugs, so stated once):

- *pixel coordinates*: pixel centres at integers, (0, 0) is the centre of the top-left pixel; this
  is what OpenCV, SCRFD and the InsightFace template use.
- *normalised crop coordinates* (the FFHQ template): (0, 0) is the top-left *corner* of the crop
  and (1, 1) the bottom-right corner, so pixel coordinate ``x`` is ``(x + 0.5) / S``.
- ``F.affine_grid(..., align_corners=False)`` coordinates: -1 and 1 are the outer image borders,
  i.e. ``2 * (x + 0.5) / S - 1``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

ARCFACE_SIZE = 112

#: Standard InsightFace 5-point template of the 112x112 ArcFace crop, pixel coordinates (x, y):
#: left eye, right eye (as seen in the image), nose tip, left and right mouth corner.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)

#: Mean 5-point landmarks of FFHQ-style aligned crops, normalised crop coordinates (x, y), same
#: point order as :data:`ARCFACE_TEMPLATE_112`.
#:
#: Derived empirically by ``scripts/derive_ffhq_template.py``: InsightFace SCRFD-500M
#: (``detection/scrfd_500m_kps.onnx``, input 640, each 512x512 crop padded by a 25% black border
#: so the face is not too large for the detector) on all 1,000 CelebAMask-HQ crops of the shared
#: data; 1,000 detections, 0 failures. Per-point standard deviations (x, y): eyes 0.010/0.007,
#: nose 0.038/0.026, mouth corners 0.018/0.018 -- FFHQ alignment pins the eyes, while nose and
#: mouth vary with pose and expression, so the least-squares fit is dominated by stable points.
#: The shapes differ slightly: relative to the eyes, SCRFD puts the nose and mouth of FFHQ faces
#: lower than the InsightFace template does, so after the best similarity fit the eyes land within
#: 0.8 px of the template and the nose/mouth corners within 3.4/2.5 px (the same size of residual
#: SCRFD-aligned wild photos show against the template).
FFHQ_TEMPLATE_5PT = np.array(
    [
        [0.38103, 0.47624],
        [0.62245, 0.47818],
        [0.49738, 0.63060],
        [0.39589, 0.73044],
        [0.60819, 0.73252],
    ],
    dtype=np.float64,
)

#: Inputs larger than this are first downsampled (anti-aliased) before the warp. At this size the
#: warp samples about 0.75 output pixels per input pixel, where bilinear ``grid_sample`` does not
#: alias; without it a 512 crop (0.29 px/px) would alias and differ from the same face at 256.
ANTIALIAS_SIZE = 192


def ffhq_template(size: int) -> np.ndarray:
    """The FFHQ 5-point template in pixel coordinates of an S x S crop, shape (5, 2)."""
    return FFHQ_TEMPLATE_5PT * float(size) - 0.5


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping ``src`` to ``dst``.

    Umeyama (1991) closed form, no reflection. ``src`` and ``dst`` are (N, 2) point sets; returns
    the 2x3 matrix ``M`` with ``dst ~= M[:, :2] @ src + M[:, 2]``. Deterministic (unlike
    ``cv2.estimateAffinePartial2D``'s RANSAC), so the fixed warp is reproducible bit for bit.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two (N>=2, 2) point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    var_s = (xs**2).sum() / len(src)
    scale = float((sig * d).sum() / var_s)
    m = np.zeros((2, 3), dtype=np.float64)
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def arcface_matrix(size: int) -> np.ndarray:
    """2x3 similarity matrix from pixel coordinates of an S x S FFHQ crop to the 112 ArcFace crop.

    Usable directly as ``cv2.warpAffine(image, arcface_matrix(S), (112, 112))``. Scale-correct for
    any S because the template is normalised (see module docstring).
    """
    if size <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    return similarity_transform(ffhq_template(size), ARCFACE_TEMPLATE_112)


def _pixel_to_grid(size: int) -> np.ndarray:
    """3x3 map from pixel coordinates to ``affine_grid`` (align_corners=False) coordinates."""
    a = 2.0 / size
    return np.array([[a, 0.0, a / 2 - 1.0], [0.0, a, a / 2 - 1.0], [0.0, 0.0, 1.0]])


@lru_cache(maxsize=1)
def arcface_theta() -> np.ndarray:
    """The ``F.affine_grid`` theta (2x3) of the FFHQ -> ArcFace warp.

    It maps output grid coordinates (112 crop) to input grid coordinates (FFHQ crop); in these
    normalised coordinates it is independent of S, which is exactly why the warp works at any size.
    """
    size = 512  # any size gives the same theta up to float rounding
    m = np.vstack([arcface_matrix(size), [0.0, 0.0, 1.0]])
    theta = (_pixel_to_grid(size) @ np.linalg.inv(m) @ np.linalg.inv(_pixel_to_grid(ARCFACE_SIZE)))[:2]
    theta.setflags(write=False)  # cached and shared: read-only
    return theta


def ffhq_to_arcface(images: torch.Tensor, antialias: bool = True) -> torch.Tensor:
    """Warp FFHQ-aligned crops [B, 3, S, S] to ArcFace crops [B, 3, 112, 112], differentiably.

    Values are passed through unchanged (any range; the project uses [-1, 1]); outside the input
    the warp pads with border values. With ``antialias`` (default), crops larger than
    :data:`ANTIALIAS_SIZE` are first reduced with an anti-aliased bilinear resize, so the same face
    at 256 and at 512 gives the same 112 crop. Gradients flow to ``images``.
    """
    if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"expected square crops [B, C, S, S], got {tuple(images.shape)}")
    # Half/bfloat16 inputs (mixed precision) are warped in float32: the sampling grid needs it.
    compute_dtype = images.dtype if images.dtype in (torch.float32, torch.float64) else torch.float32
    x = images.to(compute_dtype)
    if antialias and x.shape[-1] > ANTIALIAS_SIZE:
        x = F.interpolate(x, size=(ANTIALIAS_SIZE, ANTIALIAS_SIZE), mode="bilinear",
                          align_corners=False, antialias=True)
    theta = torch.tensor(arcface_theta(), dtype=compute_dtype, device=x.device)
    theta = theta.unsqueeze(0).expand(x.shape[0], 2, 3)
    grid = F.affine_grid(theta, [x.shape[0], x.shape[1], ARCFACE_SIZE, ARCFACE_SIZE], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.to(images.dtype)


def lower_face_crop(arcface112: torch.Tensor) -> torch.Tensor:
    """The FixerNet crop of a 112 ArcFace crop: rows 56:112, columns 28:84 (56x56, mouth/jaw)."""
    if arcface112.shape[-2:] != (ARCFACE_SIZE, ARCFACE_SIZE):
        raise ValueError(f"expected 112x112 ArcFace crops, got {tuple(arcface112.shape)}")
    return arcface112[..., 56:112, 28:84]


def estimate_arcface_matrix(landmarks: np.ndarray) -> np.ndarray:
    """2x3 matrix mapping an arbitrary photo to the 112 ArcFace crop from its 5 detected points.

    For unaligned ("wild") photos: ``landmarks`` are the 5 points (pixel coordinates, ArcFace
    order) from a detector such as SCRFD; use with ``cv2.warpAffine(img, M, (112, 112))``.
    """
    return similarity_transform(np.asarray(landmarks, dtype=np.float64).reshape(5, 2), ARCFACE_TEMPLATE_112)
