"""Face parsing backends (all return canonical CelebAMask-HQ labels, see :mod:`.labels`).

- :class:`LandmarkFaceParser`: offline, draws the face parts from the 68 landmarks (default).
- :class:`BiSeNetParser`: the official BiSeNet release ``79999_iter.pth`` (user-downloaded).

Modules: :mod:`.protocol` (the :class:`FaceParser` protocol), :mod:`.labels` (canonical label set,
region masks), :mod:`.landmark_parser`, :mod:`.bisenet`.
"""

from reliableswap.faces.parsing.bisenet import BiSeNet, BiSeNetParser
from reliableswap.faces.parsing.labels import BISENET_TO_CANONICAL, HAIR, ID, INNER_FACE, NAMES, region_mask
from reliableswap.faces.parsing.landmark_parser import LandmarkFaceParser, fill_polygons
from reliableswap.faces.parsing.protocol import FaceParser

__all__ = [
    "BISENET_TO_CANONICAL",
    "BiSeNet",
    "BiSeNetParser",
    "FaceParser",
    "HAIR",
    "ID",
    "INNER_FACE",
    "LandmarkFaceParser",
    "NAMES",
    "fill_polygons",
    "region_mask",
]
