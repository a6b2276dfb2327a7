"""Paste-back of aligned crops: round trip and masks (alignment: tests/faces/test_cropping.py)."""

from __future__ import annotations

import numpy as np
import pytest

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
