"""FFHQ alignment/cropping of faces in full photos: the matrix maps the keypoints onto the template."""

from __future__ import annotations

import numpy as np

from reliableswap.faces.alignment import ffhq_template
from reliableswap.faces.cropping import align_face, align_faces, alignment_matrix, crop_region
from reliableswap.faces.face import Face


def test_alignment_maps_the_keypoints_onto_the_ffhq_template():
    rng = np.random.default_rng(0)
    template = ffhq_template(128)
    angle, scale, shift = 0.3, 2.7, np.array([400.0, 250.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    kps = template @ rot.T + shift + rng.normal(0, 0.01, (5, 2))
    m = alignment_matrix(kps, 128)
    mapped = kps @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - template).max() < 0.05


def test_align_face_puts_the_keypoints_where_the_crop_expects_them():
    """A synthetic image whose 'face' is a blob at the keypoints: the crop shows it at the template."""
    template = ffhq_template(64)
    kps = template * 3.0 + np.array([100.0, 40.0])  # the face at 3x the crop scale, shifted
    rgb = np.zeros((400, 400, 3), np.uint8)
    for x, y in kps.round().astype(int):
        rgb[y - 3 : y + 4, x - 3 : x + 4] = 255
    crop, matrix = align_face(rgb, kps, 64)
    assert crop.shape == (64, 64, 3) and crop.dtype == np.uint8 and matrix.shape == (2, 3)
    for x, y in template.round().astype(int):
        assert crop[y, x].max() > 100  # each blob lands on its template point
    x0, y0, x1, y1 = crop_region(matrix, 64, 400, 400)
    assert x0 <= kps[:, 0].min() and x1 >= kps[:, 0].max() and y0 <= kps[:, 1].min() and y1 >= kps[:, 1].max()


def test_align_faces_stacks_one_crop_per_face():
    template = ffhq_template(32)
    faces = [Face(np.array([0.0, 0, 32, 32]), 0.9, template + d) for d in (0.0, 50.0)]
    crops, matrices = align_faces(np.zeros((100, 100, 3), np.uint8), faces, 32)
    assert crops.shape == (2, 32, 32, 3) and matrices.shape == (2, 2, 3)
    empty, none = align_faces(np.zeros((100, 100, 3), np.uint8), [], 32)
    assert empty.shape == (0, 32, 32, 3) and none.shape == (0, 2, 3)
