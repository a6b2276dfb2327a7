"""Every config of every entry point composes and builds (Hydra compose API, no hand-kept lists).

The three entry points are ``train.py`` (``configs/train.yaml``), ``python -m
supervision.build_triplets`` (``configs/build_triplets.yaml``) and ``test.py``
(``configs/test.yaml``). What is checked is read from the config tree itself:

- the groups of an entry point are the groups its composed config chose from
  (``hydra.runtime.choices``), and their options are the files Hydra finds in each group, so a new
  option or group is tested the moment it exists;
- every option of every group composes with its entry point, every ``_target_`` in it names an
  importable object, and its node is instantiated;
- every training experiment builds its whole run (module, data, callbacks, logger, trainer) at
  ``debug=tiny``, and composes at full size with every ``_target_`` importable.

A node that cannot be built *here* only because an optional dependency or an official weight
file is absent (ImportError, MissingWeightsError, no CUDA) is skipped with that reason; any other
error fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hydra
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.object_type import ObjectType
from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf

from reliableswap.config import register_resolvers
from reliableswap.weights import MissingWeightsError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ENTRY_POINTS = ("train", "build_triplets", "test")

#: Groups of train.py that select a whole run rather than one node: covered by the experiment test.
RUN_GROUPS = {"experiment", "debug", "model", "debug/model"}
#: Train groups composed with ``debug=tiny`` so that the nodes they build stay small.
TINY = ["debug=tiny"]


def _protocols() -> dict[str, type]:
    """The protocol the node at each package must implement (checked on the built object)."""
    from reliableswap.faces.face import FaceAnalyzer
    from reliableswap.faces.parsing.protocol import FaceParser
    from reliableswap.swapping import Swapper
    from supervision.protocols import Enhancer, Inpainter, Reenactor

    return {"face_analyzer": FaceAnalyzer, "parser": FaceParser, "reenactor": Reenactor,
            "inpainter": Inpainter, "enhancer": Enhancer, "baseline": Swapper}


def _compose(entry: str, overrides: list[str], hydra_cfg: bool = False) -> DictConfig:
    register_resolvers()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name=entry, overrides=overrides, return_hydra_config=hydra_cfg)


def _group_options(group: str) -> list[str]:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        return sorted(loader.get_group_options(group, results_filter=ObjectType.CONFIG))


def _groups(entry: str) -> list[str]:
    """The config groups an entry point chooses from (Hydra's own groups left out)."""
    choices = _compose(entry, [], hydra_cfg=True).hydra.runtime.choices
    return sorted(g for g in choices if not g.startswith("hydra"))


def _package(group: str, option: str) -> str | None:
    """Where an option's node lands: its ``# @package`` header, else the group path (None = global)."""
    first = (CONFIGS / group / f"{option}.yaml").read_text(encoding="utf-8").splitlines()[:1]
    if first and first[0].startswith("# @package"):
        package = first[0].split("@package", 1)[1].strip()
        return None if package == "_global_" else package
    return group.replace("/", ".")


def _cases() -> Iterator[Any]:
    for entry in ENTRY_POINTS:
        for group in _groups(entry):
            if entry == "train" and group in RUN_GROUPS:
                continue
            for option in _group_options(group):
                yield pytest.param(entry, group, option, id=f"{entry}:{group}={option}")


def _targets(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, DictConfig):
        for key in node:
            value = node._get_node(key)
            if key == "_target_":
                yield where or "<root>", str(node[key])
            elif isinstance(value, (DictConfig, ListConfig)):
                yield from _targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, ListConfig):
        for i, value in enumerate(node):
            yield from _targets(value, f"{where}[{i}]")


def _assert_targets_import(cfg: DictConfig) -> None:
    for where, target in _targets(cfg):
        try:
            get_object(target)
        except Exception as exc:  # noqa: BLE001 - any failure to locate is a config error
            pytest.fail(f"{where}: _target_ {target} cannot be imported: {exc}")


def _skip_reason(exc: BaseException) -> str | None:
    """Why a build may fail on this machine without a config error: a missing extra or weight."""
    while exc is not None:
        if isinstance(exc, (ImportError, MissingWeightsError)):
            return f"{type(exc).__name__}: {exc}".splitlines()[0]
        text = str(exc)
        if not torch.cuda.is_available() and ("CUDA" in text or "GPU" in text or "gpu" in text):
            return f"needs a GPU: {text.splitlines()[0]}"
        exc = exc.__cause__ or exc.__context__
    return None


def _build(node: Any) -> Any:
    try:
        return hydra.utils.instantiate(node, _convert_="all")
    except Exception as exc:  # noqa: BLE001 - triaged below
        reason = _skip_reason(exc)
        if reason is None:
            raise
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _weights_and_data(shared_weight, celeba_images) -> None:
    """The offline defaults (MobileFaceNet, 3DDFA, CelebA crops) come from ../shared."""
    shared_weight("recognition/mobilefacenet_arcface.pt")


@pytest.mark.parametrize(("entry", "group", "option"), list(_cases()))
def test_every_option_of_every_group_builds(entry: str, group: str, option: str, tmp_path: Path) -> None:
    base: list[str] = []
    if entry == "train":
        base = [*TINY, f"data.triplets={tmp_path}", f"paths.output_dir={tmp_path}"]
    elif entry == "build_triplets":
        base = [f"input={tmp_path}", f"output={tmp_path / 'out'}"]
    cfg = _compose(entry, [*base, f"{group}={option}"])
    added = set(cfg) - set(_compose(entry, base))
    # an option lands where its entry point reads it (a builder/ option needs `# @package <stage>`)
    assert added <= {group}, f"{group}={option} adds top-level key(s) {sorted(added)}: check its # @package line"
    package = _package(group, option)
    node = OmegaConf.select(cfg, package) if package else cfg
    _assert_targets_import(node)
    if not any(True for _ in _targets(node)):
        return  # plain settings (paths, ...): composing them is the check
    if group == "eval":
        # metric nodes are built (or skipped one by one) by tests/evaluation/metrics/test_metrics_configs.py;
        # a protocol that reads a user's dataset folder gets an empty one
        if "videos_dir" in node and node.videos_dir is None:
            node.videos_dir = str(tmp_path)
        try:
            built = _build(node.protocol)
        except Exception as exc:  # noqa: BLE001 - only "your dataset is not in the empty folder" may pass
            if str(tmp_path) not in str(exc.__cause__ or exc):
                raise
            pytest.skip(f"needs the user's dataset: {exc.__cause__ or exc}")
    else:
        built = _build(node)
    assert built is not None
    protocol = _protocols().get(package or "")
    if protocol is not None:
        assert isinstance(built, protocol), f"{group}={option} builds {type(built).__name__}, not a {protocol.__name__}"


def _experiments() -> list[str]:
    return _group_options("experiment")


@pytest.mark.parametrize("experiment", _experiments())
def test_every_experiment_composes_at_full_size(experiment: str) -> None:
    cfg = _compose("train", [f"experiment={experiment}", "data.root=/data/faces", "data.triplets=/data/triplets"])
    assert cfg.task_name
    _assert_targets_import(cfg)


@pytest.mark.parametrize("experiment", _experiments())
def test_every_experiment_builds_its_run_at_tiny_size(experiment: str, tmp_path: Path) -> None:
    """The whole run of ``train.py experiment=NAME debug=tiny data.triplets=DIR`` is constructed."""
    from reliableswap.apps.train import build_run

    cfg = _compose("train", [f"experiment={experiment}", *TINY, f"data.triplets={tmp_path}",
                             f"paths.output_dir={tmp_path}"])
    if cfg.get("init_weights"):
        # starting weights fix the architecture (the demo's 128 px, width 0.125): build it at its size
        cfg = _compose("train", [f"experiment={experiment}", f"paths.output_dir={tmp_path}"])
    run = build_run(cfg)
    assert sum(p.numel() for p in run.module.parameters()) > 0
    assert run.datamodule.batch_size == cfg.data.batch_size
    assert len(run.callbacks) == sum(1 for v in cfg.callbacks.values() if v is not None and "_target_" in v)
    assert run.trainer.max_steps == cfg.trainer.max_steps


def test_every_model_option_is_used_by_an_experiment() -> None:
    """Model options are covered through experiments, so each must be chosen by one."""
    used = {
        _compose("train", [f"experiment={e}"], hydra_cfg=True).hydra.runtime.choices["model"]
        for e in _experiments()
    }
    assert set(_group_options("model")) <= used


def test_the_case_list_reaches_every_entry_point_and_group() -> None:
    """The discovery itself can fail: it must find the groups each entry point is known to have."""
    cases = {(p.values[0], p.values[1]) for p in _cases()}
    assert {("train", "identity"), ("train", "loss"), ("train", "data"), ("train", "trainer")} <= cases
    assert {("build_triplets", "builder/reenactor"), ("build_triplets", "face_analyzer")} <= cases
    assert {("test", "baseline"), ("test", "eval"), ("test", "face_analyzer"), ("test", "parser")} <= cases


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_help_lists_exactly_the_groups_and_options_of_its_entry_point(entry: str) -> None:
    """``--help`` names this entry point's groups only, each with the option files that exist."""
    template = _compose(entry, [], hydra_cfg=True).hydra.help.template
    lines = template.split("Configuration groups of this entry point", 1)[1].splitlines()[1:]
    listed = {}
    for line in lines:
        if not line.strip():
            break
        group, options = line.strip().split(":", 1)
        listed[group] = [o.strip() for o in options.split(",")]
    expected = {g: _group_options(g) for g in _groups(entry) if _group_options(g)}
    assert listed == expected
