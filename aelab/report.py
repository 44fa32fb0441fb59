"""The build report: ``claim`` and ``record``, and the JSON-lines file they write.

Lecture 01 (``lectures/01_pca_linear_autoencoder.ipynb``) introduces ``aelab.claim`` (its first
cell says every quantitative sentence is checked when it runs); every lecture uses both.

A notebook backs each sentence of its prose with :func:`claim` and puts key numbers into the
report with :func:`record`. The report is a JSON-lines file named by the environment variable
``AELAB_REPORT_FILE`` (``aelab build`` sets it in each notebook's kernel); :func:`read_report`
reads it back. Outside a build the entries are only kept in memory, in :data:`CLAIMS` and
:data:`RECORDS`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import _validation as check
from .runtime import is_quick

__all__ = ["REPORT_ENV", "CLAIMS", "RECORDS", "ClaimError", "claim", "record", "read_report"]

REPORT_ENV = "AELAB_REPORT_FILE"

#: Claims made in this process, in order: dicts with ``text``, ``status`` and ``detail``.
CLAIMS: list[dict[str, Any]] = []
#: Numbers recorded in this process, in order: dicts with ``name``, ``value``, ``paper``, ...
RECORDS: list[dict[str, Any]] = []


class ClaimError(AssertionError):
    """A claim a notebook makes in its prose does not hold for the numbers it computed."""


def _write_entry(entry: dict[str, Any]) -> None:
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as fh:  # one short line per append
        fh.write(json.dumps(entry) + "\n")


def read_report(path: str | Path) -> tuple[list[dict], list[dict]]:
    """Read a report file: ``(claims, records)`` in the order they were written.

    A missing file gives two empty lists; a line that is not JSON (a kernel killed mid-write)
    is skipped.
    """
    claims: list[dict] = []
    records: list[dict] = []
    path = Path(path)
    if not path.exists():
        return claims, records
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        (claims if entry.get("kind") == "claim" else records).append(entry)
    return claims, records


def _truth(condition) -> bool:
    """``condition`` as a bool: Python and NumPy bools, numbers, and one-element arrays or tensors."""
    if condition is None:
        raise TypeError("claim: condition is None (a function that returns nothing?); give the comparison itself")
    size = condition.numel() if isinstance(condition, torch.Tensor) else getattr(condition, "size", 1)
    if isinstance(condition, (torch.Tensor, np.ndarray)) and size != 1:
        raise TypeError(f"claim: condition must be one truth value, got an array of shape {tuple(condition.shape)}; "
                        f"use .all() or .any() to say which")
    return bool(condition)


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
    TypeError
        If ``condition`` is not a truth value (``None``, a tensor or array of several values: use
        ``.all()`` or ``.any()``), ``text`` is not a non-empty string, ``needs_full`` not a bool or
        ``detail`` not a string.
    """
    held = _truth(condition)
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"claim: text must be the sentence the claim backs (a non-empty str), got {text!r}")
    needs_full = check.flag(needs_full, "claim: needs_full")
    if not isinstance(detail, str):
        raise TypeError(f"claim: detail must be a string (the numbers behind the claim), got {type(detail).__name__}")
    if held:
        status = "held"
    elif needs_full and is_quick():
        status = "skipped"
    else:
        status = "failed"
    entry = {"kind": "claim", "text": text, "status": status, "detail": detail, "needs_full": needs_full}
    CLAIMS.append(entry)
    _write_entry(entry)
    mark = {"held": "✔", "skipped": "↷", "failed": "✘"}[status]
    suffix = f" ({detail})" if detail else ""
    if status == "skipped":
        suffix += " — skipped in quick mode: needs full training"
    print(f"{mark} claim: {text}{suffix}")
    if status == "failed":
        raise ClaimError(f"claim does not hold: {text}{' (' + detail + ')' if detail else ''}")
    return held


def record(name: str, value: float, *, paper: float | None = None, unit: str = "", note: str = "",
           source: str = "", bound: bool = False) -> float:
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
    source : str
        Where ``paper`` comes from (e.g. ``"Hinton & Salakhutdinov, Science 2006, Fig. 2"``), shown
        on the site's Reproductions page (every notebook gives it with ``paper``: a project test checks).
    bound : bool
        True when ``value`` is a *bound* on the quantity its name and unit describe rather than an
        estimate of it: a negative ELBO or an importance-weighted (IWAE) estimate of ``−log p(x)``,
        both upper bounds in expectation. The Reproductions page prints "bound" or "estimate" from it.

    Raises
    ------
    ValueError
        If ``name`` is empty, or ``value`` or ``paper`` is NaN or infinite.
    TypeError
        If ``value`` or ``paper`` is not a number (NumPy scalars and one-element tensors are
        numbers; ``bool`` is not), ``unit``, ``note`` or ``source`` is not a string, or ``bound`` is not a bool.
    """
    if not name or not isinstance(name, str):
        raise ValueError("record() needs a non-empty string name")
    value = check.real(value, f"record({name!r}): value")
    if paper is not None:
        paper = check.real(paper, f"record({name!r}): paper")
    for label, text in (("unit", unit), ("note", note), ("source", source)):
        if not isinstance(text, str):
            raise TypeError(f"record({name!r}): {label} must be a string, got {type(text).__name__}")
    if not isinstance(bound, bool):
        raise TypeError(f"record({name!r}): bound must be True or False, got {type(bound).__name__}")
    entry = {"kind": "record", "name": name, "value": value, "paper": paper, "unit": unit, "note": note,
             "source": source, "bound": bound}
    RECORDS.append(entry)
    _write_entry(entry)
    return value
