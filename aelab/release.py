"""``aelab release``: generate the student labs in ``labs/`` from ``solutions/``.

``solutions/NN_topic_lab.ipynb`` is the single source. Its exercise cells carry nbgrader's own
cell metadata (``schema_version`` 3, a unique ``grade_id``, ``solution: true``; check cells
``grade: true``, ``locked: true``, ``points``) and put the answer between ``### BEGIN SOLUTION``
and ``### END SOLUTION``; hidden tests sit between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``. The lab is made by nbgrader's preprocessors — ``ClearSolutions``
(answers become ``raise NotImplementedError()``), ``ClearHiddenTests`` and ``ClearOutput`` — the
same ones ``nbgrader generate_assignment`` uses, so ``nbgrader`` works on ``solutions/`` as is.

Before anything is written every solution notebook is validated: unclosed, stray or nested
markers, a solution region in a cell without ``solution: true``, a hidden-test region in a
cell without ``grade: true``, a missing/duplicate/ill-formed ``grade_id``, a grade cell
without ``points`` or a wrong ``schema_version`` stop the release with one error listing every
problem by notebook and cell; nothing is written then. Files are written atomically
(temporary file + rename) and only when their bytes change, so a re-run is byte-identical.

``aelab release --check`` writes nothing and exits 1 naming each lab that is missing, differs
from what its solution generates, or has no solution left — and each solution that was saved
with outputs (``aelab release`` clears those in place: the source is committed without them).
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

SOLUTIONS_DIR = "solutions"
LABS_DIR = "labs"

#: nbgrader's default delimiters (a line *containing* one of them is a marker, as in nbgrader).
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TEST_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

_GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")  # what nbgrader's CheckCellMetadata accepts


class ReleaseError(ValueError):
    """The solutions cannot be released; ``problems`` lists each one by notebook and cell."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("cannot release the labs; nothing was written:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Planned:
    """One file ``aelab release`` would write: its path relative to the root and its bytes."""

    path: str
    data: bytes
    why: str  # "lab" or "solution without outputs"


def _cell_where(nb_name: str, index: int, cell) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    first = next((ln.strip() for ln in cell.get("source", "").splitlines() if ln.strip()), "")
    bits = [f"grade_id {meta['grade_id']!r}"] if isinstance(meta, dict) and meta.get("grade_id") else []
    if first:
        bits.append(f"starts {first[:50]!r}")
    return f"{nb_name}, cell {index + 1}" + (f" ({', '.join(bits)})" if bits else "")


def _check_markers(source: str, markers: tuple[str, str], what: str, where: str) -> tuple[list[str], bool]:
    """Problems with one kind of marker region in a cell's source, and whether it has a region."""
    begin, end = markers
    problems: list[str] = []
    opened: tuple[int, str] | None = None  # line number and text of the open BEGIN
    found = False
    for no, line in enumerate(source.split("\n"), start=1):
        text = line.strip()
        if begin in line:
            found = True
            if opened is not None:
                problems.append(f"{where}: nested '{text}' at line {no} (the '{opened[1]}' at line {opened[0]} "
                                "is not closed yet)")
            else:
                opened = (no, text)
        elif end in line:
            if opened is None:
                problems.append(f"{where}: '{text}' at line {no} has no '{begin}' before it")
            opened = None
    if opened is not None:
        problems.append(f"{where}: '{opened[1]}' at line {opened[0]} is never closed by an '{end}' line")
    return problems, found


def validate(nb, nb_name: str) -> list[str]:
    """All problems that would make nbgrader's preprocessors fail or produce a wrong lab.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A version-4 notebook.
    nb_name : str
        How to name the notebook in messages, e.g. ``"solutions/01_pca_linear_autoencoder_lab.ipynb"``.

    Returns
    -------
    list of str
        One message per problem, each naming the notebook and the cell (1-based index, its
        ``grade_id`` and first line). Empty when the notebook can be released.
    """
    problems: list[str] = []
    seen: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        where = _cell_where(nb_name, i, cell)
        source = cell.get("source", "")
        meta = cell.get("metadata", {}).get("nbgrader")
        sol_problems, has_solution = _check_markers(source, SOLUTION_MARKERS, "solution", where)
        test_problems, has_tests = _check_markers(source, HIDDEN_TEST_MARKERS, "hidden tests", where)
        problems += sol_problems + test_problems
        if has_solution and has_tests:
            problems.append(f"{where}: has both a solution region and a hidden-test region; put the hidden tests in "
                            "the check cell that follows the exercise")
        is_solution = isinstance(meta, dict) and bool(meta.get("solution"))
        is_grade = isinstance(meta, dict) and bool(meta.get("grade"))
        if has_solution and not is_solution:
            problems.append(f"{where}: has a '### BEGIN SOLUTION' region but its nbgrader metadata lacks "
                            "`solution: true` (make it an exercise cell: in JupyterLab's nbgrader 'Create Assignment' panel choose 'Autograded answer')")
        if has_tests and not is_grade:
            problems.append(f"{where}: has a '### BEGIN HIDDEN TESTS' region but its nbgrader metadata lacks "
                            "`grade: true` (make it a check cell: in JupyterLab's nbgrader 'Create Assignment' panel choose 'Autograder tests')")
        if meta is None:
            continue
        if not isinstance(meta, dict):
            problems.append(f"{where}: its `nbgrader` metadata must be a dict, got {type(meta).__name__}")
            continue
        if not (is_solution or is_grade or meta.get("task") or meta.get("locked")):
            continue  # an inert nbgrader entry (all false): nbgrader ignores it too
        if meta.get("schema_version") != 3:
            problems.append(f"{where}: nbgrader `schema_version` must be 3, got {meta.get('schema_version')!r}")
        grade_id = meta.get("grade_id")
        if not isinstance(grade_id, str) or not grade_id:
            problems.append(f"{where}: nbgrader cell without a `grade_id`")
        elif not _GRADE_ID.match(grade_id):
            problems.append(f"{where}: grade_id {grade_id!r} may only hold letters, digits, '_' and '-'")
        elif grade_id in seen:
            problems.append(f"{where}: duplicate grade_id {grade_id!r} (cell {seen[grade_id] + 1} has it too); "
                            "every nbgrader cell needs its own")
        else:
            seen[grade_id] = i
        if is_grade:
            points = meta.get("points")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
                problems.append(f"{where}: a grade cell needs `points` (a number >= 0), got {points!r}")
    return problems


def make_lab(solution, nb_name: str = "notebook"):
    """The student version of a solution notebook, made by nbgrader's own preprocessors.

    Parameters
    ----------
    solution : nbformat.NotebookNode
        A validated solution notebook (it is not modified).
    nb_name : str
        The solution's path relative to the course root, stored in the lab's metadata.

    Returns
    -------
    nbformat.NotebookNode
        Solutions replaced by ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (ClearSolutions),
        hidden tests removed (ClearHiddenTests), outputs and execution counts cleared (ClearOutput).
    """
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    nb = copy.deepcopy(solution)
    resources: dict = {}
    for pre in (ClearSolutions(), ClearHiddenTests(), ClearOutput()):
        nb, resources = pre.preprocess(nb, resources)
    nb.metadata["aelab"] = {"generated_from": nb_name,
                            "note": "Generated by `aelab release`. Edit the solution notebook, not this file."}
    return nb


def clear_outputs(nb):
    """A copy of ``nb`` without outputs and execution counts (nbgrader's ClearOutput)."""
    from nbgrader.preprocessors import ClearOutput

    nb, _ = ClearOutput().preprocess(copy.deepcopy(nb), {})
    return nb


def render(nb) -> bytes:
    """The notebook's file bytes exactly as JupyterLab saves them (sorted keys, indent 1, final newline)."""
    import nbformat

    text = nbformat.writes(nb, version=4)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def _read(path: Path, name: str):
    import nbformat

    try:
        return nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception as exc:  # JSON or schema errors
        raise ReleaseError([f"{name}: cannot be read as a notebook ({type(exc).__name__}: {exc})"]) from None


def plan(root: str | Path = ".") -> tuple[list[Planned], list[str]]:
    """What ``aelab release`` writes: every lab (and solution needing its outputs cleared), and stale labs.

    Returns
    -------
    planned : list of Planned
        One entry per lab ``labs/<name>`` generated from ``solutions/<name>``, plus one per
        solution notebook that was saved with outputs or execution counts.
    stale : list of str
        Notebooks in ``labs/`` (relative paths) that have no solution any more.

    Raises
    ------
    ReleaseError
        If ``solutions/`` is missing or empty, or any solution notebook is invalid (all
        problems of all notebooks in one message).
    """
    root = Path(root)
    sol_dir, lab_dir = root / SOLUTIONS_DIR, root / LABS_DIR
    sources = sorted(p for p in sol_dir.glob("*.ipynb")) if sol_dir.is_dir() else []
    if not sources:
        raise ReleaseError([f"no solution notebooks (*.ipynb) in {sol_dir}"])
    planned: list[Planned] = []
    problems: list[str] = []
    for path in sources:
        name = f"{SOLUTIONS_DIR}/{path.name}"
        try:
            nb = _read(path, name)
        except ReleaseError as exc:
            problems += exc.problems
            continue
        found = validate(nb, name)
        if found:
            problems += found
            continue
        planned.append(Planned(f"{LABS_DIR}/{path.name}", render(make_lab(nb, name)), "lab"))
        clean = render(clear_outputs(nb))
        if any(c.get("outputs") or c.get("execution_count") is not None for c in nb.cells if c.cell_type == "code"):
            planned.append(Planned(name, clean, "solution without outputs"))
    if problems:
        raise ReleaseError(problems)
    names = {p.name for p in sources}
    stale = sorted(f"{LABS_DIR}/{p.name}" for p in lab_dir.glob("*.ipynb") if p.name not in names) if lab_dir.is_dir() else []
    return planned, stale


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file ordinary permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def release(root: str | Path = ".", *, check: bool = False, out: TextIO | None = None,
            err: TextIO | None = None) -> int:
    """Generate ``labs/`` from ``solutions/`` (or, with ``check``, verify that it is up to date).

    Parameters
    ----------
    root : path
        The course root holding ``solutions/`` and ``labs/``.
    check : bool
        Write nothing; report every out-of-date file.
    out, err : text streams
        Where progress and problems are printed (default stdout/stderr).

    Returns
    -------
    int
        Exit status: 0 done / in sync; 1 out of sync (``check``); 2 invalid solutions (nothing
        was written).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    root = Path(root)
    try:
        planned, stale = plan(root)
    except ReleaseError as exc:
        print(f"aelab release: {exc}", file=err)
        return 2
    changed = [p for p in planned if not (root / p.path).is_file() or (root / p.path).read_bytes() != p.data]
    if check:
        for p in changed:
            if p.why == "lab":
                state = "is missing" if not (root / p.path).is_file() else "is out of sync with"
                source = f"{SOLUTIONS_DIR}/{Path(p.path).name}"
                print(f"aelab release --check: {p.path} {state} {source}; run `aelab release`", file=err)
            else:
                print(f"aelab release --check: {p.path} was saved with outputs or execution counts; "
                      "run `aelab release` to clear them", file=err)
        for s in stale:
            print(f"aelab release --check: {s} has no solution in {SOLUTIONS_DIR}/; run `aelab release` to remove it",
                  file=err)
        if changed or stale:
            return 1
        n = sum(p.why == "lab" for p in planned)
        print(f"labs in sync with solutions ({n} notebook{'s' * (n != 1)})", file=out)
        return 0
    for p in changed:
        _atomic_write(root / p.path, p.data)
        print(f"wrote {p.path}" + (" (outputs cleared)" if p.why != "lab" else ""), file=out)
    for s in stale:
        (root / s).unlink()
        print(f"removed {s} (no solution for it any more)", file=out)
    if not changed and not stale:
        print(f"labs up to date ({sum(p.why == 'lab' for p in planned)} notebooks)", file=out)
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    return release(args.root, check=args.check)


def add_release_parser(sub) -> argparse.ArgumentParser:
    """Add ``release [--check] [--root ROOT]`` to the ``aelab`` command's subparsers."""
    r = sub.add_parser("release", help="generate labs/ from solutions/ with nbgrader's preprocessors",
                       description="Generate the student labs in ROOT/labs from ROOT/solutions (nbgrader's "
                                   "ClearSolutions, ClearHiddenTests, ClearOutput). Exit 2 on invalid solutions.")
    r.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 naming each lab that is not what its solution generates")
    r.add_argument("--root", default=".", help="course root holding solutions/ and labs/ (default: .)")
    r.set_defaults(func=_cmd_release)
    return r
