"""The notebook runtime: ``setup()``, quick mode, seeding, devices and environment flags.

Lecture 01 (``lectures/01_pca_linear_autoencoder.ipynb``) introduces it: every notebook's first
code cell calls :func:`setup`. After that, notebooks size their work with :func:`sized` (full size
normally, small under ``AELAB_QUICK=1``). :func:`seeded_rng` runs a block (a model's
construction, a training loop) with torch's generators seeded and restores them afterwards; it is
used by :func:`aelab.train.fit` and :func:`aelab.zoo.fit_cached` (lecture 02).

Environment flags (``AELAB_QUICK``, ``AELAB_OFFLINE``, ``AELAB_ZOO``) are all read by
:func:`env_flag`, with one meaning everywhere: ``1/true/yes/on`` is on, ``0/false/no/off`` is
off, unset or empty is the flag's default, and anything else is an :class:`EnvFlagError` that
names the variable and the words it accepts.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import _validation as check

__all__ = ["QUICK_ENV", "OFFLINE_ENV", "ZOO_ENV", "SEED_ENV", "EnvFlagError", "env_flag", "seed_offset", "is_quick", "sized",
           "pick_device", "device_of", "seed_everything", "seeded_rng", "Session", "setup",
           "ALLOCATOR_ENV", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]

QUICK_ENV = "AELAB_QUICK"
OFFLINE_ENV = "AELAB_OFFLINE"
ZOO_ENV = "AELAB_ZOO"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class EnvFlagError(ValueError):
    """An environment flag holds something other than a boolean word."""


#: ``aelab build --seed N`` and ``aelab seeds`` set this for each notebook's kernel (issue 21.19).
SEED_ENV = "AELAB_SEED"


def seed_offset() -> int:
    """The session's seed offset: ``$AELAB_SEED`` as a non-negative int (0 when unset or empty).

    ``aelab build --seed N`` (and ``aelab seeds``, which reruns the course's claims under several
    seeds) sets it for every notebook's kernel. :func:`setup` adds it to the notebook's seed and
    :func:`aelab.train.fit` (hence :func:`aelab.zoo.fit_cached`) to every training seed, so the
    whole course runs on other random numbers — batch orders, initial weights, noise — while a
    notebook's code, which types ``seed=0``, stays as it is. Unset, nothing changes.

    Raises
    ------
    ValueError
        If the variable holds anything but a non-negative integer, naming it.
    """
    raw = os.environ.get(SEED_ENV, "").strip()
    if raw == "":
        return 0
    if not raw.isdigit():
        raise ValueError(f"{SEED_ENV} must be a non-negative integer (e.g. 3), got {raw!r}")
    return int(raw)


def env_flag(name: str, default: bool = False) -> bool:
    """Read the boolean environment variable ``name``.

    Parameters
    ----------
    name : str
        E.g. ``"AELAB_QUICK"``.
    default : bool
        The value when the variable is unset or empty.

    Returns
    -------
    bool
        True for ``1/true/yes/on``, False for ``0/false/no/off`` (any case, surrounding
        spaces ignored).

    Raises
    ------
    EnvFlagError
        (a ``ValueError``) for any other value, naming the variable and the accepted words.
    TypeError
        If ``name`` is not a string or ``default`` not a bool.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"env_flag: name must be the variable's name (a non-empty str), got {name!r}")
    default = check.flag(default, "default")
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise EnvFlagError(f"{name}={os.environ.get(name)!r} is not a boolean: set {name}=1 (on) or {name}=0 (off); "
                       f"accepted: {'/'.join(_TRUE)} or {'/'.join(_FALSE)}")


def is_quick() -> bool:
    """Whether quick mode is on (``AELAB_QUICK``, read by :func:`env_flag`; default off).

    Quick mode shrinks epochs and sample counts so that CI can execute the whole course on
    two CPU cores in minutes. Both modes run the same cells; only sizes change.

    Raises
    ------
    EnvFlagError
        If ``AELAB_QUICK`` holds something other than a boolean word.
    """
    return env_flag(QUICK_ENV, False)


def sized(full, quick):
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Use it for every size a notebook trains or samples with, e.g.
    ``epochs = aelab.sized(full=60, quick=3)``.
    """
    return quick if is_quick() else full


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``device`` if given, else cuda, then mps, then cpu.

    Raises
    ------
    TypeError
        If ``device`` is neither None, a string nor a ``torch.device``.
    ValueError
        If it names no device, or one this machine does not have.
    """
    if device is not None:
        if not isinstance(device, (str, torch.device)):
            raise TypeError(f"device must be None, a string such as 'cpu' or 'cuda', or a torch.device, "
                            f"got {type(device).__name__}")
        try:
            dev = torch.device(device)
        except RuntimeError as exc:
            raise ValueError(f"device {device!r} is not a device name (e.g. 'cpu', 'cuda', 'cuda:1', 'mps'): "
                             f"{exc}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {str(dev)!r} requested but CUDA is not available; use 'cpu'")
        if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"device {str(dev)!r} requested but MPS is not available; use 'cpu'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_of(model: nn.Module) -> torch.device:
    """The device a model's parameters (or, without parameters, its buffers) are on; cpu if it has none."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators with ``seed``.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (NumPy integers are accepted; ``bool`` and ``1.0`` are not).
    ValueError
        If it is negative or not below 2**63.
    """
    seed = check.seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run a block with torch's global generators seeded with ``seed``; restore them afterwards.

    Forks the CPU generator and, where present, every CUDA device's (``torch.random.fork_rng``)
    and the MPS generator, then calls ``torch.manual_seed(seed)``. Whatever the block draws
    (initial weights, dropout, a VAE's sampling noise, corruption noise) is the same for the same
    seed, and the state after the block is the state before it. (Also importable as
    ``aelab.train.seeded_rng``, its former place.)

    Raises
    ------
    TypeError, ValueError
        If ``seed`` is not an integer in [0, 2**63) (see :func:`aelab._validation.seed`).
    """
    seed = check.seed(seed)
    cuda = torch.cuda.is_available()
    mps = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    fork = (torch.random.fork_rng(devices=range(torch.cuda.device_count()), device_type="cuda") if cuda
            else torch.random.fork_rng(devices=[]))
    with fork:
        mps_state = torch.mps.get_rng_state() if mps else None
        try:
            torch.manual_seed(seed)
            yield
        finally:
            if mps_state is not None:
                torch.mps.set_rng_state(mps_state)


@dataclass(frozen=True)
class Session:
    """What :func:`setup` decided: the seed, the device and whether quick mode is on."""

    seed: int
    device: torch.device
    quick: bool

    def __str__(self) -> str:  # shown at the end of a notebook's first cell
        mode = "QUICK (sizes shrunk for CI; claims needing full training are skipped)" if self.quick else "full"
        return f"aelab: seed={self.seed}, device={self.device}, mode={mode}, torch {torch.__version__}"


_STYLE = {
    "figure.dpi": 100,
    "figure.figsize": (6.4, 4.0),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": "gray",
}


#: Set to 1 to leave glibc's allocator as it is (:func:`keep_freed_memory` then does nothing).
ALLOCATOR_ENV = "AELAB_DEFAULT_MALLOC"
#: glibc ``M_MMAP_THRESHOLD`` after :func:`keep_freed_memory`: blocks below 32 MiB come from the heap.
MMAP_THRESHOLD = 32 << 20
#: glibc ``M_TRIM_THRESHOLD`` after :func:`keep_freed_memory`: up to 256 MiB of freed heap stays mapped.
TRIM_THRESHOLD = 256 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (<malloc.h>)
_allocator_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Let this process reuse freed tensor memory instead of returning it to the OS each training step.

    On Linux with glibc, sets ``mallopt(M_MMAP_THRESHOLD, 32 MiB)`` and
    ``mallopt(M_TRIM_THRESHOLD, 256 MiB)``. glibc's defaults adapt both to the largest block freed
    so far and then give the top of the heap back to the kernel whenever more than twice that is
    free — after every training step once a step frees tens of MB (a convolutional autoencoder's
    feature maps at batch 512 are ~25 MB each). The next step then page-faults the same memory
    back in, zero-filled by the kernel: issue 26 counted 13,000–27,000 minor page faults per step
    of lecture 04's conv autoencoders at batch 512 (none at batch 128), and that made batch 512
    train 16–22 % *slower* per image than batch 128. With these two settings the faults are gone
    and batch 512 is as fast as 128 or faster (``benchmarks/allocator.py``, ``benchmarks/RESULTS.md``).
    Blocks of 32 MiB and more (datasets, big matrices) are still mapped on their own and given
    back when freed, so the cost is at most 256 MiB of freed memory kept for reuse. (A 64 MiB
    mmap threshold also removed the faults but let 32–64 MiB blocks fragment the heap: lecture 07's
    peak rose from 2,053 to 2,205 MB; with 32 MiB it is 2,017 MB.) 32 MiB is the largest value
    glibc accepts on 64-bit Linux, and above a batch-512 conv map (25.7 MB).

    :func:`setup`, :func:`aelab.train.fit` and :func:`aelab.pretrain.train_rbm` call it; the settings
    last for the process and a second call does nothing. ``AELAB_DEFAULT_MALLOC=1`` (see
    :data:`ALLOCATOR_ENV`) leaves glibc's defaults, as do macOS, Windows and other C libraries.

    Returns
    -------
    bool
        Whether the two settings are in effect.

    Raises
    ------
    EnvFlagError
        If ``AELAB_DEFAULT_MALLOC`` holds something other than a boolean word.
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = False
        if not env_flag(ALLOCATOR_ENV) and sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                mallopt = libc.mallopt
            except (OSError, AttributeError):  # not glibc (musl has no mallopt)
                return False
            mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
            _allocator_tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                                    and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _allocator_tuned


def setup(seed: int = 0, device: str | None = None, *, style: bool = True) -> Session:
    """Prepare a notebook: seed all RNGs, choose the device, set plot defaults, tune the allocator.

    The allocator: :func:`keep_freed_memory` (glibc only; ``AELAB_DEFAULT_MALLOC=1`` skips it).

    Parameters
    ----------
    seed : int
        Seed for Python, NumPy and torch.
    device : str, optional
        Explicit device (``"cpu"``, ``"cuda"``, ...); default picks cuda, then mps, then cpu.
    style : bool
        Apply the course's matplotlib defaults (only if matplotlib is installed).

    Returns
    -------
    Session
        ``seed``, ``device`` and ``quick`` (see :func:`is_quick`).

    Raises
    ------
    TypeError, ValueError
        On a bad seed (see :func:`seed_everything`), device or ``style``; :class:`EnvFlagError` on a
        bad ``AELAB_QUICK`` or ``AELAB_DEFAULT_MALLOC``.
    """
    seed = check.seed(seed) + seed_offset()
    style = check.flag(style, "style")
    seed_everything(seed)
    keep_freed_memory()
    session = Session(seed=seed, device=pick_device(device), quick=is_quick())
    if style:
        try:
            import matplotlib as mpl
        except ImportError:  # models and tests do not need matplotlib
            pass
        else:
            mpl.rcParams.update(_STYLE)
    return session
