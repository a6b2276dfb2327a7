"""Face parsing backends (all return canonical CelebAMask-HQ labels, see :mod:`.labels`).

- :class:`LandmarkFaceParser`: offline, draws the face parts from the 68 landmarks (default).
- :class:`BiSeNetParser`: the official BiSeNet release ``79999_iter.pth`` (user-downloaded).
"""

from supervision.parsing.bisenet import BiSeNet, BiSeNetParser
from supervision.parsing.labels import BISENET_TO_CANONICAL, HAIR, ID, INNER_FACE, NAMES, region_mask
from supervision.parsing.landmark_parser import LandmarkFaceParser, fill_polygons

__all__ = [
    "BISENET_TO_CANONICAL",
    "BiSeNet",
    "BiSeNetParser",
    "HAIR",
    "ID",
    "INNER_FACE",
    "LandmarkFaceParser",
    "NAMES",
    "fill_polygons",
    "region_mask",
]
