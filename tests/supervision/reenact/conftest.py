"""Fixtures for the reenactment tests: the sparse BFM and a few real CelebA-HQ faces with dlib
68-point landmarks (skipped, saying where, when the shared data/weights are absent)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from supervision.reenact.bfm68 import BFM68

SIZE = 256


@dataclass
class Faces:
    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    landmarks: np.ndarray  # (N, 68, 2) float32

    def tensors(self, idx: list[int] | slice) -> tuple[torch.Tensor, torch.Tensor]:
        imgs = torch.from_numpy(self.images[idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
        return imgs, torch.from_numpy(self.landmarks[idx])


@pytest.fixture(scope="session")
def bfm(shared_weight: Callable[[str], Path]) -> BFM68:
    return BFM68.from_json(shared_weight("pose_expression/3ddfa_v2_bfm68_bases_and_param_stats.json"))


@pytest.fixture(scope="session")
def dlib_landmarks() -> Callable[[np.ndarray], np.ndarray | None]:
    """``dlib_landmarks(rgb_uint8)`` -> (68, 2) of the largest face, or None."""
    dlib = pytest.importorskip("dlib")
    frm = pytest.importorskip("face_recognition_models")
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_model_location())

    def run(rgb: np.ndarray) -> np.ndarray | None:
        rects = detector(np.ascontiguousarray(rgb), 1)
        if not rects:
            return None
        rect = max(rects, key=lambda r: r.area())
        shape = predictor(rgb, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)

    return run


@pytest.fixture(scope="session")
def celeba_faces(celeba_images: Path, dlib_landmarks: Callable) -> Faces:
    """The first 16 CelebA-HQ sample images (sorted names) where dlib finds a face, at 256."""
    cv2 = pytest.importorskip("cv2")
    images, landmarks = [], []
    for path in sorted(celeba_images.glob("*.jpg"))[:24]:
        bgr = cv2.imread(str(path))
        rgb = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        lm = dlib_landmarks(rgb)
        if lm is not None:
            images.append(rgb)
            landmarks.append(lm)
        if len(images) == 16:
            break
    if len(images) < 8:
        pytest.skip(f"dlib found faces in only {len(images)} CelebA-HQ samples")
    return Faces(np.stack(images), np.stack(landmarks))
