"""Download, check and list the registered pretrained files (``python -m reliableswap.weights``).

Commands (``--help`` on each):

- ``list`` (also: no command): every registry entry, found/missing, expected path, origin.
- ``fetch NAME [NAME ...] | --all``: download each file that has a direct ``url`` to its expected
  path (:meth:`~reliableswap.weights.WeightEntry.default_path`). The bytes go to ``<path>.part``
  first, a later run continues that file with an HTTP ``Range`` request (a server that ignores
  ``Range`` restarts it from byte 0), then the sha256 is checked and the file moved into place with
  :func:`os.replace`. On a checksum mismatch nothing is installed and the partial file is removed.
  Entries without a direct download print the manual steps instead.
- ``verify [NAME ...]``: found/missing and sha256 ok/mismatch/unknown for each file present.

Exit status: 0 everything asked for is in place; 1 an error (network, checksum mismatch, a present
file that differs from the registry); 2 usage error; 3 (``fetch`` only) no error, but some files
need the manual steps printed above.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

from tqdm import tqdm

from reliableswap import weights

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_MANUAL = 0, 1, 2, 3
_CHUNK = 1 << 16
_USER_AGENT = "reliableswap-weights-fetch"


class FetchError(RuntimeError):
    """A download or install step failed; the message is one line for the user."""


class ChecksumMismatch(FetchError):
    """The downloaded file's sha256 differs from the registry's (nothing was installed)."""


class DownloadInterrupted(FetchError):
    """The transfer stopped early; the ``.part`` file is kept so the next run resumes it."""


@dataclass(frozen=True)
class DownloadStats:
    """What one :func:`download_to_part` call transferred.

    ``resumed_from``: bytes already in the ``.part`` file that the server continued (0 for a
    fresh or restarted download); ``received``: bytes transferred by this call; ``seconds``: wall time.
    """

    resumed_from: int
    received: int
    seconds: float


def download_to_part(url: str, part: Path, *, progress: bool | None = None, timeout: float = 60.0,
                     desc: str | None = None) -> DownloadStats:
    """Download ``url`` into ``part``, continuing an existing ``part`` with a ``Range`` request.

    ``progress``: tqdm bar on stderr (``None``: only when stderr is a terminal).
    Raises :class:`DownloadInterrupted` (``part`` kept, run again to resume) or :class:`FetchError`.
    """
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    started = time.perf_counter()
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to send: the part is (probably) whole
            log.info("%s: server reports %s is complete", url, part.name)
            return DownloadStats(offset, 0, time.perf_counter() - started)
        raise FetchError(f"HTTP {err.code} {err.reason} from {url}") from None
    except (urllib.error.URLError, OSError) as err:
        raise FetchError(f"cannot reach {url}: {getattr(err, 'reason', err)}") from None
    with response:
        if offset and response.status == 206 and _range_start(response) == offset:
            mode = "ab"
        else:
            if offset:
                log.warning("%s: server did not continue at byte %d (HTTP %d); restarting the download",
                            url, offset, response.status)
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        received = _copy(response, part, mode, total, offset, progress, desc or part.name)
    stats = DownloadStats(offset, received, time.perf_counter() - started)
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadInterrupted(f"download of {url} stopped at {size} of {total} bytes; "
                                  f"run the same command again to resume it")
    return stats


def _range_start(response: http.client.HTTPResponse) -> int | None:
    """First byte of a ``Content-Range: bytes START-END/TOTAL`` header, or ``None``."""
    value = response.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _copy(response: http.client.HTTPResponse, part: Path, mode: str, total: int | None, offset: int,
          progress: bool | None, desc: str) -> int:
    """Stream the body into ``part`` (created with the umask's permissions); returns bytes written."""
    received = 0
    bar = tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
               file=sys.stderr, disable=None if progress is None else not progress)
    try:
        with part.open(mode) as out, bar:
            while True:
                try:
                    block = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as err:
                    out.flush()
                    raise DownloadInterrupted(
                        f"download stopped after {offset + received} bytes ({type(err).__name__}); "
                        f"run the same command again to resume it") from None
                if not block:
                    break
                out.write(block)
                received += len(block)
                bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
    except DownloadInterrupted:
        raise
    except OSError as err:
        raise FetchError(f"cannot write {part}: {err.strerror or err}") from None
    return received


def _extract_member(archive: Path, member: str, dest: Path) -> None:
    """Copy ``member`` (exact name, or the one entry whose base name is ``member``) out of a zip."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n == member or n.endswith("/" + member)]
            if len(names) != 1:
                raise FetchError(f"{archive.name}: expected one '{member}' in the archive, found {len(names)}")
            with zf.open(names[0]) as src, dest.open("wb") as out:
                while block := src.read(_CHUNK):
                    out.write(block)
    except zipfile.BadZipFile:
        raise FetchError(f"{archive.name} is not a zip archive (damaged download?)") from None


_TORCH_SUFFIXES = (".pth", ".pt", ".pkl")


def format_problem(path: Path) -> str | None:
    """Why ``path`` cannot be what its name says (a PyTorch, ONNX, JSON or npz file), or None if it reads.

    The check for files whose sha256 is not established: it catches an HTML page saved under a
    weights name (a cloud-drive link opened without a browser), a truncated or junk file. PyTorch
    files are opened as this project's loaders open them (``weights_only=True``, memory-mapped where
    the format allows); ONNX files are parsed when the ``onnx`` package is installed (else not checked).
    """
    with path.open("rb") as handle:
        head = handle.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page, not the file (a download link that needs a browser?)"
    suffix = path.suffix.lower()
    try:
        if suffix in _TORCH_SUFFIXES:
            import torch

            try:
                torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:
                if "mmap" not in str(exc):
                    raise
                torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
        elif suffix == ".onnx":
            try:
                import onnx
            except ImportError:
                return None
            onnx.load(str(path), load_external_data=False)
        elif suffix == ".json":
            import json

            json.loads(path.read_text())
        elif suffix == ".npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as arrays:
                list(arrays.keys())
    except Exception as exc:  # noqa: BLE001 - any failure to read is the answer
        kind = {".onnx": "ONNX", ".json": "JSON", ".npz": "npz"}.get(suffix, "PyTorch (weights_only=True)")
        return f"not readable as a {kind} file ({type(exc).__name__}): damaged, truncated or another file"
    return None


@dataclass(frozen=True)
class FetchResult:
    """Outcome of :func:`fetch` for one entry.

    ``status``: ``present`` (already there and not contradicting the registry), ``downloaded``,
    or ``manual`` (no direct url: :func:`manual_steps` says what to do).
    ``checksum``: ``ok``, ``unknown`` (no sha256 established) or ``-`` (manual, nothing checked).
    """

    name: str
    status: Literal["present", "downloaded", "manual"]
    path: Path
    checksum: Literal["ok", "unknown", "-"]
    sha256: str | None = None
    stats: DownloadStats | None = None


def _partial_paths(entry: weights.WeightEntry, path: Path) -> tuple[Path, Path]:
    """(download target, file verified before os.replace) next to the expected path."""
    if entry.archive_member:
        archive = Path(entry.url or "archive.zip").name
        return path.with_name(f"{path.name}.{archive}.part"), path.with_name(f"{path.name}.tmp")
    part = path.with_name(path.name + ".part")
    return part, part


def fetch(entry: weights.WeightEntry, *, progress: bool | None = None, timeout: float = 60.0) -> FetchResult:
    """Make ``entry``'s file present at its expected path, downloading it if it has a url.

    Raises :class:`ChecksumMismatch` (nothing installed, partial file removed),
    :class:`DownloadInterrupted` (partial kept for resuming) or :class:`FetchError`.
    """
    path = entry.default_path()
    if path.is_file():
        sha = weights.file_sha256(path)
        matches = entry.digest_matches(sha)
        if matches is False:
            raise FetchError(f"{entry.name}: {path} is present but its sha256 {sha[:12]}... differs from the "
                             f"registry's; move it away and fetch again")
        if matches is None and (problem := format_problem(path)):
            raise FetchError(f"{entry.name}: {path} is present but {problem}; move it away and fetch again")
        return FetchResult(entry.name, "present", path, "ok" if matches else "unknown", sha)
    if not entry.url:
        return FetchResult(entry.name, "manual", path, "-")
    created = [d for d in (path.parent, *path.parent.parents) if not d.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    part, candidate = _partial_paths(entry, path)
    try:
        stats = download_to_part(entry.url, part, progress=progress, timeout=timeout, desc=entry.name)
    except DownloadInterrupted:
        raise  # the .part stays (and its folder) for the next run to resume
    except FetchError:
        _remove_empty(created)
        raise
    try:
        if entry.archive_member:
            _extract_member(part, entry.archive_member, candidate)
        sha = weights.file_sha256(candidate)
        matches = entry.digest_matches(sha)
        if matches is False:
            raise ChecksumMismatch(
                f"{entry.name}: sha256 mismatch for the download from {entry.url} (got {sha}, expected "
                f"{entry.sha256 or entry.sha256_prefix + '...'}); removed it, nothing installed at {path}")
        if matches is None and (problem := format_problem(candidate)):  # no checksum: at least it must read
            raise ChecksumMismatch(f"{entry.name}: the download from {entry.url} is {problem}; removed it, "
                                   f"nothing installed at {path}")
        os.replace(candidate, path)
    except FetchError:
        for leftover in {part, candidate}:
            leftover.unlink(missing_ok=True)
        _remove_empty(created)
        raise
    part.unlink(missing_ok=True)  # the archive, once its member is installed
    return FetchResult(entry.name, "downloaded", path, "ok" if matches else "unknown", sha, stats)


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed fetch created (deepest first), where they are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty (another file arrived), or already gone
            return


def manual_steps(entry: weights.WeightEntry) -> str:
    """Numbered steps for a file without a direct download (where to get it, where to put it, verify)."""
    path = entry.default_path()
    source = entry.manual or entry.origin
    return (
        f"{entry.name}: no direct download; get it by hand:\n"
        f"  1. Get it: {source}\n"
        f"  2. Put it at {path}\n"
        f"     (or anywhere, and set {entry.env_var}=/path/to/file)\n"
        f"  3. Check it: python -m reliableswap.weights verify {entry.name}"
    )


@dataclass(frozen=True)
class VerifyResult:
    """``found``: the file exists; ``checksum``: ``ok``, ``mismatch``, ``unknown (not established), readable``
    (no sha256 to compare, but the file reads as its kind: :func:`format_problem`), ``unreadable: ...``
    or ``-`` (missing)."""

    name: str
    found: bool
    path: Path
    checksum: str
    sha256: str | None = None


def verify_entry(entry: weights.WeightEntry) -> VerifyResult:
    """Check the file at ``entry``'s expected path against the registry (no exception for problems)."""
    path = entry.default_path()
    if not path.is_file():
        return VerifyResult(entry.name, False, path, "-")
    sha = weights.file_sha256(path)
    matches = entry.digest_matches(sha)
    if matches is None:
        problem = format_problem(path)
        checksum = "unknown (not established), readable" if problem is None else f"unreadable: {problem}"
    elif entry.sha256:
        checksum = "ok" if matches else "mismatch"
    else:
        checksum = f"ok (prefix {entry.sha256_prefix})" if matches else f"mismatch (prefix {entry.sha256_prefix})"
    return VerifyResult(entry.name, True, path, checksum, sha)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2, no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m reliableswap.weights",
        description="List, download (fetch) and check (verify) the pretrained files in the weight registry.",
        epilog="Exit status: 0 ok; 1 error (download, checksum mismatch); 2 usage error; "
               "3 fetch needs manual steps for some files (printed).",
    )
    commands = parser.add_subparsers(dest="command", metavar="{list,fetch,verify}")
    commands.add_parser("list", help="every entry: found/missing, expected path, origin (the default)")
    fetch_p = commands.add_parser(
        "fetch", help="download files with a direct url (resumable, sha256-checked where the registry has one); "
                      "print manual steps otherwise",
        description="Download each named file to its expected path: resumable (<path>.part), checked against the "
                    "registry's sha256 (or sha256 prefix) where one is recorded and moved into place only when it "
                    "matches. Entries without a recorded checksum are installed unchecked and their sha256 printed "
                    "(`verify` lists them as unknown). Files without a direct url: manual steps.",
        epilog="Exit status: 0 all in place; 1 an error; 2 usage error; 3 some need the manual steps printed.",
    )
    fetch_p.add_argument("names", nargs="*", metavar="NAME", help="registry names (see `list`)")
    fetch_p.add_argument("--all", action="store_true", help="every registry entry")
    fetch_p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    fetch_p.add_argument("--timeout", type=_positive_seconds, default=60.0,
                         help="network timeout in seconds (default 60)")
    verify_p = commands.add_parser(
        "verify", help="found/missing and sha256 ok/mismatch/unknown for each file (default: all)",
        description="Check the files present against the registry's sha256.",
        epilog="Exit status: 0 no present file mismatches; 1 a present file mismatches; 2 usage error.",
    )
    verify_p.add_argument("names", nargs="*", metavar="NAME", help="registry names (default: all)")
    return parser


def _entries(parser: argparse.ArgumentParser, names: Sequence[str]) -> list[weights.WeightEntry]:
    unknown = [n for n in names if n not in weights.REGISTRY]
    if unknown:
        parser.error(f"unknown weight '{unknown[0]}'; known: {', '.join(sorted(weights.REGISTRY))}")
    return [weights.REGISTRY[n] for n in dict.fromkeys(names)]


def _run_fetch(entries: Sequence[weights.WeightEntry], progress: bool | None, timeout: float) -> int:
    errors = manual = 0
    for entry in entries:
        try:
            result = fetch(entry, progress=progress, timeout=timeout)
        except FetchError as err:
            print(f"error: {entry.name}: {err}" if not str(err).startswith(entry.name) else f"error: {err}",
                  file=sys.stderr)
            errors += 1
            continue
        if result.status == "manual":
            print(manual_steps(entry))
            manual += 1
            continue
        check = "sha256 ok" if result.checksum == "ok" else f"sha256 unknown (not established): {result.sha256}"
        if result.status == "present":
            print(f"{entry.name}: present at {result.path} ({check})")
        else:
            stats = result.stats
            resumed = f", resumed at byte {stats.resumed_from}" if stats and stats.resumed_from else ""
            speed = f"{stats.received / 2**20:.1f} MiB in {stats.seconds:.1f} s{resumed}" if stats else ""
            print(f"{entry.name}: downloaded to {result.path} ({speed}; {check})")
    return EXIT_ERROR if errors else EXIT_MANUAL if manual else EXIT_OK


def _run_verify(entries: Sequence[weights.WeightEntry]) -> int:
    mismatches = 0
    for entry in entries:
        result = verify_entry(entry)
        state = "found  " if result.found else "missing"
        print(f"{entry.name:28s} {state} sha256 {result.checksum:36s} {result.path}")
        mismatches += result.checksum.startswith(("mismatch", "unreadable"))
    return EXIT_ERROR if mismatches else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    if args.command in (None, "list"):
        print(weights.describe_all())
        return EXIT_OK
    if args.command == "verify":
        return _run_verify(_entries(parser, args.names) if args.names else list(weights.REGISTRY.values()))
    if args.all == bool(args.names):
        parser.error("fetch takes NAME ... or --all (exactly one of them)")
    entries = list(weights.REGISTRY.values()) if args.all else _entries(parser, args.names)
    return _run_fetch(entries, None if not args.no_progress else False, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
