"""Offline face parser: a 19-class label map drawn from the 68 iBUG landmarks, batched in torch.

Why: the blending stage only needs the *inner face* (skin, brows, eyes, nose, lips, mouth) of an
aligned crop, and the landmarks already delimit it. Without the official BiSeNet weights this
backend gives usable masks with no network at all, on any device, at any crop size.

What it draws (later parts overwrite earlier ones):

1. skin: the jaw outline (points 0..16) closed by a forehead arc, i.e. the brow points 17..26
   lifted along the face's vertical axis by ``forehead`` x (eye-centre-to-chin distance);
2. nose: polygon 27, 31..35 (bridge top and the nostril base), its base widened by
   ``nose_widen`` (the alae reach beyond points 31/35);
3. brows: thickened polylines 17..21 and 22..26 (``brow_up``/``brow_down`` x eye-to-chin
   distance above/below the landmark line);
4. eyes: polygons 36..41 and 42..47, scaled about their centre by ``eye_scale``;
5. lips: upper lip = outer upper contour 48..54 + inner upper contour 64..60, lower lip = outer
   lower contour 54..59,48 + inner lower contour 60,67..64; mouth (inner): polygon 60..67.

Everything else (hair, ears, neck, background) is label 0: the parser knows where the face is,
not what surrounds it. Hair over the forehead is therefore labelled skin; measured against the
CelebAMask-HQ ground truth that is the main skin error (see the tests for the measured IoUs).

Left/right follow CelebAMask-HQ: ``l_*`` is the subject's left, i.e. the *image right* side
(iBUG points 42..47 / 22..26).

Rasterisation is an even-odd scanline fill: for every (image, row) the crossings of the row with
the polygon's edges are computed and sorted; a pixel centre is inside when an odd number of
crossings lies at or left of it (``torch.searchsorted``). Memory is O(B * S * S) per part; no Python
loop over pixels or images.
"""

from __future__ import annotations

import torch
from torch import Tensor

from reliableswap.faces.parsing.labels import ID

__all__ = ["LandmarkFaceParser", "face_hull_polygon", "fill_polygons"]

_JAW = list(range(0, 17))
_R_BROW = list(range(17, 22))  # subject's right = image left
_L_BROW = list(range(22, 27))
_R_EYE = list(range(36, 42))
_L_EYE = list(range(42, 48))
_NOSE = [27, 31, 32, 33, 34, 35]
_U_LIP = [48, 49, 50, 51, 52, 53, 54, 64, 63, 62, 61, 60]
_L_LIP = [54, 55, 56, 57, 58, 59, 48, 60, 67, 66, 65, 64]
_MOUTH = list(range(60, 68))


def fill_polygons(polygons: Tensor, height: int, width: int) -> Tensor:
    """Rasterise closed polygons (B, N, 2) in pixel coordinates (x, y) -> (B, H, W) bool.

    Pixel centres are at integer coordinates. Even-odd rule; vertices may repeat (degenerate
    edges are ignored), so polygons of different lengths can be padded by repeating a vertex.
    """
    if polygons.ndim != 3 or polygons.shape[-1] != 2:
        raise ValueError(f"expected polygons (B, N, 2), got {tuple(polygons.shape)}")
    p = polygons.float()
    q = torch.roll(p, shifts=-1, dims=1)
    ys = torch.arange(height, device=p.device, dtype=p.dtype).view(1, height, 1)
    py, qy = p[..., 1].unsqueeze(1), q[..., 1].unsqueeze(1)  # (B, 1, N)
    px, qx = p[..., 0].unsqueeze(1), q[..., 0].unsqueeze(1)
    # Half-open rule (a vertex exactly on a row counts for one of its two edges only).
    straddles = (py <= ys) != (qy <= ys)  # (B, H, N)
    dy = torch.where(qy == py, torch.ones_like(qy), qy - py)
    x_cross = px + (ys - py) / dy * (qx - px)
    x_cross = torch.where(straddles, x_cross, torch.full_like(x_cross, float("inf")))
    x_cross, _ = torch.sort(x_cross, dim=-1)
    xs = torch.arange(width, device=p.device, dtype=p.dtype).view(1, 1, width)
    xs = xs.expand(p.shape[0], height, width).contiguous()
    # Crossings at x <= pixel: like the rows' half-open rule, a pixel centre exactly on a left /
    # top edge is inside and one on a right / bottom edge outside, so adjacent parts never overlap.
    left_of = torch.searchsorted(x_cross.contiguous(), xs, right=True)
    return (left_of % 2) == 1


def face_axes(landmarks: Tensor) -> tuple[Tensor, Tensor]:
    """Unit 'up' vector (chin -> eye centre) (B, 1, 2) and face scale D = eye-to-chin distance (B, 1, 1)."""
    eyes = landmarks[:, 36:48].mean(1, keepdim=True)
    chin = landmarks[:, 8:9]
    up = eyes - chin
    scale = up.norm(dim=-1, keepdim=True).clamp_min(1e-6)
    return up / scale, scale


def face_hull_polygon(landmarks: Tensor, forehead: float = 0.35) -> Tensor:
    """The skin region's outline (B, 27, 2): jaw 0..16, then brows 26..17 lifted by ``forehead`` x D.

    ``landmarks``: (B, 68, 2) iBUG points in pixels (x, y); D is the eye-centre-to-chin distance.
    """
    lm = landmarks.float()
    up, d = face_axes(lm)
    brows = lm[:, list(reversed(range(17, 27)))] + forehead * d * up
    return torch.cat([lm[:, _JAW], brows], dim=1)


class LandmarkFaceParser:
    """:class:`~reliableswap.faces.parsing.protocol.FaceParser` drawing face parts from 68 landmarks.

    Args (fractions of the eye-centre-to-chin distance D unless said otherwise):
        forehead: how far the brow points are lifted to close the skin region at the top.
        brow_up / brow_down: brow band above / below the brow landmark line.
        eye_scale: eye polygons scaled about their centre (landmarks sit on the lid margin, the
            labelled eye region is slightly larger).
        nose_widen: nostril-base points 31/35 pushed outwards by this fraction of their distance.
    """

    needs_landmarks68 = True

    def __init__(
        self,
        forehead: float = 0.35,
        brow_up: float = 0.01,
        brow_down: float = 0.06,
        eye_scale: float = 1.1,
        nose_widen: float = 0.7,
    ) -> None:
        self.forehead = float(forehead)
        self.brow_up = float(brow_up)
        self.brow_down = float(brow_down)
        self.eye_scale = float(eye_scale)
        self.nose_widen = float(nose_widen)

    # -- geometry -------------------------------------------------------------------------
    def polygons(self, landmarks: Tensor) -> dict[str, Tensor]:
        """Each part's polygon (B, N, 2), in painting order (later overwrites earlier)."""
        lm = landmarks.float()
        up, d = face_axes(lm)
        parts: dict[str, Tensor] = {"skin": face_hull_polygon(lm, self.forehead)}

        nose = lm[:, _NOSE].clone()
        base_mid = 0.5 * (nose[:, 1] + nose[:, 5])
        half = 0.5 * (nose[:, 5] - nose[:, 1])
        nose[:, 1] = base_mid - (1 + self.nose_widen) * half
        nose[:, 5] = base_mid + (1 + self.nose_widen) * half
        parts["nose"] = nose

        for name, idx in (("r_brow", _R_BROW), ("l_brow", _L_BROW)):
            line = lm[:, idx]
            parts[name] = torch.cat([line + self.brow_up * d * up, (line - self.brow_down * d * up).flip(1)], dim=1)
        for name, idx in (("r_eye", _R_EYE), ("l_eye", _L_EYE)):
            eye = lm[:, idx]
            centre = eye.mean(1, keepdim=True)
            parts[name] = centre + self.eye_scale * (eye - centre)
        parts["u_lip"] = lm[:, _U_LIP]
        parts["l_lip"] = lm[:, _L_LIP]
        parts["mouth"] = lm[:, _MOUTH]
        return parts

    # -- protocol -------------------------------------------------------------------------
    def parse(self, images: Tensor, landmarks: Tensor) -> Tensor:
        """(B, 3, S, S) images (only size/device are used) + (B, 68, 2) px -> (B, S, S) int64."""
        if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2):
            raise ValueError(f"expected landmarks (B, 68, 2), got {tuple(landmarks.shape)}")
        if images.ndim != 4 or images.shape[0] != landmarks.shape[0]:
            raise ValueError(f"expected images (B, C, H, W) with B={landmarks.shape[0]}, got {tuple(images.shape)}")
        height, width = images.shape[-2:]
        landmarks = landmarks.to(images.device)
        labels = torch.zeros(images.shape[0], height, width, dtype=torch.int64, device=images.device)
        for name, poly in self.polygons(landmarks).items():
            inside = fill_polygons(poly, height, width)
            labels = torch.where(inside, torch.full_like(labels, ID[name]), labels)
        return labels

    __call__ = parse
