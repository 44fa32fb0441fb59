"""The package's own answers to lab exercises, forbidden while the student's function runs (private).

docs/architecture.md, "Lab checks": "where the package has the function a lab asks for, the check
forbids the package's version while the student's function runs" (and the lab says so). Lab 01
forbids :func:`aelab.metrics.principal_angles`; lab 02 forbids :func:`aelab.metrics.precision_at_k`,
``cosine_neighbors``, ``retrieval_precision``, ``decoded_line``, ``nearest_distance`` and
``path_distances``, and their old names in :mod:`aelab.baselines`.

Two ways in, two guards:

- ``metrics.nearest_distance(...)`` or ``aelab.baselines.nearest_distance(...)`` looks the function up
  when it runs: :func:`package_targets` lists the attributes that
  :func:`aelab.checks._machinery._forbidden` replaces by a function that raises;
- ``from aelab.metrics import nearest_distance as nd`` binds the original function before the patch:
  :func:`imported_shortcut` finds it among the names the student's function reads (its globals,
  nested functions and closure cells) by identity.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import CodeType, ModuleType

from ._machinery import Exercise, _fail

__all__: list[str] = []

#: The package modules whose functions a lab may forbid by default (``aelab.baselines`` re-exports
#: ``aelab.metrics``); lab 05 passes ``modules=("pretrain",)``.
_MODULES = ("metrics", "baselines")


def _modules(labels: tuple[str, ...] = _MODULES) -> list[tuple[str, ModuleType]]:
    return [(label, importlib.import_module(f"aelab.{label}")) for label in labels]


def package_targets(names: tuple[str, ...], modules: tuple[str, ...] = _MODULES) -> list[tuple[ModuleType, str, str]]:
    """``(module, name, "aelab.<module>.<name>")`` for each of ``names`` that the package ``modules``
    (default ``aelab.metrics`` and ``aelab.baselines``) have: the targets of
    :func:`aelab.checks._machinery._forbidden`."""
    return [(module, name, f"aelab.{label}.{name}") for label, module in _modules(modules) for name in names
            if callable(getattr(module, name, None))]


def _code_names(code: CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _code_names(const)
    return names


def _filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def imported_shortcut(ex: Exercise, fn: Callable, names: tuple[str, ...], reason: str,
                      modules: tuple[str, ...] = _MODULES) -> None:
    """Fail when ``fn`` reads one of the package's functions ``names`` under any global or closure name.

    Parameters
    ----------
    ex : Exercise
        The exercise, for the message.
    fn : callable
        The student's function (a plain function; anything else is not inspected).
    names : tuple of str
        The package functions the exercise forbids, e.g. ``("nearest_distance",)``.
    reason : str
        What to do instead, appended to the message.
    modules : tuple of str
        The package modules that hold ``names`` (default ``("metrics", "baselines")``).

    Raises
    ------
    CheckFailed
        If a global name ``fn`` (or a function nested in it) reads, or one of its closure cells, is
        the package's function itself (e.g. after ``from aelab.metrics import nearest_distance as nd``).
    """
    originals = {}
    for label, module in _modules(modules):
        for name in names:
            obj = getattr(module, name, None)
            if callable(obj):
                originals.setdefault(id(obj), f"aelab.{label}.{name}")
    code = getattr(fn, "__code__", None)
    if code is None or not originals:
        return
    scope = getattr(fn, "__globals__", {})
    seen = [scope.get(n) for n in sorted(_code_names(code))]  # sorted: the same message every run
    seen += [c.cell_contents for c in (getattr(fn, "__closure__", None) or ()) if _filled(c)]
    for obj in seen:
        if id(obj) in originals:
            raise _fail(ex, f"this exercise asks you to write it yourself, but your function calls "
                            f"{originals[id(obj)]}. {reason}")
