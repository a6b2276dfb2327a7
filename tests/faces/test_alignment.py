"""The FFHQ -> ArcFace alignment: exact geometry, scale independence, real-face check, gradients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from reliableswap.faces.alignment import (
    ARCFACE_TEMPLATE_112,
    FFHQ_TEMPLATE_5PT,
    arcface_matrix,
    estimate_arcface_matrix,
    ffhq_template,
    ffhq_to_arcface,
    lower_face_crop,
    similarity_transform,
)




def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _smooth_image(size: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB image in [-1, 1] (HxWx3 float32): no aliasing, so warps compare exactly."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(-1, 1, size=(8, 8, 3)).astype(np.float32)
    return cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def _to_tensor(hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(hwc)).permute(2, 0, 1).unsqueeze(0).float()


def _load_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return bgr[..., ::-1].astype(np.float32) / 127.5 - 1.0


def test_similarity_transform_recovers_a_known_similarity() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, size=(5, 2))
    angle, scale, shift = 0.3, 0.7, np.array([12.0, -4.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


@pytest.mark.parametrize("size", [128, 256, 512])
def test_matrix_maps_ffhq_template_onto_arcface_template(size: int) -> None:
    residual = np.linalg.norm(_apply(arcface_matrix(size), ffhq_template(size)) - ARCFACE_TEMPLATE_112, axis=1)
    # A similarity cannot map one 5-point shape exactly onto another: SCRFD's mean FFHQ landmarks
    # have a lower nose/mouth (relative to the eyes) than the InsightFace template. The eyes,
    # which fix the crop, land within 1 px; the least-squares residual elsewhere stays small.
    assert residual[:2].max() < 1.0, residual
    assert np.sqrt((residual**2).mean()) < 2.5, residual
    assert residual.max() < 3.5, residual


def test_matrix_is_scale_correct_and_catches_the_256_assumption() -> None:
    at256 = _apply(arcface_matrix(256), ffhq_template(256))
    at512 = _apply(arcface_matrix(512), ffhq_template(512))
    np.testing.assert_allclose(at256, at512, atol=1e-9)
    # The original bug: a 256 matrix applied to a 512 crop puts the face far off the template.
    wrong = _apply(arcface_matrix(256), ffhq_template(512))
    assert np.linalg.norm(wrong - ARCFACE_TEMPLATE_112, axis=1).mean() > 20


def test_template_is_normalised_and_left_right_ordered() -> None:
    assert ((FFHQ_TEMPLATE_5PT > 0) & (FFHQ_TEMPLATE_5PT < 1)).all()
    assert FFHQ_TEMPLATE_5PT[0, 0] < FFHQ_TEMPLATE_5PT[1, 0]  # left eye left of right eye
    assert FFHQ_TEMPLATE_5PT[3, 0] < FFHQ_TEMPLATE_5PT[4, 0]  # left mouth corner left of right
    assert FFHQ_TEMPLATE_5PT[:2, 1].max() < FFHQ_TEMPLATE_5PT[2, 1] < FFHQ_TEMPLATE_5PT[3:, 1].min()


@pytest.mark.parametrize("size", [128, 512])
def test_torch_warp_equals_cv2_warp_affine_with_the_matrix(size: int) -> None:
    """The normalised affine_grid theta is the same geometry as the pixel matrix (no off-by-half)."""
    img = _smooth_image(size)
    ref = cv2.warpAffine(img, arcface_matrix(size), (112, 112), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    out = ffhq_to_arcface(_to_tensor(img), antialias=False)[0].permute(1, 2, 0).numpy()
    assert out.shape == (112, 112, 3)
    assert np.abs(out - ref).max() < 2e-3


def _real_or_smooth(celeba_dir: Path | None) -> np.ndarray:
    if celeba_dir is None:
        return _smooth_image(512, seed=3)
    return _load_rgb(sorted(celeba_dir.glob("*.jpg"))[0])


@pytest.fixture
def maybe_celeba(request: pytest.FixtureRequest) -> Path | None:
    try:
        return request.getfixturevalue("celeba_images")
    except pytest.skip.Exception:
        return None


def test_same_face_at_256_and_512_gives_the_same_crop(maybe_celeba: Path | None) -> None:
    img512 = _real_or_smooth(maybe_celeba)
    img256 = cv2.resize(img512, (256, 256), interpolation=cv2.INTER_AREA)
    a = ffhq_to_arcface(_to_tensor(img512))
    b = ffhq_to_arcface(_to_tensor(img256))
    diff = (a - b).abs()
    # Anti-aliasing matters: without it (bilinear sampling at 0.29 px/px) the 99th percentile is ~0.07.
    assert diff.mean() < 0.004 and torch.quantile(diff.flatten(), 0.99) < 0.03, (diff.mean(), diff.max())


def test_batched_warp_shapes_dtype_and_errors() -> None:
    x = torch.rand(3, 3, 256, 256) * 2 - 1
    out = ffhq_to_arcface(x)
    assert out.shape == (3, 3, 112, 112) and out.dtype == x.dtype
    torch.testing.assert_close(out[1:2], ffhq_to_arcface(x[1:2]))  # per-sample, batch-independent
    with pytest.raises(ValueError):
        ffhq_to_arcface(torch.zeros(1, 3, 256, 200))


@pytest.mark.parametrize("size", [128, 512])
def test_gradient_flows_to_the_input(size: int) -> None:
    x = (torch.rand(2, 3, size, size) * 2 - 1).requires_grad_(True)
    ffhq_to_arcface(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # The face centre influences the crop; a far corner of the FFHQ crop does not.
    assert x.grad[:, :, size // 2, size // 2].abs().sum() > 0
    assert x.grad[:, :, :4, :4].abs().sum() == 0


def test_lower_face_crop_is_rows_56_to_112_cols_28_to_84() -> None:
    x = torch.arange(112 * 112, dtype=torch.float32).view(1, 1, 112, 112).expand(2, 3, 112, 112)
    crop = lower_face_crop(x)
    assert crop.shape == (2, 3, 56, 56)
    assert crop[0, 0, 0, 0] == 56 * 112 + 28 and crop[0, 0, -1, -1] == 111 * 112 + 83
    with pytest.raises(ValueError):
        lower_face_crop(torch.zeros(1, 3, 128, 128))


@pytest.fixture(scope="module")
def scrfd(shared_weight: Callable[[str], Path]):
    pytest.importorskip("insightface")
    from reliableswap.faces.scrfd import ScrfdAnalyzer

    return ScrfdAnalyzer(weights_path=shared_weight("detection/scrfd_500m_kps.onnx"))


def test_real_faces_warp_onto_the_arcface_landmarks(celeba_images: Path, scrfd) -> None:
    """SCRFD landmarks of the warped 112 crops of real CelebA-HQ faces lie near the template."""
    files = sorted(celeba_images.glob("*.jpg"))[:8]
    batch = torch.cat([_to_tensor(_load_rgb(f)) for f in files])
    crops = ffhq_to_arcface(batch)
    upscale = 4  # SCRFD is unreliable on 112 px images; detect on a 448 upscale
    errors = []
    for crop in crops:
        u8 = ((crop.permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
        big = cv2.resize(u8, (112 * upscale, 112 * upscale), interpolation=cv2.INTER_CUBIC)
        faces = scrfd.detect(big)
        assert faces
        points = (faces[0].kps + 0.5) / upscale - 0.5
        errors.append(np.linalg.norm(points - ARCFACE_TEMPLATE_112, axis=1))
    errors = np.array(errors)
    assert errors[:, :2].mean() < 3.0, errors.round(1)  # eyes
    assert errors.mean() < 5.0, errors.round(1)


def test_estimate_arcface_matrix_from_wild_landmarks() -> None:
    """Detected points that are a similarity of the template align exactly onto it."""
    m_true = np.array([[2.0, 0.5, 30.0], [-0.5, 2.0, 80.0]])
    landmarks = _apply(m_true, ARCFACE_TEMPLATE_112)
    m = estimate_arcface_matrix(landmarks)
    np.testing.assert_allclose(_apply(m, landmarks), ARCFACE_TEMPLATE_112, atol=1e-9)
