"""Offline reenactor: 3DMM landmark transfer + thin-plate-spline warp (no network, no weights
beyond the 68-point BFM bases).

Why it exists: the official backend (LIA) needs ``vox.pt``, which is not redistributable. This
backend produces the same *kind* of A' for step 1 of the cycle-triplet recipe — A's face moved to
B's head pose and expression while keeping A's face shape — from landmarks alone:

1. fit the sparse BFM (:mod:`supervision.reenact.bfm68`) to A's and to B's 68 landmarks;
2. target landmarks = A's shape (+ A's fitting residual, which carries identity detail the 40-d
   basis misses) with B's expression and B's camera (pose, scale, position);
3. TPS-warp A so its landmarks land on the targets, with fixed border anchors so the background
   stays roughly in place.

Limitations (by construction, a warp only moves A's pixels):

- **Mouth:** when B's mouth is open and A's is closed the warp can open the lips' outline but it
  cannot invent teeth or the mouth cavity — the gap is filled with stretched lip/skin texture.
  The blend stage can take B's inner mouth instead (configure the inner-mouth label as B's).
  The opposite case (A open, B closed) squeezes A's teeth into a thin band.
- **Pose:** large yaw differences expose regions A's photo does not show (the far cheek) and
  compress others; the BFM's fixed jaw-contour vertices are also only correct for near-frontal
  faces. Moderate pose differences (FFHQ-aligned pairs) are what it is meant for.
- **Eyes:** blinks are poorly captured by the 10-d expression basis; closed/open eyes of B are
  transferred only approximately.

``valid`` marks output pixels that were sampled inside A and where the map did not fold.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import Tensor

from supervision.protocols import Reenacted
from supervision.reenact.bfm68 import BFM68, combine, fit_landmarks
from supervision.reenact.warp import warp_tps

log = logging.getLogger(__name__)

__all__ = ["LandmarkReenactor"]


class LandmarkReenactor:
    """Implements :class:`supervision.protocols.Reenactor` with BFM landmark transfer + TPS.

    Args:
        expression: take B's expression (False keeps A's).
        pose: take B's head pose/scale/position (False keeps A's camera).
        shape_regularization, expression_regularization, fit_iterations: see
            :func:`supervision.reenact.bfm68.fit_landmarks`.
        keep_residual: keep A's landmark detail beyond the BFM (see :func:`combine`); strongly
            improves shape preservation (jaw/eye-distance ratios), so leave it on.
        tps_regularization: smoothing of the warp (0 = landmarks land exactly; small positive
            values avoid kinks from noisy detections).
        anchors_per_side: fixed border points per image side (0 disables anchoring).
        grid_step: lattice step for evaluating the warp (see :func:`warp_tps`).
        bfm_path: explicit path of the BFM json (default: registry ``tddfa_v2_bfm68``).
    """

    def __init__(
        self,
        expression: bool = True,
        pose: bool = True,
        shape_regularization: float = 1e-3,
        expression_regularization: float = 1e-3,
        fit_iterations: int = 6,
        keep_residual: bool = True,
        tps_regularization: float = 1e-4,
        anchors_per_side: int = 5,
        grid_step: int = 2,
        bfm_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.expression = expression
        self.pose = pose
        self.shape_regularization = shape_regularization
        self.expression_regularization = expression_regularization
        self.fit_iterations = fit_iterations
        self.keep_residual = keep_residual
        self.tps_regularization = tps_regularization
        self.anchors_per_side = anchors_per_side
        self.grid_step = grid_step
        self.model = BFM68.from_json(bfm_path)

    def target_landmarks(self, source_landmarks: Tensor, driving_landmarks: Tensor) -> Tensor:
        """(B, 68, 2) where A's landmarks should go: A's shape, B's expression/pose (per options)."""
        kw = dict(
            shape_regularization=self.shape_regularization,
            expression_regularization=self.expression_regularization,
            iterations=self.fit_iterations,
        )
        fit_a = fit_landmarks(source_landmarks, self.model, **kw)
        fit_b = fit_landmarks(driving_landmarks, self.model, **kw)
        log.debug(
            "BFM fit error A %.2f px, B %.2f px",
            fit_a.reprojection_error().mean().item(), fit_b.reprojection_error().mean().item(),
        )
        return combine(fit_a, fit_b, expression=self.expression, pose=self.pose, keep_residual=self.keep_residual)

    @torch.no_grad()
    def reenact(
        self, source: Tensor, driving: Tensor, source_landmarks: Tensor, driving_landmarks: Tensor
    ) -> Reenacted:
        """Warp ``source`` (B,3,S,S) to the driving pose/expression.

        Rows whose landmarks are not finite (failed detection upstream) come back as the source
        image with NaN landmarks and ``valid`` = 0, so the pipeline can drop them.
        """
        if source.shape != driving.shape:
            raise ValueError(f"source {tuple(source.shape)} and driving {tuple(driving.shape)} differ")
        ok = torch.isfinite(source_landmarks).flatten(1).all(1) & torch.isfinite(driving_landmarks).flatten(1).all(1)
        if not bool(ok.any()):
            nan = torch.full_like(source_landmarks, float("nan"))
            return Reenacted(source.clone(), nan, torch.zeros_like(source[:, :1]))
        # Fill failed rows with a harmless copy of a good row; their outputs are replaced below.
        fill = source_landmarks[ok][0]
        src_lm = torch.where(ok[:, None, None], source_landmarks, fill)
        drv_lm = torch.where(ok[:, None, None], driving_landmarks, fill)
        target = self.target_landmarks(src_lm, drv_lm)
        warped = warp_tps(
            source, src_lm, target,
            regularization=self.tps_regularization, anchors_per_side=self.anchors_per_side, grid_step=self.grid_step,
        )
        image = torch.where(ok[:, None, None, None], warped.image, source)
        valid = warped.valid * ok[:, None, None, None].to(warped.valid)
        landmarks = torch.where(ok[:, None, None], target.to(source_landmarks.dtype), float("nan"))
        return Reenacted(image=image, landmarks=landmarks, valid=valid, grid=warped.grid)
