"""The labs: in sync with solutions/, no answers left, every exercise checked, friendly when not done.

The solutions themselves are executed by nbval (``pytest --nbval-lax solutions/``).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from aelab import checks
from aelab.tools.release import HIDDEN_TEST_MARKERS, SOLUTION_MARKERS, release, validate

from _solutions import ROOT, SOLUTIONS, check_code_frames, lab_number  # tests/_solutions.py

NAMES = [p.name for p in SOLUTIONS]


def read(path: Path):
    """A fresh copy of the notebook (executing it below changes it in place)."""
    return nbformat.read(path, as_version=4)


def nbg(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def solution_lines(source: str) -> list[str]:
    """The non-blank lines inside solution regions."""
    inside, lines = False, []
    for line in source.split("\n"):
        if SOLUTION_MARKERS[0] in line:
            inside = True
        elif SOLUTION_MARKERS[1] in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def test_every_solution_has_its_lab_and_every_lab_its_solution():
    assert SOLUTIONS, "no solutions/NN_topic_lab.ipynb found"
    numbers = [lab_number(p) for p in SOLUTIONS]  # ValueError for a badly named notebook
    assert len(set(numbers)) == len(numbers), f"two solutions share a lab number: {NAMES}"
    missing = [name for name in NAMES if not (ROOT / "labs" / name).is_file()]
    assert not missing, f"no labs/ notebook for the solutions {missing}: run `aelab release`"
    assert sorted(p.name for p in (ROOT / "labs").glob("*_lab.ipynb")) == NAMES


def test_labs_are_in_sync_with_solutions(capsys):
    code = release(ROOT, check=True)
    assert code == 0, capsys.readouterr().err + "\nrun `aelab release` and commit labs/"


@pytest.mark.parametrize("name", NAMES)
def test_solutions_are_valid_and_stored_without_outputs(name):
    sol = read(ROOT / "solutions" / name)
    assert validate(sol, f"solutions/{name}") == []
    for folder in ("solutions", "labs"):
        for cell in read(ROOT / folder / name).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{folder}/{name} has outputs"


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_code_left_in_labs(name):
    sol, lab = read(ROOT / "solutions" / name), read(ROOT / "labs" / name)
    assert len(sol.cells) == len(lab.cells)
    lab_text = "\n".join(c.source for c in lab.cells)
    for marker in SOLUTION_MARKERS + HIDDEN_TEST_MARKERS:
        assert marker not in lab_text
    n_exercises = 0
    for s, l in zip(sol.cells, lab.cells):
        if not nbg(s).get("solution"):
            continue
        n_exercises += 1
        answer = solution_lines(s.source)
        assert answer, f"exercise {nbg(s)['grade_id']} has no solution region"
        lab_lines = {line.strip() for line in l.source.split("\n")}
        leaked = [line for line in answer if line in lab_lines and not line.startswith(("#", '"""'))]
        assert not leaked, f"{name}: answer lines left in the lab: {leaked}"
        assert "raise NotImplementedError()" in l.source
        # the signature and docstring survive (the answer sits under the docstring)
        before_answer = s.source.split("### BEGIN SOLUTION")[0]
        assert l.source.startswith(before_answer.rstrip(" "))
    assert n_exercises >= 4


@pytest.mark.parametrize("name", NAMES)
def test_every_exercise_is_followed_by_its_check(name):
    lab_no = lab_number(Path(name))
    nb = read(ROOT / "labs" / name)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    first = code_cells[0].source
    assert "aelab.setup(seed=0)" in first and "print(session)" in first and "load_" in first
    called = []
    for i, cell in enumerate(code_cells):
        if not nbg(cell).get("solution"):
            continue
        nxt = code_cells[i + 1]
        meta = nbg(nxt)
        assert meta.get("grade") and meta.get("locked") and meta.get("points", 0) > 0, \
            f"{name}: exercise {nbg(cell)['grade_id']} is not followed by a locked, graded check cell"
        found = re.findall(r"aelab\.checks\.(\w+)\(", nxt.source)
        assert len(found) == 1, f"{name}: the check cell after {nbg(cell)['grade_id']} must call one aelab.checks function"
        ex = checks.EXERCISES[found[0]]
        assert ex.lab == lab_no
        for fn in ex.function.split(", "):  # the check is given the function the exercise defines
            assert f"def {fn}(" in cell.source
        called.append(ex.number)
    assert called == sorted(e.number for e in checks.EXERCISES.values() if e.lab == lab_no)


@pytest.mark.parametrize("name", NAMES)
def test_lab_run_as_is_stops_at_the_first_exercise_with_the_friendly_message(name, monkeypatch):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("AELAB_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("AELAB_OFFLINE", "1")  # no network probe: the offline MNIST subset or the data on disk
    nb = read(ROOT / "labs" / name)
    first_check = next(i for i, c in enumerate(nb.cells) if nbg(c).get("grade"))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count is not None]
    assert ran[-1] == first_check, f"{name}: stopped at cell {ran[-1] + 1}, not at the first check"
    errors = [o for o in nb.cells[first_check].outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "ExerciseNotDone"
    assert errors[0].evalue.startswith(f"Exercise 1 of lab {lab_number(Path(name))}")
    assert "is not done yet" in errors[0].evalue and "replace `raise NotImplementedError()`" in errors[0].evalue
    # a message, not a traceback: no frame of the package's check code is shown (test_checks.py shows
    # that check_code_frames finds those frames when the hook that hides them is missing or broken)
    assert len(errors[0].traceback) == 1 and check_code_frames(errors[0].traceback) == []
    assert "ExerciseNotDone: Exercise 1" in str(info.value)
