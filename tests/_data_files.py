"""Shared helpers of the aelab.data tests: fake raw IDX files, an offline data root, a local mirror."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from aelab.data import _fetch, mnist

SUBSET_SIZES = {"train": 4000, "test": 1000}
FULL_SIZES = {"train": 60000, "test": 10000}
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def part_files(folder: Path) -> list[str]:
    """Temporary files left behind (they start with a dot, so ``glob('*.part')`` would miss them)."""
    return [name for _, _, files in os.walk(folder) for name in files if name.endswith(".part")]


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, an empty data root, and the once-per-process warning armed again."""
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    monkeypatch.setenv("AELAB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(mnist, "_warned", set())
    monkeypatch.setattr(_fetch, "_unreachable", set())
    return tmp_path / "data"


def check_images(images, labels, n=None):
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    assert images.ndim == 4 and images.shape[1:] == (1, 28, 28)
    assert labels.shape == (len(images),)
    if n is not None:
        assert len(images) == n
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.max() == 1.0  # scaled by 255, not left in [0, 255] nor squashed
    assert set(labels.unique().tolist()) == set(range(10))


# --- fake raw IDX files -----------------------------------------------------------------

def header(*fields: int) -> bytes:
    return b"".join(int(v).to_bytes(4, "big") for v in fields)


def write_images(path: Path, count: int, *, magic: int = 2051, rows: int = 28, cols: int = 28,
                 size: int | None = None) -> None:
    """A sparse IDX image file (fast: no 47 MB written); image 3 has pixel (5, 7) = 255."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(header(magic, count, rows, cols))
        fh.truncate(16 + count * rows * cols if size is None else size)
        if count > 3 and rows * cols == 784:
            fh.seek(16 + 3 * 784 + 5 * 28 + 7)
            fh.write(b"\xff")


def write_labels(path: Path, labels, *, magic: int = 2049) -> None:
    labels = np.asarray(labels, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header(magic, len(labels)) + labels.tobytes())


def fake_labels(n: int) -> np.ndarray:
    return (np.arange(n) * 7) % 10  # all ten classes, not in a trivial order


def full_raw(root: Path, folder: str = "MNIST") -> Path:
    """All four raw files of a sound (fake) dataset under ``root/folder/raw``."""
    raw = root / folder / "raw"
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        write_images(raw / f"{prefix}-images-idx3-ubyte", n)
        write_labels(raw / f"{prefix}-labels-idx1-ubyte", fake_labels(n))
    return raw


def fake_gz_files() -> dict[str, bytes]:
    """The four raw files of a sound fake dataset, gzipped, by ``.gz`` name (as the mirrors serve them)."""
    files = {}
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        pixels = bytearray(n * 784)
        pixels[3 * 784 + 5 * 28 + 7] = 255
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(header(2051, n, 28, 28) + bytes(pixels),
                                                                compresslevel=1)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(
            header(2049, n) + fake_labels(n).astype(np.uint8).tobytes(), compresslevel=1)
    return files


def resources(files: dict[str, bytes]) -> list[tuple[str, str]]:
    """torchvision's ``resources`` table for ``files``: ``(name, md5)``."""
    return [(name, hashlib.md5(blob).hexdigest()) for name, blob in files.items()]


# --- a local HTTP mirror ------------------------------------------------------------------

class Mirror:
    """A mirror on 127.0.0.1 serving ``files``; ``trickle`` seconds between single bytes if set.

    ``requests`` lists the paths asked for; ``stop()`` ends every transfer and the server.
    """

    def __init__(self, files: dict[str, bytes], trickle: float | None = None):
        self.files, self.trickle, self.requests = files, trickle, []
        self.stopped = threading.Event()
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                mirror.requests.append(name)
                blob = mirror.files.get(name)
                if blob is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(blob)))
                self.end_headers()
                try:
                    if mirror.trickle is None:
                        self.wfile.write(blob)
                        return
                    for i in range(len(blob)):  # one byte at a time, until the client or the test gives up
                        if mirror.stopped.wait(mirror.trickle):
                            return
                        self.wfile.write(blob[i:i + 1])
                        self.wfile.flush()
                except OSError:  # the client hung up
                    return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


def download_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("aelab-download-")]


def wait_for_no_download_workers(seconds: float) -> bool:
    """Whether every download thread has ended within ``seconds``."""
    end = time.monotonic() + seconds
    while download_workers() and time.monotonic() < end:
        time.sleep(0.02)
    return not download_workers()
