"""Face reshaping: B's wider jaw is dropped and refilled from the background; A-wider keeps A."""

from __future__ import annotations

import torch

from reliableswap.faces.parsing.labels import ID
from supervision.blend import erode_mask
from supervision.inpaint import DiffusionInpainter, OpenCVInpainter
from supervision.reshape import face_region_mask, lower_face_band, reshape_drop_mask, reshape_face


SIZE = 128
SKIN = torch.tensor([0.6, 0.1, -0.2])
BACKGROUND = torch.tensor([-0.5, -0.2, 0.7])


def _ellipse(half_width: float, half_height: float = 44.0) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(SIZE).float(), torch.arange(SIZE).float(), indexing="ij")
    inside = ((xx - 64) / half_width) ** 2 + ((yy - 64) / half_height) ** 2 <= 1.0
    return inside.float().view(1, 1, SIZE, SIZE)


def _blended(face_b: torch.Tensor) -> torch.Tensor:
    return torch.where(face_b > 0.5, SKIN.view(1, 3, 1, 1), BACKGROUND.view(1, 3, 1, 1))


def test_drop_mask_covers_b_minus_a_below_the_eyes_and_not_inside_a():
    a, b = _ellipse(28), _ellipse(40)
    dilate_px = 4
    drop = reshape_drop_mask(a, b, dilate_px=dilate_px, min_width_px=0)
    band = lower_face_band(a, b)
    extra = (b > 0.5) & (a < 0.5) & (band > 0.5)
    assert extra.sum() > 500
    assert torch.all(drop[extra] == 1)
    # The default opening only gives up the thin tips where the two outlines meet at the chin.
    opened = reshape_drop_mask(a, b, dilate_px=dilate_px)
    assert opened[extra].mean() > 0.9 and torch.all(opened <= drop)
    assert drop.sum() > extra.sum()  # dilated
    assert drop[erode_mask(a, dilate_px + 1) > 0.5].sum() == 0  # never deep inside A
    first_band_row = int(band[0, 0, :, 64].nonzero()[0])
    assert drop[..., : first_band_row - dilate_px - 1, :].sum() == 0  # forehead/temples untouched
    full = reshape_drop_mask(a, b, dilate_px=dilate_px, band=torch.ones_like(a))
    assert full[..., : first_band_row - dilate_px - 1, :].sum() > 0


def test_reshaped_band_is_filled_from_the_background_side():
    a, b = _ellipse(28), _ellipse(40)
    blended = _blended(b)
    for inpainter in (DiffusionInpainter(), OpenCVInpainter()):
        out, drop = reshape_face(blended, a, b, inpainter, dilate_px=3)
        hole = drop[0, 0] > 0.5
        assert torch.equal(out[..., ~hole], blended[..., ~hole])
        # The outer part of the dropped band (B's old cheek) now looks like background.
        outer = hole & (b[0, 0] > 0.5) & (_ellipse(34)[0, 0] < 0.5)
        # Middle of the band (cheeks) only: not its top edge, which borders the kept temple skin,
        # nor the chin, where the two outlines converge and the fill comes from both sides.
        outer[:72] = False
        outer[92:] = False
        assert outer.sum() > 100
        pixels = out[0][:, outer].T
        to_skin = (pixels - SKIN).norm(dim=1)
        to_background = (pixels - BACKGROUND).norm(dim=1)
        assert (to_skin > 0.2).all(), type(inpainter).__name__
        assert (to_background < to_skin).float().mean() > 0.7, type(inpainter).__name__


def test_nothing_dropped_when_a_contains_b():
    a, b = _ellipse(40), _ellipse(28)
    blended = _blended(b)

    class Fails:
        def inpaint(self, images, mask):
            raise AssertionError("inpainter must not run when nothing is dropped")

    out, drop = reshape_face(blended, a, b, Fails(), dilate_px=5)
    assert drop.sum() == 0 and torch.equal(out, blended)


def test_thin_slivers_are_ignored_and_batch_is_per_image():
    a = torch.cat([_ellipse(39), _ellipse(28)])
    b = torch.cat([_ellipse(40), _ellipse(40)])
    drop = reshape_drop_mask(a, b, dilate_px=3, min_width_px=1)
    assert drop[0].sum() == 0  # a 1-px parser jitter along a shared contour
    torch.testing.assert_close(drop[1:], reshape_drop_mask(a[1:], b[1:], dilate_px=3))


def test_face_region_mask_from_labels():
    labels = torch.zeros(1, 16, 16, dtype=torch.long)
    labels[:, 4:12, 4:12] = ID["skin"]
    labels[:, 6, 6] = ID["l_eye"]
    labels[:, 5:9, 2:4] = ID["l_ear"]
    labels[:, 12:, 5:11] = ID["neck"]
    mask = face_region_mask(labels)
    assert mask.sum() == 64 and mask[0, 0, 6, 6] == 1 and mask[0, 0, 6, 2] == 0
