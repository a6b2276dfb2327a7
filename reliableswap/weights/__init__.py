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
from reliableswap.config import find_cause

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
    #: hex sha256 of the file where it is established (see ``docs`` in the README's weights table);
    #: checked by :func:`verify` and by ``python -m reliableswap.weights fetch/verify``
    sha256: str | None = None
    #: leading hex digits of the sha256 where only those are known: the official file name embeds
    #: them (torch.hub's convention, e.g. ``vgg19-dcbb9e9d.pth``); a weaker check than ``sha256``
    sha256_prefix: str | None = None
    #: direct https download of the official file (or of the archive holding it); ``None`` where
    #: the origin is not directly downloadable (Google Drive, OneDrive, Baidu, conversion needed)
    url: str | None = None
    #: file inside the downloaded zip archive to install (``url`` then names the archive)
    archive_member: str | None = None
    #: where to get the file by hand when there is no ``url`` (link, file name, conversion step)
    manual: str | None = None

    def digest_matches(self, actual_sha256: str) -> bool | None:
        """Compare a file's hex sha256 with the registry: ``None`` when nothing is recorded."""
        if self.sha256:
            return actual_sha256 == self.sha256
        if self.sha256_prefix:
            return actual_sha256.startswith(self.sha256_prefix)
        return None

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
            f"  {self.how_to_get()}\n"
            f"  Put it at {path}, or set {self.env_var}=/path/to/file, or pass its path in the "
            f"config that uses it."
        )

    def how_to_get(self) -> str:
        """One line: the fetch command where there is a direct url, else the manual source."""
        if self.url:
            return f"Download it with: python -m reliableswap.weights fetch {self.name}"
        if self.manual:
            return f"By hand: {self.manual}"
        return "Produced by this project (see its origin above)."


_ARCFACE_ORIGIN = (
    "InsightFace arcface_torch model zoo (https://github.com/deepinsight/insightface/tree/master/"
    "recognition/arcface_torch), e.g. ms1mv3_arcface_{arch}_fp16/backbone.pth"
)
# Links read in deepinsight/insightface recognition/arcface_torch/README.md ("Model Zoo").
_ARCFACE_MANUAL = (
    "arcface_torch model zoo (deepinsight/insightface recognition/arcface_torch/README.md): OneDrive "
    "https://1drv.ms/u/s!AswpsDO2toNKq0lWY69vN58GR6mw?e=p9Ov5d or Baidu https://pan.baidu.com/s/"
    "1CL-l4zWqsI1oDuEEYVhj-g (code e8pw); file {folder}/backbone.pth"
)

# Raw GitHub files pinned to the commit at which we read them (so the recorded sha256 stays valid):
# the sha256 of each blob at that commit equals the shared copy's (../shared/weights/README.md).
_RAW = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
_MOBILEFACENET = ("foamliu/MobileFaceNet", "a6cc9032a659b615f477833e1a70b5e7931bcccc")
_YUNET = ("ShiqiYu/libfacedetection.train", "0047ac24afb1a50a0c6105001c89d1b5b805dbf1")
_TDDFA = ("cleardusk/3DDFA_V2", "1b6c67601abffc1e9f248b291708aef0e43b55ae")
_STABLEVIEW = ("Shubhamai/StableView", "dca48d9c9148cd9c228c1492a0ecf3fc1df13fe8")


def _raw(source: tuple[str, str], path: str) -> str:
    return _RAW.format(repo=source[0], commit=source[1], path=path)


# InsightFace model packs: BASE_REPO_URL in deepinsight/insightface python-package/insightface/utils/
# storage.py (0.7.x); insightface 2.1's storage.py serves the same packs from the release tag
# "model-zoo" (https://github.com/deepinsight/insightface/releases/download/model-zoo/).
_INSIGHTFACE_PACK = "https://github.com/deepinsight/insightface/releases/download/v0.7/{pack}.zip"
# GPEN: the model links in yangxy/GPEN README.md.
_GPEN = "https://public-vigen-video.oss-cn-shanghai.aliyuncs.com/robin/models/{file}"

REGISTRY: dict[str, WeightEntry] = {
    e.name: e
    for e in [
        WeightEntry(
            "arcface_iresnet100", "arcface/iresnet100_backbone.pth", "pretrained",
            _ARCFACE_ORIGIN.format(arch="r100"), "ArcFace iresnet100 identity encoder",
            manifest="arcface_iresnet100", manual=_ARCFACE_MANUAL.format(folder="ms1mv3_arcface_r100_fp16"),
        ),
        WeightEntry(
            "arcface_iresnet50", "arcface/iresnet50_backbone.pth", "pretrained",
            _ARCFACE_ORIGIN.format(arch="r50"), "ArcFace iresnet50 identity encoder",
            manifest="arcface_iresnet50", manual=_ARCFACE_MANUAL.format(folder="ms1mv3_arcface_r50_fp16"),
        ),
        WeightEntry(
            "arcface_iresnet18", "arcface/iresnet18_backbone.pth", "pretrained",
            _ARCFACE_ORIGIN.format(arch="r18"), "ArcFace iresnet18 identity encoder",
            manifest="arcface_iresnet18", manual=_ARCFACE_MANUAL.format(folder="ms1mv3_arcface_r18_fp16"),
        ),
        WeightEntry(
            "mobilefacenet_arcface", "recognition/mobilefacenet_arcface.pt", "shared",
            "foamliu/MobileFaceNet, weights/mobilefacenet.pt (shipped in ../shared/weights)",
            "MobileFaceNet ArcFace recogniser, 128-d",
            sha256="90a00ba1d8b0b688af3deb731ed53dca582e6106805d1bc3cfdef55f570493f4",
            url=_raw(_MOBILEFACENET, "weights/mobilefacenet.pt"),
        ),
        WeightEntry(
            "mobilefacenet_arcface_onnx", "recognition/mobilefacenet_arcface.onnx", "shared",
            "foamliu/MobileFaceNet, weights/MobileFaceNet.onnx (shipped in ../shared/weights)",
            "MobileFaceNet ONNX export, reference for the PyTorch port",
            sha256="b7120c095d60094f28a4a54ba6a8bf51b297a6273fb40ef6350dfec1f63d9507",
            url=_raw(_MOBILEFACENET, "weights/MobileFaceNet.onnx"),
        ),
        WeightEntry(
            "insightface_w600k_r50", "insightface/w600k_r50.onnx", "pretrained",
            "InsightFace model zoo buffalo_l.zip (https://github.com/deepinsight/insightface/"
            "tree/master/python-package), file w600k_r50.onnx",
            "InsightFace WebFace600K iresnet50 recogniser (ONNX)",
            url=_INSIGHTFACE_PACK.format(pack="buffalo_l"), archive_member="w600k_r50.onnx",
        ),
        WeightEntry(
            # the shared copy comes from a third-party repository (yukkki7/FaceAnalysisApp), so its
            # sha256 is not that of the official det_500m.onnx: no checksum recorded
            "scrfd_500m_kps", "detection/scrfd_500m_kps.onnx", "shared",
            "InsightFace buffalo_s det_500m.onnx (shipped in ../shared/weights)",
            "SCRFD-500M face detector with 5 keypoints",
            url=_INSIGHTFACE_PACK.format(pack="buffalo_s"), archive_member="det_500m.onnx",
        ),
        WeightEntry(
            "yunet", "detection/yunet_n_320_320.onnx", "shared",
            "ShiqiYu/libfacedetection.train onnx/yunet_n_320_320.onnx (shipped in ../shared/weights)",
            "YuNet face detector for cv2.FaceDetectorYN",
            sha256="81dbde155e982455488235acb8ec2dec5d647edf7cf7080d33e4abb69b93a0d2",
            url=_raw(_YUNET, "onnx/yunet_n_320_320.onnx"),
        ),
        WeightEntry(
            "tddfa_v2_mb05", "pose_expression/3ddfa_v2_mb05_120x120.pth", "shared",
            "cleardusk/3DDFA_V2 weights/mb05_120x120.pth (shipped in ../shared/weights)",
            "3DDFA-V2 MobileNet 3DMM regressor (pose, shape, expression)",
            sha256="f93ed7f1c4c0382b16d7c18480a5f67473c1917a47475a9823924f38aeb27280",
            url=_raw(_TDDFA, "weights/mb05_120x120.pth"),
        ),
        WeightEntry(
            "tddfa_v2_mb05_onnx", "pose_expression/3ddfa_v2_mb05_120x120.onnx", "shared",
            "Shubhamai/StableView assets/model/mb05_120x120.onnx, an ONNX export of cleardusk/"
            "3DDFA_V2 weights/mb05_120x120.pth (shipped in ../shared/weights)",
            "3DDFA-V2 MobileNet(0.5) 3DMM regressor, ONNX (evaluation: pose/expression)",
            sha256="4b0546e2fd13567917956efa8658b6d71fcae0f9c127fbbeb66c64bd341a9c6a",
            url=_raw(_STABLEVIEW, "assets/model/mb05_120x120.onnx"),
        ),
        WeightEntry(
            # a conversion (pickle -> npz), not an official file: no url, no sha256
            "tddfa_v2_param_stats", "pose_expression/3ddfa_v2_param_mean_std_62d.npz", "shared",
            "cleardusk/3DDFA_V2 configs/param_mean_std_62d_120x120.pkl, converted to npz "
            "(arrays 'mean', 'std'; shipped in ../shared/weights)",
            "3DDFA-V2 mean/std to de-normalise the 62 regressed parameters",
            manual=(
                "download " + _raw(_TDDFA, "configs/param_mean_std_62d_120x120.pkl") + " and convert it: "
                "python -c \"import pickle, sys, numpy as np; d = pickle.load(open(sys.argv[1], 'rb')); "
                "np.savez(sys.argv[2], mean=d['mean'], std=d['std'])\" param_mean_std_62d_120x120.pkl "
                "3ddfa_v2_param_mean_std_62d.npz"
            ),
        ),
        WeightEntry(
            "tddfa_v2_bfm68", "pose_expression/3ddfa_v2_bfm68_bases_and_param_stats.json", "shared",
            "Shubhamai/StableView assets/model/data.json (3DDFA-V2 BFM bases at the 68 sparse "
            "landmarks; shipped in ../shared/weights)",
            "BFM 68-landmark shape/expression bases and 3DDFA-V2 parameter mean/std",
            sha256="3741103cc49af4336b7127e92dcdd1cbb32597ccb8226cca7d774e2952bf5cc2",
            url=_raw(_STABLEVIEW, "assets/model/data.json"),
        ),
        WeightEntry(
            "vgg19_imagenet", "vgg19-dcbb9e9d.pth", "torch_hub",
            "torchvision.models.VGG19_Weights.IMAGENET1K_V1 (downloaded by torchvision into the "
            "torch hub cache on a machine with internet)",
            "VGG19 ImageNet features for the perceptual loss",
            # url: VGG19_Weights.IMAGENET1K_V1 in torchvision/models/vgg.py (torchvision 0.29.1);
            # the name embeds the sha256's first 8 hex digits (torch.hub's check_hash convention)
            url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", sha256_prefix="dcbb9e9d",
        ),
        WeightEntry(
            "fixernet_mouthnet", "fixernet/mouth_net_28_56_84_112.pth", "pretrained",
            "ReliableSwap release (https://github.com/ygtxr1997/ReliableSwap), "
            "mouth_net_28_56_84_112.pth",
            "FixerNet lower-face recogniser, 128-d", manifest="fixernet_mouthnet_128",
            manual=(
                "the ReliableSwap authors' release (https://github.com/ygtxr1997/ReliableSwap; its README "
                "names the download location, no direct link could be read here), file "
                "mouth_net_28_56_84_112.pth"
            ),
        ),
        WeightEntry(
            "bisenet_faceparsing", "parsing/79999_iter.pth", "pretrained",
            "zllrunning/face-parsing.PyTorch release, 79999_iter.pth",
            "BiSeNet 19-class face parser", manifest="bisenet_faceparsing_19",
            # link read in zllrunning/face-parsing.PyTorch README.md ("our pre-trained model")
            manual="Google Drive https://drive.google.com/open?id=154JgKpzCPW82qINcVieuPH3fZ2e0P812 (79999_iter.pth)",
        ),
        WeightEntry(
            "lia_vox256", "reenact/vox.pt", "pretrained",
            "wyhsirius/LIA release, vox.pt (generator under key 'gen')",
            "LIA face reenactment generator", manifest="lia_generator_vox256",
            # link read in wyhsirius/LIA README.md ("Download pre-trained checkpoints from here")
            manual="Google Drive folder https://drive.google.com/drive/folders/1N4QcnqUQwKUZivFV-YeBuPyH4pGJHooc, file vox.pt",
        ),
        WeightEntry(
            "hopenet", "pose/hopenet_robust_alpha1.pkl", "pretrained",
            "natanielruiz/deep-head-pose release, hopenet_robust_alpha1.pkl",
            "HopeNet head-pose estimator", manifest="hopenet_resnet50_66bins",
            # link read in natanielruiz/deep-head-pose README.md ("300W-LP, alpha 1, robust to image quality")
            manual="Google Drive https://drive.google.com/open?id=1m25PrSE7g9D2q2XJVMR6IA7RaCvWSzCR (hopenet_robust_alpha1.pkl)",
        ),
        WeightEntry(
            "inception_fid", "pt_inception-2015-12-05-6726825d.pth", "torch_hub",
            "mseitzer/pytorch-fid release v0.2.1, pt_inception-2015-12-05-6726825d.pth (the TF FID "
            "Inception graph ported to PyTorch; pytorch-fid downloads it into the torch hub cache)",
            "FID Inception-v3 (pool3 features) for FID/KID",
            # url: FID_WEIGHTS_URL in mseitzer/pytorch-fid src/pytorch_fid/inception.py; the name embeds
            # the sha256's first 8 hex digits (torch.hub's check_hash convention)
            url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            sha256_prefix="6726825d",
        ),
        WeightEntry(
            "demo_reference", "assets/demo_reference.pt", "repo",
            "trained by this project: the cycle arm of `python scripts/study_cycle_vs_vanilla.py` "
            "(experiment=cpu_study_cycle, seed 42, step 6000), exported with `python "
            "scripts/export_reference.py outputs/cpu_study/runs/cycle_seed42/checkpoints/step_0006000.ckpt "
            "assets/demo_reference.pt`; see docs/results/cpu_study.md",
            "AEI-Net (width 0.125, 128x128, MobileFaceNet identity) + PatchGAN, float16, with its config: "
            "experiment=demo starts from it; test.py and the web demo swap with it (ckpt=assets/demo_reference.pt)",
            sha256="fcad1079dfad247e98e5a6bac6a65f370c492ba39e08dfcbcbc1c55a7ae0fb00",
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
            # link read in deepinsight/insightface parsing/dml_csr/README.md ("pretrained models")
            manual="Google Drive https://drive.google.com/file/d/1-PjUts1AMzXNyvw3VaJQmg43GJbfEpEQ/view (dml_csr_celebA.pth)",
        ),
        WeightEntry(
            "gpen_bfr_512", "enhance/GPEN-BFR-512.pth", "pretrained",
            "yangxy/GPEN release (https://github.com/yangxy/GPEN, README model table), GPEN-BFR-512.pth",
            "GPEN blind face restoration generator, 512 px (optional enhancer)", manifest="gpen_bfr_512",
            url=_GPEN.format(file="GPEN-BFR-512.pth"),
        ),
        WeightEntry(
            "gpen_bfr_256", "enhance/GPEN-BFR-256.pth", "pretrained",
            "yangxy/GPEN release (https://github.com/yangxy/GPEN, README model table), GPEN-BFR-256.pth",
            "GPEN blind face restoration generator, 256 px (optional enhancer)", manifest="gpen_bfr_256",
            url=_GPEN.format(file="GPEN-BFR-256.pth"),
        ),
        WeightEntry(
            "deepfill_v2", "inpaint/deepfill_v2.pth", "pretrained",
            "JiahuiYu/generative_inpainting v2.0.0, TensorFlow release release_celeba_hq_256_deepfill_v2, "
            "converted with `python scripts/convert_deepfill_tf.py CKPT_DIR deepfill_v2.pth`",
            "DeepFill v2 gated-convolution inpainter (the original pipeline's reshaping backend)",
            manifest="deepfill_v2_celeba_hq_256",
            # link read in JiahuiYu/generative_inpainting README.md ("Pretrained models: CelebA-HQ")
            manual=(
                "Google Drive folder https://drive.google.com/drive/folders/1uvcDgMer-4hgWlm6_G9xjvEQGP8neW15 "
                "(the TensorFlow checkpoint directory release_celeba_hq_256_deepfill_v2; rename checkpoint.txt "
                "to checkpoint), then convert it: python scripts/convert_deepfill_tf.py CKPT_DIR deepfill_v2.pth"
            ),
        ),
        WeightEntry(
            "cosface_r50", "cosface/glint360k_cosface_r50_backbone.pth", "pretrained",
            _ARCFACE_ORIGIN.format(arch="r50").replace("ms1mv3_arcface_r50_fp16", "glint360k_cosface_r50_fp16_0.1"),
            "CosFace iresnet50 recogniser (evaluation-only ID retrieval judge)", manifest="arcface_iresnet50",
            manual=_ARCFACE_MANUAL.format(folder="glint360k_cosface_r50_fp16_0.1"),
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


def weights_error_in(exc: BaseException) -> BaseException | None:
    """The :class:`MissingWeightsError` / :class:`ChecksumError` behind ``exc`` (Hydra wraps them), if any."""
    return find_cause(exc, (MissingWeightsError, ChecksumError))


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str, override: str | os.PathLike[str] | None = None) -> Path:
    """:func:`resolve`, then check the registered sha256 or sha256 prefix (when the registry records one).

    Raises :class:`MissingWeightsError` or :class:`ChecksumError`.
    """
    path = resolve(name, override)
    entry = get(name)
    expected = entry.sha256 or entry.sha256_prefix
    if expected and not entry.digest_matches(actual := file_sha256(path)):
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
