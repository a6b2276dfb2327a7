"""dlib detector (boxes only): finds real faces, not gradients; largest face first; downscaling maps back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dlib", reason="dlib not installed (pip install 'reliableswap[faces]')")

from reliableswap.faces.dlib_detector import DlibDetector  # noqa: E402
from reliableswap.io.images import read_rgb  # noqa: E402


@pytest.fixture(scope="module")
def detector() -> DlibDetector:
    return DlibDetector()


def test_finds_aligned_face(detector: DlibDetector, celeba_images: Path) -> None:
    path = sorted(celeba_images.glob("*.jpg"))[0]
    rgb = read_rgb(path)
    faces = detector.detect(rgb)
    assert faces, f"no face found in {path}"
    (x0, y0, x1, y1), score = faces[0]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    assert abs(cx - 256) < 80 and abs(cy - 256) < 100  # FFHQ-style crop: face centred
    assert score > 0 and 100 < x1 - x0 < 512


def test_no_face_in_gradient(detector: DlibDetector) -> None:
    ramp = np.linspace(0, 255, 256, dtype=np.uint8)
    img = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[None, ::-1]), axis=2)
    assert detector.detect(np.ascontiguousarray(img)) == []


def test_largest_first_and_downscale_maps_back(shared_data: Path) -> None:
    path = shared_data / "wild" / "_edge_cases" / "obama_and_biden_two_faces.jpg"
    if not path.is_file():
        pytest.skip(f"two-face photo not found at {path}")
    rgb = read_rgb(path)
    full = [box for box, _ in DlibDetector(upsample=1, max_side=None).detect(rgb)]
    assert len(full) >= 2
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in full]
    assert areas == sorted(areas, reverse=True)
    small = [box for box, _ in DlibDetector(upsample=1, max_side=max(rgb.shape[:2]) // 2).detect(rgb)]
    assert small, "downscaled detection lost every face"
    # boxes come back in input coordinates: each one lies on a face found at full resolution
    def centre(b):
        return np.array([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])

    for box in small:
        nearest = min(np.linalg.norm(centre(box) - centre(f)) for f in full)
        assert nearest < 0.05 * max(rgb.shape[:2])


def test_rejects_bad_input(detector: DlibDetector) -> None:
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10, 3), np.float32))


def test_cnn_detector_finds_the_aligned_face(celeba_images: Path) -> None:
    """The CNN (mmod) detector shares the downscaled-detection path and finds the same face."""
    pytest.importorskip("face_recognition_models", reason="pip install 'reliableswap[faces]'")
    rgb = read_rgb(sorted(celeba_images.glob("*.jpg"))[0])
    cnn = DlibDetector("cnn", max_side=256).detect(rgb)
    hog = DlibDetector("hog", max_side=256).detect(rgb)
    assert len(cnn) == 1 and len(hog) == 1
    c_cnn, c_hog = cnn[0][0].reshape(2, 2).mean(0), hog[0][0].reshape(2, 2).mean(0)
    assert np.linalg.norm(c_cnn - c_hog) < 0.1 * rgb.shape[0]
    with pytest.raises(ValueError, match="hog"):
        DlibDetector("mtcnn")  # type: ignore[arg-type]
