"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70,000 clothing images in 10 classes.

Lecture 02 (a second dataset for the deep autoencoder) and lecture 06 (out-of-distribution
images for anomaly detection) load it. Offline, the full set comes from Debian's
``dataset-fashion-mnist`` package, whose gzip files are decompressed into torchvision's raw
folder (Debian recompresses them, so torchvision's MD5 check would reject the ``.gz`` files);
online, torchvision's mirrors are used through the bounded download of :mod:`aelab.data._fetch`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from ..files import atomic_write, clean_stale_temporaries
from ._fetch import (_BadGzip, _download, _DownloadFailed, _gunzip_exact, _require_writable, _unwritable, data_root,
                     is_online)
from ._idx import _RAW_FILES, DataError, _check_raw_files, _check_split, _read_split

__all__ = ["DEBIAN_FASHION_DIR", "FASHION_CLASSES", "load_fashion_mnist", "unpack_debian_fashion_mnist"]

#: Where Debian's ``dataset-fashion-mnist`` package installs the four ``.gz`` files.
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
#: Class names, by label.
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


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
    try:
        _gunzip_exact(src, tmp, size)
    except _BadGzip as exc:
        raise DataError(f"{src} {exc}. Fix: `sudo apt-get install --reinstall dataset-fashion-mnist`.") from exc


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

