"""nbgrader's own workflow on a temporary course directory, end to end, with the scores it must give.

From ``solutions/NN_*_lab.ipynb`` (the source) the test builds a course directory exactly as
INSTRUCTORS.md tells an instructor to, runs ``nbgrader generate_assignment``, adds three
students and runs ``nbgrader autograde`` on three submissions made from the release version:

- ``full``: every exercise answered with the solution's code -> full marks;
- ``blank``: the release version untouched -> zero;
- ``one_wrong``: the solution's answers except one plausible wrong answer -> exactly that
  exercise's points lost (and every other grade cell full).

Scores are read from nbgrader's gradebook (``nbgrader.api.Gradebook``), per grade cell.
``nbgrader export`` must then write the same totals to grades.csv, and ``nbgrader generate_feedback``
(configured with ``aelab.tools.feedback.offline_feedback`` as INSTRUCTORS.md says) pages that load
nothing from the network.

autograde prints ``Attribute 'checksum' for cell check_… has changed!`` once per check cell per
submission: the check cells carry hidden tests, which the student's copy lacks, so its checksum
differs from the source's and nbgrader restores the cell (hidden tests included) from the
gradebook. The test pins that down: the warned cells are exactly the check cells with hidden tests.

By default lab 01 runs (the quickest lab with five exercises; about 1–2 min on two cores with
``AELAB_QUICK=1``); ``AELAB_GRADING_LABS=all`` (or ``=01,04``) runs every lab present, with a
generic wrong answer (``return None``) where no realistic one is listed in ``WRONG``.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NBGRADER = Path(sys.executable).parent / "nbgrader"
STUDENTS = {"full": "alice", "blank": "bob", "one_wrong": "carol"}

#: lab stem -> (grade_id of the exercise answered wrongly, its wrong cell source)
WRONG = {
    "01_pca_linear_autoencoder_lab": ("principal_angles", '''\
def principal_angles(A, B):
    """Principal angles between the column spaces of A and B, in degrees, ascending."""
    Qa, _ = torch.linalg.qr(A)
    Qb, _ = torch.linalg.qr(B)
    cosines = torch.linalg.svdvals(Qa.T @ Qb).clamp(-1.0, 1.0)
    return torch.acos(cosines)  # wrong: radians, not degrees
'''),
}

CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "aelab"
c.Execute.timeout = 600        # nbgrader's default of 30 s per cell is too short for the training cells
c.Execute.iopub_timeout = 60   # the default 4 s times out on a busy machine
from aelab.tools.feedback import offline_feedback
offline_feedback(c)            # feedback HTML carries MathJax inside it (nbgrader's loads it from a CDN)
"""

#: What autograde says for a locked cell whose source differs from the gradebook's (then restored from it).
CHECKSUM_WARNING = re.compile(r"Attribute 'checksum' for cell (\S+) has changed")


def _labs() -> list[Path]:
    labs = sorted((ROOT / "solutions").glob("[0-9][0-9]_*_lab.ipynb"))
    choice = os.environ.get("AELAB_GRADING_LABS", "01")
    if choice != "all":
        wanted = {n.strip().zfill(2) for n in choice.split(",")}
        labs = [p for p in labs if p.name[:2] in wanted]
    return labs


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _generic_wrong(source: str) -> str:
    """Each solution region replaced by ``return None`` (at the region's indentation)."""
    def repl(m):
        return f"{m.group(1)}return None  # a wrong answer\n"
    out = re.sub(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*\n?", repl, source,
                 flags=re.S | re.M)
    assert out != source
    return out


def _submission(release: Path, solution: Path, wrong: tuple[str, str] | None) -> nbformat.NotebookNode:
    """The release version with every answer cell filled from the solution (one of them wrong, if given)."""
    nb = nbformat.read(release, as_version=4)
    answers = {_meta(c)["grade_id"]: c.source for c in nbformat.read(solution, as_version=4).cells
               if _meta(c).get("solution")}
    filled = 0
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if _meta(cell).get("solution") and gid in answers:
            cell.source = answers[gid]
            filled += 1
            if wrong and gid == wrong[0]:
                cell.source = wrong[1] or _generic_wrong(answers[gid])
    assert filled == len(answers) > 0, f"{release.name}: {filled} answer cells filled of {len(answers)}"
    return nb


def _nbgrader(course: Path, *args: str, timeout: float = 900) -> str:
    # nbgrader runs `alembic` (its gradebook migrations) from PATH: the environment's bin/ must be on it,
    # as after `source .venv/bin/activate` (calling .venv/bin/nbgrader alone is not enough)
    env = dict(os.environ, AELAB_QUICK="1", MPLBACKEND="Agg",
               PATH=os.pathsep.join([str(NBGRADER.parent), os.environ.get("PATH", "")]))
    r = subprocess.run([str(NBGRADER), *args], cwd=course, env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, \
        f"nbgrader {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return r.stdout + r.stderr


def _check_errors(autograded: Path) -> dict[str, str]:
    """``{grade_id: exception name}`` of the graded cells that raised in an autograded notebook."""
    out = {}
    for cell in nbformat.read(autograded, as_version=4).cells:
        if _meta(cell).get("grade") and cell.cell_type == "code":
            names = [o.get("ename") for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if names:
                out[_meta(cell)["grade_id"]] = names[0]
    return out


@pytest.mark.parametrize("solution", _labs(), ids=lambda p: p.name[:2])
def test_nbgrader_generate_and_autograde(tmp_path, solution):
    if not NBGRADER.exists():
        pytest.skip(f"nbgrader is not installed next to {sys.executable} (it is a dependency of aelab)")
    assignment, stem = f"lab{solution.name[:2]}", solution.stem
    course = tmp_path / "course"
    (course / "source" / assignment).mkdir(parents=True)
    (course / "source" / assignment / solution.name).write_bytes(solution.read_bytes())
    (course / "nbgrader_config.py").write_text(CONFIG)
    t0 = time.monotonic()

    _nbgrader(course, "generate_assignment", assignment)
    release = course / "release" / assignment / solution.name
    assert release.exists()
    lab = ROOT / "labs" / solution.name
    if lab.exists():  # the release version's cells are this repository's generated lab
        assert [c.source for c in nbformat.read(release, 4).cells] == [c.source for c in nbformat.read(lab, 4).cells]

    gid, wrong_src = WRONG.get(stem, (None, None))
    graded = [c for c in nbformat.read(solution, 4).cells if _meta(c).get("grade")]
    if gid is None:  # generic: the last exercise answered wrongly
        gid = [_meta(c)["grade_id"] for c in nbformat.read(solution, 4).cells if _meta(c).get("solution")][-1]
    points = {_meta(c)["grade_id"]: float(_meta(c)["points"]) for c in graded}
    total = sum(points.values())
    check_of_wrong = [g for g in points if g == f"check_{gid}"]
    assert check_of_wrong, f"no check cell check_{gid} after exercise {gid}"
    lost = points[check_of_wrong[0]]

    (course / "students.csv").write_text("id,last_name,first_name,email\n"
                                         + "".join(f"{s},{s.title()},,\n" for s in STUDENTS.values()))
    _nbgrader(course, "db", "student", "import", "students.csv")
    for kind, student in STUDENTS.items():
        sub = course / "submitted" / student / assignment
        sub.mkdir(parents=True)
        if kind == "blank":
            nb = nbformat.read(release, as_version=4)
        else:
            nb = _submission(release, solution, (gid, wrong_src) if kind == "one_wrong" else None)
        nbformat.write(nb, sub / solution.name)
    t1 = time.monotonic()
    log = _nbgrader(course, "autograde", assignment)
    t2 = time.monotonic()
    # the checksum warnings: one per check cell with hidden tests and submission, nothing else
    hidden = sorted(_meta(c)["grade_id"] for c in graded if "BEGIN HIDDEN TESTS" in c.source)
    warned = CHECKSUM_WARNING.findall(log)
    assert sorted(warned) == sorted(hidden * len(STUDENTS)), warned

    from nbgrader.api import Gradebook

    expected = {"full": points, "blank": dict.fromkeys(points, 0.0),
                "one_wrong": {g: (0.0 if g == f"check_{gid}" else p) for g, p in points.items()}}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for kind, student in STUDENTS.items():
            submission = gb.find_submission(assignment, student)
            assert submission.max_score == total
            got = {g.name: g.score for nb in submission.notebooks for g in nb.grades}
            assert got == expected[kind], f"{kind} ({student}): per-cell scores {got}, expected {expected[kind]}"
            assert submission.score == sum(expected[kind].values())
    assert sum(expected["one_wrong"].values()) == total - lost

    # why the points were lost: the blank lab's checks stop at ExerciseNotDone, the wrong answer at CheckFailed
    errors = {kind: _check_errors(course / "autograded" / student / assignment / solution.name)
              for kind, student in STUDENTS.items()}
    assert errors["full"] == {}
    assert set(errors["blank"]) == set(points) and set(errors["blank"].values()) == {"ExerciseNotDone"}, errors["blank"]
    assert errors["one_wrong"] == {f"check_{gid}": "CheckFailed"}, errors["one_wrong"]

    _nbgrader(course, "export")
    with open(course / "grades.csv", newline="") as f:
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f) if r["assignment"] == assignment}
    assert rows == {"alice": total, "bob": 0.0, "carol": total - lost}

    # feedback, as INSTRUCTORS.md configures it: nothing loaded from the network (tests/test_feedback.py has the rest)
    _nbgrader(course, "generate_feedback", assignment)
    page = (course / "feedback" / "alice" / assignment / solution.with_suffix(".html").name).read_text(encoding="utf-8")
    remote = re.findall(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["']?((?:https?:)?//[^"' >]+)""", page,
                        flags=re.I)
    assert remote == [] and "window.MathJax = " in page, remote
    print(f"\n{assignment}: generate_assignment + db {t1 - t0:.0f} s, autograde of 3 submissions {t2 - t1:.0f} s; "
          f"scores {total:g} / 0 / {total - lost:g} of {total:g} ({gid} wrong)")
