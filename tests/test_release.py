"""aelab release: labs generated from solutions with nbgrader's preprocessors; validation; --check;
only its own labs removed; all-or-nothing writes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from aelab.tools import cli
from aelab.tools.release import ReleaseError, cells_digest, generated_from, plan, release, validate

EXERCISE = '''def double(x):
    """Return 2 * x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION'''

CHECK = """assert double(2) == 4
### BEGIN HIDDEN TESTS
assert double(-3) == -6
### END HIDDEN TESTS"""


def nbgrader(grade_id, *, solution=False, grade=False, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": not solution, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def solution_notebook(exercise=EXERCISE, check=CHECK, *, exercise_meta=None, check_meta=None, extra=()):
    cells = [
        new_markdown_cell("# A tiny lab"),
        new_code_cell("import math\nprint('setup')"),
        new_code_cell(exercise, metadata=exercise_meta if exercise_meta is not None
                      else nbgrader("double", solution=True)),
        new_code_cell(check, metadata=check_meta if check_meta is not None
                      else nbgrader("check_double", grade=True, points=1)),
        *extra,
    ]
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i}"
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def course(tmp_path: Path, **notebooks) -> Path:
    (tmp_path / "solutions").mkdir()
    for name, nb in notebooks.items():
        nbformat.write(nb, tmp_path / "solutions" / f"{name}.ipynb")
    return tmp_path


def run(root, *args):
    out, err = io.StringIO(), io.StringIO()
    code = release(root, check="--check" in args, force="--force" in args, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_release_writes_the_student_version(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook()})
    code, out, _ = run(root)
    assert code == 0 and "wrote labs/01_tiny_lab.ipynb" in out
    lab = nbformat.read(root / "labs" / "01_tiny_lab.ipynb", as_version=4)
    exercise, check = lab.cells[2].source, lab.cells[3].source
    assert exercise == 'def double(x):\n    """Return 2 * x."""\n    # YOUR CODE HERE\n    raise NotImplementedError()'
    assert "return 2 * x" not in exercise and "SOLUTION" not in exercise
    assert check == "assert double(2) == 4"
    assert lab.cells[2].metadata["nbgrader"]["grade_id"] == "double"  # nbgrader metadata kept for grading
    assert [c.id for c in lab.cells] == [f"cell-{i}" for i in range(4)]
    assert lab.metadata["aelab"]["generated_from"] == "solutions/01_tiny_lab.ipynb"
    assert lab.metadata["aelab"]["cells_sha256"] == cells_digest(lab)
    assert generated_from(root / "labs" / "01_tiny_lab.ipynb") == ("solutions/01_tiny_lab.ipynb", True)


def test_release_is_byte_identical_on_rerun_and_check_passes(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook()})
    run(root)
    before = files(root)
    code, out, _ = run(root)
    assert code == 0 and "up to date" in out
    assert files(root) == before
    assert run(root, "--check")[0] == 0


def test_check_names_the_out_of_sync_and_missing_labs(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(), "02_other_lab": solution_notebook()})
    run(root)
    lab = root / "labs" / "01_tiny_lab.ipynb"
    lab.write_bytes(lab.read_bytes().replace(b"raise NotImplementedError()", b"return 2 * x"))
    (root / "labs" / "02_other_lab.ipynb").unlink()
    before = files(root)
    code, _, err = run(root, "--check")
    assert code == 1
    assert "labs/01_tiny_lab.ipynb is out of sync with solutions/01_tiny_lab.ipynb" in err
    assert "labs/02_other_lab.ipynb is missing" in err
    assert files(root) == before  # --check writes nothing


def test_stale_lab_is_reported_and_removed(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(), "09_gone_lab": solution_notebook()})
    run(root)
    (root / "solutions" / "09_gone_lab.ipynb").unlink()
    assert plan(root).stale == ["labs/09_gone_lab.ipynb"]
    code, _, err = run(root, "--check")
    assert code == 1 and "labs/09_gone_lab.ipynb has no solution" in err
    code, out, _ = run(root)
    assert code == 0 and "removed labs/09_gone_lab.ipynb" in out
    assert not (root / "labs" / "09_gone_lab.ipynb").exists()
    assert (root / "labs" / "01_tiny_lab.ipynb").exists()


def test_release_keeps_notebooks_it_did_not_generate(tmp_path):
    """A student's Copy1 (which carries the original's mark) and an instructor's notes are never deleted."""
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook()})
    run(root)
    copy = root / "labs" / "01_tiny_lab-Copy1.ipynb"
    copy.write_bytes((root / "labs" / "01_tiny_lab.ipynb").read_bytes())  # what JupyterLab's "Duplicate" does
    notes = root / "labs" / "notes.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("grading notes")]), notes)
    before = files(root)
    assert generated_from(copy) == (None, False)
    code, out, err = run(root, "--check")
    assert code == 0, err
    assert "labs/01_tiny_lab-Copy1.ipynb left alone (not generated by `aelab release`" in out
    code, out, _ = run(root)
    assert code == 0 and "removed" not in out and "labs/notes.ipynb left alone" in out
    assert files(root) == before


def test_release_keeps_an_edited_lab_whose_solution_is_gone(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(), "09_gone_lab": solution_notebook()})
    run(root)
    lab = root / "labs" / "09_gone_lab.ipynb"
    nb = nbformat.read(lab, as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("raise NotImplementedError()", "return x + x  # my answer")
    nbformat.write(nb, lab)
    (root / "solutions" / "09_gone_lab.ipynb").unlink()
    edited = lab.read_bytes()
    code, out, _ = run(root)
    assert code == 0 and "labs/09_gone_lab.ipynb left alone" in out and "edited" in out
    assert lab.read_bytes() == edited
    code, _, err = run(root, "--check")
    assert code == 1 and "labs/09_gone_lab.ipynb has no solution" in err and "remove it by hand" in err


def test_solution_outputs_are_cleared_in_place(tmp_path):
    nb = solution_notebook()
    nb.cells[1].outputs = [new_output("stream", name="stdout", text="setup\n")]
    nb.cells[1].execution_count = 3
    root = course(tmp_path, **{"01_tiny_lab": nb})
    code, _, err = run(root, "--check")
    assert code == 1 and "solutions/01_tiny_lab.ipynb was saved with outputs" in err
    assert run(root)[0] == 0
    cleaned = nbformat.read(root / "solutions" / "01_tiny_lab.ipynb", as_version=4)
    assert cleaned.cells[1].outputs == [] and cleaned.cells[1].execution_count is None
    assert "return 2 * x" in cleaned.cells[2].source  # the answers stay in the source
    assert run(root, "--check")[0] == 0


BAD_SOURCES = {
    "unclosed": (EXERCISE.replace("    ### END SOLUTION", ""), "'### BEGIN SOLUTION' at line 3 is never closed by an 'END SOLUTION' line"),
    "nested": (EXERCISE.replace("    return 2 * x", "    ### BEGIN SOLUTION\n    return 2 * x"),
               "nested '### BEGIN SOLUTION' at line 4 (the '### BEGIN SOLUTION' at line 3 is not closed yet)"),
    "stray end": ("def double(x):\n    return 2 * x\n    ### END SOLUTION", "'### END SOLUTION' at line 3 has no 'BEGIN SOLUTION' before it"),
    "title case": (EXERCISE.replace("### BEGIN SOLUTION", "### Begin Solution")
                   .replace("### END SOLUTION", "### End Solution"),
                   "'### Begin Solution' at line 3 is not a marker nbgrader recognizes (markers are case-sensitive): "
                   "write '### BEGIN SOLUTION', or nbgrader leaves the solution in the student's lab"),
    "lower-case end": (EXERCISE.replace("### END SOLUTION", "### end solution"),
                       "'### end solution' at line 5 is not a marker nbgrader recognizes"),
    "underscore": (EXERCISE.replace("### BEGIN SOLUTION", "### BEGIN_SOLUTION"),
                   "'### BEGIN_SOLUTION' at line 3 is not a marker nbgrader recognizes"),
    "no markers": ('def double(x):\n    """Return 2 * x."""\n    return 2 * x',
                   "has `solution: true` but no '### BEGIN SOLUTION' / '### END SOLUTION' lines; nbgrader would "
                   "replace the whole cell (its def line and docstring too)"),
}


@pytest.mark.parametrize("kind", sorted(BAD_SOURCES))
def test_bad_markers_name_notebook_and_cell_and_write_nothing(tmp_path, kind):
    source, message = BAD_SOURCES[kind]
    root = course(tmp_path, **{"01_good_lab": solution_notebook(), "02_bad_lab": solution_notebook(source)})
    before = files(root)
    code, _, err = run(root)
    assert code == 2
    assert "solutions/02_bad_lab.ipynb, cell 3 (grade_id 'double', starts 'def double(x):')" in err
    assert message in err and "nothing was written" in err
    assert files(root) == before  # not even the good notebook's lab, and no temporary files


def test_marker_in_a_cell_without_solution_metadata(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(exercise_meta={})})
    code, _, err = run(root)
    assert code == 2 and "solutions/01_tiny_lab.ipynb, cell 3" in err and "lacks `solution: true`" in err
    assert not (root / "labs").exists()


def test_hidden_tests_in_a_cell_without_grade_metadata(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(check_meta={})})
    code, _, err = run(root)
    assert code == 2 and "cell 4" in err and "lacks `grade: true`" in err


def test_duplicate_grade_id(tmp_path):
    twin = new_code_cell("assert double(0) == 0", metadata=nbgrader("check_double", grade=True, points=1))
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(extra=[twin])})
    code, _, err = run(root)
    assert code == 2
    assert "solutions/01_tiny_lab.ipynb, cell 5 (grade_id 'check_double'" in err
    assert "duplicate grade_id 'check_double' (cell 4 has it too)" in err
    assert not (root / "labs").exists()


def test_metadata_problems_are_all_listed():
    bad = solution_notebook(check_meta={"nbgrader": {"grade": True, "grade_id": "check double", "schema_version": 2,
                                                     "solution": False}})
    problems = validate(bad, "solutions/x.ipynb")
    text = "\n".join(problems)
    assert len(problems) == 3
    assert "schema_version` must be 3" in text and "may only hold letters" in text and "needs `points`" in text


def test_unreadable_notebook_and_missing_solutions(tmp_path):
    with pytest.raises(ReleaseError, match="no solution notebooks"):
        plan(tmp_path)
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "01_broken_lab.ipynb").write_text("{not json")
    with pytest.raises(ReleaseError, match="solutions/01_broken_lab.ipynb: cannot be read"):
        plan(tmp_path)


def test_written_files_have_ordinary_permissions(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook()})
    run(root)
    mode = os.stat(root / "labs" / "01_tiny_lab.ipynb").st_mode & 0o777
    assert mode & 0o644 == 0o644


def test_cli_release_and_check(tmp_path, capsys):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook()})
    assert cli.main(["release", "--check", "--root", str(root)]) == 1
    assert "labs/01_tiny_lab.ipynb is missing" in capsys.readouterr().err
    assert cli.main(["release", "--root", str(root)]) == 0
    assert cli.main(["release", "--check", "--root", str(root)]) == 0
    assert "labs in sync with solutions (1 notebook)" in capsys.readouterr().out


def test_wrong_case_hidden_test_markers(tmp_path):
    check = CHECK.replace("### END HIDDEN TESTS", "### end hidden tests")
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(check=check)})
    before = files(root)
    code, _, err = run(root)
    assert code == 2 and "solutions/01_tiny_lab.ipynb, cell 4" in err
    assert "'### end hidden tests' at line 4 is not a marker nbgrader recognizes" in err
    assert "write '### END HIDDEN TESTS', or nbgrader leaves the hidden tests in the student's lab" in err
    assert files(root) == before


def test_a_markdown_solution_cell_needs_no_markers():
    """nbgrader replaces a written answer (markdown, `solution: true`) as a whole: that is not an error."""
    answer = new_markdown_cell("PCA finds the same subspace.", metadata=nbgrader("why", solution=True))
    assert validate(solution_notebook(extra=[answer]), "solutions/x.ipynb") == []


def test_prose_that_mentions_ending_a_solution_is_not_a_marker():
    prose = new_markdown_cell("At the end, solution quality is checked.")
    comment = new_code_cell("x = 1  # the end solution is simple", metadata={})
    assert validate(solution_notebook(extra=[prose, comment]), "solutions/x.ipynb") == []


def test_a_failed_write_leaves_nothing_half_done(tmp_path):
    """If one file cannot be written, the files already replaced get their old bytes back."""
    with_outputs = solution_notebook()
    with_outputs.cells[1].outputs = [new_output("stream", name="stdout", text="setup\n")]
    with_outputs.cells[1].execution_count = 1
    root = course(tmp_path, **{"01_tiny_lab": with_outputs, "02_other_lab": solution_notebook()})
    (root / "labs").mkdir()
    (root / "labs" / "01_tiny_lab.ipynb").write_text("an old lab", encoding="utf-8")
    (root / "labs" / "02_other_lab.ipynb").mkdir()  # in the way: this write fails after two others succeeded
    before = files(root)
    code, out, err = run(root, "--force")  # "an old lab" is not a generated lab: replaced only when forced
    assert code == 1 and out == ""
    assert "aelab release: cannot write labs/02_other_lab.ipynb (" in err and "nothing was changed" in err
    assert files(root) == before  # lab 01 and the solution's outputs restored; no temporary files
    (root / "labs" / "02_other_lab.ipynb").rmdir()
    assert run(root, "--force")[0] == 0 and run(root, "--check")[0] == 0
    assert [p.name for p in (root / "labs" / "backup").iterdir()][0].startswith("01_tiny_lab-")


# --------------------------------------------------------------------------- a student's work is never lost


def _edit_lab(root: Path, name: str = "01_tiny_lab") -> bytes:
    """A student's answer typed into the generated lab; returns the file's new bytes."""
    lab = root / "labs" / f"{name}.ipynb"
    lab.write_bytes(lab.read_bytes().replace(b"raise NotImplementedError()", b"return x + x  # my answer"))
    return lab.read_bytes()


def test_release_refuses_to_replace_an_edited_lab(tmp_path):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(), "02_other_lab": solution_notebook()})
    run(root)
    edited = _edit_lab(root)
    nbformat.write(solution_notebook(EXERCISE.replace("2 * x", "x * 2")), root / "solutions" / "02_other_lab.ipynb")
    sol = root / "solutions" / "01_tiny_lab.ipynb"
    nbformat.write(solution_notebook(EXERCISE.replace("Return 2 * x.", "Return twice x.")), sol)
    before = files(root)
    code, out, err = run(root)
    assert code == 1 and out == ""
    assert "labs/01_tiny_lab.ipynb was edited since `aelab release` generated it" in err
    assert "--force" in err and "nothing was written" in err
    assert files(root) == before  # neither the edited lab nor the other one was written

    code, _, err = run(root, "--check")  # --check must not advise what would lose the work
    assert code == 1
    line = next(ln for ln in err.splitlines() if "01_tiny_lab" in ln)
    assert "edited since" in line and "--force" in line and "keeps a copy" in line
    assert not line.endswith("run `aelab release`")

    code, out, _ = run(root, "--force")
    assert code == 0
    (backup,) = (root / "labs" / "backup").iterdir()
    assert backup.read_bytes() == edited  # the student's answer, byte for byte
    assert f"kept labs/01_tiny_lab.ipynb as labs/backup/{backup.name}" in out
    assert "Return twice x." in (root / "labs" / "01_tiny_lab.ipynb").read_text(encoding="utf-8")
    assert run(root, "--check")[0] == 0  # the backup folder is not taken for a lab


def test_running_a_lab_without_editing_it_does_not_protect_it(tmp_path):
    """Outputs and execution counts are not work: a lab whose cells are unchanged is replaced."""
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook()})
    run(root)
    lab_path = root / "labs" / "01_tiny_lab.ipynb"
    lab = nbformat.read(lab_path, as_version=4)
    lab.cells[1].outputs = [new_output("stream", name="stdout", text="setup\n")]
    lab.cells[1].execution_count = 1
    nbformat.write(lab, lab_path)
    code, out, _ = run(root)
    assert code == 0 and "wrote labs/01_tiny_lab.ipynb" in out and not (root / "labs" / "backup").exists()


@pytest.mark.parametrize("content", [b"not json at all", b'{"cells": [], "metadata": {}, "nbformat": 4}'])
def test_an_unmarked_or_unreadable_lab_is_protected_too(tmp_path, content):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook()})
    (root / "labs").mkdir()
    (root / "labs" / "01_tiny_lab.ipynb").write_bytes(content)
    assert plan(root).protected == ["labs/01_tiny_lab.ipynb"]
    assert run(root)[0] == 1 and (root / "labs" / "01_tiny_lab.ipynb").read_bytes() == content
    assert run(root, "--force")[0] == 0
    assert next((root / "labs" / "backup").iterdir()).read_bytes() == content


def test_cli_force_and_named_notebooks(tmp_path, capsys):
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(), "02_other_lab": solution_notebook()})
    assert cli.main(["release", "--root", str(root), "02_other_lab.ipynb"]) == 0
    assert not (root / "labs" / "01_tiny_lab.ipynb").exists() and (root / "labs" / "02_other_lab.ipynb").exists()
    assert cli.main(["release", "--check", "--root", str(root), "solutions/02_other_lab.ipynb"]) == 0
    assert cli.main(["release", "--root", str(root), "labs/09_nope_lab.ipynb"]) == 2
    assert "no solution notebook 'labs/09_nope_lab.ipynb'" in capsys.readouterr().err
    assert cli.main(["release", "--root", str(root)]) == 0
    _edit_lab(root)
    assert cli.main(["release", "--root", str(root), "02_other_lab"]) == 0  # the edited lab is not named
    assert cli.main(["release", "--root", str(root), "01_tiny_lab"]) == 1
    assert cli.main(["release", "--force", "--root", str(root), "01_tiny_lab"]) == 0
    assert len(list((root / "labs" / "backup").iterdir())) == 1


# --------------------------------------------------------------------------- markers nbgrader cannot see

HIDDEN_MARKERS = {
    "zero-width space": ("### BEGIN\u200b HIDDEN TESTS", "U+200B ZERO WIDTH SPACE"),
    "no-break space": ("### END HIDDEN\u00a0TESTS", "U+00A0 NO-BREAK SPACE"),
    "Cyrillic E": ("### \u0415ND HIDDEN TESTS", "U+0415 CYRILLIC CAPITAL LETTER IE"),
    "byte-order mark": ("\ufeff### BEGIN HIDDEN TEST\u200dS", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
}


@pytest.mark.parametrize("kind", sorted(HIDDEN_MARKERS))
def test_a_marker_with_invisible_or_look_alike_characters_is_refused(tmp_path, kind):
    """nbgrader would not see such a marker, and ship the hidden tests to students."""
    odd, named = HIDDEN_MARKERS[kind]
    plain = odd.translate({0x200B: None, 0x200D: None, 0xFEFF: None, 0xA0: " ", 0x415: "E"})
    check = CHECK.replace(plain, odd)
    assert check != CHECK
    root = course(tmp_path, **{"01_tiny_lab": solution_notebook(check=check)})
    code, _, err = run(root)
    assert code == 2 and not (root / "labs").exists()
    assert "invisible or look-alike characters" in err and named in err and "hidden tests" in err
    assert "solutions/01_tiny_lab.ipynb, cell 4" in err


def test_invisible_characters_elsewhere_are_fine():
    nb = solution_notebook(check=CHECK + "\n# caf\u00e9 \u200b note")
    assert validate(nb, "x") == []
