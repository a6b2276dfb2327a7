"""Real faces for the identity-encoder tests (skipped when ../shared is absent)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from reliableswap.faces.alignment import ARCFACE_SIZE, estimate_arcface_matrix


def _bgr_to_tensor(bgr: np.ndarray) -> torch.Tensor:
    """HxWx3 BGR uint8 -> [1, 3, H, W] RGB in [-1, 1]."""
    rgb = np.ascontiguousarray(bgr[..., ::-1]).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)


@pytest.fixture(scope="session")
def celeba_batch(celeba_images: Path) -> torch.Tensor:
    """Four FFHQ-aligned 512 crops (different people), [4, 3, 512, 512] in [-1, 1]."""
    files = sorted(celeba_images.glob("*.jpg"))[:4]
    return torch.cat([_bgr_to_tensor(cv2.imread(str(f), cv2.IMREAD_COLOR)) for f in files])


@pytest.fixture(scope="session")
def scrfd(shared_weight: Callable[[str], Path]):
    pytest.importorskip("insightface")
    from reliableswap.faces.scrfd import ScrfdAnalyzer

    return ScrfdAnalyzer(weights_path=shared_weight("detection/scrfd_500m_kps.onnx"))


def align_photo(bgr: np.ndarray, scrfd) -> torch.Tensor:
    """Detect the largest face and warp it to the 112 ArcFace crop: [1, 3, 112, 112]."""
    faces = scrfd.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert faces, "no face found"
    crop = cv2.warpAffine(bgr, estimate_arcface_matrix(faces[0].kps), (ARCFACE_SIZE, ARCFACE_SIZE),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return _bgr_to_tensor(crop)


@pytest.fixture(scope="session")
def wild_faces(shared_data: Path, scrfd) -> tuple[torch.Tensor, list[str]]:
    """ArcFace-aligned 112 crops of the named people in ``wild/`` and their names."""
    root = shared_data / "wild"
    files = sorted(p for p in root.glob("*/*") if not p.parent.name.startswith("_")
                   and p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not files:
        pytest.skip(f"no photos under {root}")
    crops, names = [], []
    for f in files:
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        crops.append(align_photo(bgr, scrfd))
        names.append(f.parent.name)
    return torch.cat(crops), names


@pytest.fixture(scope="session")
def celeba_detected_crops(celeba_images: Path, scrfd) -> torch.Tensor:
    """The same four CelebA faces as ``celeba_batch``, aligned per image from SCRFD landmarks."""
    files = sorted(celeba_images.glob("*.jpg"))[:4]
    return torch.cat([align_photo(cv2.imread(str(f), cv2.IMREAD_COLOR), scrfd) for f in files])


@pytest.fixture(scope="session")
def mobilefacenet_onnx(shared_weight: Callable[[str], Path]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Reference embeddings from onnxruntime on the shipped MobileFaceNet export.

    The graph fixes the batch to 1, so it is run sample by sample on normalised 112 crops.
    """
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(shared_weight("recognition/mobilefacenet_arcface.onnx")), options,
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def embed(x: torch.Tensor) -> torch.Tensor:
        rows = [session.run(None, {name: x[i : i + 1].detach().numpy()})[0] for i in range(len(x))]
        return torch.from_numpy(np.concatenate(rows))

    return embed
