"""Benchmark runner: swap a protocol's pairs, score them, and write the report.

``run(cfg, swapper, output_dir)`` is what ``test.py`` calls. It writes, under ``output_dir``:

- ``metrics.jsonl`` -- one JSON object per metric: protocol (with its parameters), model name,
  checkpoint, metric, backend + versions, values, status/note, number of samples, seed, time.
  One line per metric so results of many runs can be concatenated and filtered with ``jq``;
- ``metrics.md`` -- the same as a Markdown table, with the protocol stated above it (the spec asks
  for the exact protocol next to every number);
- ``samples.png`` (``eval.save_grid``) -- rows source | target | swap for the first pairs;
- TensorBoard scalars ``eval/<protocol>/<metric>/<value>`` when ``eval.tensorboard_dir`` is set.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reliableswap.evaluation.metrics import MetricResult, SwapBatch, build_metrics, to_uint8
from reliableswap.evaluation.protocols import Protocol, build_protocol
from reliableswap.swapping import Swapper, resolve_device

log = logging.getLogger(__name__)

__all__ = ["format_markdown", "run", "save_grid"]


def _get(node: Any, key: str, default: Any = None) -> Any:
    getter = getattr(node, "get", None)
    return getter(key, default) if getter is not None else default


@torch.no_grad()
def _swap(swapper: Swapper, source: torch.Tensor, target: torch.Tensor, device: torch.device) -> torch.Tensor:
    out = swapper.swap(source.to(device), target.to(device))
    if out.shape != target.shape:
        raise ValueError(f"swapper '{swapper.name}' returned {tuple(out.shape)} for inputs {tuple(target.shape)}")
    return out.detach().float().cpu().clamp(-1.0, 1.0)


def save_grid(path: Path, rows: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], max_samples: int = 8) -> None:
    """PNG with one column per pair and rows source / target / swap (what to look at first)."""
    from reliableswap.io.images import write_image_atomic

    src = torch.cat([r[0] for r in rows])[:max_samples]
    tgt = torch.cat([r[1] for r in rows])[:max_samples]
    swp = torch.cat([r[2] for r in rows])[:max_samples]
    lines = [np.concatenate(to_uint8(x), axis=1) for x in (src, tgt, swp)]
    write_image_atomic(path, np.concatenate(lines, axis=0))


def format_markdown(records: list[dict[str, Any]]) -> str:
    """Markdown report: protocol line(s), then one table row per metric."""
    if not records:
        return "No metrics configured.\n"
    head = records[0]
    proto = ", ".join(f"{k}={v}" for k, v in head["protocol"].items() if v is not None)
    lines = [f"# Evaluation of `{head['model']}`", "", f"Protocol: {proto}", ""]
    if head.get("checkpoint"):
        lines += [f"Checkpoint: `{head['checkpoint']}`", ""]
    lines += ["| metric | backend | values | samples | status |", "|---|---|---|---|---|"]
    for r in records:
        values = ", ".join(f"{k} {v:.4g}" for k, v in r["values"].items()) or "-"
        status = r["status"] + (f": {r['note']}" if r["note"] else "")
        lines.append(f"| {r['metric']} | {r['backend']} | {values} | {r['num_samples']} | {status.replace('|', '/')} |")
    backends = {json.dumps(r["backend_info"], sort_keys=True) for r in records}
    lines += ["", "Backends: " + "; ".join(sorted(backends)), ""]
    return "\n".join(lines)


def _records(results: list[MetricResult], protocol: Protocol, swapper: Swapper, checkpoint: str | None) -> list[dict[str, Any]]:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    desc = protocol.describe()
    return [{
        "protocol": desc, "model": swapper.name, "checkpoint": checkpoint, "metric": r.metric,
        "backend": r.backend, "values": r.values, "status": r.status, "note": r.note,
        "backend_info": r.backend_info, "num_samples": r.num_samples, "seed": desc.get("seed"),
        "size": swapper.size, "time": stamp,
    } for r in results]


def _tensorboard(log_dir: str | Path, records: list[dict[str, Any]]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(log_dir))
    try:
        for r in records:
            for key, value in r["values"].items():
                writer.add_scalar(f"eval/{r['protocol']['name']}/{r['metric']}/{key}", value, 0)
    finally:
        writer.close()


def run(cfg: Any, swapper: Swapper, output_dir: str | Path) -> list[dict[str, Any]]:
    """Evaluate ``swapper`` on the protocol of ``cfg.eval``; returns the written records.

    ``cfg`` needs ``eval`` (protocol + ``metrics`` + ``batch_size``) and ``device``; an optional
    ``ckpt_path`` (or ``ckpt``, test.py's key) is recorded with the numbers.
    """
    ev = cfg.eval
    device = resolve_device(_get(cfg, "device", "cpu") or "cpu")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(swapper, torch.nn.Module):
        swapper.to(device).eval()
    protocol = build_protocol(ev)
    metrics = build_metrics(_get(ev, "metrics", []) or [], device=device)
    batch_size = int(_get(ev, "batch_size", 8))
    grid_n = int(_get(ev, "grid_samples", 8)) if _get(ev, "save_grid", True) else 0
    grid: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    t0, done = time.perf_counter(), 0
    for source, target, pairs in protocol.batches(swapper.size, batch_size):
        swapped = _swap(swapper, source, target, device)
        batch = SwapBatch(source, target, swapped, [p.source_id for p in pairs], [p.target_id for p in pairs],
                          [p.source_key for p in pairs], [p.target_key for p in pairs])
        for m in metrics:
            m.update(batch)
        if sum(len(g[0]) for g in grid) < grid_n:
            grid.append((source, target, swapped))
        done += len(pairs)
        log.info("evaluated %d / %d pairs (%.1f s)", done, len(protocol.pairs), time.perf_counter() - t0)
    checkpoint = _get(cfg, "ckpt_path") or _get(cfg, "ckpt")
    records = _records([m.compute() for m in metrics], protocol, swapper, str(checkpoint) if checkpoint else None)
    with (output_dir / "metrics.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    (output_dir / "metrics.md").write_text(format_markdown(records), encoding="utf-8")
    if grid:
        save_grid(output_dir / "samples.png", grid, grid_n)
    tb = _get(ev, "tensorboard_dir")
    if tb:
        _tensorboard(tb, records)
    for r in records:
        log.info("%s [%s] %s %s", r["metric"], r["backend"], r["status"], r["values"] or r["note"])
    return records
