"""``aelab release``: generate the student labs in ``labs/`` from ``solutions/``.

``solutions/NN_topic_lab.ipynb`` is the single source. Its exercise cells carry nbgrader's own
cell metadata (``schema_version`` 3, a unique ``grade_id``, ``solution: true``; check cells
``grade: true``, ``locked: true``, ``points``) and put the answer between ``### BEGIN SOLUTION``
and ``### END SOLUTION``; hidden tests sit between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``. The lab is made by nbgrader's preprocessors — ``ClearSolutions``
(answers become ``raise NotImplementedError()``), ``ClearHiddenTests`` and ``ClearOutput`` — the
same ones ``nbgrader generate_assignment`` uses, so ``nbgrader`` works on ``solutions/`` as is.

Before anything is written every solution notebook is validated: unclosed, stray or nested
markers, a marker in the wrong case or spelling (``### Begin Solution``: nbgrader would leave the
answer in the lab), a code cell with ``solution: true`` but no markers (nbgrader would replace the
whole cell, ``def`` line and docstring included), a solution region in a cell without
``solution: true``, a hidden-test region in a cell without ``grade: true``, a
missing/duplicate/ill-formed ``grade_id``, a grade cell without ``points`` or a wrong
``schema_version`` stop the release with one error listing every problem by notebook and cell;
nothing is written then.

Every generated lab is marked in its metadata, ``"aelab": {"generated_from":
"solutions/<its own name>", "cells_sha256": ...}``. A notebook in ``labs/`` whose solution is
gone is removed only when it carries that mark for its own name and its cells are unchanged, so a
student's ``…-Copy1.ipynb`` (a copy carries the original's mark, under another name), an
instructor's notes or an edited lab are never deleted. Writes are all-or-nothing: every file is
planned and validated first, then written atomically (:mod:`aelab.files`); if one write fails,
the files already replaced are restored and nothing is removed. Files are written only when their
bytes change, so a re-run is byte-identical.

A student's work in ``labs/`` is never lost by regenerating: a lab whose cells differ from what
``aelab release`` last generated (its stored ``cells_sha256``), one without that mark, or one that
is not readable JSON is *protected*. ``aelab release`` then writes nothing and exits 1 naming
each; ``aelab release --force`` replaces them after copying each one to
``labs/backup/<name>-<date-time>.ipynb`` (a sub-folder, so the backup is never taken for a lab).

A marker spelled with invisible or look-alike characters (a zero-width space inside
``BEGIN HIDDEN TESTS``, a no-break space, a Cyrillic ``Е``) is not a marker to nbgrader, which
would then ship the hidden tests or the answer to students: it is refused like a misspelled one.

``aelab release --check`` writes nothing and exits 1 naming each lab that is missing, differs
from what its solution generates, or has no solution left — and each solution that was saved
with outputs (``aelab release`` clears those in place: the source is committed without them).
It never advises a command that would lose work: for a protected lab it says to move it away or
to use ``--force``, which keeps a backup.

``aelab release NOTEBOOK ...`` limits the release (or the check) to the named solutions (a name,
``solutions/<name>`` or ``labs/<name>``); labs of other solutions are then left alone.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..files import atomic_write_bytes

__all__ = ["SOLUTIONS_DIR", "LABS_DIR", "BACKUP_DIR", "SOLUTION_MARKERS", "HIDDEN_TEST_MARKERS", "ReleaseError",
           "Planned", "ReleasePlan", "validate", "make_lab", "cells_digest", "generated_from", "clear_outputs",
           "render", "plan", "release", "add_release_parser"]

SOLUTIONS_DIR = "solutions"
LABS_DIR = "labs"
#: Where ``aelab release --force`` keeps the labs it replaces (under ``labs/``).
BACKUP_DIR = f"{LABS_DIR}/backup"

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
    why: str  # "lab", "solution without outputs" or "backup"


def _cell_where(nb_name: str, index: int, cell) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    first = next((ln.strip() for ln in cell.get("source", "").splitlines() if ln.strip()), "")
    bits = [f"grade_id {meta['grade_id']!r}"] if isinstance(meta, dict) and meta.get("grade_id") else []
    if first:
        bits.append(f"starts {first[:50]!r}")
    return f"{nb_name}, cell {index + 1}" + (f" ({', '.join(bits)})" if bits else "")


def _near_miss(marker: str) -> re.Pattern:
    """A comment line that spells ``marker`` another way: other case, ``_``/``-`` for spaces, singular/plural."""
    words = [re.escape(w.lower()).rstrip("s") + "s?" for w in marker.split()]
    return re.compile(r"^\s*#.*\b" + r"[\s_-]*".join(words) + r"\b", re.IGNORECASE)


_NEAR_MISSES = {m: _near_miss(m) for m in SOLUTION_MARKERS + HIDDEN_TEST_MARKERS}

# Letters that look like the markers' Latin capitals (Cyrillic and Greek), read as those capitals.
_LOOK_ALIKES = str.maketrans("АВЕНІЈКМОРСТХЅԁеіорсхѕΑΒΕΗΙΚΜΝΟΡΤΧΥΖ", "ABEHIJKMOPCTXSdeiopcxsABEHIKMNOPTXYZ")


def _skeleton(line: str) -> str:
    """``line`` as it reads on screen: NFKC-normalized, invisible characters (Unicode categories Cf,
    Mn: zero-width spaces and joiners, soft hyphens, BOMs, combining marks) dropped, look-alike
    Cyrillic/Greek letters read as Latin."""
    text = unicodedata.normalize("NFKC", line)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Mn"))
    return text.translate(_LOOK_ALIKES)


def _odd_characters(line: str) -> str:
    """The characters of ``line`` that are not printable ASCII, as ``U+200B ZERO WIDTH SPACE, ...``."""
    odd = dict.fromkeys(ch for ch in line if not (" " <= ch <= "~") and ch != "\t")
    return ", ".join(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}" for ch in odd)


def _check_markers(source: str, markers: tuple[str, str], what: str, where: str) -> tuple[list[str], bool]:
    """Problems with one kind of marker region in a cell's source, and whether it has a region.

    nbgrader treats a line *containing* the exact, upper-case marker as a marker. A comment
    line spelling it any other way (``### Begin Solution``, ``### end hidden tests``,
    ``### BEGIN_SOLUTION``) is silently kept as code by nbgrader, leaving the answer or the
    hidden tests in the student's lab, so it is reported here.
    """
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
        else:
            skeleton = line if line.isascii() else _skeleton(line)
            for marker in markers:
                if skeleton is not line and (marker in skeleton or _NEAR_MISSES[marker].search(skeleton)):
                    problems.append(f"{where}: line {no} reads like '### {marker}' but holds invisible or look-alike "
                                    f"characters ({_odd_characters(line)}), so nbgrader does not see a marker and "
                                    f"would leave the {what} in the student's lab: retype the line as '### {marker}'")
                elif _NEAR_MISSES[marker].search(line):
                    problems.append(f"{where}: '{text}' at line {no} is not a marker nbgrader recognizes (markers "
                                    f"are case-sensitive): write '### {marker}', or nbgrader leaves the {what} "
                                    "in the student's lab")
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
        if is_solution and cell.get("cell_type") == "code" and not has_solution:
            problems.append(f"{where}: has `solution: true` but no '### BEGIN SOLUTION' / '### END SOLUTION' lines; "
                            "nbgrader would replace the whole cell (its def line and docstring too) with "
                            "`raise NotImplementedError()`: put the markers around the answer, under the docstring")
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
    nb.metadata["aelab"] = {"generated_from": nb_name, "cells_sha256": cells_digest(nb),
                            "note": "Generated by `aelab release`. Edit the solution notebook, not this file."}
    return nb


def cells_digest(nb) -> str:
    """SHA-256 (hex) of a notebook's cell types and sources: what a student's edits would change.

    Outputs, execution counts and metadata are left out, so running or re-saving a lab keeps its
    digest; editing any cell changes it. ``nb`` is a notebook node or the notebook's raw JSON.
    """
    def source(cell) -> str:  # a saved file may hold the source as a list of lines
        text = cell.get("source", "")
        return "".join(text) if isinstance(text, list) else text

    cells = [[c.get("cell_type", ""), source(c)] for c in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def generated_from(path: Path) -> tuple[str | None, bool]:
    """Whether ``labs/<name>`` is a lab ``aelab release`` generated, and whether it is unchanged since.

    Returns
    -------
    source : str or None
        ``"solutions/<name>"`` when the notebook's metadata says it was generated from the
        solution of its *own* name, else ``None`` (a notebook that is not JSON, has no mark, or
        is a copy such as ``<name>-Copy1.ipynb`` whose mark names another file).
    unchanged : bool
        Whether its cells still match the digest stored when it was generated.
    """
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        mark = nb.get("metadata", {}).get("aelab", {})
        source = mark.get("generated_from")
    except (OSError, ValueError, AttributeError):
        return None, False
    if source != f"{SOLUTIONS_DIR}/{path.name}":
        return None, False
    return source, mark.get("cells_sha256") == cells_digest(nb)


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


@dataclass
class ReleasePlan:
    """Everything ``aelab release`` would do, decided before anything is written.

    Attributes
    ----------
    writes : list of Planned
        One entry per lab ``labs/<name>`` generated from ``solutions/<name>``, plus one per
        solution notebook that was saved with outputs or execution counts.
    stale : list of str
        Labs (relative paths) that ``aelab release`` generated, left unchanged, and whose solution
        is gone: they are removed.
    foreign : list of str
        Notebooks in ``labs/`` without a solution that ``aelab release`` did not generate (a
        student's ``…-Copy1.ipynb``, an instructor's notes): always left alone.
    edited : list of str
        Labs it generated whose solution is gone but whose cells were edited since: left alone
        (``--check`` reports them, to be removed by hand).
    protected : list of str
        Labs that would be replaced (their solution generates something else) but whose cells
        differ from what ``aelab release`` last generated, that carry no such mark, or that are
        not readable: a student's or an instructor's work. Replaced only with ``force``, after a
        backup.
    """

    writes: list[Planned] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)


def _safe_to_replace(path: Path, new_lab) -> bool:
    """Whether replacing ``labs/<name>`` by ``new_lab`` loses no one's work.

    True when the file is missing, when its cells are exactly what ``aelab release`` generated
    last time (its stored digest), or when its cells already equal the new lab's (only outputs or
    metadata would change).
    """
    if not path.exists():
        return True
    source, unchanged = generated_from(path)
    if source is not None and unchanged:
        return True
    try:
        return cells_digest(json.loads(path.read_text(encoding="utf-8"))) == cells_digest(new_lab)
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def _select(sources: list[Path], only) -> list[Path]:
    """The solutions named in ``only`` (a name, ``solutions/<name>`` or ``labs/<name>``), in order."""
    if not only:
        return sources
    by_name = {p.name: p for p in sources}
    wanted: list[Path] = []
    unknown: list[str] = []
    for name in only:
        key = Path(str(name)).name
        key = key if key.endswith(".ipynb") else key + ".ipynb"
        if key in by_name:
            if by_name[key] not in wanted:
                wanted.append(by_name[key])
        else:
            unknown.append(str(name))
    if unknown:
        raise ReleaseError([f"no solution notebook {n!r} in {SOLUTIONS_DIR}/ (there are: "
                            f"{', '.join(sorted(by_name))})" for n in unknown])
    return wanted


def plan(root: str | Path = ".", only=None) -> ReleasePlan:
    """What ``aelab release`` writes and removes (see :class:`ReleasePlan`); nothing is written.

    Parameters
    ----------
    root : path
        The course root.
    only : sequence of str, optional
        Plan only these solutions (names as :func:`release` takes them); labs without a
        solution are then not looked at.

    Raises
    ------
    ReleaseError
        If ``solutions/`` is missing or empty, a name in ``only`` is not a solution, or any
        (selected) solution notebook is invalid (all problems of all notebooks in one message).
    """
    root = Path(root)
    sol_dir, lab_dir = root / SOLUTIONS_DIR, root / LABS_DIR
    sources = sorted(p for p in sol_dir.glob("*.ipynb")) if sol_dir.is_dir() else []
    if not sources:
        raise ReleaseError([f"no solution notebooks (*.ipynb) in {sol_dir}"])
    everything = not only
    sources = _select(sources, only)
    result = ReleasePlan()
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
        lab = make_lab(nb, name)
        planned = Planned(f"{LABS_DIR}/{path.name}", render(lab), "lab")
        target = lab_dir / path.name
        if target.is_file() and target.read_bytes() != planned.data and not _safe_to_replace(target, lab):
            result.protected.append(planned.path)
        result.writes.append(planned)
        if any(c.get("outputs") or c.get("execution_count") is not None for c in nb.cells if c.cell_type == "code"):
            result.writes.append(Planned(name, render(clear_outputs(nb)), "solution without outputs"))
    if problems:
        raise ReleaseError(problems)
    names = {p.name for p in sources}
    orphans = sorted(p for p in lab_dir.glob("*.ipynb") if p.name not in names) if lab_dir.is_dir() and everything \
        else []
    for p in orphans:
        rel = f"{LABS_DIR}/{p.name}"
        source, unchanged = generated_from(p)
        if source is None:
            result.foreign.append(rel)
        elif not unchanged:
            result.edited.append(rel)
        else:
            result.stale.append(rel)
    return result


def _write_all(root: Path, writes: list[Planned]) -> None:
    """Write every planned file, or none: on a failed write, restore the files already replaced.

    Raises
    ------
    OSError
        The failed write's error (``filename``: the file that could not be written, relative to
        ``root``), after the roll-back.
    """
    done: list[tuple[Path, bytes | None]] = []  # each file written and its bytes before (None: it was new)
    made: list[Path] = []  # folders created here
    current = ""
    try:
        for p in writes:
            current = p.path
            target = root / p.path
            for folder in reversed(target.parents):
                if not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            before = target.read_bytes() if target.is_file() else None
            atomic_write_bytes(target, p.data)
            done.append((target, before))
    except OSError as exc:
        for target, before in reversed(done):
            try:
                if before is None:
                    target.unlink()
                else:
                    atomic_write_bytes(target, before)
            except OSError:
                pass
        for folder in reversed(made):
            try:
                folder.rmdir()  # only if empty
            except OSError:
                pass
        raise OSError(exc.errno, exc.strerror or str(exc), current) from exc


def _note_foreign(todo: ReleasePlan, out: TextIO) -> None:
    for k in todo.foreign:
        print(f"note: {k} left alone (not generated by `aelab release`: a copy or someone's notes)", file=out)


def _backup_path(root: Path, lab: str, stamp: str) -> str:
    """A free ``labs/backup/<stem>-<stamp>[-n].ipynb`` for ``labs/<stem>.ipynb``."""
    stem = Path(lab).stem
    rel = f"{BACKUP_DIR}/{stem}-{stamp}.ipynb"
    n = 1
    while (root / rel).exists():
        n += 1
        rel = f"{BACKUP_DIR}/{stem}-{stamp}-{n}.ipynb"
    return rel


def release(root: str | Path = ".", *, check: bool = False, force: bool = False, only=None,
            out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Generate ``labs/`` from ``solutions/`` (or, with ``check``, verify that it is up to date).

    Parameters
    ----------
    root : path
        The course root holding ``solutions/`` and ``labs/``.
    check : bool
        Write nothing; report every out-of-date file.
    force : bool
        Also replace protected labs (edited since they were generated, unmarked or unreadable),
        each after a copy to ``labs/backup/<name>-<date-time>.ipynb``.
    only : sequence of str, optional
        Release (or check) only these solutions: ``03_regularized_autoencoders_lab.ipynb``,
        ``solutions/<name>`` or ``labs/<name>``; default all, with stale labs removed.
    out, err : text streams
        Where progress and problems are printed (default stdout/stderr).

    Returns
    -------
    int
        Exit status: 0 done / in sync; 1 out of sync (``check``), a protected lab without
        ``force`` (nothing was written), or a write failed (every file already replaced was
        restored); 2 invalid solutions or an unknown name in ``only`` (nothing was written).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    root = Path(root)
    try:
        todo = plan(root, only)
    except ReleaseError as exc:
        print(f"aelab release: {exc}", file=err)
        return 2
    changed = [p for p in todo.writes if not (root / p.path).is_file() or (root / p.path).read_bytes() != p.data]
    protected = [p for p in changed if p.path in todo.protected]
    n_labs = sum(p.why == "lab" for p in todo.writes)
    if check:
        for p in changed:
            source = f"{SOLUTIONS_DIR}/{Path(p.path).name}"
            if p in protected:
                print(f"aelab release --check: {p.path} is out of sync with {source} and was edited since `aelab "
                      "release` generated it (someone's work?): move it away and run `aelab release`, or run "
                      f"`aelab release --force` (keeps a copy in {BACKUP_DIR}/)", file=err)
            elif p.why == "lab":
                state = "is missing" if not (root / p.path).is_file() else "is out of sync with"
                print(f"aelab release --check: {p.path} {state} {source}; run `aelab release`", file=err)
            else:
                print(f"aelab release --check: {p.path} was saved with outputs or execution counts; "
                      "run `aelab release` to clear them", file=err)
        for s in todo.stale:
            print(f"aelab release --check: {s} has no solution in {SOLUTIONS_DIR}/; run `aelab release` to remove it",
                  file=err)
        for k in todo.edited:
            print(f"aelab release --check: {k} has no solution in {SOLUTIONS_DIR}/ and was edited since "
                  "`aelab release` generated it; remove it by hand if it is not needed", file=err)
        _note_foreign(todo, out)
        if changed or todo.stale or todo.edited:
            return 1
        print(f"labs in sync with solutions ({n_labs} notebook{'s' * (n_labs != 1)})", file=out)
        return 0
    if protected and not force:
        for p in protected:
            print(f"aelab release: {p.path} was edited since `aelab release` generated it (someone's work?), so it "
                  f"was not replaced; nothing was written. Move it away and run `aelab release` again, or run "
                  f"`aelab release --force`, which keeps a copy in {BACKUP_DIR}/", file=err)
        return 1
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backups = [Planned(_backup_path(root, p.path, stamp), (root / p.path).read_bytes(), "backup") for p in protected]
    try:
        _write_all(root, backups + changed)
    except OSError as exc:
        where = getattr(exc, "filename", None) or "a file"
        print(f"aelab release: cannot write {where} ({exc.strerror or exc}); nothing was changed: "
              "fix that path's permissions or remove what is in the way, then run it again", file=err)
        return 1
    for b, p in zip(backups, protected):
        print(f"kept {p.path} as {b.path} (it was edited since `aelab release` generated it)", file=out)
    for p in changed:
        print(f"wrote {p.path}" + (" (outputs cleared)" if p.why != "lab" else ""), file=out)
    for s in todo.stale:
        try:
            (root / s).unlink()
        except OSError as exc:
            print(f"aelab release: cannot remove {s} ({exc.strerror or exc}); remove it by hand", file=err)
            return 1
        print(f"removed {s} (no solution for it any more)", file=out)
    for k in todo.edited:
        print(f"note: {k} left alone: its solution is gone, but it was edited since `aelab release` generated "
              "it; remove it by hand if it is not needed", file=out)
    _note_foreign(todo, out)
    if not changed and not todo.stale:
        print(f"labs up to date ({n_labs} notebook{'s' * (n_labs != 1)})", file=out)
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    return release(args.root, check=args.check, force=args.force, only=args.notebooks or None)


def add_release_parser(sub) -> argparse.ArgumentParser:
    """Add ``release [--check] [--force] [--root ROOT] [NOTEBOOK ...]`` to the ``aelab`` command's subparsers."""
    r = sub.add_parser("release", help="generate labs/ from solutions/ with nbgrader's preprocessors",
                       description="Generate the student labs in ROOT/labs from ROOT/solutions (nbgrader's "
                                   "ClearSolutions, ClearHiddenTests, ClearOutput). Exit 2 on invalid solutions.")
    r.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 naming each lab that is not what its solution generates")
    r.add_argument("--force", action="store_true",
                   help=f"also replace labs edited since they were generated, after a copy to {BACKUP_DIR}/")
    r.add_argument("--root", default=".", help="course root holding solutions/ and labs/ (default: .)")
    r.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="only these solutions (e.g. 03_regularized_autoencoders_lab.ipynb); default: all")
    r.set_defaults(func=_cmd_release)
    return r
