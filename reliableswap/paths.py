"""Where the project looks for things it does not ship: shared data and pretrained weights.

Everything that lives outside the repository is found through one environment variable with a
documented default, so tests, demos and Hydra configs agree on a single location and a user can
point all of them elsewhere at once.

- ``RELIABLESWAP_SHARED``: folder holding ``data/`` and ``weights/`` (default: ``../shared``
  beside the repository checkout).
- ``RELIABLESWAP_DATA``: real face data (default: ``$RELIABLESWAP_SHARED/data``).
- ``RELIABLESWAP_WEIGHTS``: small offline weights (default: ``$RELIABLESWAP_SHARED/weights``).
- ``RELIABLESWAP_PRETRAINED``: official, user-downloaded weights (default: ``<repo>/pretrained``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _env_path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else default


def shared_dir() -> Path:
    """Root of the shared (read-only) data and weights."""
    return _env_path("RELIABLESWAP_SHARED", REPO_ROOT.parent / "shared")


def data_dir() -> Path:
    """Real face photos and videos used by demos, tests and benchmarks."""
    return _env_path("RELIABLESWAP_DATA", shared_dir() / "data")


def shared_weights_dir() -> Path:
    """Small pretrained models that are available offline."""
    return _env_path("RELIABLESWAP_WEIGHTS", shared_dir() / "weights")


def pretrained_dir() -> Path:
    """Official pretrained weights that users download themselves (never committed)."""
    return _env_path("RELIABLESWAP_PRETRAINED", REPO_ROOT / "pretrained")


def manifest_path() -> Path:
    """State-dict manifests of the official checkpoints (keys and shapes)."""
    return _env_path("RELIABLESWAP_MANIFESTS", shared_dir() / "spec" / "checkpoint_manifests.json")
