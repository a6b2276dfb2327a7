"""Compare a module's state dict with the key/shape manifest of an official checkpoint.

"Loads official weights" is proven without the (large, non-redistributable) files themselves:
the manifest lists every tensor name and shape of the released checkpoint, and a module whose
state dict equals it key for key and shape for shape loads that file strictly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from reliableswap import paths


@lru_cache(maxsize=4)
def _load_all(path: str) -> dict:
    return json.loads(Path(path).read_text())


def load_manifest(name: str, path: Path | None = None) -> dict:
    """One manifest entry (``keys``, ``num_tensors``, ``num_params``, ``note``)."""
    path = path or paths.manifest_path()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint manifests not found at {path} (set RELIABLESWAP_MANIFESTS)")
    manifests = _load_all(str(path))
    if name not in manifests:
        raise KeyError(f"no manifest '{name}' in {path}; known: {', '.join(sorted(manifests))}")
    return manifests[name]


@dataclass
class ManifestDiff:
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, list[int], list[int]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        return (
            f"{len(self.missing)} missing (e.g. {self.missing[:5]}), "
            f"{len(self.unexpected)} unexpected (e.g. {self.unexpected[:5]}), "
            f"{len(self.mismatched)} shape mismatches (e.g. {self.mismatched[:5]})"
        )


def diff_state_dict(state_dict: Mapping[str, torch.Tensor], manifest: Mapping) -> ManifestDiff:
    expected = {k: list(v) for k, v in manifest["keys"].items()}
    actual = {k: list(v.shape) for k, v in state_dict.items()}
    return ManifestDiff(
        missing=sorted(set(expected) - set(actual)),
        unexpected=sorted(set(actual) - set(expected)),
        mismatched=[(k, actual[k], expected[k]) for k in sorted(set(expected) & set(actual)) if actual[k] != expected[k]],
    )


# Tensors the released checkpoints store that are buffers, not parameters: BatchNorm statistics,
# the FFHQ->ArcFace ``trans_matrix`` of the released generators, FixerNet's ``vgg_mean/vgg_std``.
_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked", "trans_matrix", "vgg_mean", "vgg_std")


def count_manifest_params(manifest: Mapping) -> int:
    """Number of trainable scalars in the manifest (the buffers above excluded).

    This is the figure the manifests' ``num_params`` reports, so it equals
    ``sum(p.numel() for p in module.parameters())`` of a module that loads the checkpoint.
    """
    total = 0
    for key, shape in manifest["keys"].items():
        if key.endswith(_BUFFER_SUFFIXES):
            continue
        n = 1
        for s in shape:
            n *= s
        total += n
    return total
