"""Face parsing backends (all return canonical CelebAMask-HQ labels, see :mod:`.labels`).

- :class:`LearnedFaceParser`: this project's compact U-Net trained on CelebAMask-HQ, weights
  shipped in ``assets/`` (the default, ``parser=unet``).
- :class:`LandmarkFaceParser`: offline, draws the face parts from the 68 landmarks (no network).
- :class:`BiSeNetParser`: the official BiSeNet release ``79999_iter.pth`` (user-downloaded).
- :class:`DMLCSRParser`: the DML-CSR CelebAMask-HQ release ``dml_csr_celebA.pth`` (user-downloaded),
  the parser of the original ReliableSwap pipeline.

Modules: :mod:`.protocol` (the :class:`FaceParser` protocol), :mod:`.labels` (canonical label set,
region masks), :mod:`.unet`, :mod:`.landmark_parser`, :mod:`.bisenet`, :mod:`.dml_csr`.
"""

from reliableswap.faces.parsing.bisenet import BiSeNet, BiSeNetParser
from reliableswap.faces.parsing.dml_csr import DMLCSR, DMLCSRParser
from reliableswap.faces.parsing.labels import BISENET_TO_CANONICAL, DML_CSR_TO_CANONICAL, HAIR, ID, INNER_FACE, NAMES, region_mask
from reliableswap.faces.parsing.landmark_parser import LandmarkFaceParser, fill_polygons
from reliableswap.faces.parsing.protocol import FaceParser
from reliableswap.faces.parsing.unet import FaceParsingUNet, LearnedFaceParser

__all__ = [
    "BISENET_TO_CANONICAL",
    "BiSeNet",
    "BiSeNetParser",
    "DMLCSR",
    "DMLCSRParser",
    "DML_CSR_TO_CANONICAL",
    "FaceParser",
    "HAIR",
    "ID",
    "INNER_FACE",
    "FaceParsingUNet",
    "LandmarkFaceParser",
    "LearnedFaceParser",
    "NAMES",
    "fill_polygons",
    "region_mask",
]
