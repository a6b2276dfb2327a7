"""Fixtures for inference tests: one tiny trained checkpoint per session, shared photos/videos.

The checkpoint is trained for real (``experiment=faceshifter_vanilla debug=tiny``, one step) so
the tests exercise exactly what ``train.py`` writes; it needs the shared faces and MobileFaceNet
weights and is skipped with the reason when they are absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from reliableswap.config import register_resolvers

REPO = Path(__file__).resolve().parents[2]


def train_tiny_checkpoint(run_dir: Path) -> Path:
    """Train ``faceshifter_vanilla debug=tiny`` for one step into ``run_dir``; return last.ckpt."""
    from reliableswap.apps.train import train

    register_resolvers()
    overrides = ["experiment=faceshifter_vanilla", "debug=tiny", "trainer.max_steps=1", f"paths.output_dir={run_dir}",
                 "~logger", "~callbacks.swap_grid", "trainer.limit_val_batches=0", "~callbacks.progress"]
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    result = train(cfg)
    assert result.last_checkpoint is not None
    return result.last_checkpoint


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory, celeba_images, shared_weight) -> Path:
    shared_weight("recognition/mobilefacenet_arcface.pt")
    return train_tiny_checkpoint(tmp_path_factory.mktemp("tiny_run"))


@pytest.fixture(scope="session")
def wild(shared_data) -> Path:
    path = shared_data / "wild"
    if not path.is_dir():
        pytest.skip(f"wild photos not found at {path}")
    return path


@pytest.fixture(scope="session")
def scrfd(shared_weight) -> Path:
    pytest.importorskip("insightface")
    return shared_weight("detection/scrfd_500m_kps.onnx")


@pytest.fixture(scope="session")
def talking_video(shared_data) -> Path:
    path = shared_data / "video" / "talking_face_target.mp4"
    if not path.is_file():
        pytest.skip(f"shared video not found at {path}")
    return path


