"""Random-valued weight files in the official layouts of the original pipeline's networks.

For wiring tests and stage benchmarks of ``builder/reenactor=lia parser=dml_csr
builder/inpainter=deepfill_v2 builder/enhancer=gpen`` on machines without the released files:
each file has exactly the keys and shapes of the release (the manifest tests prove that), so the
backends load it strictly and run, and the time per stage is the real network's. The images they
make are meaningless: never build triplets with them.
"""

from __future__ import annotations

from pathlib import Path

import torch

__all__ = ["NO_QUALITY_FILTER", "official_overrides", "write_random_official_weights"]

#: Builder overrides that switch the quality filter off: random networks make meaningless images,
#: and a wiring test or a stage benchmark must keep every pair.
NO_QUALITY_FILTER: tuple[str, ...] = (
    "settings.min_identity_similarity=-2", "settings.require_closer_to_source=false", "settings.require_face=false",
    "settings.near_copy_threshold=0", "settings.max_fold_fraction=null", "settings.max_warp_stretch=null",
    "settings.max_occlusion=null", "settings.max_colour_step=null", "settings.min_mouth_consistency=null",
)


def write_random_official_weights(folder: Path, gpen_size: int = 256, seed: int = 0) -> dict[str, Path]:
    """Write ``vox.pt`` (LIA, under ``gen``), ``dml_csr_celebA.pth``, ``deepfill_v2.pth`` and
    ``GPEN-BFR-<gpen_size>.pth`` with the modules' default random initialisation into ``folder``.

    Returns the file per builder stage (``reenactor``, ``parser``, ``inpainter``, ``enhancer``).
    About 530 MB with ``gpen_size=256`` (LIA 45 M and DML-CSR 68 M parameters, float32).
    """
    from reliableswap.faces.parsing.dml_csr import DMLCSR
    from supervision.deepfill import DeepFillV2Generator
    from supervision.gpen import build_gpen
    from supervision.reenact.lia import LIAGenerator

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    files = {
        "reenactor": folder / "vox.pt",
        "parser": folder / "dml_csr_celebA.pth",
        "inpainter": folder / "deepfill_v2.pth",
        "enhancer": folder / f"GPEN-BFR-{gpen_size}.pth",
    }
    torch.save({"gen": LIAGenerator().state_dict()}, files["reenactor"])
    torch.save(DMLCSR().state_dict(), files["parser"])
    torch.save(DeepFillV2Generator().state_dict(), files["inpainter"])
    torch.save(build_gpen(gpen_size).state_dict(), files["enhancer"])
    return files


def official_overrides(files: dict[str, Path], gpen_size: int = 256, parser_size: int | None = None) -> list[str]:
    """Builder command-line overrides that select the official backends with ``files``."""
    overrides = [
        "builder/reenactor=lia", f"reenactor.weights_path={files['reenactor']}",
        "parser=dml_csr", f"parser.weights_path={files['parser']}",
        "builder/inpainter=deepfill_v2", f"inpainter.weights_path={files['inpainter']}",
        "builder/enhancer=gpen", f"enhancer.weights_path={files['enhancer']}", f"enhancer.size={gpen_size}",
    ]
    if parser_size is not None:
        overrides.append(f"parser.input_size={parser_size}")
    return overrides
