"""Which torch device a run uses (the ``device`` key of ``test.py`` and the evaluation runner)."""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/``None`` -> CUDA when available, else CPU; anything else is taken literally.

    Raises:
        RuntimeError: from :class:`torch.device` when the string names no device type.
    """
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
