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

Decompression bombs: the image size is read from the file header (Pillow parses headers only)
*before* anything is decoded, and an image of more than :data:`MAX_IMAGE_PIXELS` pixels (100
megapixels by default; override with the environment variable ``RELIABLESWAP_MAX_IMAGE_PIXELS``
or the ``max_pixels`` argument) is refused with :class:`ImageReadError`, so a 1 MB PNG that
declares 20000x20000 costs microseconds instead of gigabytes. Every reader of the project goes
through :func:`read_rgb` or :func:`read_stored`, so the index, datasets, builder and ``test.py``
all refuse the same files.

:func:`read_stored` keeps what :func:`read_rgb` converts away (the file's bytes, alpha, 16-bit
depth, single-channel gray) so inference can copy a pass-through image byte for byte and write a
swapped one back in its own format (:func:`merge_rgb`, :func:`write_stored_atomic`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reliableswap.io.atomic import write_bytes_atomic

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_PIXELS",
    "MAX_PIXELS_ENV",
    "ImageReadError",
    "StoredImage",
    "format_of_suffix",
    "is_image_file",
    "max_image_pixels",
    "merge_rgb",
    "read_rgb",
    "read_stored",
    "write_image_atomic",
    "write_stored_atomic",
]

#: File suffixes treated as images by folder scans (lower case).
IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Images with more pixels (width x height, from the header) are refused before decoding.
MAX_IMAGE_PIXELS: int = 100_000_000
#: Environment variable that overrides :data:`MAX_IMAGE_PIXELS` (a positive integer).
MAX_PIXELS_ENV = "RELIABLESWAP_MAX_IMAGE_PIXELS"
_SUFFIX_FORMATS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".bmp": "bmp", ".webp": "webp"}
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


def max_image_pixels() -> int:
    """The pixel limit in force: ``$RELIABLESWAP_MAX_IMAGE_PIXELS`` if set, else :data:`MAX_IMAGE_PIXELS`.

    Raises ValueError (naming the variable) when the variable is not a positive integer.
    """
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return MAX_IMAGE_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise ValueError(f"{MAX_PIXELS_ENV} must be a positive integer (pixels), got {value!r}")
    return limit


def _header(data: bytes, kind: str) -> tuple[int, int, str]:
    """``(width, height, Pillow mode)`` from the header only (no pixel is decoded).

    The format's Pillow plugin is called directly: ``Image.open`` would apply Pillow's own bomb
    limit, which must not override ours.
    """
    from PIL import BmpImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

    plugin = {"jpeg": JpegImagePlugin.JpegImageFile, "png": PngImagePlugin.PngImageFile,
              "bmp": BmpImagePlugin.BmpImageFile, "webp": WebPImagePlugin.WebPImageFile}[kind]
    with plugin(io.BytesIO(data)) as img:
        return int(img.size[0]), int(img.size[1]), str(img.mode)


def _check_header(path: Path, data: bytes, kind: str, max_pixels: int | None) -> str:
    """Refuse empty, unparsable or too large (decompression bomb) images; returns the Pillow mode."""
    try:
        width, height, mode = _header(data, kind)
    except Exception as exc:  # noqa: BLE001 - any header failure means "not a readable image"
        raise ImageReadError(path, f"corrupt {kind.upper()} header ({exc})") from None
    limit = max_image_pixels() if max_pixels is None else int(max_pixels)
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"empty image ({width}x{height})")
    if width * height > limit:
        raise ImageReadError(path, f"too many pixels ({width}x{height} = {width * height / 1e6:.1f} megapixels > "
                                   f"limit {limit / 1e6:g}; raise it with {MAX_PIXELS_ENV})")
    return mode


def _load(path: Path, reduce: int, max_pixels: int | None) -> tuple[bytes, str, str, np.ndarray]:
    """Read, sniff, size-check and decode: ``(file bytes, format, Pillow mode, OpenCV pixels)``."""
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
    mode = _check_header(path, data, kind, max_pixels)

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
    return data, kind, mode, img


def read_rgb(path: str | os.PathLike[str], reduce: int = 1, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as an ``HxWx3`` ``uint8`` RGB array (conversions: see module doc).

    ``reduce`` (1, 2, 4 or 8) lets JPEGs be decoded directly at 1/reduce resolution through
    libjpeg's scaled IDCT, which is several times faster than decoding full size and then
    shrinking; the data loader uses it when the training size is a fraction of the stored size.
    Other formats ignore it (the caller resizes anyway). ``max_pixels``: the bomb limit (None:
    :func:`max_image_pixels`), checked on the header before decoding.

    Raises :class:`ImageReadError` for missing, empty, non-image, truncated, undecodable or too
    large files.
    """
    path = Path(path)
    _, _, _, img = _load(path, reduce, max_pixels)
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


# -- full-fidelity images (inference output keeps the target's format) ----------------------------


def format_of_suffix(path: str | os.PathLike[str]) -> str | None:
    """``"jpeg"``, ``"png"``, ``"bmp"`` or ``"webp"`` from the file suffix, None for others."""
    return _SUFFIX_FORMATS.get(Path(path).suffix.lower())


def _describe(fmt: str, pixels: np.ndarray) -> str:
    """``"PNG 16-bit RGBA"``-style description of an image as stored."""
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    layout = {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}[channels]
    return f"{fmt.upper()} {8 * pixels.dtype.itemsize}-bit {layout}"


@dataclass(frozen=True)
class StoredImage:
    """An image file as stored, next to the ``rgb`` view the pipeline works on.

    ``data``: the file's bytes; ``format``: ``jpeg``/``png``/``bmp``/``webp`` (from the content);
    ``pixels``: OpenCV layout (``HxW`` gray or ``HxWx3/4`` BGR(A)), ``uint8`` or ``uint16``
    (JPEG: EXIF orientation applied, gray kept single-channel); ``rgb``: :func:`read_rgb`'s
    ``HxWx3`` uint8 RGB.
    """

    data: bytes
    format: str
    pixels: np.ndarray
    rgb: np.ndarray

    @property
    def description(self) -> str:
        return _describe(self.format, self.pixels)


def read_stored(path: str | os.PathLike[str], max_pixels: int | None = None) -> StoredImage:
    """Read an image keeping its bytes, alpha and bit depth; errors as :func:`read_rgb`."""
    path = Path(path)
    data, kind, mode, img = _load(path, 1, max_pixels)
    try:
        rgb = _decoded_to_rgb(img)
    except ValueError as exc:
        raise ImageReadError(path, str(exc)) from None
    if img.dtype not in (np.uint8, np.uint16):  # float TIFF-like data: keep only the 8-bit view
        img = np.ascontiguousarray(rgb[:, :, ::-1])
    if kind == "jpeg" and mode == "L" and img.ndim == 3:
        img = np.ascontiguousarray(img[:, :, 0])  # the colour decoder replicated the gray plane
    return StoredImage(data, kind, img, rgb)


def merge_rgb(stored: StoredImage, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``stored.pixels`` with the pixels where ``after`` differs from ``before`` (RGB uint8) replaced.

    Unchanged pixels keep their stored value exactly (16-bit values, colour under transparent
    alpha); changed ones are scaled to the stored depth (``v * 257`` for 16 bits), written as
    luma (BT.601) into a gray image, and keep their alpha.
    """
    out = stored.pixels.copy()
    changed = np.any(before != after, axis=2)
    if not changed.any():
        return out
    scale = 257 if out.dtype == np.uint16 else 1
    new = after[changed].astype(np.float64)
    if out.ndim == 2:
        luma = new @ np.array([0.299, 0.587, 0.114])
        out[changed] = (np.clip(np.rint(luma), 0, 255) * scale).astype(out.dtype)
    else:
        out[changed, :3] = (new[:, ::-1] * scale).astype(out.dtype)  # RGB -> BGR, alpha untouched
    return out


def write_stored_atomic(path: str | os.PathLike[str], pixels: np.ndarray, quality: int = 95) -> str:
    """Encode OpenCV-layout ``pixels`` in the format of ``path``'s suffix, atomically; returns its description.

    What the format cannot hold is converted (and shows in the returned description): JPEG and
    BMP get no alpha (composited on black, as :func:`read_rgb` does) and JPEG, BMP and WebP get
    8 bits (``round(v / 257)``). Raises ValueError for a non-image suffix, OSError when encoding fails.
    """
    path = Path(path)
    fmt = format_of_suffix(path)
    if fmt is None:
        raise ValueError(f"unsupported image suffix {path.suffix!r} for {path}")
    img = pixels
    has_alpha = img.ndim == 3 and img.shape[2] == 4
    if fmt != "png" and img.dtype == np.uint16:
        img = _to_uint8(img)
    if has_alpha and fmt in ("jpeg", "bmp"):
        img = np.ascontiguousarray(_decoded_to_rgb(img)[:, :, ::-1])
    params: list[int] = []
    if fmt == "jpeg":
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif fmt == "webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    ok, encoded = cv2.imencode(path.suffix.lower(), img, params)
    if not ok:
        raise OSError(f"could not encode image as {path.suffix} for {path}")
    write_bytes_atomic(path, encoded.tobytes())
    return _describe(fmt, img)
