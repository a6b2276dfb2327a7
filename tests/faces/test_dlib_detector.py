"""dlib HOG detector wrapper: finds real faces, not gradients; largest face first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dlib", reason="dlib not installed (pip install 'reliableswap[faces]')")

from reliableswap.faces.dlib_detector import DlibFaceDetector  # noqa: E402
from reliableswap.io.images import read_rgb  # noqa: E402


@pytest.fixture(scope="module")
def detector() -> DlibFaceDetector:
    return DlibFaceDetector()


def test_finds_aligned_face(detector: DlibFaceDetector, celeba_images: Path) -> None:
    path = sorted(celeba_images.glob("*.jpg"))[0]
    rgb = read_rgb(path)
    faces = detector.detect(rgb)
    assert faces, f"no face found in {path}"
    box = faces[0]
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    assert abs(cx - 256) < 80 and abs(cy - 256) < 100  # FFHQ-style crop: face centred
    assert box.score > 0 and 100 < box.x1 - box.x0 < 512


def test_no_face_in_gradient(detector: DlibFaceDetector) -> None:
    ramp = np.linspace(0, 255, 256, dtype=np.uint8)
    img = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], ramp[None, ::-1]), axis=2)
    assert detector.detect(np.ascontiguousarray(img)) == []


def test_largest_first_and_downscale_maps_back(shared_data: Path) -> None:
    path = shared_data / "wild" / "_edge_cases" / "obama_and_biden_two_faces.jpg"
    if not path.is_file():
        pytest.skip(f"two-face photo not found at {path}")
    rgb = read_rgb(path)
    full = DlibFaceDetector(upsample=1, max_side=None).detect(rgb)
    assert len(full) >= 2
    assert [f.area for f in full] == sorted((f.area for f in full), reverse=True)
    small = DlibFaceDetector(upsample=1, max_side=max(rgb.shape[:2]) // 2).detect(rgb)
    assert small, "downscaled detection lost every face"
    # boxes come back in input coordinates: each one lies on a face found at full resolution
    def centre(b):
        return np.array([(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2])

    for box in small:
        nearest = min(np.linalg.norm(centre(box) - centre(f)) for f in full)
        assert nearest < 0.05 * max(rgb.shape[:2])


def test_rejects_bad_input(detector: DlibFaceDetector) -> None:
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10, 3), np.float32))
