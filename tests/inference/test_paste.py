"""Paste-back of aligned crops: round trip and masks (alignment: tests/faces/test_cropping.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reliableswap.faces.cropping import align_face
from reliableswap.faces.factory import build_face_analyzer
from reliableswap.inference.paste import ellipse_mask, paste_back
from reliableswap.io.images import read_rgb


@pytest.fixture(scope="module")
def obama(wild, scrfd):
    rgb = read_rgb(wild / "barack_obama" / "1.jpg")
    faces = build_face_analyzer("scrfd").detect(rgb)
    assert faces, "SCRFD found no face in a clear portrait"
    return rgb, faces[0]


def test_round_trip_of_an_unchanged_face_leaves_the_image_nearly_unchanged(obama):
    rgb, face = obama
    crop, matrix = align_face(rgb, face.kps, 256)
    mask = ellipse_mask(256)
    out = paste_back(rgb, crop, matrix, mask)
    diff = np.abs(out.astype(np.float32) - rgb.astype(np.float32)).mean(-1)
    x0, y0, x1, y1 = face.box.astype(int)
    inside = diff[max(y0, 0):y1, max(x0, 0):x1]
    assert inside.mean() < 3.0, inside.mean()  # resampled twice, bilinear: small blur only
    # far away from the face nothing changes at all
    assert diff[: max(0, y0 - 200)].max(initial=0) == 0 and diff[:, : max(0, x0 - 200)].max(initial=0) == 0


def test_paste_back_replaces_the_face_only_inside_the_mask(obama):
    rgb, face = obama
    _, matrix = align_face(rgb, face.kps, 128)
    black = np.zeros((128, 128, 3), np.uint8)
    out = paste_back(rgb, black, matrix, ellipse_mask(128))
    kps = face.kps.mean(0).astype(int)  # between eyes and mouth: fully inside the mask
    assert out[kps[1], kps[0]].max() <= 2 < rgb[kps[1], kps[0]].max()
    changed = np.argwhere(np.abs(out.astype(int) - rgb.astype(int)).max(-1) > 20)  # beyond the feather tail
    x0, y0, x1, y1 = face.box
    assert changed[:, 1].min() >= x0 - 0.1 * (x1 - x0) and changed[:, 1].max() <= x1 + 0.1 * (x1 - x0)


def test_ellipse_mask_is_feathered_and_centred_on_the_face():
    mask = ellipse_mask(256)
    assert mask.shape == (256, 256) and 0.99 < mask[150, 128] <= 1.0
    assert mask[5, 5] == 0 and mask[250, 128] < 0.01
    assert ((mask > 0.05) & (mask < 0.95)).any()  # a soft edge, not a hard cut


# -- monochrome targets (issue 10, kind 3) ---------------------------------------------------------


def _colourful(b: int = 2, s: int = 32) -> torch.Tensor:
    """Crops with blue 'eyes' and pink 'lips' on a skin tone, in [-1, 1]."""
    x = torch.empty(b, 3, s, s)
    x[:] = torch.tensor([0.6, 0.2, 0.0]).view(1, 3, 1, 1)
    x[:, :, 8:12, 6:26] = torch.tensor([-0.6, -0.2, 0.9]).view(1, 3, 1, 1)
    x[:, :, 22:26, 10:22] = torch.tensor([0.9, -0.3, 0.1]).view(1, 3, 1, 1)
    return x


@pytest.mark.parametrize("mode", ["mean_std", "linear", "none"])
def test_a_gray_target_gets_a_gray_face_in_every_colour_mode(mode: str) -> None:
    from reliableswap.data.transforms import images_to_uint8
    from reliableswap.inference.paste import match_color

    gray = torch.linspace(-0.8, 0.8, 32).view(1, 1, 1, 32).expand(2, 3, 32, 32).clone()
    mask = torch.ones(2, 1, 32, 32)
    out = images_to_uint8(match_color(_colourful(), gray, mask, mode)).astype(int)
    assert np.abs(out - out.mean(axis=3, keepdims=True)).max() <= 1  # chroma ~0: R = G = B
    assert out.std() > 5  # the face's luminance structure survives


def test_a_near_monochrome_target_keeps_its_tint_and_a_colour_target_its_colours() -> None:
    from reliableswap.inference.paste import MONOCHROME_CHROMA, keep_monochrome

    ramp = torch.linspace(-0.8, 0.6, 32).view(1, 1, 1, 32)
    sepia = (ramp + torch.tensor([0.10, 0.02, -0.08]).view(1, 3, 1, 1)).expand(1, 3, 32, 32)  # constant tint
    noisy = ramp.expand(1, 3, 32, 32) + 0.5 * MONOCHROME_CHROMA * torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    colour = _colourful(1)
    targets = torch.cat([sepia, noisy, colour])
    swapped = _colourful(3)
    out = keep_monochrome(swapped, targets, torch.ones(3, 1, 32, 32))
    for k in (0, 1):  # sepia and a gray photo with JPEG-like chroma noise: one constant tint, no colour spread
        chroma = out[k] - out[k].mean(0, keepdim=True)
        assert chroma.flatten(1).std(dim=1).max() < 1e-4
    assert (out[0, 0] - out[0, 2]).mean() > 0.1  # sepia's warm tint is kept
    assert torch.equal(out[2], swapped[2])  # a colour target is left alone
