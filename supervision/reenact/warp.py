"""Batched thin-plate-spline (TPS) image warping by point correspondences, in plain torch.

Why TPS: it is the smoothest (minimum bending energy) map that moves a set of landmarks exactly
where we ask, it reproduces affine maps exactly, and it needs no triangulation, so a whole batch
is one linear solve plus one ``grid_sample``. ``kornia.geometry.transform.get_tps_transform`` /
``warp_image_tps`` implement the same kernel but offer no smoothing term (near-duplicate dlib
landmarks make the system ill-conditioned), no validity mask and evaluate all pixels at once;
this module adds those three things and keeps the pixel convention explicit.

Conventions: points are pixel coordinates (x, y) with pixel *centres* at integers (OpenCV's
convention), images are (B, C, H, W). ``warp_tps(images, src, dst)`` moves the content found at
``src`` in ``images`` to ``dst`` in the output (a backward map dst -> src is fitted and sampled).
Optional fixed anchors on the image border keep the background in place.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

log = logging.getLogger(__name__)

__all__ = ["TPS", "WarpResult", "border_anchors", "fit_tps", "jacobian_det", "warp_tps"]


@dataclass
class TPS:
    """A fitted 2-D thin-plate spline f(p) = A [1, p] + sum_i w_i U(|p - c_i|) (normalised coords)."""

    centers: Tensor  # (B, N, 2) control points in normalised units
    kernel_weights: Tensor  # (B, N, 2)
    affine_weights: Tensor  # (B, 3, 2)
    offset: Tensor  # (2,) normalisation: p_norm = (p_pix - offset) / scale
    scale: float

    def __call__(self, points: Tensor) -> Tensor:
        """Map (B, P, 2) pixel points -> (B, P, 2) pixel points."""
        p = (points - self.offset) / self.scale
        out = _affine(p, self.affine_weights) + _kernel(p, self.centers) @ self.kernel_weights
        return out * self.scale + self.offset


@dataclass
class WarpResult:
    image: Tensor  # (B, C, H, W) warped images
    valid: Tensor  # (B, 1, H, W) 1 where the sample came from inside the source and the map did not fold
    grid: Tensor  # (B, H, W, 2) source pixel coordinates sampled for every output pixel


def _kernel(p: Tensor, c: Tensor) -> Tensor:
    """TPS radial basis U(r) = r^2 log r^2 between (B,P,2) and (B,N,2) -> (B,P,N)."""
    r2 = (p[:, :, None] - c[:, None]).pow(2).sum(-1)
    return r2 * torch.log(r2.clamp_min(1e-12))


def _affine(p: Tensor, a: Tensor) -> Tensor:
    return a[:, 0:1] + p @ a[:, 1:3]


def border_anchors(height: int, width: int, per_side: int, device: torch.device | None = None) -> Tensor:
    """(K, 2) fixed points spread along the image border (corners included), K = 4 (per_side - 1)."""
    if per_side < 2:
        raise ValueError(f"per_side must be >= 2, got {per_side}")
    t = torch.linspace(0, 1, per_side, device=device)[:-1]
    x1, y1 = width - 1.0, height - 1.0
    top = torch.stack([t * x1, torch.zeros_like(t)], -1)
    right = torch.stack([torch.full_like(t, x1), t * y1], -1)
    bottom = torch.stack([x1 - t * x1, torch.full_like(t, y1)], -1)
    left = torch.stack([torch.zeros_like(t), y1 - t * y1], -1)
    return torch.cat([top, right, bottom, left])


def fit_tps(src: Tensor, dst: Tensor, *, regularization: float = 0.0, size: int | float = 1.0) -> TPS:
    """TPS mapping ``src`` (B,N,2) onto ``dst`` (B,N,2) pixel points (solved in float64).

    Points are normalised by ``size`` (the image side) so ``regularization`` (added to the kernel
    diagonal; 0 = exact interpolation) means the same at every resolution.
    """
    dtype = torch.float64
    scale = float(size) / 2.0
    offset = torch.full((2,), scale, dtype=dtype, device=src.device)
    s = (src.to(dtype) - offset) / scale
    d = (dst.to(dtype) - offset) / scale
    B, N, _ = s.shape
    K = _kernel(s, s) + regularization * torch.eye(N, dtype=dtype, device=s.device)
    P = torch.cat([torch.ones(B, N, 1, dtype=dtype, device=s.device), s], -1)
    L = torch.zeros(B, N + 3, N + 3, dtype=dtype, device=s.device)
    L[:, :N, :N] = K
    L[:, :N, N:] = P
    L[:, N:, :N] = P.transpose(1, 2)
    rhs = torch.cat([d, torch.zeros(B, 3, 2, dtype=dtype, device=s.device)], 1)
    sol = torch.linalg.lstsq(L, rhs).solution if N < 3 else torch.linalg.solve(L, rhs)
    return TPS(s, sol[:, :N], sol[:, N:], offset, scale)


def _evaluate_map(tps: TPS, b: int, h: int, w: int, device: torch.device, step: int, chunk: int) -> Tensor:
    """(B, H, W, 2) the map at every pixel centre, via a coarse lattice when ``step`` > 1."""
    step = max(1, int(step))
    nh, nw = (h - 1 + step - 1) // step + 1, (w - 1 + step - 1) // step + 1
    ys = torch.linspace(0, h - 1, nh, device=device, dtype=torch.float64)
    xs = torch.linspace(0, w - 1, nw, device=device, dtype=torch.float64)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    pts = torch.stack([xx, yy], -1).reshape(1, -1, 2).expand(b, -1, -1)
    coarse = torch.cat([tps(pts[:, i:i + chunk]) for i in range(0, pts.shape[1], chunk)], 1)
    if (nh, nw) == (h, w):
        return coarse.reshape(b, h, w, 2)
    coarse = coarse.reshape(b, nh, nw, 2).permute(0, 3, 1, 2)
    # align_corners=True maps the lattice ends onto pixel centres 0 and W-1 exactly (linear in between).
    return F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True).permute(0, 2, 3, 1)


def warp_tps(
    images: Tensor,
    src_points: Tensor,
    dst_points: Tensor,
    *,
    regularization: float = 0.0,
    anchors_per_side: int = 0,
    mode: str = "bilinear",
    grid_step: int = 2,
    chunk: int = 1 << 15,
) -> WarpResult:
    """Warp ``images`` so the content at ``src_points`` lands on ``dst_points``.

    ``anchors_per_side`` > 1 adds fixed border points (identical in src and dst) so the image
    border and far background stay put. The map is evaluated on a lattice every ``grid_step``
    pixels (1 = every pixel) and bilinearly upsampled: the spline is smooth, the error is far
    below a pixel, affine maps stay exact, and it is ~grid_step^2 times cheaper. Evaluation runs in
    chunks of ``chunk`` points to bound memory (B x chunk x N). Outside the source the output repeats the border pixel and
    ``valid`` is 0; ``valid`` is also 0 where the map folds over (negative Jacobian).
    """
    if src_points.shape != dst_points.shape or src_points.shape[-1] != 2:
        raise ValueError(f"src/dst points must both be (B, N, 2), got {tuple(src_points.shape)} / {tuple(dst_points.shape)}")
    B, C, H, W = images.shape
    src, dst = src_points.to(torch.float64), dst_points.to(torch.float64)
    if anchors_per_side > 1:
        anchors = border_anchors(H, W, anchors_per_side, images.device).to(torch.float64).expand(B, -1, -1)
        src, dst = torch.cat([src, anchors], 1), torch.cat([dst, anchors], 1)
    backward = fit_tps(dst, src, regularization=regularization, size=max(H, W))
    grid = _evaluate_map(backward, B, H, W, images.device, grid_step, chunk)

    norm = torch.stack([(2 * grid[..., 0] + 1) / W - 1, (2 * grid[..., 1] + 1) / H - 1], -1)
    out = F.grid_sample(images, norm.to(images.dtype), mode=mode, padding_mode="border", align_corners=False)
    inside = ((grid[..., 0] >= -0.5) & (grid[..., 0] <= W - 0.5) & (grid[..., 1] >= -0.5) & (grid[..., 1] <= H - 0.5))
    valid = inside & (jacobian_det(grid) > 0)
    return WarpResult(out, valid[:, None].to(images.dtype), grid.to(images.dtype))


def jacobian_det(grid: Tensor) -> Tensor:
    """(B, H, W) determinant of d(source)/d(output) of a sampling grid, by finite differences.

    Args:
        grid: (B, H, W, 2) source pixel coordinates (x, y) sampled for every output pixel
            (:attr:`WarpResult.grid`); any float dtype, the result has the same dtype.

    Returns:
        Source area per output area (source px^2 per output px^2, dimensionless): 1 for the
        identity or any rigid map, s^2 for a uniform scale s, <= 0 where the map folds over (the
        output shows a mirrored copy of the source there). Forward differences, the last row and
        column repeat the one before; a lattice-evaluated, bilinearly upsampled grid (``grid_step``
        > 1) gives a piecewise-constant but consistent estimate.

    Raises:
        ValueError: when ``grid`` is not (B, H, W, 2) with H, W >= 2.
    """
    if grid.dim() != 4 or grid.shape[-1] != 2 or grid.shape[1] < 2 or grid.shape[2] < 2:
        raise ValueError(f"grid must be (B, H, W, 2) with H, W >= 2, got {tuple(grid.shape)}")
    g = grid.permute(0, 3, 1, 2).contiguous()  # (B, 2, H, W): contiguous x and y planes (~5x faster)
    gx, gy = torch.empty_like(g), torch.empty_like(g)
    torch.sub(g[..., 1:], g[..., :-1], out=gx[..., :-1])
    gx[..., -1] = gx[..., -2]
    torch.sub(g[..., 1:, :], g[..., :-1, :], out=gy[..., :-1, :])
    gy[..., -1, :] = gy[..., -2, :]
    return gx[:, 0] * gy[:, 1] - gx[:, 1] * gy[:, 0]
