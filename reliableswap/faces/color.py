"""Linear colour transfer: match the mean and covariance (RGB) of a masked region to another's.

Step 3 of the cycle-triplet synthesis (spec §1): the face pasted from A' must take B's skin tone
and lighting, otherwise AB carries A's colour and the generator learns to copy colour from the
source. A global affine map ``x -> T (x - mu_s) + mu_t`` with ``T Sigma_s T^T = Sigma_t`` does this
while keeping the relative structure (shading, lips vs. skin) of the face.

Which ``T``: among all matrices that map ``Sigma_s`` onto ``Sigma_t`` we use the symmetric one,

    T = Sigma_s^{-1/2} (Sigma_s^{1/2} Sigma_t Sigma_s^{1/2})^{1/2} Sigma_s^{-1/2},

the Monge-Kantorovich (optimal transport) map between the two Gaussians: it moves colours the
least, so it does not rotate hues the way a Cholesky or PCA square-root pairing can when the two
covariances' principal axes differ. ``mode="cholesky"`` (``T = L_t L_s^{-1}``) is available for
comparison. Both are batched 3x3 linear algebra in float64 (``torch.linalg.eigh``), so they run on
GPU and CPU alike.

Degenerate covariances (a flat-coloured region, a single pixel) are regularised with a ridge
``eps * I`` added to both covariances: the map then stays finite, and directions without
variance in the source are left (almost) unscaled instead of amplified.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch
from torch import Tensor

log = logging.getLogger(__name__)

Mode = Literal["mkl", "cholesky"]


def masked_mean_cov(images: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Weighted per-image RGB statistics of the masked region, in float64.

    Args:
        images: (B, C, H, W).
        mask: (B, 1, H, W) weights in [0, 1] (soft masks weight pixels).

    Returns:
        mean (B, C), covariance (B, C, C) (weighted, normalised by the weight sum), weight sum (B,).
        Images with an empty mask get mean 0 and covariance 0; check the weight sum.
    """
    x = images.to(torch.float64).flatten(2)  # (B, C, N)
    w = mask.to(torch.float64).flatten(2)  # (B, 1, N)
    total = w.sum(dim=2)  # (B, 1)
    safe = total.clamp_min(1e-12)
    mean = (x * w).sum(dim=2) / safe  # (B, C)
    centred = (x - mean.unsqueeze(2)) * w.sqrt()
    cov = centred @ centred.transpose(1, 2) / safe.unsqueeze(2)
    return mean, cov, total.squeeze(1)


def _sym_sqrt(mat: Tensor, inverse: bool = False) -> Tensor:
    """Square root (or inverse square root) of batched symmetric PSD matrices via ``eigh``."""
    vals, vecs = torch.linalg.eigh(mat)
    vals = vals.clamp_min(0.0).sqrt()
    if inverse:
        vals = 1.0 / vals.clamp_min(1e-12)
    return (vecs * vals.unsqueeze(-2)) @ vecs.transpose(-1, -2)


def transfer_matrix(cov_source: Tensor, cov_target: Tensor, mode: Mode = "mkl") -> Tensor:
    """Linear map ``T`` with ``T cov_source T^T = cov_target`` (batched, regularised inputs)."""
    if mode == "mkl":
        s_half = _sym_sqrt(cov_source)
        s_inv_half = _sym_sqrt(cov_source, inverse=True)
        middle = _sym_sqrt(s_half @ cov_target @ s_half)
        return s_inv_half @ middle @ s_inv_half
    if mode == "cholesky":
        l_s = torch.linalg.cholesky(cov_source)
        l_t = torch.linalg.cholesky(cov_target)
        # T = L_t L_s^{-1}  <=>  T L_s = L_t  <=>  L_s^T T^T = L_t^T
        return torch.linalg.solve_triangular(l_s.transpose(-1, -2), l_t.transpose(-1, -2), upper=True).transpose(-1, -2)
    raise ValueError(f"unknown colour-transfer mode {mode!r} (use 'mkl' or 'cholesky')")


def linear_color_transfer(
    source: Tensor,
    target: Tensor,
    mask_source: Tensor,
    mask_target: Tensor,
    mode: Mode = "mkl",
    eps: float = 1e-5,
    composite: bool = False,
    clamp: bool = True,
    min_pixels: float = 16.0,
) -> Tensor:
    """Recolour ``source`` so its masked region has ``target``'s masked mean and covariance.

    Args:
        source: (B, 3, H, W) image to recolour (e.g. the reenacted A' or the blended AB), [-1, 1].
        target: (B, 3, H', W') image providing the statistics (B); its size may differ.
        mask_source: (B, 1, H, W) region of ``source`` whose statistics are measured.
        mask_target: (B, 1, H', W') region of ``target`` whose statistics are matched.
        mode: ``"mkl"`` (symmetric optimal-transport map, default) or ``"cholesky"``.
        eps: ridge added to both covariances, in squared [-1, 1] units (see module docstring).
        composite: if True only the masked region changes (``mask * mapped + (1 - mask) * source``);
            by default the affine map is applied to the whole image and the caller composites
            (the blend stage does, with its own mask).
        clamp: clamp the result to [-1, 1]. Statistics are matched before clamping; clamping only
            bites when the target's range is not representable.
        min_pixels: an image whose mask weight (in either image) is below this is returned
            unchanged, since its statistics would be noise; a warning is logged.

    Returns:
        (B, 3, H, W) tensor with ``source``'s dtype and device.
    """
    if source.dim() != 4 or target.dim() != 4 or source.shape[:2] != target.shape[:2]:
        raise ValueError(f"source {tuple(source.shape)} and target {tuple(target.shape)} must be (B, C, H, W) alike")
    channels = source.shape[1]
    mean_s, cov_s, w_s = masked_mean_cov(source, mask_source)
    mean_t, cov_t, w_t = masked_mean_cov(target, mask_target)
    ridge = eps * torch.eye(channels, dtype=cov_s.dtype, device=cov_s.device)
    matrix = transfer_matrix(cov_s + ridge, cov_t + ridge, mode)

    ok = (w_s >= min_pixels) & (w_t >= min_pixels)
    if not bool(ok.all()):
        log.warning(
            "linear_color_transfer: %d image(s) with < %s masked pixels left unchanged", int((~ok).sum()), min_pixels
        )
        eye = torch.eye(channels, dtype=matrix.dtype, device=matrix.device).expand_as(matrix)
        matrix = torch.where(ok.view(-1, 1, 1), matrix, eye)
        mean_t = torch.where(ok.view(-1, 1), mean_t, mean_s)

    # Statistics and the 3x3 algebra are float64; applying the map to every pixel is float32
    # (float64 throughput is poor on many GPUs), or float64 when the input already is.
    work = torch.float64 if source.dtype == torch.float64 else torch.float32
    x = source.to(work).flatten(2)
    offset = mean_t - (matrix @ mean_s.unsqueeze(2)).squeeze(2)
    mapped = torch.baddbmm(offset.to(work).unsqueeze(2), matrix.to(work), x).view(source.shape)
    if composite:
        m = mask_source.to(work)
        mapped = m * mapped + (1.0 - m) * source.to(work)
    if clamp:
        mapped = mapped.clamp(-1.0, 1.0)
    return mapped.to(source.dtype)
