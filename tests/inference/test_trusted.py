"""Kind 1 of issue 10: a checkpoint's stored config must not be able to call arbitrary code.

Each hostile checkpoint is built here (a plain dict that passes ``torch.load(weights_only=True)``)
with a ``_target_`` that would write to disk if instantiated; loading must refuse it before
anything is built, leave every file as it was, and name the refused key and target.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reliableswap.inference.loading import load_swapper
from reliableswap.inference.trusted import UntrustedConfigError, allowed_targets, check_stored_config

GENERATOR = {"_target_": "reliableswap.models.aei_net.AEINet", "_partial_": True, "size": 64, "width": 0.125}
IDENTITY = {"_target_": "reliableswap.models.identity.build_mobilefacenet_encoder", "weights_path": None}


def _snapshot(root: Path) -> dict[str, tuple[bool, bytes | None]]:
    return {str(p.relative_to(root)): (p.is_dir(), None if p.is_dir() else p.read_bytes()) for p in root.rglob("*")}


def _hostile_configs(tmp: Path) -> dict[str, tuple[dict, str, str]]:
    """name -> (stored config, key path the error must name, target it must name)."""
    victim, copy = str(tmp / "victim.txt"), str(tmp / "copy.txt")
    opener = {"_target_": "builtins.open", "file": victim, "mode": "w"}
    copier = {"_target_": "shutil.copyfile", "src": victim, "dst": copy}
    toucher = {"_target_": "pathlib.Path.touch", "_args_": [{"_target_": "pathlib.Path", "_args_": [str(tmp / "t")]}]}
    maker = {"_target_": "os.makedirs", "name": str(tmp / "made" / "deep")}
    combined = {"_target_": "reliableswap.models.identity.combined.build_combined_encoder", "identity": IDENTITY}
    return {
        "open_as_identity": ({"model": {"generator": GENERATOR}, "identity": opener}, "identity._target_", "builtins.open"),
        "copyfile_as_generator": ({"model": {"generator": copier}, "identity": IDENTITY},
                                  "model.generator._target_", "shutil.copyfile"),
        "touch_nested_in_identity": ({"model": {"generator": GENERATOR}, "identity": {**combined, "fixer": toucher}},
                                     "identity.fixer._target_", "pathlib.Path.touch"),
        "makedirs_in_loss": ({"model": {"generator": GENERATOR}, "identity": IDENTITY,
                              "loss": {"generator_loss": maker}}, "loss.generator_loss._target_", "os.makedirs"),
        "open_inside_args_list": ({"model": {"generator": {**GENERATOR, "extra": [1, {"x": opener}]}},
                                   "identity": IDENTITY}, "model.generator.extra[1].x._target_", "builtins.open"),
        "decode_interpolation": ({"model": {"generator": GENERATOR}, "identity": {**IDENTITY,
                                  "weights_path": "${oc.decode:'{_target_: os.makedirs, name: x}'}"}},
                                 "identity.weights_path", "oc.decode"),
    }


@pytest.mark.parametrize("name", ["open_as_identity", "copyfile_as_generator", "touch_nested_in_identity",
                                  "makedirs_in_loss", "open_inside_args_list", "decode_interpolation"])
def test_hostile_stored_config_is_refused_before_anything_is_built(tmp_path, name):
    (tmp_path / "victim.txt").write_text("precious")
    config, key, target = _hostile_configs(tmp_path)[name]
    ckpt = tmp_path / "evil.ckpt"
    torch.save({"reliableswap_config": {**config, "data": {"size": 64}}, "state_dict": {}}, ckpt)
    before = _snapshot(tmp_path)
    with pytest.raises(UntrustedConfigError) as err:
        load_swapper(ckpt, "cpu")
    assert _snapshot(tmp_path) == before and (tmp_path / "victim.txt").read_text() == "precious"
    msg = str(err.value)
    assert f"reliableswap_config.{key}" in msg and target in msg and "\n" not in msg


def test_the_allowlist_is_the_projects_model_identity_and_loss_builders():
    allowed = allowed_targets()
    for target in ("reliableswap.models.aei_net.AEINet", "reliableswap.models.simswap.SimSwapGenerator",
                   "reliableswap.models.identity.build_arcface_encoder", "reliableswap.losses.simswap.SimSwapGeneratorLoss",
                   "reliableswap.lightning.swap_module.FaceSwapModule"):
        assert target in allowed
    assert not any(t.startswith(("builtins", "os", "shutil", "pathlib", "subprocess")) for t in allowed)


def test_configs_written_by_training_and_conversion_pass(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from convert_released import identity_config

    for with_fixer in (False, True):
        check_stored_config({"model": {"generator": GENERATOR}, "identity": identity_config(with_fixer)})
