"""The web demo as a user meets it: a real server process, driven with ``gradio_client`` and a browser.

The server is ``python -m reliableswap.app`` with a checkpoint trained for real (one step of the
tiny experiment) on a free port; the test swaps a photo through the page's ``/swap`` endpoint,
reads the result and its report, uploads a file over the size limit and a non-image, looks at the
page in headless Chromium (Debian's ``chromium``; skipped with the reason when absent) and stops the
server it started with Ctrl-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
import httpx

from tests.inference.conftest import REPO

pytest_plugins = ["tests.inference.conftest"]

gradio_client = pytest.importorskip("gradio_client", reason="the web demo needs gradio (pip install -e '.[app]')")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
COMPONENTS = ("source", "target", "faces", "swap_button", "result_image", "result_video", "report", "swap", "triplet")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) listening on ``port``; empty where /proc has no table."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).is_file():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":  # 0A = LISTEN
                found.add(address)
    return found


@pytest.fixture(scope="module")
def server(tiny_ckpt, scrfd, wild, tmp_path_factory):
    """A running demo server (tiny checkpoint, 1 MB upload limit); stopped with SIGINT at the end."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("app_server") / "server.log"
    temp = tmp_path_factory.mktemp("app_tmp")  # the server's temporary folder lives here (TMPDIR)
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", "TMPDIR": str(temp)}
    env.pop("GRADIO_TEMP_DIR", None)
    cmd = [sys.executable, "-m", "reliableswap.app", f"ckpt={tiny_ckpt}", f"port={port}", "max_upload_mb=1",
           "device=cpu", "triplet_tab=false", "hydra.run.dir=" + str(log_path.parent / "run")]
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"server did not answer within 180 s: {log_path.read_text()[-2000:]}")
    yield url, port, proc, log_path, temp
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_server_binds_loopback_only(server):
    _, port, *_ = server
    addresses = _listening_addresses(port)
    if not addresses:
        pytest.skip("no /proc/net/tcp table to read the listening address from")
    assert addresses == {"0100007F"}, f"listening on {addresses}, expected 127.0.0.1 only"


def test_swap_through_gradio_client(server, wild, tmp_path):
    url, *_ = server
    client = gradio_client.Client(url, verbose=False)
    source, target = wild / "_portraits" / "taylor.png", wild / "barack_obama" / "1.jpg"
    image, video, report_text = client.predict(gradio_client.handle_file(str(source)),
                                               gradio_client.handle_file(str(target)), "largest", api_name="/swap")
    assert video is None and image and Path(image).is_file()
    result = cv2.imread(image)
    original = cv2.imread(str(target))
    assert result.shape == original.shape
    assert np.abs(result.astype(int) - original.astype(int)).mean() > 0.5  # a face was pasted: not the target
    report = json.loads(report_text)
    assert report["ok"] and report["summary"]["swapped"] == 1
    assert report["inputs"][0]["faces_found"] >= 1 and report["inputs"][0]["faces_swapped"] == 1
    assert report["inputs"][0]["timings_s"]["swap"] > 0


def test_bad_uploads_get_messages_not_tracebacks(server, wild, tmp_path):
    url, *_ = server
    client = gradio_client.Client(url, verbose=False)
    target = gradio_client.handle_file(str(wild / "barack_obama" / "1.jpg"))
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is a text file with an image name")
    with pytest.raises(Exception) as err:  # gradio_client raises AppError with the page's message
        client.predict(gradio_client.handle_file(str(fake)), target, "largest", api_name="/swap")
    assert "source: not an image" in str(err.value) and "Traceback" not in str(err.value)
    huge = tmp_path / "huge.png"
    cv2.imwrite(str(huge), np.random.default_rng(0).integers(0, 255, (800, 800, 3), np.uint8))  # ~1.9 MB > 1 MB
    assert huge.stat().st_size > 2**20
    with pytest.raises(Exception) as err:  # the client reads the limit from the page's config
        client.predict(gradio_client.handle_file(str(huge)), target, "largest", api_name="/swap")
    assert "exceeds the maximum file size of 1048576 bytes" in str(err.value)
    with huge.open("rb") as handle:  # and the server refuses it whatever the client does
        response = httpx.post(url + "gradio_api/upload", files={"files": handle}, timeout=30)
    assert response.status_code == 413 and "maximum allowed size" in response.text
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(Exception) as err:
        client.predict(gradio_client.handle_file(str(blank)), target, "largest", api_name="/swap")
    assert "no face found in the source" in str(err.value)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package 'chromium')")
def test_page_loads_in_chromium_with_every_component(server, tmp_path):
    url, *_ = server
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--virtual-time-budget=20000", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    missing = [c for c in COMPONENTS if f'id="{c}"' not in dom]
    assert not missing, f"components missing from the rendered page: {missing}"
    assert "reliableswap" in dom and "Swap" in dom
    shot = tmp_path / "page.png"
    subprocess.run([*base, "--window-size=1280,1700", f"--screenshot={shot}", url], capture_output=True, timeout=120)
    page = cv2.imread(str(shot))
    assert page is not None and page.shape[:2] == (1700, 1280)
    assert page.std() > 10  # a drawn page, not a blank one


def test_port_in_use_is_a_usage_error_before_any_model_loads(server):
    _, port, *_ = server
    proc = subprocess.run([sys.executable, "-m", "reliableswap.app", "baseline=copy_target", f"port={port}",
                           "hydra.run.dir=" + str(server[3].parent / "second")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(f"python -m reliableswap.app: error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in proc.stderr


def test_sigterm_stops_the_server_and_removes_uploads_and_results(server):
    """Last in this file: it stops the module's server."""
    _, _, proc, log_path, temp = server
    assert list(temp.glob("reliableswap_app_*/gradio")), "uploads should be kept in the server's own folder"
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    if proc.poll() is None:  # timeout, scancel and systemd may signal twice: the cleanup must still finish
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert not list(temp.glob("reliableswap_app_*")), "the server's uploads and results outlived it"
    assert "stopped; this server's uploads and results are removed" in log_path.read_text()
