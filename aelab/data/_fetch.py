"""Fetching datasets without ever hanging: the data root, the network probe, bounded downloads.

Used by every lecture through the loaders of :mod:`aelab.data` (MNIST in lectures 01-07,
Fashion-MNIST in lectures 02 and 06); the model cache (:mod:`aelab.zoo`) keeps its files under
:func:`data_root` too.

No network call can hang (docs/architecture.md, "Data"):

- reachability is probed with a 3-second limit in a thread that is abandoned when it is late
  (a name lookup is not covered by socket timeouts), and ``AELAB_OFFLINE=1`` skips the network;
- a download is bounded three ways: each socket operation by :data:`DOWNLOAD_READ_TIMEOUT` (a
  mirror that stalls), the transfer rate by :data:`DOWNLOAD_MIN_RATE` over every
  :data:`DOWNLOAD_RATE_WINDOW` seconds (a mirror that trickles a byte now and then), and the whole
  download by :data:`DOWNLOAD_DEADLINE`. It is a loop over chunks that checks all three between
  chunks, so it stops by itself: no download keeps running after the loader gave up on it;
- a mirror that could not be reached, or whose download failed, is remembered for the rest of
  the process, so later loads fall back at once.
"""

from __future__ import annotations

import errno
import functools
import gzip
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.request
import zlib
from pathlib import Path
from urllib.parse import urlparse

from .._validation import real
from ..files import atomic_write
from ..runtime import OFFLINE_ENV, env_flag
from ._idx import _RAW_FILES, DataError

__all__ = ["DATA_ENV", "DOWNLOAD_READ_TIMEOUT", "DOWNLOAD_DEADLINE", "DOWNLOAD_MIN_RATE", "DOWNLOAD_RATE_WINDOW",
           "OFFLINE_ENV", "data_root", "is_online"]

#: The environment variable naming the data root.
DATA_ENV = "AELAB_DATA"
#: Seconds one socket operation of a download may wait (a mirror that accepts and then stalls).
DOWNLOAD_READ_TIMEOUT = 10.0
#: Seconds a whole dataset download (four files, both splits) may take before it is abandoned.
DOWNLOAD_DEADLINE = 180.0
#: Bytes per second a download must average over each :data:`DOWNLOAD_RATE_WINDOW`, else it is
#: abandoned. MNIST's four files are 11.6 MB: below 64 kB/s they cannot arrive within
#: :data:`DOWNLOAD_DEADLINE`, so waiting longer would only delay the fallback.
DOWNLOAD_MIN_RATE = 64_000.0
#: Seconds over which the rate is measured (long enough for a slow start, short next to the deadline).
DOWNLOAD_RATE_WINDOW = 15.0
_CHUNK = 1 << 16

# (host, port) pairs given up on in this process: unreachable for the probe, or a failed download.
_unreachable: set[tuple[str | None, int]] = set()


class _DownloadFailed(DataError):
    """Downloading from a dataset's mirrors failed, stalled or trickled (remembered for the process)."""


def data_root() -> Path:
    """The one folder all datasets live under: ``$AELAB_DATA`` or ``~/.cache/aelab/data``."""
    root = os.environ.get(DATA_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "aelab" / "data"


def _host_port(url: str) -> tuple[str | None, int]:
    parsed = urlparse(url)
    return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)


def _unreachable_reason(url: str, timeout: float) -> str | None:
    """None if ``url``'s host accepts a TCP connection within ``timeout`` s, else why not.

    Does not read ``AELAB_OFFLINE`` (the callers read it once). A host found unreachable is
    remembered for the rest of the process.
    """
    host, port = _host_port(url)
    if (host, port) in _unreachable:
        return f"no network ({host} was unreachable, or a download from it failed, earlier in this process)"
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    # The name lookup is not covered by the socket timeout, so the probe runs in a daemon
    # thread that is abandoned after ``timeout`` seconds: offline never hangs.
    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    if result and result[0]:
        return None
    _unreachable.add((host, port))
    return f"no network ({host} did not answer within {timeout:g} s)"


def is_online(url: str = "https://ossci-datasets.s3.amazonaws.com", timeout: float = 3.0) -> bool:
    """Whether ``url``'s host accepts a TCP connection within ``timeout`` seconds.

    Returns ``False`` at once when ``AELAB_OFFLINE`` is on (read by
    :func:`aelab.runtime.env_flag`). A host found unreachable, or one a download from which
    failed or stalled, is remembered for the rest of the process, so a notebook that loads
    several splits waits at most once.

    Raises
    ------
    aelab.runtime.EnvFlagError
        If ``AELAB_OFFLINE`` holds something other than a boolean word.
    ValueError, TypeError
        If ``timeout`` is not a finite number > 0.
    """
    timeout = real(timeout, "timeout", low=0.0, low_open=True)
    if env_flag(OFFLINE_ENV, False):
        return False
    return _unreachable_reason(url, timeout) is None


# --- writing under the data root ----------------------------------------------------------

def _unwritable(folder: Path, exc: OSError) -> DataError:
    """The DataError for a data folder that cannot be created or written, naming the fix."""
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        why = f"{blocker} is a file, not a folder"
    else:
        why = exc.strerror or str(exc)
    fix = (f"Fix: set {DATA_ENV} to a writable folder (e.g. `export {DATA_ENV}=$HOME/aelab-data`) "
           "or pass root= a writable folder.")
    if exc.errno == errno.ENOSPC:
        fix = f"Fix: free about 60 MB of disk space, or set {DATA_ENV} to a folder on another disk."
    return DataError(f"cannot write the dataset files into {folder}: {why}. {fix}")


def _require_writable(folder: Path) -> None:
    """Create ``folder``; DataError naming the fix if it cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(folder, exc) from exc
    if not os.access(folder, os.W_OK):
        raise _unwritable(folder, PermissionError(errno.EACCES, os.strerror(errno.EACCES)))


# --- bounded, stoppable downloads -----------------------------------------------------------

class _Abandoned(Exception):
    """A transfer given up between two chunks: too slow, past the deadline, or stopped."""


def _stream(url: str, out_path: Path, *, deadline_at: float, stop: threading.Event) -> str:
    """Copy ``url`` into ``out_path`` chunk by chunk, checking the limits between chunks; its MD5.

    ``read1`` returns what one socket read gives, so a mirror that trickles a byte at a time
    still hands control back to this loop after each byte.

    Raises
    ------
    _Abandoned
        If ``stop`` is set, the deadline passed, or fewer than ``DOWNLOAD_MIN_RATE`` bytes per
        second arrived over a ``DOWNLOAD_RATE_WINDOW``-second window.
    OSError
        On a network error (a socket timeout included).
    """
    timeout = max(0.05, min(DOWNLOAD_READ_TIMEOUT, deadline_at - time.monotonic()))
    md5 = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=timeout) as response, open(out_path, "wb") as out:
        window_start, window_bytes = time.monotonic(), 0
        while True:
            if stop.is_set():
                raise _Abandoned("was stopped")
            if time.monotonic() >= deadline_at:
                raise _Abandoned(f"did not finish within {DOWNLOAD_DEADLINE:g} s (a mirror that stalls?)")
            chunk = response.read1(_CHUNK)
            if not chunk:
                return md5.hexdigest()
            out.write(chunk)
            md5.update(chunk)
            window_bytes += len(chunk)
            elapsed = time.monotonic() - window_start
            if elapsed >= DOWNLOAD_RATE_WINDOW:
                if window_bytes < DOWNLOAD_MIN_RATE * elapsed:
                    raise _Abandoned(f"was too slow ({window_bytes} bytes in {elapsed:.3g} s, below the minimum "
                                     f"of {DOWNLOAD_MIN_RATE:g} bytes/s: a mirror that trickles?)")
                window_start, window_bytes = time.monotonic(), 0


class _BadGzip(ValueError):
    """A ``.gz`` file could not be opened or decompressed, or gave another size than expected.

    ``str(exc)`` says what happened without the file's name (``"could not be opened (…)"``,
    ``"decompresses to 12 bytes, expected 16"``); callers name the file and the fix.
    """


def _gunzip_exact(src: Path, dst: str | Path, size: int, stop: threading.Event | None = None) -> None:
    """Decompress ``src`` into ``dst`` in 1 MiB chunks, reading no further than one chunk past ``size`` bytes.

    Used for torchvision's downloads (:func:`_fetch_all`) and Debian's Fashion-MNIST files
    (:mod:`aelab.data.fashion_mnist`): a ``.gz`` that decompresses to more than its IDX file is
    refused without being expanded to the end.

    Raises
    ------
    _BadGzip
        If ``src`` cannot be opened or read (a missing, truncated or corrupted file) or does not
        give exactly ``size`` bytes.
    _Abandoned
        If ``stop`` is set between two chunks.
    OSError
        Writing ``dst`` failed (left to the caller: an unwritable data root is not a bad file).
    """
    try:
        inp = gzip.open(src, "rb")
    except OSError as exc:
        raise _BadGzip(f"could not be opened ({exc})") from exc
    written = 0
    with inp, open(dst, "wb") as out:
        while written <= size:
            if stop is not None and stop.is_set():
                raise _Abandoned("was stopped")
            try:
                chunk = inp.read(1 << 20)
            except (OSError, EOFError, zlib.error) as exc:  # zlib.error: corrupted deflate data
                raise _BadGzip(f"could not be decompressed ({exc})") from exc
            if not chunk:
                break
            out.write(chunk)
            written += len(chunk)
    if written != size:
        amount = f"more than {size}" if written > size else str(written)
        raise _BadGzip(f"decompresses to {amount} bytes, expected {size}")


def _fetch_all(cls, staging: Path, deadline_at: float, stop: threading.Event) -> None:
    """Every raw file of torchvision dataset ``cls`` into ``staging``, each from the first mirror that works.

    ``cls.resources`` lists ``(file.gz, md5)``; ``cls.mirrors`` the base URLs (torchvision's own
    tables, so the files are the ones torchvision would fetch and check).
    """
    for gz_name, md5 in cls.resources:
        raw_name = gz_name.removesuffix(".gz")
        last: BaseException | None = None
        for mirror in cls.mirrors:
            try:
                got = _stream(f"{mirror}{gz_name}", staging / gz_name, deadline_at=deadline_at, stop=stop)
                if md5 and got != md5:
                    raise ValueError(f"{gz_name} from {mirror} has MD5 {got}, expected {md5}")
                _gunzip_exact(staging / gz_name, staging / raw_name, _RAW_FILES[raw_name], stop)
                break
            except _Abandoned:
                raise
            except _BadGzip as exc:  # the next mirror may do better
                last = ValueError(f"{gz_name} from {mirror} {exc}")
            except (OSError, ValueError, EOFError, zlib.error) as exc:  # the next mirror may do better
                last = exc
        else:
            raise last if last is not None else ValueError(f"{cls.__name__} has no mirrors")


def _download(cls, root: Path) -> None:
    """Download all four raw files of torchvision dataset ``cls`` into ``root/<cls>/raw``, bounded.

    A worker thread fetches into a private temporary folder with :func:`_stream` (limits checked
    between chunks, so the worker ends by itself once the download is given up); the files are
    moved into the data root only if the whole download finished within
    :data:`DOWNLOAD_DEADLINE` seconds, so an abandoned download never leaves a partial file there.

    Raises
    ------
    DataError
        If the data root cannot be written (names the fix).
    _DownloadFailed
        If the download failed, stalled, trickled or did not finish in time; the mirrors' hosts
        are then remembered as unreachable for the rest of the process.
    """
    name = cls.__name__
    raw = root / name / "raw"
    _require_writable(raw)
    lock = threading.Lock()
    done, stop = threading.Event(), threading.Event()
    state: dict = {"installed": False, "error": None}
    deadline_at = time.monotonic() + DOWNLOAD_DEADLINE

    def work() -> None:
        try:
            with tempfile.TemporaryDirectory(prefix=f"aelab-{name}-") as staging:
                _fetch_all(cls, Path(staging), deadline_at, stop)
                with lock:
                    if stop.is_set():
                        return
                    for file in _RAW_FILES:
                        try:
                            atomic_write(raw / file, functools.partial(shutil.copyfile, Path(staging) / file))
                        except OSError as exc:
                            raise _unwritable(raw, exc) from exc
                    state["installed"] = True
        except BaseException as exc:  # reported by the waiting thread
            state["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=work, name=f"aelab-download-{name}", daemon=True)
    worker.start()
    try:
        # the worker checks the deadline itself; the extra second covers a name lookup that hangs
        done.wait(DOWNLOAD_DEADLINE + 1.0)
    finally:  # also on Ctrl-C: the worker stops at its next chunk and writes nothing
        with lock:
            if not state["installed"]:
                stop.set()
    if state["installed"]:
        return
    error = state["error"]
    if isinstance(error, DataError):
        raise error
    _unreachable.update(_host_port(m) for m in cls.mirrors)
    if error is None or (isinstance(error, _Abandoned) and str(error) == "was stopped"):
        what = f"did not finish within {DOWNLOAD_DEADLINE:g} s (a mirror that stalls?)"
    elif isinstance(error, _Abandoned):
        what = str(error)
    elif isinstance(error, OSError) and time.monotonic() >= deadline_at - 0.05:
        what = f"did not finish within {DOWNLOAD_DEADLINE:g} s (a mirror that stalls?)"
    else:
        what = f"failed ({type(error).__name__}: {' '.join(str(error).split())[:300]})"
    raise _DownloadFailed(f"downloading {name} from {', '.join(cls.mirrors)} {what}; "
                          "it is not tried again in this Python process.")
