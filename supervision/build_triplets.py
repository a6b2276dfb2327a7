"""Build ReliableSwap triplets: ``python -m supervision.build_triplets input=DIR output=OUT num_pairs=N``.

For each seeded pair of different-identity faces (A, B) it writes
``OUT/<pair_id>/{source,target,output_st,output_ts}.jpg`` (A, B, AB, BA at ``settings.size``),
appends one row per finished pair to ``OUT/triplets.csv`` and one per rejected pair to
``OUT/failures.csv`` (pair, stage, the failing quality checks, their reasons); every synthesized
image's quality measurements go to ``OUT/quality.csv`` and the summary counts the pairs each check
rejected (``rejected/<check>``). ``save_maps=true`` adds ``<pair_id>/maps.npz`` (blend mask,
reshape drop, warp map) for the artifact metrics of ``supervision.evaluate``. ``shard=i/n`` splits the pairs between processes or
nodes without overlap; ``resume=true`` (default) skips recorded pairs, so a killed run finishes
by rerunning the same command. One run per output and shard at a time: a second one is refused
(``OUT/.lock-<i>of<n>``). Ctrl-C or SIGTERM stop it with one line ("finished work is saved;
rerun the same command to resume") and exit 130 / 143. Usage errors (bad ``shard``, missing or
empty input, an output that is a file, another run on the same output and shard) stop it with
one line and exit 2. ``debug_snapshots=true`` tiles every stage of the first
``debug_pairs`` pairs into ``OUT/debug/<pair_id>.png``. Stage backends are config groups:
``face_analyzer`` (shared with test.py; the builder's settings for it are in build_triplets.yaml),
``builder/reenactor``, ``parser``, ``builder/inpainter``, ``builder/enhancer``, ``identity``
(quality filter). See configs/build_triplets.yaml.

Shards run in parallel through Hydra's launcher plugins, all writing into the one output
(per-shard locks, ``flock``'d CSV appends): ``-m shard=0/4,1/4,2/4,3/4 hydra/launcher=joblib``
(worker processes here; each gets ``cpu_count // n_jobs`` torch threads unless ``torch_threads``
says otherwise) or ``hydra/launcher=submitit_slurm`` (SLURM jobs). Each job logs to
``OUT/logs/multirun_<time>/<job>/``; SIGTERM / Ctrl-C to the launching process stops its workers.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from reliableswap.apps.entry import CONFIGS, configs_dir
from reliableswap.apps.interrupt import exit_on_interrupt, sigterm_raises
from reliableswap.config import refuse_renamed_keys, refuse_unquoted_non_ascii, register_resolvers
from reliableswap.data.transforms import resize_uint8
from reliableswap.io.images import ImageReadError, read_rgb, write_image_atomic
from reliableswap.io.index import IndexRow
from reliableswap.io.rows import load_input
from reliableswap.weights import weights_error_in
from reliableswap.io.triplets_csv import IMAGE_COLUMNS, STAGE_COLUMNS, image_name
from supervision.debug import verdict_note, write_debug_tile
from supervision.maps import MAPS_NAME, save_maps
from supervision.pipeline import (
    CHECKS,
    StageError,
    TripletSynthesizer,
    to_tensor,
    to_uint8,
)
from supervision.sampling import FacePair, Shard, sample_pairs
from supervision.single_pair import make_synthesizer
from supervision.storage import QUALITY_FIELDS, QUALITY_METRICS, OutputBusyError, TripletStore

log = logging.getLogger("supervision.build_triplets")

APP = "python -m supervision.build_triplets"

#: Config groups only the builder uses (configs/builder/<group>/, each option ``# @package <group>``).
BUILDER_GROUPS = ("reenactor", "inpainter", "enhancer")

#: Command-line keys that were renamed by the config restructuring (old -> new spelling).
RENAMED_KEYS = {
    **{group: f"builder/{group}" for group in BUILDER_GROUPS},
    "analyzer": "face_analyzer",
    "debug": "debug_snapshots",
}


class BuilderUsageError(ValueError):
    """The command line cannot work (shard spec, input, output); said in one line, exit 2."""


def check_paths(cfg: DictConfig) -> tuple[Shard, Path, list[IndexRow]]:
    """``(shard, image root, rows)`` of ``cfg``; :class:`BuilderUsageError` for what cannot work.

    Refused: a shard that is not ``i/n`` with ``0 <= i < n``, an input that is missing or holds
    no images, an output path that exists and is not a folder.
    """
    try:
        shard = Shard.parse(cfg.shard)
    except ValueError as exc:
        raise BuilderUsageError(str(exc)) from None
    out = Path(cfg.output)
    if out.exists() and not out.is_dir():
        raise BuilderUsageError(f"output={out} exists and is not a folder; choose a folder for the triplets")
    try:
        root, rows = load_input(cfg.input, cfg.get("input_root"))
    except FileNotFoundError as exc:
        raise BuilderUsageError(str(exc).splitlines()[0]) from None
    if not rows:
        raise BuilderUsageError(f"input={cfg.input} holds no images (.jpg/.png faces, one sub-folder per identity)")
    return shard, root, rows


def refuse_bad_shards(argv: list[str]) -> None:
    """Exit 2 with one line when a ``shard=`` value (or one of a sweep's ``shard=0/4,1/4``) is not ``i/n``.

    Checked before Hydra starts, so one bad value of a multirun stops the whole command at once
    instead of aborting the other shards' jobs half-way.
    """
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key.lstrip("+~") != "shard" or "(" in value:  # range()/choice() sweeps: checked per job
            continue
        for text in value.split(","):
            try:
                Shard.parse(text)
            except ValueError as exc:
                print(f"{APP}: error: {exc}", file=sys.stderr)
                raise SystemExit(2) from None


def refuse_output_file(argv: list[str]) -> None:
    """Exit 2 with one line when the command line's ``output=`` exists and is not a folder."""
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key.lstrip("+") == "output" and Path(value).exists() and not Path(value).is_dir():
            print(f"{APP}: error: output={value} exists and is not a folder; choose a folder for the triplets",
                  file=sys.stderr)
            raise SystemExit(2)


#: flags with which Hydra only prints (help, config, info): nothing is built, nothing is required
_PRINT_ONLY = ("--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "--resolve", "--shell-completion", "-sc")


def refuse_missing_paths(argv: list[str]) -> None:
    """Exit 2 with one line when ``input=`` or ``output=`` is not on the command line (Hydra would
    otherwise end in a traceback about ``hydra.run.dir``)."""
    if any(arg.split("=", 1)[0] in _PRINT_ONLY for arg in argv):
        return
    given = {arg.split("=", 1)[0].lstrip("+") for arg in argv if "=" in arg}
    missing = [key for key in ("input", "output") if key not in given]
    if missing:
        print(f"{APP}: error: missing {', '.join(f'{k}=...' for k in missing)}; usage: {APP} input=FACES "
              f"output=DIR [num_pairs=N] [shard=i/n] ({APP} --help)", file=sys.stderr)
        raise SystemExit(2)


class _ImageCache:
    """Loaded + analysed faces by path (each image is used by several pairs); failures cached too."""

    def __init__(self, synth: TripletSynthesizer, root: Path, work_size: int, capacity: int = 256) -> None:
        self.synth, self.root, self.work_size, self.capacity = synth, root, work_size, capacity
        self._items: OrderedDict[str, tuple[np.ndarray, np.ndarray] | StageError] = OrderedDict()

    def get(self, row: IndexRow) -> tuple[np.ndarray, np.ndarray]:
        if row.path not in self._items:
            self._items[row.path] = self._load(row)
            if len(self._items) > self.capacity:
                self._items.popitem(last=False)
        item = self._items[row.path]
        if isinstance(item, StageError):
            raise item
        return item

    def _load(self, row: IndexRow) -> tuple[np.ndarray, np.ndarray] | StageError:
        try:
            rgb = read_rgb(self.root / row.path)
        except ImageReadError as err:
            return StageError("load", f"{row.path}: {err.reason}")
        h, w = rgb.shape[:2]
        if min(h, w) < 64:
            return StageError("load", f"{row.path}: image too small ({w}x{h}); aligned face crops >= 64 px expected")
        rgb = resize_uint8(rgb, self.work_size)  # aligned crops are square; others are centre-cropped
        try:
            face = self.synth.analyze(rgb)
        except StageError as err:
            return StageError(err.stage, f"{row.path}: {err.reason}")
        return rgb, face.landmarks68.astype(np.float32)


def check_builder_groups(cfg: DictConfig) -> None:
    """:class:`ValueError` when a builder-only backend was set as a value (``reenactor=lia``).

    Those groups live under ``configs/builder/`` and are chosen with ``builder/reenactor=lia``;
    the old spelling would otherwise replace the backend's node by a plain string.
    """
    for group in BUILDER_GROUPS:
        node = cfg.get(group)
        if node is not None and not isinstance(node, DictConfig):
            raise ValueError(f"{group}={node}: choose this backend with builder/{group}={node} (configs/builder/{group}/)")


def _backend_name(cfg: DictConfig, group: str) -> str:
    node = cfg.get(group)
    return str(node.get("_target_", "none")).rsplit(".", 1)[-1] if node else "none"


def build(cfg: DictConfig) -> dict[str, float]:
    """Run the build described by ``cfg``; returns the summary figures."""
    check_builder_groups(cfg)
    out = Path(cfg.output)
    shard, root, rows = check_paths(cfg)
    try:
        pairs = sample_pairs(rows, int(cfg.num_pairs), int(cfg.seed))
    except ValueError as exc:  # fewer than two identities, or fewer distinct pairs than asked
        raise BuilderUsageError(f"input={cfg.input}: {exc}") from None
    try:
        store = TripletStore(out)
    except OSError as exc:
        raise BuilderUsageError(f"output={out} cannot be created: {exc.strerror or exc}") from None
    with store.lock(str(shard)):
        threads = set_torch_threads(cfg.get("torch_threads"))
        log.info("shard %s: process %d, %d torch thread(s)", shard, os.getpid(), threads)
        return _build_locked(cfg, store, shard, root, pairs)


def set_torch_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count when ``threads`` is given (>= 1); returns the count in use.

    ``None`` keeps torch's default, which in a ``hydra/launcher=joblib`` worker is already
    ``cpu_count // n_jobs`` (joblib's loky backend sets ``OMP_NUM_THREADS`` in its workers).
    """
    if threads is not None:
        if int(threads) < 1:
            raise BuilderUsageError(f"torch_threads={threads}: give a count >= 1, or null for torch's default")
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def _progress_position() -> int | None:
    """The tqdm line of this job: its number in a multirun on a terminal (one bar per shard), else None.

    Not on a file (a SLURM / submitit log): there the cursor moves would only add escape codes.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or not sys.stderr.isatty():
        return None
    hydra_cfg = HydraConfig.get()
    return int(hydra_cfg.job.num) if hydra_cfg.mode == RunMode.MULTIRUN else None


def _build_locked(
    cfg: DictConfig, store: TripletStore, shard: Shard, root: Path, pairs: list[FacePair]
) -> dict[str, float]:
    """The build of :func:`build` while this process holds the output's shard lock."""
    out = store.root
    mine = [p for p in pairs if shard.owns(p)]
    owned = {p.pair_id for p in mine}
    if cfg.resume:
        store.recover(owned)
        done = store.finished_ids() | (set() if cfg.retry_failures else store.failed_ids())
    else:
        existing = owned & (store.finished_ids() | store.failed_ids())
        if existing:
            raise FileExistsError(
                f"{out} already holds {len(existing)} of these pairs; rerun with resume=true or choose a new output"
            )
        done = set()
    todo = [p for p in mine if p.pair_id not in done]
    log.info(
        "%d pairs in total, shard %s owns %d, %d already done, %d to build -> %s",
        len(pairs), shard, len(mine), len(mine) - len(todo), len(todo), out,
    )

    synth = make_synthesizer(cfg)
    cache = _ImageCache(synth, root, synth.settings.work_size)
    # Each stage column names the class that ran: several _target_s are factories
    # (face_analyzer=auto may pick either backend; deepfill_v2 is built by build_deepfill_v2).
    ran = {"analyzer": synth.analyzer, "reenactor": synth.reenactor, "parser": synth.parser,
           "inpainter": synth.inpainter, "enhancer": synth.enhancer}
    meta = {g: type(ran[g]).__name__ if ran.get(g) is not None else "none" for g in ran}
    meta |= {g: _backend_name(cfg, g) for g in STAGE_COLUMNS if g not in ran}
    counts = {"built": 0, "failed": 0}
    start = time.perf_counter()
    progress = tqdm(total=len(todo), desc=f"triplets {shard}", unit="pair", dynamic_ncols=True,
                    position=_progress_position())
    try:
        for first in range(0, len(todo), int(cfg.batch_size)):
            chunk = todo[first : first + int(cfg.batch_size)]
            _build_chunk(chunk, cfg, synth, cache, store, meta, counts)
            progress.update(len(chunk))
            progress.set_postfix(built=counts["built"], failed=counts["failed"])
    finally:
        progress.close()
    elapsed = time.perf_counter() - start
    summary = {
        "built": counts["built"],
        "failed": counts["failed"],
        "skipped_done": len(mine) - len(todo),
        "seconds": round(elapsed, 2),
        "pairs_per_s": round((counts["built"] + counts["failed"]) / elapsed, 4) if elapsed > 0 else 0.0,
        # pairs rejected by each quality check (a pair can fail several; see failures.csv `check`)
        **{k: v for k, v in sorted(counts.items(), key=lambda kv: failed_order(kv[0].split("/", 1)[-1]))
           if k.startswith("rejected/")},
        **{f"stage_s/{k}": round(v, 3) for k, v in synth.timer.seconds.items()},
    }
    if synth.unmeasured:
        summary["unmeasured_checks"] = ",".join(sorted(synth.unmeasured, key=failed_order))
    log.info("summary: %s", " ".join(f"{k}={v}" for k, v in summary.items()))
    log.info("triplets: %s | failures: %s", store.triplets_csv, store.failures_csv)
    return summary


def _build_chunk(
    chunk: list[FacePair], cfg: DictConfig, synth: TripletSynthesizer, cache: _ImageCache,
    store: TripletStore, meta: dict[str, str], counts: dict[str, int],
) -> None:
    ready: list[tuple[FacePair, tuple, tuple]] = []
    for pair in chunk:
        try:
            ready.append((pair, cache.get(pair.source), cache.get(pair.target)))
        except StageError as err:
            store.record_failure(pair.pair_id, err.stage, err.reason)
            counts["failed"] += 1
    if not ready:
        return
    n = len(ready)
    dev = synth.device
    a_img = torch.stack([to_tensor(a[0], dev) for _, a, _ in ready])
    b_img = torch.stack([to_tensor(b[0], dev) for _, _, b in ready])
    a_lmk = torch.stack([torch.from_numpy(a[1]) for _, a, _ in ready])
    b_lmk = torch.stack([torch.from_numpy(b[1]) for _, _, b in ready])
    keep_debug = bool(cfg.debug_snapshots) and any(p.number < int(cfg.debug_pairs) for p, _, _ in ready)
    try:
        result = synth.synthesize(
            torch.cat([a_img, b_img]), torch.cat([b_img, a_img]), torch.cat([a_lmk, b_lmk]), torch.cat([b_lmk, a_lmk]),
            keep_debug=keep_debug,
        )
    except StageError as err:
        for pair, _, _ in ready:
            store.record_failure(pair.pair_id, err.stage, err.reason)
        counts["failed"] += n
        return
    size = synth.settings.size
    images = to_uint8(result.images)
    # A and B as the synthesizer resized them for its quality checks: exactly as the swaps, so
    # outside the pasted face a swap equals its target pixel for pixel (no resampling difference)
    sources, targets = to_uint8(result.sources[:n]), to_uint8(result.sources[n:])
    quality_rows = []
    for i, (pair, _, _) in enumerate(ready):
        st_fail, ts_fail = result.failures[i], result.failures[n + i]
        for which, j, failed in (("AB", i, st_fail), ("BA", n + i, ts_fail)):
            quality_rows.append({"pair_id": pair.pair_id, "direction": which, "accepted": int(not failed),
                                 "checks": ";".join(f.check for f in failed),
                                 **{k: result.metrics[j].get(k, "") for k in QUALITY_METRICS}})
        if keep_debug and pair.number < int(cfg.debug_pairs):
            notes = [verdict_note(st_fail), verdict_note(ts_fail)]
            write_debug_tile(store.root / "debug" / f"{pair.pair_id}.png", result.debug,
                             [("AB", i), ("BA", n + i)], notes=notes)
        if st_fail or ts_fail:
            failed = [(which, f) for which, fs in (("AB", st_fail), ("BA", ts_fail)) for f in fs]
            checks = sorted({f.check for _, f in failed}, key=failed_order)
            store.record_failure(pair.pair_id, failed[0][1].stage, "; ".join(f"{w}: {f.reason}" for w, f in failed),
                                 check=";".join(checks))
            counts["failed"] += 1
            for check in checks:
                counts[f"rejected/{check}"] = counts.get(f"rejected/{check}", 0) + 1
            continue
        staging = store.staging_dir(pair.pair_id)
        q = int(cfg.jpeg_quality)
        for column, image in zip(IMAGE_COLUMNS, (sources[i], targets[i], images[i], images[n + i])):
            write_image_atomic(staging / image_name(column), image, quality=q)
        if cfg.get("save_maps"):
            save_maps(staging / MAPS_NAME, {k: v[[i, n + i]] for k, v in result.maps.items()})
        st, ts = result.metrics[i], result.metrics[n + i]
        row = {
            "pair_id": pair.pair_id, "number": pair.number,
            "source_id": pair.source.identity, "target_id": pair.target.identity,
            "source_image": pair.source.path, "target_image": pair.target.path,
            **{k: f"{pair.pair_id}/{image_name(k)}" for k in IMAGE_COLUMNS},
            "st_id_sim_source": st.get("id_sim_source"), "st_id_sim_target": st.get("id_sim_target"),
            "ts_id_sim_source": ts.get("id_sim_source"), "ts_id_sim_target": ts.get("id_sim_target"),
            "st_face_score": st.get("face_score", ""), "ts_face_score": ts.get("face_score", ""),
            **meta, "size": size, "seed": cfg.seed,
        }
        store.commit(pair.pair_id, staging, row)
        counts["built"] += 1
    store.record_quality(quality_rows, QUALITY_FIELDS)


def failed_order(check: str) -> int:
    return CHECKS.index(check) if check in CHECKS else len(CHECKS)


@hydra.main(version_base="1.3", config_path=CONFIGS, config_name="build_triplets")
def main(cfg: DictConfig) -> None:
    try:
        with sigterm_raises():
            build(cfg)
    except (BuilderUsageError, OutputBusyError) as exc:
        print(f"{APP}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Exception as exc:
        missing = weights_error_in(exc)
        if missing is None:
            raise
        # a backend's weights file is missing or is not the registered one: say which, in one line
        print(f"{APP}: error: {str(missing).splitlines()[0]}", file=sys.stderr)
        raise SystemExit(2) from None


def _main_stoppable() -> None:
    """:func:`main` with SIGTERM raising in this process too, not only inside the build.

    In a multirun (``-m ... hydra/launcher=joblib``) the builds run in worker processes and this
    process only waits for them: without this, SIGTERM would kill it at once and leave the
    workers running as orphans. With it, joblib sees the interrupt and stops its workers.
    """
    with sigterm_raises():
        main()


def run() -> None:
    """``python -m supervision.build_triplets`` / ``reliableswap-triplets``: checks, then the build."""
    configs_dir()
    # reenactor=, analyzer=, debug= would otherwise end in a Hydra traceback (or, as +key, be ignored)
    refuse_renamed_keys(APP, RENAMED_KEYS)
    refuse_unquoted_non_ascii(APP)
    refuse_missing_paths(sys.argv[1:])
    refuse_bad_shards(sys.argv[1:])
    refuse_output_file(sys.argv[1:])  # before Hydra makes its log folder under output=
    register_resolvers()
    exit_on_interrupt(APP, _main_stoppable)


if __name__ == "__main__":
    run()
