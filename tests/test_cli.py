"""The ``aelab`` command: ``build`` on a tiny temporary course, and ``doctor``.

The command runs in a subprocess, as a user runs it. Each notebook gets a fresh kernel, so
these tests take several seconds; one module-level fixture builds each course once.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SCRIPT = Path(sys.executable).with_name("aelab")
AELAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "aelab.cli"]

OK_CELLS = [
    new_markdown_cell("# A tiny lecture"),
    new_code_cell("import aelab\nsession = aelab.setup(seed=0)\nprint(session)"),
    new_code_cell('aelab.claim(1 < 2, "one is less than two", detail="1 < 2")\n'
                  'aelab.claim(False, "a claim needing full training", needs_full=True)'),
    new_code_cell('aelab.record("answer", 42.0, paper=41.5, unit="squared error per image", note="tiny course")\n'
                  'aelab.record("quick_flag", float(aelab.is_quick()))'),
]
FAIL_CELLS = [
    new_markdown_cell("# A lab that breaks"),
    new_code_cell("x = 1"),
    new_code_cell('raise RuntimeError("boom in the third cell")'),
    new_code_cell('print("never reached")'),
]


def _write(path: Path, cells) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.pop("AELAB_REPORT_FILE", None)
    env.pop("AELAB_QUICK", None)  # the root conftest sets it; here only --quick chooses the mode
    env.update(AELAB_OFFLINE="1", AELAB_DATA=str(tmp / "data"), MPLBACKEND="Agg", PYTHONIOENCODING="utf-8")
    return env


def run_aelab(*args, tmp: Path, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([*AELAB, *map(str, args)], capture_output=True, text=True, env=_env(tmp),
                          timeout=timeout, cwd=tmp)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    _write(root / "lectures" / "01_ok.ipynb", OK_CELLS)
    _write(root / "solutions" / "02_fail_lab.ipynb", FAIL_CELLS)
    (root / "lectures" / ".ipynb_checkpoints").mkdir()
    _write(root / "lectures" / ".ipynb_checkpoints" / "01_ok-checkpoint.ipynb", FAIL_CELLS)  # ignored
    return root


@pytest.fixture(scope="module")
def failing_build(course):
    proc = run_aelab("build", "--quick", "--root", course, tmp=course)
    return proc, course / "_build"


@pytest.fixture(scope="module")
def passing_build(course):
    out = course / "site_ok"
    proc = run_aelab("build", "--quick", "--root", course, "--out", out, "--dirs", "lectures", tmp=course)
    return proc, out


def test_failing_notebook_fails_the_build_naming_notebook_and_cell(failing_build):
    proc, _ = failing_build
    assert proc.returncode == 1, proc.stderr
    assert "FAILED solutions/02_fail_lab.ipynb at cell 2" in proc.stderr
    assert "boom in the third cell" in proc.stderr
    assert "lectures/01_ok.ipynb" in proc.stderr  # progress lines for every notebook
    assert "index.html" in proc.stdout


def test_report_json(failing_build):
    _, out = failing_build
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["quick"] is True and report["seconds"] > 0
    nbs = {n["path"]: n for n in report["notebooks"]}
    assert list(nbs) == ["lectures/01_ok.ipynb", "solutions/02_fail_lab.ipynb"]  # checkpoints skipped
    ok, bad = nbs["lectures/01_ok.ipynb"], nbs["solutions/02_fail_lab.ipynb"]
    assert ok["status"] == "ok" and bad["status"] == "failed"
    assert bad["failed_cell"] == 2 and "boom in the third cell" in bad["error"]
    assert ok["seconds"] > 0 and bad["seconds"] > 0
    assert report["seconds"] >= ok["seconds"] + bad["seconds"]
    assert [(c["text"], c["status"]) for c in ok["claims"]] == [("one is less than two", "held"),
                                                               ("a claim needing full training", "skipped")]
    assert ok["claims"][0]["detail"] == "1 < 2"
    records = {r["name"]: r for r in ok["records"]}
    assert records["answer"]["value"] == 42.0 and records["answer"]["paper"] == 41.5
    assert records["answer"]["unit"] == "squared error per image" and records["answer"]["note"] == "tiny course"
    assert records["quick_flag"]["value"] == 1.0  # --quick reached the kernel
    assert bad["claims"] == [] and bad["records"] == []
    assert report["claims"] == {"held": 1, "failed": 0, "skipped": 1}


def test_site(failing_build):
    _, out = failing_build
    index = (out / "index.html").read_text(encoding="utf-8")
    for text in ["lectures/01_ok.ipynb", "solutions/02_fail_lab.ipynb", "failed at cell 2", "boom in the third cell",
                 "answer", "42", "41.5", "squared error per image", "1 held", "0 failed", "1 skipped",
                 "a claim needing full training", "quick mode"]:
        assert text in index, text
    assert "href='lectures/01_ok.html'" in index and "href='solutions/02_fail_lab.html'" in index
    ok_html = (out / "lectures" / "01_ok.html").read_text(encoding="utf-8")
    assert "A tiny lecture" in ok_html and "seed=0" in ok_html  # executed: outputs are in the page
    assert "boom in the third cell" in (out / "solutions" / "02_fail_lab.html").read_text(encoding="utf-8")
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]


@pytest.mark.slow
def test_passing_course_exits_zero(passing_build):
    proc, out = passing_build
    assert proc.returncode == 0, proc.stderr
    assert "FAILED" not in proc.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [n["path"] for n in report["notebooks"]] == ["lectures/01_ok.ipynb"]
    assert report["notebooks"][0]["status"] == "ok"
    assert (out / "index.html").exists() and (out / "lectures" / "01_ok.html").exists()


def test_source_notebooks_are_not_modified(course, failing_build):
    nb = nbformat.read(course / "lectures" / "01_ok.ipynb", as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
def test_full_mode_enforces_claims_needing_full_training(course):
    out = course / "site_full"
    proc = run_aelab("build", "--root", course, "--out", out, "--dirs", "lectures", tmp=course)
    assert proc.returncode == 1
    assert "FAILED lectures/01_ok.ipynb at cell 2" in proc.stderr and "a claim needing full training" in proc.stderr
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["quick"] is False
    assert report["claims"] == {"held": 1, "failed": 1, "skipped": 0}
    assert "full mode" in (out / "index.html").read_text(encoding="utf-8")


def test_no_notebooks_exits_two(tmp_path, capsys):
    from aelab.cli import main

    assert main(["build", "--quick", "--root", str(tmp_path)]) == 2
    assert "no notebooks" in capsys.readouterr().err
    assert not (tmp_path / "_build").exists()


def test_unreadable_notebook_is_reported_not_a_crash(tmp_path, capsys):
    from aelab.cli import main

    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "03_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    assert main(["build", "--quick", "--root", str(tmp_path)]) == 1
    assert "FAILED lectures/03_broken.ipynb" in capsys.readouterr().err
    report = json.loads((tmp_path / "_build" / "report.json").read_text(encoding="utf-8"))
    (nb,) = report["notebooks"]
    assert nb["status"] == "failed" and "not a readable notebook" in nb["error"]
    assert "03_broken" in (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")


def test_failed_claim_fails_the_build_even_if_its_notebook_ran(tmp_path, monkeypatch, capsys):
    """A notebook that catches a ClaimError still fails the build (full mode enforces every claim)."""
    import aelab.build
    from aelab.build import NotebookResult
    from aelab.cli import main

    results = [NotebookResult(path="lectures/01.ipynb", claims=[{"kind": "claim", "text": "AE beats PCA",
                                                                 "status": "failed", "detail": ""}])]
    monkeypatch.setattr(aelab.build, "build", lambda *a, **k: results)
    assert main(["build", "--root", str(tmp_path)]) == 1
    assert "FAILED claim in lectures/01.ipynb: AE beats PCA" in capsys.readouterr().err
    results[0].claims[0]["status"] = "held"
    assert main(["build", "--root", str(tmp_path)]) == 0


def test_unknown_command_is_a_usage_error(capsys):
    from aelab.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bulid"])
    assert info.value.code == 2
    assert "build" in capsys.readouterr().err


def test_doctor(tmp_path):
    proc = run_aelab("doctor", tmp=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "torch" in out and "device:" in out
    assert str(tmp_path / "data") in out  # the data root in use
    assert "network for downloads: False" in out  # AELAB_OFFLINE=1 honoured
    assert "quick mode:" in out
