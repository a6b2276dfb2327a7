"""Swap faces in images, folders and videos: the pipeline behind ``python test.py``.

:class:`SwapPipeline` holds the parts (swapper, face analyser, optional parser, identity encoder
for ``faces=reference``) and does the per-image work: detect -> select faces -> align to the
model's FFHQ crop -> swap in batches on the device -> colour-match -> paste back. The
:func:`run_inference` dispatcher walks the target (an image, a folder scanned recursively, or a
video) and records every input in a :class:`~reliableswap.inference.report.RunReport`; a bad
input (corrupt file, non-image, no face) is recorded and the run goes on. Images without a face
are copied byte for byte (pass-through), so an output folder always mirrors its input folder;
swapped images keep the target's alpha channel, bit depth and gray/colour layout as far as the
output format allows, and the report says when the output format differs (``format_note``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from reliableswap.faces.cropping import align_faces
from reliableswap.faces.face import Face, FaceAnalyzer
from reliableswap.io.atomic import write_bytes_atomic
from reliableswap.io.images import (IMAGE_SUFFIXES, ImageReadError, StoredImage, format_of_suffix, merge_rgb,
                                    read_rgb, read_stored, write_stored_atomic)
from reliableswap.inference.paste import ColorMode, ellipse_mask, match_color, parsed_face_masks, paste_back
from reliableswap.data.transforms import images_to_uint8 as to_uint8
from reliableswap.data.transforms import uint8_to_images as to_tensor
from reliableswap.inference.report import InputReport, RunReport
from reliableswap.swapping import Swapper

log = logging.getLogger(__name__)

VIDEO_SUFFIXES: frozenset[str] = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"})
FaceMode = Literal["largest", "all", "reference"]


class NoFaceError(RuntimeError):
    """The source (or reference) image holds no detectable face."""


@dataclass
class SwapSettings:
    """How faces are chosen and blended (the ``test.yaml`` keys of the same names)."""

    faces: FaceMode = "largest"
    batch_size: int = 8
    reference_threshold: float = 0.4
    color: ColorMode = "mean_std"
    feather: float = 0.04
    mask_scale: float = 1.0
    min_face: float = 0.0  # faces whose box is smaller (pixels) are ignored

    def __post_init__(self) -> None:
        if self.faces not in ("largest", "all", "reference"):
            raise ValueError(f"faces must be largest, all or reference, got '{self.faces}'")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


@dataclass
class ImageSwap:
    image: np.ndarray
    found: int
    swapped: int


class SwapPipeline:
    """Everything needed to swap one source identity into many images / frames.

    Args:
        swapper: any :class:`Swapper` (checkpoint or baseline); its ``size`` sets the crop size.
        analyzer: face detection with 5 keypoints (:mod:`reliableswap.faces`).
        settings: face selection, batch size, mask and colour options.
        parser: optional FaceParser; its inner-face mask replaces the template ellipse (one that
            ``needs_landmarks68`` needs an analyzer whose ``landmarks68`` is true, else ValueError).
        identity: optional encoder ``(B, 3, S, S) [-1, 1] -> (B, D)`` unit vectors, needed for
            ``faces=reference`` (defaults to ``swapper.embed`` when the swapper has one).
        device: where crops are swapped (``None``: the swapper's device, else CPU).
    """

    def __init__(self, swapper: Swapper, analyzer: FaceAnalyzer, settings: SwapSettings | None = None,
                 parser: Any | None = None, identity: Any | None = None, device: torch.device | str | None = None) -> None:
        self.swapper = swapper
        self.analyzer = analyzer
        self.settings = settings or SwapSettings()
        self.parser = parser
        self.identity = identity
        self.device = torch.device(device) if device is not None else getattr(swapper, "device", torch.device("cpu"))
        self.size = int(swapper.size)
        self._ellipse = ellipse_mask(self.size, self.settings.feather, self.settings.mask_scale)
        self._source: torch.Tensor | None = None
        self._reference: torch.Tensor | None = None
        if parser is not None and parser.needs_landmarks68 and not analyzer.landmarks68:
            raise ValueError(f"parser=landmarks needs 68-point landmarks, which face analyzer {analyzer.name} does not "
                             "give: use face_analyzer=dlib, face_analyzer.scrfd.landmarks68=true or parser=bisenet")

    # -- identities --------------------------------------------------------------------------------
    def _crop_of_largest(self, rgb: np.ndarray, what: str) -> torch.Tensor:
        faces = self.detect(rgb)
        if not faces:
            raise NoFaceError(f"no face found in the {what} image")
        crops, _ = align_faces(rgb, faces[:1], self.size)
        return to_tensor(crops, self.device)

    def set_source(self, rgb: np.ndarray) -> int:
        """Use the largest face of ``rgb`` as the identity to swap in; returns faces found."""
        self._source = self._crop_of_largest(rgb, "source")
        return 1

    def _embed(self, crops: torch.Tensor) -> torch.Tensor:
        encoder = self.identity if self.identity is not None else getattr(self.swapper, "embed", None)
        if encoder is None:
            raise ValueError("faces=reference needs an identity encoder (configure `identity`)")
        with torch.inference_mode():
            z = encoder(crops) if not hasattr(encoder, "embed") else encoder.embed(crops)
        return F.normalize(z.float().to(self.device), dim=-1)

    def set_reference(self, rgb: np.ndarray) -> None:
        """For ``faces=reference``: only faces like the largest face of ``rgb`` are swapped."""
        self._reference = self._embed(self._crop_of_largest(rgb, "reference"))

    # -- per image -------------------------------------------------------------------------------
    def detect(self, rgb: np.ndarray) -> list[Face]:
        faces = self.analyzer.detect(rgb)
        if self.settings.min_face > 0:
            faces = [f for f in faces if min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= self.settings.min_face]
        return faces

    def select(self, faces: list[Face], crops: torch.Tensor) -> list[int]:
        """Indices of the faces to swap according to ``settings.faces``."""
        if not faces:
            return []
        if self.settings.faces == "largest":
            return [int(np.argmax([f.area for f in faces]))]
        if self.settings.faces == "all":
            return list(range(len(faces)))
        if self._reference is None:
            raise ValueError("faces=reference needs a reference image (reference=PATH)")
        sims = (self._embed(crops) @ self._reference.T).squeeze(-1)
        keep = [i for i, s in enumerate(sims.tolist()) if s >= self.settings.reference_threshold]
        log.debug("reference similarities %s -> keep %s", [round(s, 3) for s in sims.tolist()], keep)
        return keep

    def swap_crops(self, crops: torch.Tensor, landmarks68: Sequence[np.ndarray | None] | None = None,
                   matrices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Swap (N, 3, S, S) target crops in chunks of ``batch_size``; -> (uint8 crops, masks)."""
        if self._source is None:
            raise RuntimeError("set_source() first")
        out_crops, out_masks = [], []
        n = crops.shape[0]
        for start in range(0, n, self.settings.batch_size):
            chunk = crops[start:start + self.settings.batch_size].to(self.device)
            swapped = self.swapper.swap(self._source.expand(chunk.shape[0], -1, -1, -1), chunk)
            swapped = swapped.to(self.device, torch.float32)
            masks = self._masks(chunk, landmarks68, matrices, start)
            swapped = match_color(swapped, chunk, masks, self.settings.color)
            out_crops.append(to_uint8(swapped))
            out_masks.append(masks[:, 0].float().cpu().numpy())
        if not out_crops:
            return np.zeros((0, self.size, self.size, 3), np.uint8), np.zeros((0, self.size, self.size), np.float32)
        return np.concatenate(out_crops), np.concatenate(out_masks)

    def _masks(self, chunk: torch.Tensor, landmarks68: Sequence[np.ndarray | None] | None,
               matrices: np.ndarray | None, start: int) -> torch.Tensor:
        b = chunk.shape[0]
        if self.parser is None:
            return torch.from_numpy(self._ellipse).to(self.device).expand(b, 1, -1, -1)
        lm = None
        if landmarks68 is not None and matrices is not None:
            pts = []
            for i in range(b):
                p, m = landmarks68[start + i], matrices[start + i]
                pts.append(np.zeros((68, 2)) if p is None else p @ m[:, :2].T + m[:, 2])
            lm = torch.tensor(np.stack(pts), dtype=torch.float32, device=self.device)
        return parsed_face_masks(self.parser, chunk, lm, self.settings.feather)

    def swap_images(self, images: Sequence[np.ndarray], faces_per_image: Sequence[list[Face]]) -> list[ImageSwap]:
        """Swap several images (video frames) whose faces are already detected, in shared batches."""
        crops_all, mats_all, lms_all, owners = [], [], [], []
        found = [len(f) for f in faces_per_image]
        for k, (rgb, faces) in enumerate(zip(images, faces_per_image)):
            if not faces:
                continue
            crops, mats = align_faces(rgb, faces, self.size)
            chosen = self.select(faces, to_tensor(crops, self.device)) if self.settings.faces == "reference" \
                else self.select(faces, torch.empty(0))
            for i in chosen:
                crops_all.append(crops[i])
                mats_all.append(mats[i])
                lms_all.append(faces[i].landmarks68)
                owners.append(k)
        results = [ImageSwap(np.asarray(img), n, 0) for img, n in zip(images, found)]
        if not crops_all:
            return results
        mats = np.stack(mats_all)
        swapped, masks = self.swap_crops(to_tensor(np.stack(crops_all), self.device), lms_all, mats)
        for j, k in enumerate(owners):
            results[k].image = paste_back(results[k].image, swapped[j], mats[j], masks[j])
            results[k].swapped += 1
        return results

    def swap_image(self, rgb: np.ndarray, faces: list[Face] | None = None) -> ImageSwap:
        """Detect (unless ``faces`` given), swap and paste back the selected faces of one image."""
        faces = self.detect(rgb) if faces is None else faces
        return self.swap_images([rgb], [faces])[0]


# -- runs over targets ----------------------------------------------------------------------------


def kind_of(path: Path) -> Literal["image", "video", "other"]:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "other"


def _write_output(stored: StoredImage, result: ImageSwap, out_path: Path, item: InputReport) -> None:
    """Copy the input's bytes (pass-through in the same format) or encode the merged pixels."""
    item.format_in = stored.description
    if not result.swapped and format_of_suffix(out_path) == stored.format:
        write_bytes_atomic(out_path, stored.data)
        item.format_out, item.format_note = item.format_in, "copied byte for byte"
        return
    pixels = merge_rgb(stored, stored.rgb, result.image) if result.swapped else stored.pixels
    item.format_out = write_stored_atomic(out_path, pixels)
    notes = [f"{item.format_in} -> {item.format_out}"] if item.format_out != item.format_in else []
    if item.format_out.startswith(("JPEG", "WEBP")):
        notes.append("re-encoded with lossy compression (quality 95)")
    item.format_note = "; ".join(notes) or None
    if item.format_out != item.format_in:
        log.warning("%s: written as %s (was %s)", out_path, item.format_out, item.format_in)


def swap_image_file(pipeline: SwapPipeline, path: Path, out_path: Path) -> InputReport:
    """One target image -> ``out_path``; never raises for bad input (recorded in the report).

    Pass-through (no face swapped) copies the file's bytes when ``out_path`` has the input's
    format; a swapped image keeps alpha, 16-bit depth and single-channel gray where the output
    format can hold them (:func:`reliableswap.io.images.merge_rgb`). ``format_in``,
    ``format_out`` and ``format_note`` of the report record what was written.
    """
    item = InputReport(path=str(path), kind="image")
    t0 = time.perf_counter()
    try:
        stored = read_stored(path)
    except ImageReadError as exc:
        item.error = f"unreadable image: {exc.reason}"
        log.error("%s: %s", path, item.error)
        return item
    rgb = stored.rgb
    item.add_time("read", time.perf_counter() - t0)
    try:
        t = time.perf_counter()
        faces = pipeline.detect(rgb)
        item.add_time("detect", time.perf_counter() - t)
        t = time.perf_counter()
        result = pipeline.swap_image(rgb, faces)
        item.add_time("swap", time.perf_counter() - t)
        t = time.perf_counter()
        _write_output(stored, result, out_path, item)
        item.add_time("write", time.perf_counter() - t)
    except Exception as exc:  # one bad image must not end a folder run
        item.error = f"{type(exc).__name__}: {exc}"
        log.exception("%s: failed", path)
        return item
    item.faces_found, item.faces_swapped, item.output = result.found, result.swapped, str(out_path)
    item.status = "swapped" if result.swapped else "passthrough"
    if not result.swapped:
        log.warning("%s: %s, written unchanged", path,
                    "no face found" if not result.found else f"{result.found} face(s) but none selected")
    item.add_time("total", time.perf_counter() - t0)
    return item


def _scan(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def default_report_path(output: Path, target_is_dir: bool) -> Path:
    """``<output dir>/report.json`` for a folder, ``<stem>_report.json`` beside a file output."""
    return output / "report.json" if target_is_dir else output.with_name(output.stem + "_report.json")


def output_path_for(target: Path, output: Path) -> Path:
    """Output file of a single target: ``output`` itself when it has a media suffix, else inside it."""
    if kind_of(output) != "other":
        return output
    return output / target.name


def run_inference(pipeline: SwapPipeline, source: Path, target: Path, output: Path,
                  report: RunReport, video_options: dict[str, Any] | None = None,
                  reference: Path | None = None) -> RunReport:
    """Swap ``source``'s face into ``target`` (image, folder or video) writing under ``output``."""
    from reliableswap.inference.video import swap_video

    video_options = dict(video_options or {})
    try:
        pipeline.set_source(read_rgb(source))
        report.source_faces = 1
        if pipeline.settings.faces == "reference":
            if reference is None:
                raise ValueError("faces=reference needs reference=PATH (an image of the person to replace)")
            pipeline.set_reference(read_rgb(reference))
    except (ImageReadError, NoFaceError, ValueError) as exc:
        report.error = f"{exc}" if not isinstance(exc, ImageReadError) else f"source: {exc}"
        if isinstance(exc, NoFaceError):
            report.source_faces = 0
        log.error("%s", report.error)
        return report

    if not target.exists():
        report.error = f"target not found: {target}"
        log.error("%s", report.error)
        return report
    if target.is_dir():
        todo = [(p, output / p.relative_to(target)) for p in _scan(target)]
        if not todo:
            log.warning("no files under %s", target)
    else:
        todo = [(target, output_path_for(target, output))]
    for k, (path, out_path) in enumerate(todo):
        kind = kind_of(path)
        log.info("[%d/%d] %s (%s)", k + 1, len(todo), path, kind)
        if kind == "video":
            report.inputs.append(swap_video(pipeline, path, out_path, **video_options))
        elif kind == "image" or not target.is_dir():
            # An explicitly named file is tried as an image whatever its name (read_rgb sniffs the
            # content and reports a non-image clearly).
            report.inputs.append(swap_image_file(pipeline, path, out_path if kind == "image" else
                                                 out_path.with_suffix(out_path.suffix + ".png")))
        else:
            report.inputs.append(InputReport(path=str(path), kind="other", status="skipped",
                                             error="not an image or video (by file suffix)"))
    return report


def settings_dict(settings: SwapSettings) -> dict[str, Any]:
    """The settings as a plain dict (what the run report records)."""
    return asdict(settings)
