"""aelab.data._fetch: the data root, the network probe, and downloads that are bounded (a stalled
mirror, a trickling mirror, a deadline) and stoppable (no download thread outlives its loader)."""

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
from _data_files import PROXY_VARS, Mirror, fake_gz_files, offline, resources, wait_for_no_download_workers
from torchvision.datasets import MNIST, FashionMNIST

from aelab import data, runtime
from aelab.data import DataError, _fetch, fashion_mnist, mnist

__all__ = ["offline"]  # the fixture, imported


# --- environment and network probe ----------------------------------------------------------

def test_data_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_DATA", str(tmp_path))
    assert data.data_root() == tmp_path
    monkeypatch.delenv("AELAB_DATA")
    assert data.data_root() == Path.home() / ".cache" / "aelab" / "data"


def test_offline_flag_is_the_runtime_one_and_parsed_by_env_flag(monkeypatch, tmp_path):
    assert data.OFFLINE_ENV == runtime.OFFLINE_ENV == "AELAB_OFFLINE"
    monkeypatch.setenv("AELAB_DATA", str(tmp_path))
    monkeypatch.setenv("AELAB_OFFLINE", "maybe")
    with pytest.raises(runtime.EnvFlagError, match="AELAB_OFFLINE"):
        data.is_online()
    with pytest.raises(runtime.EnvFlagError, match="AELAB_OFFLINE"):
        data.load_mnist("train")  # nothing on disk: the flag decides, and it is not a boolean
    # "off" means online: the probe really runs (and here succeeds)
    monkeypatch.setenv("AELAB_OFFLINE", "off")
    monkeypatch.setattr(_fetch, "_unreachable", set())
    monkeypatch.setattr(_fetch.socket, "create_connection", lambda *a, **k: socket.socket())
    assert data.is_online("https://example.invalid") is True


def test_is_online_offline_env_is_fast(monkeypatch):
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    calls = []
    monkeypatch.setattr(_fetch.socket, "create_connection", lambda *a, **k: calls.append(a))
    assert data.is_online() is False
    assert data.is_online("https://example.com", timeout=30) is False
    assert calls == []  # no connection attempted at all


def test_is_online_hanging_probe_gives_up_and_is_remembered(monkeypatch):
    """A name lookup or connect that hangs (not covered by socket timeouts) is abandoned, once."""
    monkeypatch.delenv("AELAB_OFFLINE", raising=False)
    monkeypatch.setattr(_fetch, "_unreachable", set())
    calls = []

    def hang(*args, **kwargs):
        calls.append(args)
        time.sleep(3)
        raise OSError("too late")

    monkeypatch.setattr(_fetch.socket, "create_connection", hang)
    assert data.is_online("https://example.invalid", timeout=0.2) is False
    assert data.is_online("https://example.invalid:443/other", timeout=0.2) is False
    assert len(calls) == 1  # the second call did not probe again



def test_is_online_timeout_is_checked():
    with pytest.raises(ValueError, match="timeout"):
        data.is_online(timeout=0)
    with pytest.raises(TypeError, match="timeout"):
        data.is_online(timeout="3")


# --- bounded downloads --------------------------------------------------------------------

@pytest.fixture
def stalled_mirror(monkeypatch):
    """A local HTTP 'mirror' that accepts connections and never answers.

    Yields ``(url, connections)``; the list grows with every connection accepted.
    """
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:  # the accept timeout: look at ``stop`` again
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("AELAB_OFFLINE", raising=False)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/", held
    finally:
        # the download stops by itself: its thread is gone before the connections are closed
        assert wait_for_no_download_workers(2.0), "an abandoned download kept running"
        stop.set()
        thread.join()
        server.close()
        for conn in held:
            conn.close()


def _count_downloads(monkeypatch, module) -> tuple[list, list]:
    """Record each download's dataset name, and how many seconds each took."""
    calls, seconds = [], []
    real = module._download

    def counting(cls, root):
        calls.append(cls.__name__)
        started = time.monotonic()
        try:
            return real(cls, root)
        finally:
            seconds.append(time.monotonic() - started)

    monkeypatch.setattr(module, "_download", counting)
    return calls, seconds


# read_timeout: each socket operation gives up (the stall is detected);
# deadline: the whole download is abandoned.
@pytest.mark.parametrize("read_timeout, deadline, words", [(0.2, 60.0, "failed (TimeoutError"),
                                                           (60.0, 0.3, "did not finish within 0.3 s")])
def test_stalled_mirror_is_bounded_and_remembered(offline, monkeypatch, stalled_mirror, read_timeout, deadline,
                                                  words):
    url, connections = stalled_mirror
    monkeypatch.setattr(MNIST, "mirrors", [url])
    monkeypatch.setattr(_fetch, "DOWNLOAD_READ_TIMEOUT", read_timeout)
    monkeypatch.setattr(_fetch, "DOWNLOAD_DEADLINE", deadline)
    downloads, seconds = _count_downloads(monkeypatch, mnist)
    with pytest.warns(UserWarning) as caught:
        images, _ = data.load_mnist("train")
    assert seconds[0] < min(read_timeout, deadline) + 2
    assert len(images) == 4000  # the offline subset, after a bounded wait
    assert connections, "the stalled mirror was never contacted"
    msg = str(caught[0].message)
    assert "downloading MNIST from " + url in msg and words in msg and "not tried again" in msg, msg
    # remembered: the next load does not try again, and the probe says offline at once
    images, _ = data.load_mnist("test")
    assert len(images) == 1000
    assert downloads == ["MNIST"]
    assert data.is_online(url) is False
    assert list((offline / "MNIST" / "raw").iterdir()) == []  # nothing half-downloaded left in the data root
    assert socket.getdefaulttimeout() is None  # the process's default timeout was never touched


def test_stalled_fashion_mirror_gives_a_data_error_with_the_fix(offline, monkeypatch, stalled_mirror, tmp_path):
    url, _ = stalled_mirror
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-package")
    monkeypatch.setattr(FashionMNIST, "mirrors", [url])
    monkeypatch.setattr(_fetch, "DOWNLOAD_DEADLINE", 0.3)
    downloads, _ = _count_downloads(monkeypatch, fashion_mnist)
    with pytest.raises(DataError) as info:
        data.load_fashion_mnist("train")
    msg = str(info.value)
    assert "did not finish within 0.3 s" in msg and "apt-get install dataset-fashion-mnist" in msg
    with pytest.raises(DataError, match="there is no network"):
        data.load_fashion_mnist("test")
    assert downloads == ["FashionMNIST"]


@pytest.fixture
def trickling(monkeypatch):
    """A mirror that sends one byte every 0.05 s, with proxies off and the network 'on'."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("AELAB_OFFLINE", raising=False)
    files = fake_gz_files()
    mirror = Mirror(files, trickle=0.05)
    monkeypatch.setattr(MNIST, "mirrors", [mirror.url])
    monkeypatch.setattr(MNIST, "resources", resources(files))
    monkeypatch.setattr(mnist, "_unreachable_reason", lambda url, timeout: None)
    yield mirror
    mirror.stop()


def test_trickling_mirror_is_abandoned_by_the_minimum_rate_and_its_thread_ends(offline, monkeypatch, trickling):
    """Issue 22 item 9: a byte every few seconds never trips a socket timeout; the minimum rate does."""
    monkeypatch.setattr(_fetch, "DOWNLOAD_RATE_WINDOW", 0.5)  # 20 bytes/s arrive; 1,000 are required
    monkeypatch.setattr(_fetch, "DOWNLOAD_MIN_RATE", 1000.0)
    monkeypatch.setattr(_fetch, "DOWNLOAD_DEADLINE", 60.0)   # far away: the rate decides
    _, seconds = _count_downloads(monkeypatch, mnist)
    with pytest.warns(UserWarning) as caught:
        images, _ = data.load_mnist("train")
    assert seconds[0] < 3  # the window is 0.5 s: abandoned after the first one
    assert len(images) == 4000
    msg = str(caught[0].message)
    assert "was too slow" in msg and "below the minimum of 1000 bytes/s" in msg and "trickles" in msg, msg
    assert not trickling.stopped.is_set()  # the mirror still trickles, yet the download has ended:
    assert wait_for_no_download_workers(1.0), "the download thread kept running"
    assert trickling.requests == ["train-images-idx3-ubyte.gz"]
    assert list((offline / "MNIST" / "raw").iterdir()) == []


def test_trickling_mirror_fast_enough_for_the_rate_stops_at_the_deadline(offline, monkeypatch, trickling):
    """The deadline is checked between chunks by the download itself, so its thread ends there too."""
    monkeypatch.setattr(_fetch, "DOWNLOAD_MIN_RATE", 0.0)
    monkeypatch.setattr(_fetch, "DOWNLOAD_DEADLINE", 0.5)
    _, seconds = _count_downloads(monkeypatch, mnist)
    with pytest.warns(UserWarning) as caught:
        data.load_mnist("train")
    assert seconds[0] < 2.5
    assert "did not finish within 0.5 s" in str(caught[0].message)
    assert not trickling.stopped.is_set()
    assert wait_for_no_download_workers(1.0), "the download thread kept running"


def test_a_download_interrupted_by_the_caller_stops_and_writes_nothing(offline, monkeypatch, trickling):
    """Ctrl-C while waiting: the worker sees the stop at its next chunk and leaves the data root alone."""
    monkeypatch.setattr(_fetch, "DOWNLOAD_MIN_RATE", 0.0)
    assert threading.current_thread() is threading.main_thread()
    # a shell's background job (`pytest &`) inherits SIGINT ignored: restore Python's own Ctrl-C handler
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))  # a real Ctrl-C, soon
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            _fetch._download(MNIST, offline)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert not trickling.stopped.is_set()
    assert wait_for_no_download_workers(1.0), "the download thread kept running after Ctrl-C"
    assert list((offline / "MNIST" / "raw").iterdir()) == []


def test_gunzip_exact_is_the_one_bounded_decompression(tmp_path):
    """Downloads and Debian's Fashion-MNIST share it: exact size, bounded read, bad files named, stop honoured."""
    import gzip

    src, dst = tmp_path / "x.gz", tmp_path / "x"
    src.write_bytes(gzip.compress(b"a" * 100))
    _fetch._gunzip_exact(src, dst, 100)
    assert dst.read_bytes() == b"a" * 100
    with pytest.raises(_fetch._BadGzip, match="decompresses to 100 bytes, expected 101"):
        _fetch._gunzip_exact(src, dst, 101)
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(bytes(5 << 20)))  # 5 MiB of zeros, for a 10-byte file
    with pytest.raises(_fetch._BadGzip, match="more than 10 bytes"):
        _fetch._gunzip_exact(bomb, dst, 10)
    assert dst.stat().st_size <= 1 << 20  # stopped after one chunk, not expanded to the end
    src.write_bytes(gzip.compress(b"a" * 100)[:-12])  # truncated
    with pytest.raises(_fetch._BadGzip, match="could not be decompressed"):
        _fetch._gunzip_exact(src, dst, 100)
    stop = threading.Event()
    stop.set()
    with pytest.raises(_fetch._Abandoned, match="stopped"):
        _fetch._gunzip_exact(bomb, dst, 10, stop)
