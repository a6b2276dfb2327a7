"""Inference: load a swapper, swap faces into images, folders and videos (``python test.py``).

The :class:`~reliableswap.swapping.Swapper` protocol (aligned crops in, swapped crops out) lives
in :mod:`reliableswap.swapping`, below this package and :mod:`reliableswap.evaluation`; the
``test.py`` body that chooses between swapping files and evaluating is
:mod:`reliableswap.apps.test`. This package never imports :mod:`reliableswap.evaluation`.
Face detection, FFHQ alignment/cropping, parsing and colour transfer live in :mod:`reliableswap.faces`.

- :mod:`.loading`: ``load_swapper(ckpt, device)`` and the registry of checkpoint formats;
- :mod:`.trusted`: the ``_target_`` allowlist a checkpoint's stored config is checked against;
- :mod:`.paste`: masks, colour matching and the inverse warp back into the image;
- :mod:`.images`: :class:`SwapPipeline` and image/folder runs;
- :mod:`.video`: streaming video swapping with landmark smoothing and audio copy;
- :mod:`.report`: the JSON run report.
"""

from reliableswap.swapping import Swapper

__all__ = ["Swapper", "load_swapper", "SwapPipeline", "SwapSettings"]


def __getattr__(name: str):  # heavy modules (hydra, OpenCV, ONNX) load on first use only
    if name == "load_swapper":
        from reliableswap.inference.loading import load_swapper

        return load_swapper
    if name in ("SwapPipeline", "SwapSettings"):
        from reliableswap.inference import images

        return getattr(images, name)
    raise AttributeError(name)
