"""Test helpers: the solution notebooks as data, and the check package's frames in a traceback.

Everything here is discovered from ``solutions/*_lab.ipynb`` (a new lab needs no edit of the
tests): the exercises' reference answers are the solution cells themselves, found by their
nbgrader ``grade_id``, executed in a namespace prepared by the import statements of the
notebook's first code cell (the rest of that cell loads data and is not needed); the checks a
lab calls are read from its check cells (``aelab.checks.<name>(fn, ...)``).
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR = ROOT / "solutions"
LABS_DIR = ROOT / "labs"

#: ``solutions/NN_topic_lab.ipynb``, in lab order.
SOLUTIONS: list[Path] = sorted(SOLUTIONS_DIR.glob("*_lab.ipynb"))

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CHECK_CODE = re.compile(r"aelab[/\\]checks[/\\]")


def lab_number(path: Path) -> str:
    """The two-digit lab number of ``NN_topic_lab.ipynb`` (ValueError for another name)."""
    match = re.fullmatch(r"(\d\d)_\w+_lab\.ipynb", path.name)
    if not match:
        raise ValueError(f"{path.name}: a lab notebook is named NN_topic_lab.ipynb")
    return match.group(1)


@functools.cache
def read(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path`` (nbformat 4), read once per test session; do not modify it."""
    return nbformat.read(path, as_version=4)


def nbgrader(cell) -> dict:
    """A cell's nbgrader metadata (empty for an ordinary cell)."""
    return cell.metadata.get("nbgrader", {})


def _imports(path: Path) -> dict[str, Any]:
    """A namespace holding what the import statements of the notebook's first code cell bind."""
    first = next(c for c in read(path).cells if c.cell_type == "code")
    tree = ast.parse(first.source)
    imports = ast.Module([node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))], [])
    namespace: dict[str, Any] = {"__name__": f"solution_{lab_number(path)}"}
    exec(compile(imports, f"{path.name}, first cell", "exec"), namespace)
    return namespace


def _exec_cell(path: Path, cell, namespace: dict[str, Any]) -> None:
    exec(compile(cell.source, f"{path.name}, cell {nbgrader(cell)['grade_id']!r}", "exec"), namespace)


def _defined(cell) -> list[str]:
    """Names of the functions a cell defines at its top level."""
    return [node.name for node in ast.parse(cell.source).body if isinstance(node, ast.FunctionDef)]


@functools.cache
def _solution_cell(grade_id: str) -> tuple[Path, Any]:
    found = [(path, cell) for path in SOLUTIONS for cell in read(path).cells
             if nbgrader(cell).get("solution") and nbgrader(cell).get("grade_id") == grade_id]
    if len(found) != 1:
        where = [p.name for p, _ in found] or "no notebook in solutions/"
        raise LookupError(f"expected one solution cell with grade_id {grade_id!r}, found it in {where}")
    return found[0]


def solution(grade_id: str, *names: str):
    """The reference function(s) defined by the solution cell with nbgrader ``grade_id``.

    Parameters
    ----------
    grade_id : str
        The cell's ``metadata.nbgrader.grade_id``; it must be unique among the solution cells
        of ``solutions/``.
    *names : str
        The functions to return; by default the one named like ``grade_id``.

    Returns
    -------
    callable or tuple of callable
        One function when one name is asked for (or none), else a tuple in the order asked.

    Raises
    ------
    LookupError
        If no (or more than one) solution cell has ``grade_id``, or it does not define a name.
    """
    path, cell = _solution_cell(grade_id)
    names = names or (grade_id,)
    missing = [n for n in names if n not in _defined(cell)]
    if missing:
        raise LookupError(f"{path.name}, cell {grade_id!r} defines {_defined(cell)}, not {missing}")
    namespace = _imports(path)
    _exec_cell(path, cell, namespace)
    found = tuple(namespace[n] for n in names)
    return found[0] if len(found) == 1 else found


@dataclass(frozen=True)
class CheckCall:
    """One check cell of a solution notebook: which check it calls with which of the lab's functions."""

    notebook: Path
    grade_id: str   # of the check cell
    check: str      # aelab.checks.<check>
    args: tuple[str, ...]  # the names passed to it, functions the solution cells define

    @property
    def lab(self) -> str:
        return lab_number(self.notebook)

    def __str__(self) -> str:
        return f"{self.lab}-{self.check}"

    def functions(self) -> tuple:
        """The solution's functions passed to the check: the notebook's imports, then every
        solution cell up to this check cell executed in order, then ``args`` looked up."""
        namespace = _imports(self.notebook)
        for cell in read(self.notebook).cells:
            if nbgrader(cell).get("grade_id") == self.grade_id:
                break
            if nbgrader(cell).get("solution"):
                _exec_cell(self.notebook, cell, namespace)
        return tuple(namespace[name] for name in self.args)


def _checks_called(source: str) -> list[ast.Call]:
    """The ``aelab.checks.<name>(...)`` calls in a cell, in source order."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        f = node.func if isinstance(node, ast.Call) else None
        if (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Attribute) and f.value.attr == "checks"
                and isinstance(f.value.value, ast.Name) and f.value.value.id == "aelab"):
            calls.append(node)
    return sorted(calls, key=lambda c: (c.lineno, c.col_offset))


def check_calls(path: Path) -> list[CheckCall]:
    """The check cells of a solution notebook (nbgrader ``grade: true``), in notebook order.

    Each must call ``aelab.checks.<name>(fn, ...)`` with plain names; the hidden tests may call
    it again with another seed. A check cell calling none, or two different checks, is an error.
    """
    found = []
    for cell in read(path).cells:
        meta = nbgrader(cell)
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        calls = _checks_called(cell.source)
        names = {c.func.attr for c in calls}
        if len(names) != 1:
            raise ValueError(f"{path.name}, check cell {meta.get('grade_id')!r} calls {sorted(names) or 'no check'}; "
                             "it must call exactly one aelab.checks function")
        first = calls[0]
        if not all(isinstance(a, ast.Name) for a in first.args):
            raise ValueError(f"{path.name}, check cell {meta['grade_id']!r}: pass the functions by name")
        found.append(CheckCall(path, meta["grade_id"], first.func.attr, tuple(a.id for a in first.args)))
    return found


def all_check_calls() -> list[CheckCall]:
    """Every check cell of every notebook in ``solutions/``."""
    return [call for path in SOLUTIONS for call in check_calls(path)]


def check_code_frames(traceback_lines: list[str]) -> list[str]:
    """The lines of a shown traceback that point into the ``aelab/checks/`` package's files.

    Works for ``traceback.format_list`` lines (``File "…/aelab/checks/lab01.py", line 3``) and for
    IPython's coloured ones (``File …/aelab/checks/_machinery.py:128, in call``) alike.
    """
    lines = [_ANSI.sub("", chunk) for entry in traceback_lines for chunk in entry.split("\n")]
    return [line for line in lines if "File" in line and _CHECK_CODE.search(line)]
