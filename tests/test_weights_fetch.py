"""``python -m reliableswap.weights fetch/verify/list`` against a local HTTP server (no internet).

The server (stdlib http.server on 127.0.0.1, in a thread) serves in-memory files in one of three
modes: ``range`` (honours ``Range: bytes=N-`` with 206), ``norange`` (ignores it, always 200) and
``cut`` (announces the full length, sends half, then drops the connection).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from reliableswap import paths, weights
from reliableswap.weights import fetch as weights_fetch

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes, not a multiple of the chunk size


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FileServer:
    """In-memory files served over HTTP; ``ranges`` records each request's Range header (or None)."""

    files: dict[str, bytes] = field(default_factory=dict)
    mode: str = "range"
    ranges: list[str | None] = field(default_factory=list)
    port: int = 0

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


def _handler(state: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Silent: keep pytest's output clean."""

        def do_GET(self) -> None:  # http.server's method name
            header = self.headers.get("Range")
            state.ranges.append(header)
            body = state.files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            start = 0
            if header and state.mode == "range":
                start = int(header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            chunk = body[start:]
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            if state.mode == "cut":
                self.wfile.write(chunk[: len(chunk) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # drop it mid-body
                return
            self.wfile.write(chunk)

    return Handler


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def register(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str = "toy", suffix: str = ".bin",
             **fields: object) -> Path:
    """Register a temporary entry whose expected path (env override) is under ``tmp_path``."""
    entry = weights.WeightEntry(name, f"toy/{name}{suffix}", "pretrained", "a test server", "toy weights", **fields)
    monkeypatch.setitem(weights.REGISTRY, name, entry)
    target = tmp_path / "weights" / f"{name}{suffix}"
    monkeypatch.setenv(entry.env_var, str(target))
    return target


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = weights_fetch.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_download_with_checksum_ok(server, monkeypatch, tmp_path, capsys):
    server.files["w.bin"] = PAYLOAD
    target = register(monkeypatch, tmp_path, url=server.url("w.bin"), sha256=sha(PAYLOAD))
    code, out, _ = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 0 and target.read_bytes() == PAYLOAD
    assert "sha256 ok" in out and server.ranges == [None]
    assert not list(target.parent.glob("*.part"))
    # present and matching: skipped, the server is not asked again
    code, out, _ = run(capsys, "fetch", "toy")
    assert code == 0 and "present" in out and len(server.ranges) == 1


def test_resume_continues_a_partial_file_with_a_range_request(server, monkeypatch, tmp_path, capsys):
    server.files["w.bin"] = PAYLOAD
    target = register(monkeypatch, tmp_path, url=server.url("w.bin"), sha256=sha(PAYLOAD))
    half = len(PAYLOAD) // 2
    target.parent.mkdir(parents=True)
    (target.parent / "toy.bin.part").write_bytes(PAYLOAD[:half])
    code, out, _ = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 0 and target.read_bytes() == PAYLOAD
    assert server.ranges == [f"bytes={half}-"] and f"resumed at byte {half}" in out
    assert not (target.parent / "toy.bin.part").exists()


def test_a_cut_connection_leaves_a_part_that_the_next_run_resumes(server, monkeypatch, tmp_path, capsys):
    server.files["w.bin"] = PAYLOAD
    target = register(monkeypatch, tmp_path, url=server.url("w.bin"), sha256=sha(PAYLOAD))
    server.mode = "cut"
    code, _, err = run(capsys, "fetch", "toy", "--no-progress")
    part = target.parent / "toy.bin.part"
    assert code == 1 and not target.exists()
    assert "resume" in err and len(err.strip().splitlines()) == 1
    kept = part.stat().st_size
    assert 0 < kept < len(PAYLOAD) and part.read_bytes() == PAYLOAD[:kept]
    server.mode = "range"
    code, _, _ = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 0 and target.read_bytes() == PAYLOAD
    assert server.ranges[-1] == f"bytes={kept}-" and not part.exists()


def test_server_without_range_support_restarts_cleanly(server, monkeypatch, tmp_path, capsys):
    server.files["w.bin"] = PAYLOAD
    target = register(monkeypatch, tmp_path, url=server.url("w.bin"), sha256=sha(PAYLOAD))
    target.parent.mkdir(parents=True)
    (target.parent / "toy.bin.part").write_bytes(b"x" * 1000)  # wrong bytes: must not survive a restart
    server.mode = "norange"
    code, _, _ = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 0 and target.read_bytes() == PAYLOAD and server.ranges == ["bytes=1000-"]


@pytest.mark.parametrize("partial", [False, True], ids=["fresh", "resumed-bad-part"])
def test_wrong_checksum_installs_nothing_and_removes_the_partial(server, monkeypatch, tmp_path, capsys, partial):
    server.files["w.bin"] = PAYLOAD
    target = register(monkeypatch, tmp_path, url=server.url("w.bin"), sha256="0" * 64)
    part = target.parent / "toy.bin.part"
    if partial:
        target.parent.mkdir(parents=True)
        part.write_bytes(b"not the official bytes")
    code, out, err = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "sha256 mismatch" in err and "nothing installed" in err
    assert not target.exists() and not part.exists()
    # the folder fetch made is gone too; one that was already there stays
    assert target.parent.exists() == partial and (not partial or list(target.parent.iterdir()) == [])


def test_archive_member_is_extracted_and_checked(server, monkeypatch, tmp_path, capsys):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("pack/other.onnx", b"another model")
        zf.writestr("pack/inner.onnx", PAYLOAD)
    server.files["pack.zip"] = buffer.getvalue()
    target = register(monkeypatch, tmp_path, url=server.url("pack.zip"), archive_member="inner.onnx",
                      sha256=sha(PAYLOAD))
    code, out, _ = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 0 and target.read_bytes() == PAYLOAD and "sha256 ok" in out
    assert sorted(p.name for p in target.parent.iterdir()) == ["toy.bin"]  # archive and temp removed


def test_archive_without_the_member_fails_cleanly(server, monkeypatch, tmp_path, capsys):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("other.onnx", b"x")
    server.files["pack.zip"] = buffer.getvalue()
    target = register(monkeypatch, tmp_path, url=server.url("pack.zip"), archive_member="inner.onnx")
    code, _, err = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 1 and "inner.onnx" in err and not target.parent.exists()  # the folder fetch made is gone too


def test_unknown_checksum_installs_and_reports_the_digest(server, monkeypatch, tmp_path, capsys):
    server.files["w.bin"] = PAYLOAD
    target = register(monkeypatch, tmp_path, url=server.url("w.bin"))
    code, out, _ = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 0 and target.read_bytes() == PAYLOAD
    assert f"sha256 unknown (not established): {sha(PAYLOAD)}" in out


def test_without_a_checksum_an_unreadable_download_is_not_installed(server, monkeypatch, tmp_path, capsys):
    """No sha256 established: the file must at least read as what its name says (an HTML page saved
    under a weights name, the usual cloud-drive failure, is refused)."""
    server.files["w.pth"] = b"<!DOCTYPE html><html><body>Virus scan warning: confirm download</body></html>"
    target = register(monkeypatch, tmp_path, suffix=".pth", url=server.url("w.pth"))
    code, _, err = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 1 and "an HTML page" in err and "nothing installed" in err
    assert not target.exists() and not target.parent.exists()  # the folder fetch made is gone too
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2, 3)}, buffer)
    server.files["w.pth"] = buffer.getvalue()
    code, out, _ = run(capsys, "fetch", "toy", "--no-progress")
    assert code == 0 and "downloaded" in out and target.is_file()


def test_verify_reads_files_without_a_checksum(monkeypatch, tmp_path, capsys):
    junk = register(monkeypatch, tmp_path, "t_junk", suffix=".pth")
    junk.parent.mkdir(parents=True, exist_ok=True)
    junk.write_bytes(b"12345")
    good = register(monkeypatch, tmp_path, "t_good", suffix=".pth")
    torch.save({"w": torch.ones(3)}, good)
    table = register(monkeypatch, tmp_path, "t_json", suffix=".json")
    table.write_text("{not json")
    code, out, _ = run(capsys, "verify", "t_junk", "t_good", "t_json")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "unreadable: not readable as a PyTorch" in lines["t_junk"]
    assert "unknown (not established), readable" in lines["t_good"]
    assert "unreadable: not readable as a JSON file" in lines["t_json"]
    assert code == 1
    code, out, _ = run(capsys, "fetch", "t_junk")  # present but unreadable: said, not kept as done
    assert code == 1


def test_downloaded_file_respects_the_umask(server, monkeypatch, tmp_path, capsys):
    server.files["w.bin"] = PAYLOAD
    target = register(monkeypatch, tmp_path, url=server.url("w.bin"), sha256=sha(PAYLOAD))
    old = os.umask(0o027)
    try:
        code, _, _ = run(capsys, "fetch", "toy", "--no-progress")
    finally:
        os.umask(old)
    assert code == 0 and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_progress_bar_goes_to_stderr(server, tmp_path, capsys):
    server.files["w.bin"] = PAYLOAD
    part = tmp_path / "w.bin.part"
    stats = weights_fetch.download_to_part(server.url("w.bin"), part, progress=True, desc="toybar")
    out, err = capsys.readouterr()
    assert part.read_bytes() == PAYLOAD and stats.received == len(PAYLOAD) and stats.resumed_from == 0
    assert out == "" and "toybar" in err and "100%" in err


def test_manual_entry_prints_steps_and_exits_3(monkeypatch, tmp_path, capsys):
    target = register(monkeypatch, tmp_path, manual="Google Drive https://drive.example/abc (toy.bin)")
    code, out, _ = run(capsys, "fetch", "toy")
    assert code == weights_fetch.EXIT_MANUAL == 3
    assert "https://drive.example/abc" in out and str(target) in out
    assert "RELIABLESWAP_WEIGHT_TOY" in out and "python -m reliableswap.weights verify toy" in out
    assert not target.parent.exists()
    target.parent.mkdir(parents=True)
    target.write_bytes(b"placed by hand")
    code, out, _ = run(capsys, "fetch", "toy")  # once placed: present, no steps
    assert code == 0 and "present" in out and "Get it" not in out


def test_verify_reports_ok_mismatch_missing_unknown(monkeypatch, tmp_path, capsys):
    for name, content, fields in [
        ("t_ok", b"good", {"sha256": sha(b"good")}),
        ("t_bad", b"changed", {"sha256": sha(b"good")}),
        ("t_missing", None, {"sha256": sha(b"good")}),
        ("t_unknown", b"anything", {}),
        ("t_prefix", b"good", {"sha256_prefix": sha(b"good")[:8]}),
    ]:
        target = register(monkeypatch, tmp_path, name, **fields)
        if content is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    code, out, _ = run(capsys, "verify", "t_ok", "t_bad", "t_missing", "t_unknown", "t_prefix")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "found" in lines["t_ok"] and "sha256 ok" in lines["t_ok"]
    assert "sha256 mismatch" in lines["t_bad"]
    assert "missing" in lines["t_missing"]
    assert "unknown (not established)" in lines["t_unknown"]
    assert "ok (prefix" in lines["t_prefix"]
    assert code == 1  # a present file mismatches
    code, _, _ = run(capsys, "verify", "t_ok", "t_missing", "t_unknown")
    assert code == 0


def test_prefix_check_rejects_another_file(monkeypatch, tmp_path):
    target = register(monkeypatch, tmp_path, sha256_prefix=sha(b"official")[:8])
    target.parent.mkdir(parents=True)
    target.write_bytes(b"something else")
    with pytest.raises(weights.ChecksumError):
        weights.verify("toy")
    target.write_bytes(b"official")
    assert weights.verify("toy") == target


@pytest.mark.parametrize("argv, needle", [
    (["fetch", "no_such_weight"], "known: "),
    (["fetch"], "exactly one"),
    (["fetch", "yunet", "--all"], "exactly one"),
    (["verify", "no_such_weight"], "unknown weight"),
    (["frobnicate"], "invalid choice"),
    (["fetch", "--timeout", "soon", "yunet"], "invalid float"),
    (["fetch", "--timeout", "-1", "yunet"], "must be > 0 seconds"),
])
def test_usage_errors_exit_2_with_one_line(capsys, argv, needle):
    with pytest.raises(SystemExit) as exc:
        weights_fetch.main(argv)
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_module_entry_point_usage_error():
    env = {**os.environ, "PYTHONPATH": str(paths.REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "reliableswap.weights", "fetch", "no_such_weight"],
                          capture_output=True, text=True, env=env, cwd=paths.REPO_ROOT, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown weight 'no_such_weight'" in lines[0] and "yunet" in lines[0]


def test_list_is_the_default(capsys):
    code, out, _ = run(capsys)
    code_list, out_list, _ = run(capsys, "list")
    assert code == code_list == 0 and out == out_list and "demo_reference" in out


def test_every_registry_entry_can_be_obtained():
    """No silent gaps: each file is downloadable (https), has manual steps, or ships in the repo."""
    for entry in weights.REGISTRY.values():
        ways = [bool(entry.url), bool(entry.manual), entry.root == "repo"]
        assert any(ways), f"{entry.name}: no url, no manual steps, not shipped"
        if entry.url:
            assert entry.url.startswith("https://"), entry.name
            assert not entry.manual, f"{entry.name}: both a url and manual steps"
        if entry.archive_member:
            assert entry.url and entry.url.endswith(".zip"), entry.name
        if entry.root == "repo":
            assert entry.sha256, f"{entry.name}: shipped in the repo without a sha256"
        if entry.sha256:
            assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0, entry.name
        if entry.sha256_prefix:  # torch.hub convention: the official file name embeds the prefix
            assert f"-{entry.sha256_prefix}." in Path(entry.relative_path).name, entry.name
            assert not entry.sha256, entry.name


def test_shared_copies_match_the_recorded_checksums():
    """The sha256 values of the shared files were computed from the official blobs; the copies agree."""
    checked = 0
    for entry in weights.REGISTRY.values():
        if entry.root == "shared" and entry.sha256:
            path = entry.default_path()
            if not path.is_file():
                continue
            weights.verify(entry.name)
            checked += 1
    if not checked:
        pytest.skip("shared weights not present (RELIABLESWAP_WEIGHTS / ../shared/weights)")
