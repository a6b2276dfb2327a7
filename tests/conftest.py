"""Shared fixtures: locations of the shared data/weights/manifests, with clear skips.

Everything from ``../shared`` is looked up through :mod:`reliableswap.paths` (environment variables
with that default) and the test is skipped, saying where the file was expected, when it is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from reliableswap import manifests as manifest_lib
from reliableswap import paths


@pytest.fixture(scope="session")
def manifest() -> Callable[[str], dict]:
    """``manifest(name)`` -> manifest entry, or skip when the manifests file is absent."""
    path = paths.manifest_path()
    if not path.is_file():
        pytest.skip(f"checkpoint manifests not found at {path} (set RELIABLESWAP_MANIFESTS)")
    return manifest_lib.load_manifest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = paths.data_dir()
    if not path.is_dir():
        pytest.skip(f"shared face data not found at {path} (set RELIABLESWAP_DATA)")
    return path


@pytest.fixture(scope="session")
def celeba_images(shared_data: Path) -> Path:
    path = shared_data / "celebamask_hq_1k" / "images"
    if not path.is_dir():
        pytest.skip(f"CelebAMask-HQ sample not found at {path}")
    return path


@pytest.fixture(scope="session")
def shared_weight() -> Callable[[str], Path]:
    """``shared_weight("recognition/x.pt")`` -> path, or skip saying where it was expected."""

    def lookup(relative: str) -> Path:
        path = paths.shared_weights_dir() / relative
        if not path.is_file():
            pytest.skip(f"shared weight {relative} not found at {path} (set RELIABLESWAP_WEIGHTS)")
        return path

    return lookup


@pytest.fixture(scope="session", autouse=True)
def _single_torch_thread():
    """One intra-op thread for the whole suite.

    The suite's models are small and CI has 2 cores shared with data-loader workers and
    subprocess runs; two OpenMP threads then spin-wait against each other (a 10 ms MobileFaceNet
    forward was seen taking ~2 s). One thread is fast and deterministic. Subprocess runs of
    train.py/test.py are not affected.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def png_bomb() -> Callable[[Path, int, int], Path]:
    """Write a tiny PNG (< 100 bytes) whose IHDR declares ``width x height`` (a decompression bomb header)."""
    import struct
    import zlib

    def make(path: Path, width: int = 20000, height: int = 20000) -> Path:
        import cv2
        import numpy as np

        ok, encoded = cv2.imencode(".png", np.zeros((1, 1), np.uint8))
        assert ok
        data = bytearray(encoded.tobytes())
        data[16:24] = struct.pack(">II", width, height)  # IHDR chunk: type at 12..16, then width, height
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # CRC over type + 13 data bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(data))
        return path

    return make


@pytest.fixture
def interrupt_when() -> Callable[..., tuple[int, str]]:
    """Start ``cmd``, wait until ``ready()`` holds, send ``signum``; ``(exit status, stderr)``.

    Fails when the process ended before the signal (the test would prove nothing) or when
    ``ready`` never held within ``wait_s``.
    """
    import os
    import subprocess
    import time

    def run(cmd: list[str], cwd: Path, ready: Callable[[], bool], signum: int,
            wait_s: float = 300, finish_s: float = 120) -> tuple[int, str]:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.time() + wait_s
        while time.time() < deadline and proc.poll() is None and not ready():
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before the signal; the test proves nothing"
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=finish_s)
        return proc.returncode, stderr

    return run
