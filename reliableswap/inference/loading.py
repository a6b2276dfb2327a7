"""Turn a checkpoint file (or a config node) into a :class:`~reliableswap.swapping.Swapper`.

Why a registry of *formats*: our Lightning checkpoints carry their own build recipe
(``checkpoint["reliableswap_config"]``, written by :mod:`reliableswap.apps.train`), while released
generator files of the original project (FaceShifter ``G.``/``iresnet.``/``mouth_net.`` wrappers,
SimSwap ``netG``) carry only tensors. Each format is one entry of :data:`FORMAT_DETECTORS`:
``name -> (detect(checkpoint) -> bool, load(checkpoint, path, device) -> Swapper)``. Support for a
released format is added by registering a pair (:func:`register_format`); nothing else changes.
A file no detector recognises fails with an error listing what the file contains.

Everything is read with ``torch.load(weights_only=True)``: no arbitrary pickle is executed. A
stored config is rebuilt only when every ``_target_`` in it is one of this project's model,
identity and loss builders (:mod:`reliableswap.inference.trusted`), checked before anything is
built. A file that cannot be read (empty, damaged, a folder, Python objects besides tensors)
raises :class:`CheckpointReadError` with one line.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import hydra
import torch
from torch import Tensor, nn

from reliableswap.inference.trusted import check_stored_config
from reliableswap.swapping import Swapper, resolve_device
from reliableswap.weights import load_into

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
Detector = Callable[[Mapping[str, Any]], bool]
Loader = Callable[[Mapping[str, Any], Path, torch.device], Swapper]


class CheckpointFormatError(ValueError):
    """The file is a readable checkpoint but no registered format recognises it."""


class CheckpointReadError(ValueError):
    """The file is not a checkpoint this program can read (empty, damaged, a folder, unsafe pickle)."""


class CheckpointSwapper(nn.Module):
    """Generator + identity encoder rebuilt from one of our training checkpoints.

    Always in eval mode and without autograd: inference never needs gradients, and BatchNorm in
    train mode would change outputs with the batch composition. ``swap`` moves its inputs to the
    model's device and returns the result on the device of ``target``, so callers can stay on CPU
    (decoding, pasting) while the network runs on the GPU.
    """

    def __init__(self, generator: nn.Module, identity: nn.Module, size: int, name: str = "checkpoint") -> None:
        super().__init__()
        self.generator = generator
        self.identity = identity
        self.size = int(size)
        self.name = name
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> CheckpointSwapper:  # noqa: ARG002 - inference only
        return super().train(False)

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    @torch.inference_mode()
    def embed(self, faces: Tensor) -> Tensor:
        """Identity vectors (B, D) of aligned crops in [-1, 1] (used by ``faces=reference``)."""
        return self.identity(faces.to(self.device, torch.float32)).to(faces.device)

    @torch.inference_mode()
    def swap(self, source: Tensor, target: Tensor) -> Tensor:
        """(B, 3, size, size) source and target crops in [-1, 1] -> swapped crops, same shape."""
        if source.shape != target.shape:
            raise ValueError(f"source {tuple(source.shape)} and target {tuple(target.shape)} differ")
        if tuple(target.shape[-2:]) != (self.size, self.size):
            raise ValueError(f"{self.name} works at {self.size}x{self.size}, got {tuple(target.shape[-2:])}")
        dev = self.device
        z = self.identity(source.to(dev, torch.float32))
        result, _ = self.generator(target.to(dev, torch.float32), z)
        return result.clamp(-1, 1).to(target.device, target.dtype)


# -- formats --------------------------------------------------------------------------------------


def _is_reliableswap_checkpoint(checkpoint: Mapping[str, Any]) -> bool:
    return isinstance(checkpoint.get("reliableswap_config"), Mapping) and isinstance(
        checkpoint.get("state_dict"), Mapping
    )


def _without_pretrained(node: Any) -> Any:
    """Copy of a config node with ``pretrained: false`` on every builder that has that switch
    (nested ones too: a combined ArcFace + FixerNet encoder builds its parts itself)."""
    if isinstance(node, Mapping):
        out = {k: _without_pretrained(v) for k, v in node.items()}
        target = node.get("_target_")
        if target is not None and "pretrained" in inspect.signature(hydra.utils.get_method(target)).parameters:
            out["pretrained"] = False
        return out
    if isinstance(node, list):
        return [_without_pretrained(v) for v in node]
    return node


def _build_identity(node: Mapping[str, Any]) -> nn.Module:
    """The identity encoder of the config *without* loading its pretrained files.

    Its frozen weights are part of the checkpoint's state dict, so the official files need not be
    present at inference time. Builders without a ``pretrained`` switch (the ONNX backend) are
    built as configured and therefore still need their file.
    """
    return hydra.utils.instantiate(_without_pretrained(dict(node)))


def _sub_state(state: Mapping[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _load_reliableswap(checkpoint: Mapping[str, Any], path: Path, device: torch.device) -> Swapper:
    cfg = checkpoint["reliableswap_config"]
    check_stored_config(cfg, source=str(path))  # before anything is imported or built
    state = checkpoint["state_dict"]
    identity_state = _sub_state(state, "identity.")
    if identity_state:
        identity = _build_identity(cfg["identity"])
    else:  # an export without the frozen encoder (assets/demo_reference.pt): its own registered file
        identity = hydra.utils.instantiate(dict(cfg["identity"]))
        log.info("%s carries no identity.* weights: the identity encoder is loaded from its own pretrained file", path)
    gen_node = dict(cfg["model"]["generator"])
    gen_node.pop("_partial_", None)
    generator = hydra.utils.instantiate(gen_node, id_dim=int(identity.embedding_dim))
    # Strict for the two parts inference needs; discriminator / loss keys are training-only.
    load_into(generator, _sub_state(state, "generator."), source=f"{path} [generator.*]")
    if identity_state:
        load_into(identity, identity_state, source=f"{path} [identity.*]")
    size = int(cfg.get("data", {}).get("size") or getattr(generator, "size"))
    swapper = CheckpointSwapper(generator, identity, size=size, name=path.stem).to(device)
    log.info("loaded %s: generator %s at %dx%d, identity %s (%d-d), step %s, on %s",
             path, type(generator).__name__, size, size, getattr(identity, "name", type(identity).__name__),
             int(identity.embedding_dim), checkpoint.get("global_step", "?"), device)
    return swapper


#: Known checkpoint formats, tried in order. Released generator files are added here (e.g.
#: ``"reliableswap_faceshifter_released_G"``: tensors under ``G.`` (AEI-Net), ``iresnet.`` (ArcFace
#: r100), ``mouth_net.`` (FixerNet); ``"simswap_netG"``) with :func:`register_format`.
FORMAT_DETECTORS: dict[str, tuple[Detector, Loader]] = {
    "reliableswap_lightning": (_is_reliableswap_checkpoint, _load_reliableswap),
}


def register_format(name: str, detect: Detector, load: Loader) -> None:
    """Add (or replace) a checkpoint format; ``detect`` must be cheap and never raise."""
    FORMAT_DETECTORS[name] = (detect, load)


def _tensors(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    """The tensor mapping of a bare state dict or of a ``{"state_dict": ...}`` wrapper."""
    inner = checkpoint.get("state_dict")
    return inner if isinstance(inner, Mapping) else checkpoint


def _load_released_faceshifter(checkpoint: Mapping[str, Any], path: Path, device: torch.device) -> Swapper:
    from reliableswap.models.released import RELEASED_SIZE, ReleasedFaceShifter, released_identity_encoder

    model = ReleasedFaceShifter.from_state_dict(_tensors(checkpoint))
    identity = released_identity_encoder(model)
    log.info("released %s generator (identity dim %d) from %s",
             "ReliableSwap" if model.with_fixer else "FaceShifter", identity.embedding_dim, path)
    return CheckpointSwapper(model.G, identity, size=RELEASED_SIZE, name=path.stem).to(device)


def _load_released_simswap(checkpoint: Mapping[str, Any], path: Path, device: torch.device) -> Swapper:
    """Official SimSwap ``netG``: the identity encoder is ours (ArcFace r100, + FixerNet for the
    640 latent) from the weights registry, since SimSwap's own ArcFace file is a pickled model."""
    from reliableswap.models.identity.combined import CombinedIdentityEncoder
    from reliableswap.models.identity.factory import build_arcface_encoder
    from reliableswap.models.identity.fixernet import build_fixernet_encoder
    from reliableswap.models.simswap import SimSwapGenerator

    state = dict(_tensors(checkpoint))
    latent = int(state["BottleNeck.0.style1.linear.weight"].shape[1])
    generator = SimSwapGenerator(id_dim=latent, size=224)
    if "trans_matrix" not in state:  # some exports drop the unused buffer
        state["trans_matrix"] = generator.state_dict()["trans_matrix"]
    load_into(generator, state, source=str(path))
    identity: nn.Module = build_arcface_encoder("r100")
    if latent == 640:
        identity = CombinedIdentityEncoder({"identity": identity, "fixer": build_fixernet_encoder()})
    return CheckpointSwapper(generator, identity, size=224, name=path.stem).to(device)


def _released_faceshifter_detect(checkpoint: Mapping[str, Any]) -> bool:
    from reliableswap.models.released import is_released_faceshifter

    return is_released_faceshifter(_tensors(checkpoint))


def _released_simswap_detect(checkpoint: Mapping[str, Any]) -> bool:
    from reliableswap.models.released import is_released_simswap

    return is_released_simswap(_tensors(checkpoint))


register_format("released_faceshifter_G", _released_faceshifter_detect, _load_released_faceshifter)
register_format("released_simswap_netG", _released_simswap_detect, _load_released_simswap)


def describe_checkpoint(checkpoint: Any) -> str:
    """A short summary of what a file holds, for the 'unknown format' error."""
    if not isinstance(checkpoint, Mapping):
        return f"a {type(checkpoint).__name__}, not a mapping"
    keys = sorted(map(str, checkpoint))
    parts = [f"top-level keys: {', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}"]
    tensors = checkpoint.get("state_dict", checkpoint)
    if isinstance(tensors, Mapping):
        prefixes = Counter(str(k).split(".")[0] for k, v in tensors.items() if isinstance(v, Tensor))
        if prefixes:
            parts.append("tensor prefixes: " + ", ".join(f"{p}.* ({n})" for p, n in prefixes.most_common(8)))
    return "; ".join(parts)


def read_checkpoint(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` on CPU, with one-line errors.

    Raises FileNotFoundError (no such path) or :class:`CheckpointReadError` (a folder, an empty
    file, or a file torch cannot read safely). Torch's own message is not passed on: for a damaged
    file it advises ``weights_only=False``, which would run whatever code the file holds.
    """
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CheckpointReadError(f"checkpoint {path} is a folder; give the checkpoint file (e.g. {path}/last.ckpt)")
    if path.stat().st_size == 0:
        raise CheckpointReadError(f"checkpoint {path} is empty (0 bytes): an interrupted copy or save?")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pickle-protocol notes of the safe unpickler
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - EOFError, UnpicklingError, RuntimeError (zip), ...
        raise CheckpointReadError(
            f"checkpoint {path} cannot be read ({type(exc).__name__}): it is damaged or truncated, not a PyTorch "
            "file, or it holds Python objects besides tensors, which are never loaded because that could run code"
        ) from None


def load_swapper(ckpt: PathLike, device: str | torch.device | None = "auto") -> Swapper:
    """Load a checkpoint of any registered format as a ready-to-use Swapper on ``device``."""
    path = Path(ckpt).expanduser()
    checkpoint = read_checkpoint(path)
    dev = resolve_device(device)
    if isinstance(checkpoint, Mapping):
        for name, (detect, load) in FORMAT_DETECTORS.items():
            if detect(checkpoint):
                log.info("checkpoint format of %s: %s", path, name)
                return load(checkpoint, path, dev)
    raise CheckpointFormatError(
        f"{path}: unknown checkpoint format ({describe_checkpoint(checkpoint)}). "
        f"Known formats: {', '.join(FORMAT_DETECTORS)}. A Lightning checkpoint from train.py carries "
        "'reliableswap_config'; released generator files need their format registered in "
        "reliableswap.inference.loading.FORMAT_DETECTORS."
    )


def build_swapper(ckpt: PathLike | None, baseline: Mapping[str, Any] | None, device: str | torch.device | None) -> Swapper:
    """``ckpt`` (a file) *or* ``baseline`` (a config node with ``_target_`` building a Swapper)."""
    if (ckpt is None) == (baseline is None):
        raise ValueError("give exactly one of ckpt=PATH (a checkpoint) or baseline=NAME (a Swapper config, "
                         f"e.g. baseline=copy_target); got ckpt={ckpt!r} and baseline={'set' if baseline else None}")
    if ckpt is not None:
        return load_swapper(ckpt, device)
    swapper = hydra.utils.instantiate(baseline, _convert_="all")
    if not isinstance(swapper, Swapper):
        raise TypeError(f"baseline {baseline.get('_target_')} built a {type(swapper).__name__}, which is not a Swapper "
                        "(needs attributes size, name and a swap(source, target) method)")
    if isinstance(swapper, nn.Module):
        swapper = swapper.to(resolve_device(device)).eval()
    return swapper
