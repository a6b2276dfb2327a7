"""Reading and writing face images with one predictable contract.

Every consumer (datasets, index builder, triplet synthesis, inference) reads images through
:func:`read_rgb`, so odd files behave the same everywhere: the result is always an ``HxWx3``
``uint8`` RGB array, whatever the file stored, and a file that cannot be decoded raises
:class:`ImageReadError` naming the path and the reason instead of surfacing as ``None`` or a
half-grey picture several calls later.

Conversions (decided once, here):

- grayscale (1 channel) is replicated to 3 channels;
- alpha (RGBA, or gray+alpha "LA") is *composited on black* (``rgb * alpha``): transparent
  pixels of cut-out faces often hold arbitrary colours, and black is what the rest of the
  pipeline uses as "no image" (paste-back masks, padding);
- 16-bit images are scaled to 8 bits by ``round(v / 257)`` (65535 -> 255, exact for values that
  came from 8 bits), not truncated or clipped;
- EXIF orientation is applied for JPEG files (where cameras write it; OpenCV's colour decoder
  does it for free). PNG/WebP/BMP orientation tags are rare and ignored.

Truncated JPEGs are detected explicitly (missing end-of-image marker): libjpeg only warns and
returns an image whose lower part is grey, which would silently poison a dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from reliableswap.io.atomic import write_bytes_atomic

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "is_image_file",
    "read_rgb",
    "write_image_atomic",
]

#: File suffixes treated as images by folder scans (lower case).
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_REDUCE_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


class ImageReadError(OSError):
    """An image file could not be read; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")

    def __reduce__(self):  # keep it picklable across DataLoader worker processes
        return (type(self), (self.path, self.reason))


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """True when the file name has an image suffix (content is not checked)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _sniff(data: bytes) -> str | None:
    """Container format from the magic bytes, or None when it is not an image we know."""
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data.startswith(b"BM"):
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _jpeg_is_complete(data: bytes) -> bool:
    # The end-of-image marker may be followed by padding (zeros, newlines) from some writers.
    return data.rstrip(b"\x00\r\n\t ").endswith(b"\xff\xd9")


def _to_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        # round(v / 257) maps 0..65535 onto 0..255 exactly (257 * 255 == 65535).
        return ((img.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    raise ValueError(f"unsupported pixel type {img.dtype}")


def _decoded_to_rgb(img: np.ndarray) -> np.ndarray:
    """OpenCV ``IMREAD_UNCHANGED`` output (gray / gray+alpha / BGR / BGRA, any depth) -> RGB uint8."""
    if img.ndim == 2:
        img = img[:, :, None]
    channels = img.shape[2]
    if channels in (2, 4):
        # Composite on black in float before quantising, so 16-bit alpha keeps its precision.
        if img.dtype == np.uint8:
            peak = 255.0
        elif img.dtype == np.uint16:
            peak = 65535.0
        elif np.issubdtype(img.dtype, np.floating):
            peak = 1.0
        else:
            raise ValueError(f"unsupported pixel type {img.dtype}")
        alpha = img[:, :, -1:].astype(np.float32) / peak
        colour = img[:, :, :-1].astype(np.float32) * alpha * (255.0 / peak)
        img = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
    else:
        img = _to_uint8(img)
    if img.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(img, 3, axis=2))
    if img.shape[2] == 3:
        return np.ascontiguousarray(img[:, :, ::-1])  # BGR -> RGB
    raise ValueError(f"unsupported channel count {img.shape[2]}")


def read_rgb(path: str | os.PathLike[str], reduce: int = 1) -> np.ndarray:
    """Read an image file as an ``HxWx3`` ``uint8`` RGB array (conversions: see module doc).

    ``reduce`` (1, 2, 4 or 8) lets JPEGs be decoded directly at 1/reduce resolution through
    libjpeg's scaled IDCT, which is several times faster than decoding full size and then
    shrinking; the data loader uses it when the training size is a fraction of the stored size.
    Other formats ignore it (the caller resizes anyway).

    Raises :class:`ImageReadError` for missing, empty, non-image, truncated or undecodable files.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory") from None
    except OSError as exc:
        raise ImageReadError(path, f"unreadable file ({exc.strerror or exc})") from None
    if not data:
        raise ImageReadError(path, "empty file")
    kind = _sniff(data)
    if kind is None:
        raise ImageReadError(path, "not an image (content is not JPEG, PNG, BMP or WebP)")
    if kind == "jpeg" and not _jpeg_is_complete(data):
        raise ImageReadError(path, "truncated JPEG (no end-of-image marker)")

    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        if kind == "jpeg":
            # JPEG holds no alpha and (practically) no 16-bit data; the colour decoder applies
            # EXIF orientation and expands grayscale JPEGs itself.
            flag = _REDUCE_FLAGS.get(int(reduce), cv2.IMREAD_COLOR)
            img = cv2.imdecode(buf, flag)
        else:
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageReadError(path, f"corrupt {kind.upper()} data ({exc.msg.strip() or exc})") from None
    if img is None or img.size == 0:
        raise ImageReadError(path, f"corrupt {kind.upper()} data (decoder returned nothing)")
    try:
        return _decoded_to_rgb(img)
    except ValueError as exc:
        raise ImageReadError(path, str(exc)) from None


def write_image_atomic(path: str | os.PathLike[str], rgb: np.ndarray, quality: int = 95) -> None:
    """Write an ``HxWx3`` (or ``HxW``) ``uint8`` RGB image so readers never see a partial file.

    The encoded image is written with :func:`reliableswap.io.atomic.write_bytes_atomic`, so an
    interrupted job (pre-empted node, Ctrl-C) leaves either the old file or the new one.
    The format follows the suffix of ``path``; ``quality`` applies to JPEG and WebP.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"unsupported image suffix {path.suffix!r} for {path}")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {rgb.dtype}")
    if rgb.ndim == 3 and rgb.shape[2] == 3:
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    elif rgb.ndim == 2:
        bgr = rgb
    else:
        raise ValueError(f"expected HxWx3 RGB or HxW gray, got shape {rgb.shape}")
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    ok, encoded = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise OSError(f"could not encode image as {suffix} for {path}")
    write_bytes_atomic(path, encoded.tobytes())
