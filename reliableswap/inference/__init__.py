"""Inference: load a swapper, swap faces into images, folders and videos (``python test.py``).

Face detection, FFHQ alignment/cropping, parsing and colour transfer live in :mod:`reliableswap.faces`.

- :mod:`.swapper`: the :class:`Swapper` protocol (aligned crops in, swapped crops out);
- :mod:`.loading`: ``load_swapper(ckpt, device)`` and the registry of checkpoint formats;
- :mod:`.paste`: masks, colour matching and the inverse warp back into the image;
- :mod:`.images`: :class:`SwapPipeline`, image/folder runs, the ``test.py`` body;
- :mod:`.video`: streaming video swapping with landmark smoothing and audio copy;
- :mod:`.report`: the JSON run report.
"""

from reliableswap.inference.swapper import Swapper

__all__ = ["Swapper", "load_swapper", "SwapPipeline", "SwapSettings", "run_from_config"]


def __getattr__(name: str):  # heavy modules (hydra, OpenCV, ONNX) load on first use only
    if name == "load_swapper":
        from reliableswap.inference.loading import load_swapper

        return load_swapper
    if name in ("SwapPipeline", "SwapSettings", "run_from_config"):
        from reliableswap.inference import images

        return getattr(images, name)
    raise AttributeError(name)
