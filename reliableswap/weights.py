"""Registry of every pretrained file the project can use.

Each entry owns one file: where it is expected (overridable by an environment variable), where it
officially comes from, which manifest in ``checkpoint_manifests.json`` describes its keys, and the
error text a user sees when it is missing. Code never hard-codes a weight path; it asks
:func:`resolve` by name (or passes an explicit path from config, which wins).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from reliableswap import paths

log = logging.getLogger(__name__)

Root = Literal["shared", "pretrained", "torch_hub", "repo"]


class MissingWeightsError(FileNotFoundError):
    """A pretrained file is not where the registry (or config) says it should be."""


@dataclass(frozen=True)
class WeightEntry:
    name: str
    relative_path: str
    root: Root
    origin: str
    description: str
    manifest: str | None = None
    #: hex sha256 of the file where it is fixed (files this project ships); checked by :func:`verify`
    sha256: str | None = None

    @property
    def env_var(self) -> str:
        """Per-file override, e.g. ``RELIABLESWAP_WEIGHT_ARCFACE_IRESNET100``."""
        return "RELIABLESWAP_WEIGHT_" + self.name.upper()

    def default_path(self) -> Path:
        override = os.environ.get(self.env_var)
        if override:
            return Path(override).expanduser()
        if self.root == "shared":
            return paths.shared_weights_dir() / self.relative_path
        if self.root == "torch_hub":
            return Path(torch.hub.get_dir()) / "checkpoints" / self.relative_path
        if self.root == "repo":
            return paths.REPO_ROOT / self.relative_path
        return paths.pretrained_dir() / self.relative_path

    def missing_message(self, path: Path) -> str:
        return (
            f"Pretrained weights '{self.name}' ({self.description}) not found at {path}.\n"
            f"  Get it from: {self.origin}\n"
            f"  Put it at {path}, or set {self.env_var}=/path/to/file, or pass its path in the "
            f"config that uses it."
        )


_ARCFACE_ORIGIN = (
    "InsightFace arcface_torch model zoo (https://github.com/deepinsight/insightface/tree/master/"
    "recognition/arcface_torch), e.g. ms1mv3_arcface_{arch}_fp16/backbone.pth"
)

REGISTRY: dict[str, WeightEntry] = {
    e.name: e
    for e in [
        WeightEntry(
            "arcface_iresnet100", "arcface/iresnet100_backbone.pth", "pretrained",
            _ARCFACE_ORIGIN.format(arch="r100"), "ArcFace iresnet100 identity encoder",
            manifest="arcface_iresnet100",
        ),
        WeightEntry(
            "arcface_iresnet50", "arcface/iresnet50_backbone.pth", "pretrained",
            _ARCFACE_ORIGIN.format(arch="r50"), "ArcFace iresnet50 identity encoder",
            manifest="arcface_iresnet50",
        ),
        WeightEntry(
            "arcface_iresnet18", "arcface/iresnet18_backbone.pth", "pretrained",
            _ARCFACE_ORIGIN.format(arch="r18"), "ArcFace iresnet18 identity encoder",
            manifest="arcface_iresnet18",
        ),
        WeightEntry(
            "mobilefacenet_arcface", "recognition/mobilefacenet_arcface.pt", "shared",
            "foamliu/MobileFaceNet, weights/mobilefacenet.pt (shipped in ../shared/weights)",
            "MobileFaceNet ArcFace recogniser, 128-d",
        ),
        WeightEntry(
            "mobilefacenet_arcface_onnx", "recognition/mobilefacenet_arcface.onnx", "shared",
            "foamliu/MobileFaceNet, weights/MobileFaceNet.onnx (shipped in ../shared/weights)",
            "MobileFaceNet ONNX export, reference for the PyTorch port",
        ),
        WeightEntry(
            "insightface_w600k_r50", "insightface/w600k_r50.onnx", "pretrained",
            "InsightFace model zoo buffalo_l.zip (https://github.com/deepinsight/insightface/"
            "tree/master/python-package), file w600k_r50.onnx",
            "InsightFace WebFace600K iresnet50 recogniser (ONNX)",
        ),
        WeightEntry(
            "scrfd_500m_kps", "detection/scrfd_500m_kps.onnx", "shared",
            "InsightFace buffalo_s det_500m.onnx (shipped in ../shared/weights)",
            "SCRFD-500M face detector with 5 keypoints",
        ),
        WeightEntry(
            "yunet", "detection/yunet_n_320_320.onnx", "shared",
            "ShiqiYu/libfacedetection.train onnx/yunet_n_320_320.onnx (shipped in ../shared/weights)",
            "YuNet face detector for cv2.FaceDetectorYN",
        ),
        WeightEntry(
            "tddfa_v2_mb05", "pose_expression/3ddfa_v2_mb05_120x120.pth", "shared",
            "cleardusk/3DDFA_V2 weights/mb05_120x120.pth (shipped in ../shared/weights)",
            "3DDFA-V2 MobileNet 3DMM regressor (pose, shape, expression)",
        ),
        WeightEntry(
            "tddfa_v2_mb05_onnx", "pose_expression/3ddfa_v2_mb05_120x120.onnx", "shared",
            "Shubhamai/StableView assets/model/mb05_120x120.onnx, an ONNX export of cleardusk/"
            "3DDFA_V2 weights/mb05_120x120.pth (shipped in ../shared/weights)",
            "3DDFA-V2 MobileNet(0.5) 3DMM regressor, ONNX (evaluation: pose/expression)",
        ),
        WeightEntry(
            "tddfa_v2_param_stats", "pose_expression/3ddfa_v2_param_mean_std_62d.npz", "shared",
            "cleardusk/3DDFA_V2 configs/param_mean_std_62d_120x120.pkl, converted to npz "
            "(arrays 'mean', 'std'; shipped in ../shared/weights)",
            "3DDFA-V2 mean/std to de-normalise the 62 regressed parameters",
        ),
        WeightEntry(
            "tddfa_v2_bfm68", "pose_expression/3ddfa_v2_bfm68_bases_and_param_stats.json", "shared",
            "Shubhamai/StableView assets/model/data.json (3DDFA-V2 BFM bases at the 68 sparse "
            "landmarks; shipped in ../shared/weights)",
            "BFM 68-landmark shape/expression bases and 3DDFA-V2 parameter mean/std",
        ),
        WeightEntry(
            "vgg19_imagenet", "vgg19-dcbb9e9d.pth", "torch_hub",
            "torchvision.models.VGG19_Weights.IMAGENET1K_V1 (downloaded by torchvision into the "
            "torch hub cache on a machine with internet)",
            "VGG19 ImageNet features for the perceptual loss",
        ),
        WeightEntry(
            "fixernet_mouthnet", "fixernet/mouth_net_28_56_84_112.pth", "pretrained",
            "ReliableSwap release (https://github.com/ygtxr1997/ReliableSwap), "
            "mouth_net_28_56_84_112.pth",
            "FixerNet lower-face recogniser, 128-d", manifest="fixernet_mouthnet_128",
        ),
        WeightEntry(
            "bisenet_faceparsing", "parsing/79999_iter.pth", "pretrained",
            "zllrunning/face-parsing.PyTorch release, 79999_iter.pth",
            "BiSeNet 19-class face parser", manifest="bisenet_faceparsing_19",
        ),
        WeightEntry(
            "lia_vox256", "reenact/vox.pt", "pretrained",
            "wyhsirius/LIA release, vox.pt (generator under key 'gen')",
            "LIA face reenactment generator", manifest="lia_generator_vox256",
        ),
        WeightEntry(
            "hopenet", "pose/hopenet_robust_alpha1.pkl", "pretrained",
            "natanielruiz/deep-head-pose release, hopenet_robust_alpha1.pkl",
            "HopeNet head-pose estimator", manifest="hopenet_resnet50_66bins",
        ),
        WeightEntry(
            "inception_fid", "pt_inception-2015-12-05-6726825d.pth", "torch_hub",
            "mseitzer/pytorch-fid release v0.2.1, pt_inception-2015-12-05-6726825d.pth (the TF FID "
            "Inception graph ported to PyTorch; pytorch-fid downloads it into the torch hub cache)",
            "FID Inception-v3 (pool3 features) for FID/KID",
        ),
        WeightEntry(
            "demo_reference", "assets/demo_reference.pt", "repo",
            "trained by this project: the cycle arm of `python scripts/study_cycle_vs_vanilla.py` "
            "(experiment=cpu_study_cycle, seed 42, step 6000), exported with `python "
            "scripts/export_reference.py outputs/cpu_study/runs/cycle_seed42/checkpoints/step_0006000.ckpt "
            "assets/demo_reference.pt`; see docs/results/cpu_study.md",
            "AEI-Net (width 0.125, 128x128, MobileFaceNet identity) + PatchGAN, float16, for experiment=demo",
            sha256="ace12f047ab3a251dc3524b03f99cb0ce127f1b19be7bed9b3082c221bfdf9f1",
        ),
        WeightEntry(
            "face_parser_unet", "assets/face_parser_unet.pt", "repo",
            "trained by this project on the 900 training faces of the shared CelebAMask-HQ sample: "
            "`python train.py experiment=face_parser` (seed 42, 3,000 steps), exported with `python "
            "scripts/export_face_parser.py <run>/checkpoints/last.ckpt assets/face_parser_unet.pt`; "
            "held-out IoU: docs/results/face_parser.md",
            "compact U-Net face parser (19 CelebAMask-HQ classes, 256 px), float16, default parser=unet",
            sha256="f6611be19f47ea2e7c0fa0d619b5cf5e94942f4f5c9369fcebf5a776629319eb",
        ),
        WeightEntry(
            "dml_csr_celeba", "parsing/dml_csr_celebA.pth", "pretrained",
            "deepinsight/insightface parsing/dml_csr release (README 'pretrained models'), dml_csr_celebA.pth",
            "DML-CSR 19-class CelebAMask-HQ face parser (ReliableSwap's original parser)", manifest="dml_csr_celeba",
        ),
        WeightEntry(
            "gpen_bfr_512", "enhance/GPEN-BFR-512.pth", "pretrained",
            "yangxy/GPEN release (https://github.com/yangxy/GPEN, README model table), GPEN-BFR-512.pth",
            "GPEN blind face restoration generator, 512 px (optional enhancer)", manifest="gpen_bfr_512",
        ),
        WeightEntry(
            "gpen_bfr_256", "enhance/GPEN-BFR-256.pth", "pretrained",
            "yangxy/GPEN release (https://github.com/yangxy/GPEN, README model table), GPEN-BFR-256.pth",
            "GPEN blind face restoration generator, 256 px (optional enhancer)", manifest="gpen_bfr_256",
        ),
        WeightEntry(
            "deepfill_v2", "inpaint/deepfill_v2.pth", "pretrained",
            "JiahuiYu/generative_inpainting v2.0.0, TensorFlow release release_celeba_hq_256_deepfill_v2, "
            "converted with `python scripts/convert_deepfill_tf.py CKPT_DIR deepfill_v2.pth`",
            "DeepFill v2 gated-convolution inpainter (the original pipeline's reshaping backend)",
            manifest="deepfill_v2_celeba_hq_256",
        ),
        WeightEntry(
            "cosface_r50", "cosface/glint360k_cosface_r50_backbone.pth", "pretrained",
            _ARCFACE_ORIGIN.format(arch="r50").replace("ms1mv3_arcface_r50_fp16", "glint360k_cosface_r50_fp16_0.1"),
            "CosFace iresnet50 recogniser (evaluation-only ID retrieval judge)", manifest="arcface_iresnet50",
        ),
    ]
}


def get(name: str) -> WeightEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"Unknown weight '{name}'. Known: {', '.join(sorted(REGISTRY))}") from None


def resolve(name: str, override: str | os.PathLike[str] | None = None) -> Path:
    """Return the existing file for ``name``; an explicit ``override`` path wins.

    Raises :class:`MissingWeightsError` naming the expected path and the official origin.
    """
    entry = get(name)
    path = Path(override).expanduser() if override else entry.default_path()
    if not path.is_file():
        raise MissingWeightsError(entry.missing_message(path))
    return path


class ChecksumError(ValueError):
    """A registered file's sha256 differs from the registry's (a different or damaged file)."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str, override: str | os.PathLike[str] | None = None) -> Path:
    """:func:`resolve`, then check the registered sha256 (when the registry records one)."""
    path = resolve(name, override)
    expected = get(name).sha256
    if expected and (actual := file_sha256(path)) != expected:
        raise ChecksumError(f"{path}: sha256 {actual} differs from the registry's {expected} for '{name}'")
    return path


def is_available(name: str, override: str | os.PathLike[str] | None = None) -> bool:
    try:
        resolve(name, override)
    except MissingWeightsError:
        return False
    return True


def load_state_dict(path: str | os.PathLike[str], prefix: str | None = None) -> dict[str, torch.Tensor]:
    """Load a checkpoint's tensors safely (``weights_only=True``; no arbitrary pickle).

    Unwraps the usual containers (``state_dict``, ``model``) and, with ``prefix``, keeps only
    the keys under it with the prefix removed (``"G."`` for a released generator wrapper).
    """
    obj = torch.load(Path(path), map_location="cpu", weights_only=True)
    for container in ("state_dict", "model"):
        if isinstance(obj, Mapping) and container in obj and isinstance(obj[container], Mapping):
            obj = obj[container]
            break
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a state dict (mapping of tensors), got {type(obj).__name__}")
    state = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if prefix is not None:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise ValueError(f"{path}: no tensors under prefix '{prefix}'")
    return state


def state_mismatch(module: torch.nn.Module, state: Mapping[str, Any], source: str = "checkpoint") -> str | None:
    """One line describing how ``state`` differs from ``module``'s keys and shapes, or ``None`` if it fits."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state)
                        if tuple(own[k].shape) != tuple(getattr(state[k], "shape", ())))
    if not (missing or unexpected or mismatched):
        return None

    def head(keys: list[str]) -> str:
        return ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "")

    first_shapes = ""
    if mismatched:  # e.g. a checkpoint trained with another width
        k = mismatched[0]
        first_shapes = f"; e.g. {k}: file {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
    return (
        f"{source} does not match {type(module).__name__}: "
        f"{len(missing)} missing ({head(missing)}), {len(unexpected)} unexpected ({head(unexpected)}), "
        f"{len(mismatched)} shape mismatches ({head(mismatched)}){first_shapes}"
    )


def load_into(module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Strictly load ``state`` into ``module``; ValueError with :func:`state_mismatch`'s line when it does not fit."""
    problem = state_mismatch(module, state, source)
    if problem:
        raise ValueError(problem)
    module.load_state_dict(dict(state), strict=True)


def describe_all() -> str:
    """One line per registry entry: name, status, expected path, origin (``python -m reliableswap.weights``)."""
    lines = []
    for entry in REGISTRY.values():
        path = entry.default_path()
        status = "found  " if path.is_file() else "missing"
        lines.append(f"{entry.name:28s} {status} {path}\n{'':28s}         from: {entry.origin}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe_all())
