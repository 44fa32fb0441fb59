"""The notebook runtime: ``setup()``, quick mode, claims and recorded numbers.

Every notebook's first code cell calls :func:`setup`. After that, notebooks size their work
with :func:`sized` (full size normally, small under ``AELAB_QUICK=1``), back every claim in
their prose with :func:`claim`, and put key numbers into the build report with
:func:`record`.

The build report is a JSON-lines file named by the environment variable
``AELAB_REPORT_FILE`` (``aelab build`` sets it for each notebook it executes). Outside a
build the claims and records are only kept in memory, in :data:`CLAIMS` and :data:`RECORDS`.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

QUICK_ENV = "AELAB_QUICK"
REPORT_ENV = "AELAB_REPORT_FILE"

#: Claims made in this process, in order: dicts with ``text``, ``status`` and ``detail``.
CLAIMS: list[dict[str, Any]] = []
#: Numbers recorded in this process, in order: dicts with ``name``, ``value``, ``paper``, ...
RECORDS: list[dict[str, Any]] = []


class ClaimError(AssertionError):
    """A claim a notebook makes in its prose does not hold for the numbers it computed."""


def is_quick() -> bool:
    """Whether quick mode is on (``AELAB_QUICK`` set to 1/true/yes/on).

    Quick mode shrinks epochs and sample counts so that CI can execute the whole course on
    two CPU cores in minutes. Both modes run the same cells; only sizes change.

    Raises
    ------
    ValueError
        If ``AELAB_QUICK`` holds something other than a recognised boolean word.
    """
    raw = os.environ.get(QUICK_ENV, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{QUICK_ENV} must be 1/0 (or true/false), got {raw!r}")


def sized(full: Any, quick: Any) -> Any:
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Use it for every size a notebook trains or samples with, e.g.
    ``epochs = aelab.sized(full=60, quick=3)``.
    """
    return quick if is_quick() else full


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``device`` if given, else cuda, then mps, then cpu.

    Raises
    ------
    ValueError
        If an explicit device is named that this machine does not have.
    """
    if device is not None:
        dev = torch.device(device)
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


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators with ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class Session:
    """What :func:`setup` decided: the seed, the device and whether quick mode is on."""

    seed: int
    device: torch.device
    quick: bool

    def __str__(self) -> str:  # shown at the end of a notebook's first cell
        mode = "QUICK (sizes shrunk for CI; claims needing full training are skipped)" if self.quick else "full"
        return f"aelab: seed={self.seed}, device={self.device}, mode={mode}, torch {torch.__version__}"


def setup(seed: int = 0, device: str | None = None, *, style: bool = True) -> Session:
    """Prepare a notebook: seed all RNGs, choose the device, set plot defaults.

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
    """
    seed_everything(seed)
    session = Session(seed=seed, device=pick_device(device), quick=is_quick())
    if style:
        try:
            import matplotlib as mpl
        except ImportError:  # models and tests do not need matplotlib
            pass
        else:
            mpl.rcParams.update(
                {
                    "figure.dpi": 100,
                    "figure.figsize": (6.4, 4.0),
                    "axes.grid": True,
                    "grid.alpha": 0.3,
                    "axes.spines.top": False,
                    "axes.spines.right": False,
                    "image.cmap": "gray",
                }
            )
    return session


def _report(entry: dict[str, Any]) -> None:
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:  # one line per entry: appends never half-write a line in practice
        fh.write(json.dumps(entry) + "\n")


def claim(condition: bool, text: str, *, needs_full: bool = False, detail: str = "") -> bool:
    """Back a sentence of a notebook's prose with a check on the computed numbers.

    Parameters
    ----------
    condition : bool
        The computed truth of the claim (e.g. ``ae_error < pca_error``).
    text : str
        The claim as the prose states it, e.g. ``"the deep AE beats PCA-30 on test digits"``.
    needs_full : bool
        The claim only holds after full training. In quick mode such a claim is recorded as
        *skipped* instead of failing; in full mode it is enforced like any other.
    detail : str
        The numbers behind the claim, shown in the report (e.g. ``"9.1 < 14.1"``).

    Returns
    -------
    bool
        ``True`` if the claim held, ``False`` if it was skipped.

    Raises
    ------
    ClaimError
        If the claim is false (and not skippable in quick mode).
    """
    held = bool(condition)
    if held:
        status = "held"
    elif needs_full and is_quick():
        status = "skipped"
    else:
        status = "failed"
    entry = {"kind": "claim", "text": text, "status": status, "detail": detail, "needs_full": needs_full}
    CLAIMS.append(entry)
    _report(entry)
    mark = {"held": "✔", "skipped": "↷", "failed": "✘"}[status]
    suffix = f" ({detail})" if detail else ""
    if status == "skipped":
        suffix += " — skipped in quick mode: needs full training"
    print(f"{mark} claim: {text}{suffix}")
    if status == "failed":
        raise ClaimError(f"claim does not hold: {text}{' (' + detail + ')' if detail else ''}")
    return held


def record(name: str, value: float, *, paper: float | None = None, unit: str = "", note: str = "") -> float:
    """Put a key number into the build report (and return it).

    Parameters
    ----------
    name : str
        Stable identifier, e.g. ``"deep_ae_test_sse"``.
    value : float
        The number this run computed.
    paper : float, optional
        The published value to show beside it (see REFERENCES.md), if a paper gives one.
    unit : str
        Unit of both numbers, e.g. ``"squared error per image"``.
    note : str
        Protocol differences a reader must know (training-set size, binarization, ...).

    Raises
    ------
    ValueError
        If ``name`` is empty or ``value`` is not a finite number.
    """
    if not name or not isinstance(name, str):
        raise ValueError("record() needs a non-empty string name")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"record({name!r}): value must be finite, got {value}")
    entry = {"kind": "record", "name": name, "value": value, "paper": paper, "unit": unit, "note": note}
    RECORDS.append(entry)
    _report(entry)
    return value
