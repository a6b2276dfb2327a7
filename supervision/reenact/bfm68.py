"""Sparse 3DMM fitting: the 68-landmark Basel Face Model of 3DDFA-V2, fitted to 2-D landmarks.

Why: the offline reenactor needs to separate *who* a face is (3-D shape: jaw width, nose, eye
distance) from *what it does* (expression) and *how it is seen* (head pose). A linear 3DMM
restricted to the 68 iBUG landmarks does exactly that with a few small linear solves, so A's
shape can be combined with B's expression and pose (:func:`combine`) without any network.

Model (3DDFA-V2 convention, model units ~1e5 per face width, y up)::

    X = u + W_shp @ alpha_shp + W_exp @ alpha_exp        (68 x 3 points)
    x = M @ X + t                                         (68 x 2 image points)

The camera is *scaled orthographic* (weak perspective): ``M = s * R[:2]`` with orthonormal rows.
We deliberately do not keep the general 2x3 affine camera of 3DDFA-V2: its extra shear /
anisotropic-scale degrees of freedom can absorb face width, which would then travel with the
driving face's camera and overwrite the source's shape. Image y points down while the model's
y points up; a 2x3 matrix with orthonormal rows can represent that reflection, so it needs no
special handling.

Fitting is regularised least squares, batched in torch (float64 internally; the model units are
large): alternate (1) the camera by linear least squares then projection onto scaled-orthographic
(SVD), (2) shape + expression by ridge regression in *standardised* coefficients
``z = (alpha - mean) / std`` (the 3DDFA-V2 parameter statistics act as the Gaussian prior).
Landmarks are normalised by the face's RMS radius before solving, so the regularisation
strengths do not depend on the crop size.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from reliableswap import weights

log = logging.getLogger(__name__)

__all__ = ["BFM68", "BFMFit", "fit_landmarks", "combine", "MOUTH", "N_SHAPE", "N_EXPRESSION"]

N_SHAPE = 40
N_EXPRESSION = 10
MOUTH = slice(48, 68)  # iBUG mouth points (outer lips 48-59, inner lips 60-67)


@dataclass(frozen=True)
class BFM68:
    """The sparse BFM: mean shape, bases and coefficient statistics (float64, CPU or device)."""

    mean_shape: Tensor  # (68, 3) u
    w_shp: Tensor  # (68, 3, 40)
    w_exp: Tensor  # (68, 3, 10)
    shp_mean: Tensor  # (40,) prior mean of alpha_shp (3DDFA-V2 training statistics)
    shp_std: Tensor  # (40,)
    exp_mean: Tensor  # (10,)
    exp_std: Tensor  # (10,)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str] | None = None) -> BFM68:
        """Load the 3DDFA-V2 68-point bases (registry ``tddfa_v2_bfm68``; ``path`` overrides)."""
        return _load_cached(str(weights.resolve("tddfa_v2_bfm68", path)))

    def to(self, device: torch.device | str) -> BFM68:
        return BFM68(**{k: getattr(self, k).to(device) for k in self.__dataclass_fields__})

    def vertices(self, alpha_shp: Tensor, alpha_exp: Tensor) -> Tensor:
        """(B, 40), (B, 10) raw coefficients -> (B, 68, 3) model-space landmarks."""
        return (
            self.mean_shape
            + torch.einsum("pck,bk->bpc", self.w_shp, alpha_shp)
            + torch.einsum("pck,bk->bpc", self.w_exp, alpha_exp)
        )


@lru_cache(maxsize=2)
def _load_cached(path: str) -> BFM68:
    data = json.loads(Path(path).read_text())

    def t(key: str) -> Tensor:
        return torch.tensor(data[key], dtype=torch.float64)

    mean, std = t("mean").flatten(), t("std").flatten()
    # u_base / w_*_base rows are interleaved (x0, y0, z0, x1, ...), as 3DDFA-V2 reshapes with order='F'.
    model = BFM68(
        mean_shape=t("u_base").reshape(68, 3),
        w_shp=t("w_shp_base").reshape(68, 3, N_SHAPE),
        w_exp=t("w_exp_base").reshape(68, 3, N_EXPRESSION),
        shp_mean=mean[12:52], shp_std=std[12:52], exp_mean=mean[52:62], exp_std=std[52:62],
    )
    log.debug("loaded BFM68 bases from %s", path)
    return model


@dataclass
class BFMFit:
    """Result of :func:`fit_landmarks` for a batch (all float64, on the input's device)."""

    alpha_shp: Tensor  # (B, 40) raw shape coefficients
    alpha_exp: Tensor  # (B, 10) raw expression coefficients
    camera: Tensor  # (B, 2, 3) s * R[:2] (rows orthogonal, equal norm s)
    translation: Tensor  # (B, 2) pixels
    landmarks: Tensor  # (B, 68, 2) the observed landmarks that were fitted
    model: BFM68

    @property
    def scale(self) -> Tensor:
        """(B,) weak-perspective scale, pixels per model unit."""
        return self.camera.norm(dim=-1).mean(-1)

    @property
    def rotation(self) -> Tensor:
        """(B, 3, 3) a rotation whose first two rows are the camera's (third = their cross product)."""
        r12 = self.camera / self.scale[:, None, None]
        return torch.cat([r12, torch.linalg.cross(r12[:, 0], r12[:, 1])[:, None]], dim=1)

    def project(self, alpha_shp: Tensor | None = None, alpha_exp: Tensor | None = None) -> Tensor:
        """(B, 68, 2) model landmarks seen through this fit's camera (optionally other coefficients)."""
        shp = self.alpha_shp if alpha_shp is None else alpha_shp
        exp = self.alpha_exp if alpha_exp is None else alpha_exp
        return _project(self.model.vertices(shp, exp), self.camera, self.translation)

    @property
    def fitted(self) -> Tensor:
        return self.project()

    @property
    def residual(self) -> Tensor:
        """(B, 68, 2) observed minus model landmarks: detail the 50-d model cannot express."""
        return self.landmarks - self.fitted

    def reprojection_error(self) -> Tensor:
        """(B,) mean Euclidean distance in pixels between observed and fitted landmarks."""
        return self.residual.norm(dim=-1).mean(-1)


def _project(points3d: Tensor, camera: Tensor, translation: Tensor) -> Tensor:
    return torch.einsum("bij,bpj->bpi", camera, points3d) + translation[:, None]


def _fit_camera(x: Tensor, X: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted scaled-orthographic camera mapping 3-D ``X`` (B,P,3) to 2-D ``x`` (B,P,2)."""
    wn = w / w.sum(-1, keepdim=True)
    xc = (wn[..., None] * x).sum(1)
    Xc = (wn[..., None] * X).sum(1)
    dx, dX = x - xc[:, None], X - Xc[:, None]
    sw = w.sqrt()[..., None]
    # Affine least squares: dx ≈ dX @ A^T  ->  A^T = lstsq(dX, dx)
    At = torch.linalg.lstsq(sw * dX, sw * dx).solution  # (B, 3, 2)
    U, S, Vh = torch.linalg.svd(At.transpose(1, 2), full_matrices=False)  # (B,2,2),(B,2),(B,2,3)
    camera = S.mean(-1)[:, None, None] * (U @ Vh)
    translation = xc - torch.einsum("bij,bj->bi", camera, Xc)
    return camera, translation


def fit_landmarks(
    landmarks: Tensor,
    model: BFM68 | None = None,
    *,
    shape_regularization: float = 1e-3,
    expression_regularization: float = 1e-3,
    iterations: int = 6,
    weights_per_point: Tensor | None = None,
) -> BFMFit:
    """Fit shape, expression and a weak-perspective camera to (B, 68, 2) pixel landmarks.

    ``*_regularization`` is the ridge weight on the standardised coefficients, in units of
    (face RMS radius)^2: 1e-3 means one prior standard deviation costs as much as a ~3% of the
    face radius misfit summed over the points. Larger values pull towards the mean face (more
    robust to noisy landmarks, less identity detail). ``weights_per_point`` (68,) or (B, 68)
    down-weights unreliable points (e.g. the jaw contour under strong yaw).
    """
    model = model or BFM68.from_json()
    model = model.to(landmarks.device)
    x = landmarks.to(torch.float64)
    B = x.shape[0]
    if x.shape[1:] != (68, 2):
        raise ValueError(f"expected (B, 68, 2) landmarks, got {tuple(landmarks.shape)}")
    w = torch.ones(B, 68, dtype=x.dtype, device=x.device)
    if weights_per_point is not None:
        w = w * weights_per_point.to(w)
    # Normalise: the solves then see a face of RMS radius 1 centred at 0 (size-independent priors).
    centre = x.mean(1, keepdim=True)
    radius = (x - centre).pow(2).sum(-1).mean(-1).sqrt().clamp_min(1e-6)[:, None, None]
    xn = (x - centre) / radius

    basis = torch.cat([model.w_shp * model.shp_std, model.w_exp * model.exp_std], dim=-1)  # (68,3,50)
    prior_mean = torch.cat([model.shp_mean, model.exp_mean])
    base_pts = model.mean_shape + torch.einsum("pck,k->pc", torch.cat([model.w_shp, model.w_exp], -1), prior_mean)
    reg = torch.cat([
        torch.full((N_SHAPE,), shape_regularization, dtype=x.dtype, device=x.device),
        torch.full((N_EXPRESSION,), expression_regularization, dtype=x.dtype, device=x.device),
    ])
    z = torch.zeros(B, N_SHAPE + N_EXPRESSION, dtype=x.dtype, device=x.device)
    sw = w.sqrt()[..., None]  # (B, 68, 1)
    for _ in range(max(1, iterations)):
        X = base_pts + torch.einsum("pck,bk->bpc", basis, z)
        camera, translation = _fit_camera(xn, X, w)
        # Linear in z: xn ≈ t + M base + (M basis) z
        J = torch.einsum("bij,pjk->bpik", camera, basis)  # (B, 68, 2, 50)
        rhs = xn - _project(base_pts.expand(B, -1, -1), camera, translation)
        Jw = (sw[..., None] * J).reshape(B, 136, -1)
        rw = (sw * rhs).reshape(B, 136, 1)
        lhs = Jw.transpose(1, 2) @ Jw + torch.diag(reg)
        z = torch.linalg.solve(lhs, Jw.transpose(1, 2) @ rw).squeeze(-1)
    X = base_pts + torch.einsum("pck,bk->bpc", basis, z)
    camera, translation = _fit_camera(xn, X, w)
    # Undo the normalisation: x = radius * xn + centre.
    camera = camera * radius
    translation = translation * radius[:, 0] + centre[:, 0]
    alpha = prior_mean + z * torch.cat([model.shp_std, model.exp_std])
    fit = BFMFit(alpha[:, :N_SHAPE], alpha[:, N_SHAPE:], camera, translation, x, model)
    log.debug("BFM68 fit: mean reprojection error %s px", fit.reprojection_error().tolist())
    return fit


def combine(
    source: BFMFit,
    driving: BFMFit,
    *,
    expression: bool = True,
    pose: bool = True,
    keep_residual: bool = True,
) -> Tensor:
    """Target landmarks (B, 68, 2): the source's face shape with the driving expression and pose.

    ``expression``/``pose`` select whether each comes from ``driving`` (True) or stays the
    source's. The driving camera also carries the driving scale and image position, so the
    result overlays the driving face (what the blend into B needs).

    ``keep_residual`` adds the source's fitting residual (its landmarks minus the model fit,
    mapped by the 2x2 linear map between the two projected model faces) so identity detail the
    40-d shape basis misses is kept, and ``combine(A, A)`` returns A's landmarks exactly. When the
    expression is transferred the mouth residual is dropped: it mostly encodes A's own mouth
    state, which would fight B's expression.
    """
    alpha_exp = driving.alpha_exp if expression else source.alpha_exp
    cam_fit = driving if pose else source
    target = _project(source.model.vertices(source.alpha_shp, alpha_exp), cam_fit.camera, cam_fit.translation)
    if keep_residual:
        src_model = source.fitted
        a = src_model - src_model.mean(1, keepdim=True)
        b = target - target.mean(1, keepdim=True)
        lin = torch.linalg.lstsq(a, b).solution  # (B, 2, 2): b ≈ a @ lin
        residual = source.residual @ lin
        if expression and driving is not source:
            residual[:, MOUTH] = 0
        target = target + residual
    return target
