"""The ``aelab`` command: ``build`` on tiny temporary courses, its reliability, and ``doctor``.

Builds run in a subprocess, as a user runs them (``python -m aelab.tools.cli``, the console
script's target). Each notebook gets a fresh kernel, so a build takes a few seconds; module-level
fixtures build each course once. Tests that need no kernel call ``main`` in-process, some with
the notebook execution replaced by a fake.
"""

import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import aelab.tools.build as build_mod
from aelab.report import REPORT_ENV
from aelab.runtime import QUICK_ENV
from aelab.tools.build import (BuildError, BuildReport, NotebookResult, build, render_index,
                                strip_ansi)
from aelab.tools.cli import main

AELAB = [sys.executable, "-m", "aelab.tools.cli"]

OK_CELLS = [
    new_markdown_cell("# A tiny lecture"),
    new_code_cell("import aelab\nsession = aelab.setup(seed=0)\nprint(session)"),
    new_code_cell('aelab.claim(1 < 2, "one is less than two", detail="1 < 2")\n'
                  'aelab.claim(False, "a claim needing full training", needs_full=True)'),
    new_code_cell('aelab.record("answer", 42.0, paper=41.5, unit="squared error per image", note="tiny course", '
                  'source="a made-up paper, Table 1")\n'
                  'aelab.record("quick_flag", float(aelab.is_quick()))'),
]
FAIL_CELLS = [
    new_markdown_cell("# A lab that breaks"),
    new_code_cell("x = 1"),
    # the message itself carries ANSI colour codes, as IPython's tracebacks do
    new_code_cell('raise RuntimeError("\\x1b[1;31mboom\\x1b[0m in the third cell")'),
    new_code_cell('print("never reached")'),
]
# writes the kernel's pid and that of a child process it starts, then sleeps: a build to interrupt
SLEEP_CELLS = [
    new_markdown_cell("# A notebook that takes its time"),
    new_code_cell("import os, pathlib, subprocess, time\n"
                  "child = subprocess.Popen(['sleep', '120'])\n"
                  "pathlib.Path('pids.tmp').write_text(f'{os.getpid()} {child.pid}')\n"
                  "os.replace('pids.tmp', 'pids')\n"
                  "time.sleep(120)"),
]
AFTER_CELLS = [new_code_cell('print("the notebook after")')]
SLOW_CELLS = [
    new_markdown_cell("# A cell that is too slow"),
    new_code_cell("import os, pathlib, time\npathlib.Path('pids').write_text(str(os.getpid()))"),
    new_code_cell("time.sleep(30)  # longer than --timeout\nprint('done')"),
    new_code_cell('print("never reached")'),
]


def _write(path: Path, cells) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _env(tmp: Path, **extra) -> dict:
    env = dict(os.environ)
    env.pop(REPORT_ENV, None)
    env.pop(QUICK_ENV, None)  # the root conftest sets it; here only --quick chooses the mode
    env.update(AELAB_OFFLINE="1", AELAB_DATA=str(tmp / "data"), MPLBACKEND="Agg", PYTHONIOENCODING="utf-8", **extra)
    return env


def run_aelab(*args, tmp: Path, timeout=300, **env) -> subprocess.CompletedProcess:
    return subprocess.run([*AELAB, *map(str, args)], capture_output=True, text=True, env=_env(tmp, **env),
                          timeout=timeout, cwd=tmp, umask=0o022)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


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


# --------------------------------------------------------------------------- a real build


def test_failing_notebook_fails_the_build_naming_notebook_and_cell(failing_build):
    proc, _ = failing_build
    assert proc.returncode == 1, proc.stderr
    assert ("FAILED solutions/02_fail_lab.ipynb at cell 2 (`raise RuntimeError(\"\\x1b[1;31mboom\\x1b[0m in the "
            "third cell\")`): RuntimeError: boom in the third cell") in proc.stderr
    assert "lectures/01_ok.ipynb" in proc.stderr  # progress lines for every notebook
    assert "index.html" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_report_json(failing_build):
    _, out = failing_build
    text = (out / "report.json").read_text(encoding="utf-8")
    report = json.loads(text)
    assert report["quick"] is True and report["seconds"] > 0 and report["timeout"] == 1800
    assert report["interrupted"] is False and report["signal"] is None and report["not_run"] == []
    nbs = {n["path"]: n for n in report["notebooks"]}
    assert list(nbs) == ["lectures/01_ok.ipynb", "solutions/02_fail_lab.ipynb"]  # checkpoints skipped
    ok, bad = nbs["lectures/01_ok.ipynb"], nbs["solutions/02_fail_lab.ipynb"]
    assert ok["status"] == "ok" and bad["status"] == "failed"
    assert bad["failed_cell"] == 2 and bad["error"] == "RuntimeError: boom in the third cell"
    assert ok["seconds"] > 0 and bad["seconds"] > 0
    assert report["seconds"] >= ok["seconds"] + bad["seconds"]
    assert [(c["text"], c["status"]) for c in ok["claims"]] == [("one is less than two", "held"),
                                                               ("a claim needing full training", "skipped")]
    assert ok["claims"][0]["detail"] == "1 < 2"
    records = {r["name"]: r for r in ok["records"]}
    assert records["answer"]["value"] == 42.0 and records["answer"]["paper"] == 41.5
    assert records["answer"]["unit"] == "squared error per image" and records["answer"]["note"] == "tiny course"
    assert records["quick_flag"]["value"] == 1.0  # --quick reached the kernel through its environment
    assert bad["claims"] == [] and bad["records"] == []
    assert report["claims"] == {"held": 1, "failed": 0, "skipped": 1}


def test_report_json_has_no_ansi_codes(failing_build):
    _, out = failing_build
    text = (out / "report.json").read_text(encoding="utf-8")
    assert "\x1b" not in json.loads(text)["notebooks"][1]["error"]
    assert "\\u001b" not in text and "\x1b" not in text


def test_site(failing_build):
    """The Sphinx site: a student index (course map), a Build report for instructors, Reproductions."""
    _, out = failing_build
    index = (out / "index.html").read_text(encoding="utf-8")
    for text in ["Course map", "How to start", "A tiny lecture", 'href="reproductions.html"', 'href="build-report.html"',
                 "<title>"]:
        assert text in index, text
    report = (out / "build-report.html").read_text(encoding="utf-8")
    for text in ["lectures/01_ok.ipynb", "solutions/02_fail_lab.ipynb", "failed at cell 2", "boom in the third cell",
                 "1 held", "0 failed", "1 skipped", "a claim needing full training", "quick mode", "peak memory"]:
        assert text in report, text
    reproductions = (out / "reproductions.html").read_text(encoding="utf-8")
    for text in ["answer", "42", "41.5", "squared error per image", "tiny course", "a made-up paper", "Table 1",
                 "quick_flag", 'href="lectures/01_ok.html"']:
        assert text in reproductions, text
    assert "Build in progress" not in index and "Build interrupted" not in index
    assert 'href="lectures/01_ok.html"' in index
    ok_html = (out / "lectures" / "01_ok.html").read_text(encoding="utf-8")
    assert "A tiny lecture" in ok_html and "seed=0" in ok_html  # executed: outputs are in the page
    # executed solutions are published only on request (AELAB_SITE_SOLUTIONS=1), never by default
    assert not (out / "solutions" / "02_fail_lab.html").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")]


def test_site_is_readable_by_other_users(failing_build):
    """Built under umask 022, every file of the site is world-readable (a web server can serve it)."""
    _, out = failing_build
    for rel in ["index.html", "report.json", "lectures/01_ok.html", "build-report.html", "reproductions.html"]:
        assert os.stat(out / rel).st_mode & 0o004, rel


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


# --------------------------------------------------------------------------- timeouts and interrupts


def test_cell_timeout_names_the_cell_and_the_limit(tmp_path):
    _write(tmp_path / "slow" / "01_slow.ipynb", SLOW_CELLS)
    _write(tmp_path / "slow" / "02_next.ipynb", AFTER_CELLS)
    proc = run_aelab("build", "--quick", "--root", tmp_path, "--dirs", "slow", "--timeout", "2", tmp=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert ("TIMEOUT slow/01_slow.ipynb at cell 2 (`time.sleep(30)  # longer than --timeout`): timed out: still "
            "running after the 2 s limit per cell") in proc.stderr
    report = json.loads((tmp_path / "_build" / "report.json").read_text(encoding="utf-8"))
    slow, after = report["notebooks"]
    assert slow["status"] == "timeout" and slow["failed_cell"] == 2
    assert slow["failed_cell_source"] == "time.sleep(30)  # longer than --timeout"
    assert "2 s limit" in slow["error"] and "------" not in slow["error"]
    assert after["status"] == "ok"  # a timeout fails one notebook; the build goes on
    assert not _alive(int((tmp_path / "slow" / "pids").read_text()))
    assert "timeout at cell 2" in (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_signal_stops_the_whole_build(tmp_path, sig):
    _write(tmp_path / "lectures" / "01_sleep.ipynb", SLEEP_CELLS)
    _write(tmp_path / "lectures" / "02_after.ipynb", AFTER_CELLS)
    pids = tmp_path / "lectures" / "pids"
    proc = subprocess.Popen([*AELAB, "build", "--quick", "--root", str(tmp_path)], cwd=tmp_path, env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        deadline = time.monotonic() + 180
        while not pids.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pids.exists(), proc.communicate(timeout=60)
        kernel, child = map(int, pids.read_text().split())
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + sig, err
    assert f"interrupted by {sig.name}" in err and "Traceback" not in err and "AssertionError" not in err
    assert not _alive(kernel) and not _alive(child)  # the kernel and what it started are gone
    report = json.loads((tmp_path / "_build" / "report.json").read_text(encoding="utf-8"))
    assert report["interrupted"] is True and report["signal"] == sig.name
    (first,) = report["notebooks"]
    assert first["path"] == "lectures/01_sleep.ipynb" and first["status"] == "interrupted"
    assert first["failed_cell"] == 1
    assert report["not_run"] == ["lectures/02_after.ipynb"]
    assert not (tmp_path / "_build" / "lectures" / "02_after.html").exists()
    index = (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")
    assert f"This build was stopped by {sig.name}" in index and "not run" in index  # the site's warning banner


def test_kernel_settings_go_to_the_kernel_not_to_this_process(tmp_path, monkeypatch):
    """``AELAB_REPORT_FILE`` and ``AELAB_QUICK`` are passed as the kernel's env; os.environ is untouched."""
    from contextlib import contextmanager

    import nbclient

    seen = {}

    @contextmanager
    def fake_setup_kernel(self, **kwargs):
        seen["env"] = kwargs.get("env")
        seen["parent"] = {k: os.environ.get(k) for k in (REPORT_ENV, QUICK_ENV)}
        raise RuntimeError("no kernel in this test")
        yield

    monkeypatch.setattr(nbclient.NotebookClient, "setup_kernel", fake_setup_kernel)
    monkeypatch.delenv(REPORT_ENV, raising=False)
    monkeypatch.setenv(QUICK_ENV, "0")
    _write(tmp_path / "lectures" / "01_ok.ipynb", OK_CELLS)
    report = build(tmp_path, tmp_path / "_build", quick=True, progress=False)
    assert seen["env"][QUICK_ENV] == "1" and seen["env"][REPORT_ENV].endswith(".jsonl")
    assert seen["env"]["PATH"] == os.environ["PATH"]  # the rest of the environment is passed on
    assert seen["parent"] == {REPORT_ENV: None, QUICK_ENV: "0"}
    assert os.environ.get(REPORT_ENV) is None and os.environ[QUICK_ENV] == "0"
    assert report.notebooks[0].status == "failed" and "no kernel in this test" in report.notebooks[0].error


# --------------------------------------------------------------------------- the site's index


def test_a_build_never_leaves_an_old_index_beside_new_pages(tmp_path, monkeypatch):
    """While notebooks run, index.html says "in progress" and the old report.json is gone."""
    _write(tmp_path / "lectures" / "01_a.ipynb", AFTER_CELLS)
    _write(tmp_path / "lectures" / "02_b.ipynb", AFTER_CELLS)
    out = tmp_path / "_build"
    out.mkdir()
    (out / "index.html").write_text("<p>all ok</p>", encoding="utf-8")
    (out / "report.json").write_text('{"notebooks": []}', encoding="utf-8")
    during = []

    def fake_execute(path, root, out, *, quick, timeout, nav=None):
        during.append(((out / "index.html").read_text(encoding="utf-8"), (out / "report.json").exists()))
        return NotebookResult(path=path.relative_to(root).as_posix())

    monkeypatch.setattr(build_mod, "execute_notebook", fake_execute)
    build(tmp_path, out, quick=True, progress=False)
    assert len(during) == 2
    for index, has_report in during:
        assert "Build in progress" in index and "all ok" not in index and not has_report
        assert "lectures/01_a.ipynb" in index and "lectures/02_b.ipynb" in index  # the queue
    final = (out / "index.html").read_text(encoding="utf-8")
    assert "Build in progress" not in final
    assert "0 held" in (out / "build-report.html").read_text(encoding="utf-8")
    assert len(json.loads((out / "report.json").read_text(encoding="utf-8"))["notebooks"]) == 2


def test_index_is_escaped_and_shows_claims_per_notebook():
    r = NotebookResult(path="lectures/01_x.ipynb", html="lectures/01_x.html", seconds=3.0,
                       claims=[{"kind": "claim", "text": "<script>alert(1)</script> wins", "status": "held",
                                "detail": "1 < 2"},
                               {"kind": "claim", "text": "needs the full set", "status": "skipped", "detail": ""}],
                       records=[{"kind": "record", "name": "sse", "value": 3.14159, "paper": 3.0,
                                 "unit": "squared error per image", "note": ""}])
    bad = NotebookResult(path="solutions/02_y.ipynb", status="timeout", failed_cell=4, failed_cell_source="fit()",
                         error="timed out: still running after the 9 s limit per cell")
    page = render_index(BuildReport([r, bad], quick=False, timeout=9, seconds=12.0))
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; wins" in page
    assert "full mode" in page
    assert "1 held" in page and "0 failed" in page and "1 skipped" in page
    assert "timeout at cell 4 (`fit()`): timed out: still running after the 9 s limit" in page
    assert page.index('id="nb-lectures-01_x-ipynb"') > page.index('id="claims"')
    assert "solutions/02_y.ipynb</h3>" not in page  # no claims: no section


def test_strip_ansi():
    assert strip_ansi("\x1b[0;31mValueError\x1b[0m: bad \x1b[1;32mthing\x1b[39m\x1b[K") == "ValueError: bad thing"
    assert strip_ansi("plain [1m text") == "plain [1m text"


# --------------------------------------------------------------------------- command-line errors


def _one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5"])
def test_timeout_must_be_a_positive_whole_number(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["build", "--root", str(tmp_path), "--timeout", value])
    assert info.value.code == 2
    line = _one_line(capsys.readouterr().err)
    assert "--timeout" in line and repr(value) in line and "aelab build --help" in line
    assert not (tmp_path / "_build").exists()


def test_build_rejects_a_nonpositive_timeout_in_python(tmp_path):
    _write(tmp_path / "lectures" / "01.ipynb", AFTER_CELLS)
    with pytest.raises(BuildError, match="positive"):
        build(tmp_path, tmp_path / "_build", quick=True, timeout=0)


def test_out_that_is_a_file_is_an_error_before_anything_runs(tmp_path, capsys, monkeypatch):
    _write(tmp_path / "lectures" / "01.ipynb", AFTER_CELLS)
    target = tmp_path / "site"
    target.write_text("not a folder", encoding="utf-8")
    monkeypatch.setattr(build_mod, "execute_notebook", lambda *a, **k: pytest.fail("a notebook ran"))
    assert main(["build", "--quick", "--root", str(tmp_path), "--out", str(target)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("aelab build: --out ") and "is a file, not a folder" in line
    assert target.read_text(encoding="utf-8") == "not a folder" and not (tmp_path / "_build").exists()


@pytest.mark.parametrize("flag", ["AELAB_QUICK", "AELAB_OFFLINE", "AELAB_ZOO"])
def test_bad_environment_flag_is_one_line_before_the_build(tmp_path, capsys, monkeypatch, flag):
    _write(tmp_path / "lectures" / "01.ipynb", AFTER_CELLS)
    monkeypatch.setenv(flag, "maybe")
    monkeypatch.setattr(build_mod, "execute_notebook", lambda *a, **k: pytest.fail("a notebook ran"))
    assert main(["build", "--root", str(tmp_path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"aelab build: {flag}='maybe' is not a boolean") and f"{flag}=1" in line
    assert not (tmp_path / "_build").exists()


def test_bad_environment_flag_from_the_real_command(tmp_path):
    proc = run_aelab("build", "--root", tmp_path, tmp=tmp_path, timeout=120, AELAB_QUICK="maybe")
    assert proc.returncode == 2
    assert _one_line(proc.stderr).startswith("aelab build: AELAB_QUICK='maybe' is not a boolean: set AELAB_QUICK=1")


def test_doctor_with_a_bad_flag_is_one_line(capsys, monkeypatch):
    monkeypatch.setenv("AELAB_OFFLINE", "perhaps")
    assert main(["doctor"]) == 2
    captured = capsys.readouterr()
    assert _one_line(captured.err).startswith("aelab doctor: AELAB_OFFLINE='perhaps' is not a boolean")
    assert captured.out == ""  # stopped before printing a partial report


@pytest.mark.parametrize("argv", [["bulid"], ["build", "--bogus"], ["build", "--quick=yes"], []])
def test_usage_errors_are_one_line(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    line = _one_line(capsys.readouterr().err)
    assert "error:" in line and "--help" in line


def test_unknown_command_names_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["bulid"])
    assert "'build'" in capsys.readouterr().err


def test_no_notebooks_exits_two(tmp_path, capsys):
    assert main(["build", "--quick", "--root", str(tmp_path)]) == 2
    assert "no notebooks" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "_build").exists()


def test_unreadable_notebook_is_reported_not_a_crash(tmp_path, capsys):
    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "03_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    assert main(["build", "--quick", "--root", str(tmp_path)]) == 1
    assert "FAILED lectures/03_broken.ipynb" in capsys.readouterr().err
    report = json.loads((tmp_path / "_build" / "report.json").read_text(encoding="utf-8"))
    (nb,) = report["notebooks"]
    assert nb["status"] == "failed" and "not a readable notebook" in nb["error"]
    assert "03_broken" in (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")


def test_build_solutions_flag_is_aelab_site_solutions(tmp_path, monkeypatch):
    """`aelab build --solutions` asks for the executed solutions; without it AELAB_SITE_SOLUTIONS decides (None)."""
    calls = []

    def fake_build(*args, **kwargs):
        calls.append(kwargs.get("solutions"))
        return BuildReport([], quick=True, timeout=1800)

    monkeypatch.setattr(build_mod, "build", fake_build)
    assert main(["build", "--quick", "--solutions", "--root", str(tmp_path)]) == 0
    assert main(["build", "--quick", "--root", str(tmp_path)]) == 0
    assert calls == [True, None]


@pytest.mark.slow
def test_build_with_solutions_publishes_them_labelled(tmp_path):
    """A real build with --solutions: the student lab (unexecuted) and the executed solution, titled as one."""
    lab_cells = [new_markdown_cell("# A tiny lab"), new_code_cell("answer = 6 * 7\nprint('the answer is', answer)")]
    _write(tmp_path / "solutions" / "02_tiny_lab.ipynb", lab_cells)
    _write(tmp_path / "labs" / "02_tiny_lab.ipynb", [lab_cells[0], new_code_cell("answer = None  # YOUR CODE HERE")])
    out = tmp_path / "_build"
    proc = run_aelab("build", "--quick", "--solutions", "--root", tmp_path, "--dirs", "solutions", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    solution = (out / "solutions" / "02_tiny_lab.html").read_text(encoding="utf-8")
    assert "Solution" in solution.split("</title>")[0] and "the answer is 42" in solution
    lab = (out / "labs" / "02_tiny_lab.html").read_text(encoding="utf-8")
    assert "YOUR CODE HERE" in lab and "the answer is 42" not in lab
    assert 'href="solutions/02_tiny_lab.html"' in (out / "index.html").read_text(encoding="utf-8")


def test_failed_claim_fails_the_build_even_if_its_notebook_ran(tmp_path, monkeypatch, capsys):
    """A notebook that catches a ClaimError still fails the build (full mode enforces every claim)."""
    results = [NotebookResult(path="lectures/01.ipynb", claims=[{"kind": "claim", "text": "AE beats PCA",
                                                                 "status": "failed", "detail": ""}])]
    monkeypatch.setattr(build_mod, "build", lambda *a, **k: BuildReport(results, quick=False, timeout=1800))
    assert main(["build", "--root", str(tmp_path)]) == 1
    assert "FAILED claim in lectures/01.ipynb: AE beats PCA" in capsys.readouterr().err
    results[0].claims[0]["status"] = "held"
    assert main(["build", "--root", str(tmp_path)]) == 0


def test_doctor(tmp_path):
    proc = run_aelab("doctor", tmp=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "torch" in out and "device:" in out
    assert str(tmp_path / "data") in out  # the data root in use
    assert "network for downloads: False" in out  # AELAB_OFFLINE=1 honoured
    assert "quick mode:" in out


# --------------------------------------------------------------------------- the offline site


def test_pages_need_no_network_and_link_in_course_order(failing_build):
    _, out = failing_build
    assert (out / "_static" / "mathjax" / "tex-svg-full.js").is_file()  # MathJax 3 served by the site
    lecture = (out / "lectures" / "01_ok.html").read_text(encoding="utf-8")
    remote = re.findall(r'(?:src|href)\s*=\s*["\'](?:https?:)?//[^"\']+', lecture)
    assert remote == [], remote  # nothing from a CDN: no MathJax, RequireJS or widget manager
    assert "require.min.js" not in lecture and "embed-amd" not in lecture
    scripts = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', lecture, flags=re.I)
    assert all(src.startswith("../_static/mathjax/") for src in scripts), scripts  # MathJax, if any, is the site's
    assert 'href="../index.html"' in lecture and 'href="../reproductions.html"' in lecture
    # course order: the lecture, then the instructors' pages
    assert re.search(r'rel="next"[^>]*href="\.\./reproductions\.html"|href="\.\./reproductions\.html"[^>]*rel="next"',
                     lecture)


def test_report_measures_each_kernels_memory_and_cpu_time(failing_build):
    _, out = failing_build
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    for nb in report["notebooks"]:
        assert 20 < nb["peak_rss_mb"] < 20_000, nb  # a Python kernel holds tens of MiB at least
        assert 0 < nb["cpu_seconds"] < 600, nb
        assert 1 < nb["machine_gflops"] < 100_000, nb  # the matmul speed measured around the notebook
        assert nb["reference_seconds"] == pytest.approx(nb["seconds"] * nb["machine_gflops"] / build_mod.REFERENCE_GFLOPS)
    report_page = (out / "build-report.html").read_text(encoding="utf-8")
    assert "peak memory" in report_page and " MiB" in report_page
    assert "at reference speed" in report_page and "GFLOP/s)" in report_page


def test_a_notebook_without_a_speed_measurement_has_no_reference_time():
    r = NotebookResult(path="lectures/01_a.ipynb", seconds=100.0)
    assert r.reference_seconds is None
    r.machine_gflops = 50.0                     # a machine at a quarter of the reference speed
    assert r.reference_seconds == pytest.approx(25.0)
    assert build_mod.machine_speed(n=256, repeats=1) > 0


def _widget_state(**models):
    return {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": {
        mid: {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state, **extra}
        for mid, (name, state, extra) in models.items()}}}


def test_static_widgets_turn_progress_bars_into_text_and_explorers_into_snapshots():
    from aelab.tools import site

    png = "iVBORw0KGgo="  # any base64
    nb = new_notebook(cells=[new_code_cell("fit()"), new_code_cell("explorer")])
    view = "application/vnd.jupyter.widget-view+json"
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={
        view: {"model_id": "bar", "version_major": 2, "version_minor": 0}, "text/plain": "fit:   0%| | 0/5"})]
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={
        view: {"model_id": "box", "version_major": 2, "version_minor": 0}, "text/plain": "VBox(...)"})]
    nb.metadata["widgets"] = _widget_state(
        bar=("HBoxModel", {"children": ["IPY_MODEL_left", "IPY_MODEL_prog", "IPY_MODEL_right"]}, {}),
        left=("HTMLModel", {"value": "fit: 100%"}, {}),
        prog=("FloatProgressModel", {"value": 5, "max": 5}, {}),
        right=("HTMLModel", {"value": " 5/5 [00:01&lt;00:00]"}, {}),
        box=("VBoxModel", {"children": ["IPY_MODEL_slider", "IPY_MODEL_img"]}, {}),
        slider=("FloatSliderModel", {"value": 1.5, "description": "z1"}, {}),
        img=("ImageModel", {"format": "png"}, {"buffers": [{"path": ["value"], "encoding": "base64", "data": png}]}),
    )
    assert site.static_widgets(nb) == 2
    assert "widgets" not in nb.metadata
    assert nb.cells[0].outputs[0]["data"] == {"text/plain": "fit: 100% |████████████████████|  5/5 [00:01<00:00]"}
    snapshot = nb.cells[1].outputs[0]["data"]["text/html"]
    assert f'src="data:image/png;base64,{png}"' in snapshot and "z1 = 1.5" in snapshot
    assert "Interactive widget" in snapshot


def test_course_map_titles_summaries_and_order(tmp_path):
    from aelab.tools import site

    _write(tmp_path / "lectures" / "02_b.ipynb", [new_markdown_cell("# Lecture 02: Deep *autoencoders*\n\n"
                                                                  "Stacks of layers [learn](x.html) codes. More.")])
    _write(tmp_path / "solutions" / "01_a_lab.ipynb", [new_markdown_cell("# Lab 01\n\nDo it.")])
    _write(tmp_path / "lectures" / "01_a.ipynb", [new_code_cell("1")])
    rels = ["lectures/01_a.ipynb", "lectures/02_b.ipynb", "solutions/01_a_lab.ipynb"]
    entries = [site.read_entry(tmp_path / r, r) for r in rels]
    assert entries[1].title == "Lecture 02: Deep autoencoders" and entries[1].summary == "Stacks of layers learn codes."
    assert entries[0].title == "01 a"  # no heading: the file name
    order = [e.rel for e in site.course_order(entries)]
    assert order == ["lectures/01_a.ipynb", "solutions/01_a_lab.ipynb", "lectures/02_b.ipynb"]
    nav = site.page_nav(site.course_order(entries))
    assert nav["solutions/01_a_lab.ipynb"]["next"]["href"] == "../lectures/02_b.html"
    assert nav["lectures/01_a.ipynb"]["prev"] is None


def test_a_long_summary_is_never_cut_inside_math():
    from aelab.tools import site

    text = "An encoder maps $x \\in \\mathbb{R}^D$ to a code $z = f(x) \\in \\mathbb{R}^k$ " + "and more " * 30 + "."
    cut = site._first_sentence(text, limit=60)
    assert cut.endswith("…") and cut.count("$") % 2 == 0 and len(cut) <= 60


# --------------------------------------------------------------------------- one notebook must not kill the build

JUNK_LIST_CELLS = [new_code_cell("import json, os\n"
                                 "with open(os.environ['AELAB_REPORT_FILE'], 'a') as f:\n"
                                 "    f.write(json.dumps([1, 2, 3]) + '\\n')")]
JUNK_BYTES_CELLS = [new_code_cell("import os\n"
                                  "with open(os.environ['AELAB_REPORT_FILE'], 'ab') as f:\n"
                                  "    f.write(b'\\xff\\xfe not utf-8\\n')")]
SEED_CELLS = [new_code_cell("import os, aelab\n"
                            "aelab.record('kernel_seed', float(os.environ.get('AELAB_SEED', '-1')))\n"
                            "aelab.claim(True, 'a claim after the junk')")]


def test_junk_in_the_report_file_fails_only_that_notebook(tmp_path):
    """A JSON list or invalid UTF-8 in the report file: that notebook fails, the others run, the index is final."""
    _write(tmp_path / "lectures" / "01_list.ipynb", JUNK_LIST_CELLS)
    _write(tmp_path / "lectures" / "02_bytes.ipynb", JUNK_BYTES_CELLS)
    _write(tmp_path / "lectures" / "03_fine.ipynb", SEED_CELLS)
    proc = run_aelab("build", "--quick", "--root", tmp_path, "--dirs", "lectures", "--seed", "3", tmp=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads((tmp_path / "_build" / "report.json").read_text(encoding="utf-8"))
    by_path = {nb["path"]: nb for nb in report["notebooks"]}
    assert by_path["lectures/01_list.ipynb"]["status"] == "failed"
    assert "line 1 is a JSON list" in by_path["lectures/01_list.ipynb"]["error"]
    assert by_path["lectures/02_bytes.ipynb"]["status"] == "failed"
    assert "invalid UTF-8" in by_path["lectures/02_bytes.ipynb"]["error"]
    fine = by_path["lectures/03_fine.ipynb"]
    assert fine["status"] == "ok" and fine["records"][0]["value"] == 3.0  # --seed reached the kernel
    assert report["seed"] == 3 and report["not_run"] == [] and report["stopped"] is None
    index = (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")
    assert "Build in progress" not in index and "report file" in index
    assert not (tmp_path / "_build" / build_mod.LOCK_NAME).exists()
    assert not (tmp_path / "_build" / ".aelab-reserve").exists()


def test_read_kernel_report_keeps_good_entries_and_names_the_junk(tmp_path):
    path = tmp_path / "r.jsonl"
    good = {"kind": "claim", "text": "t", "status": "held", "detail": ""}
    record = {"kind": "record", "name": "x", "value": 1.0}
    path.write_bytes((json.dumps(good) + "\n" + json.dumps(record) + "\n").encode() + b'{"kind": "claim"}\n'
                     + b'"a string"\n' + b'{"kind": "claim", "text": "cut sh')
    claims, records, problem = build_mod.read_kernel_report(path)
    assert claims == [good] and records == [record]
    assert "line 3 is not an aelab claim or record" in problem and "line 4 is a JSON str" in problem
    assert "line 5" not in problem  # the last line cut short by a killed kernel is not junk
    path.write_bytes(json.dumps(good).encode() + b"\n")
    assert build_mod.read_kernel_report(path) == ([good], [], "")
    assert build_mod.read_kernel_report(tmp_path / "missing") == ([], [], "")


def _fake_notebooks(tmp_path, n=3):
    for i in range(1, n + 1):
        _write(tmp_path / "lectures" / f"0{i}_x.ipynb", AFTER_CELLS)


def test_a_page_that_cannot_be_published_fails_only_its_notebook(tmp_path, monkeypatch):
    _fake_notebooks(tmp_path)

    def fake_execute(path, root, out, *, quick, timeout, nav=None):
        if path.name == "02_x.ipynb":
            raise RuntimeError("the renderer choked\nsecond line")
        return NotebookResult(path=path.relative_to(root).as_posix())

    monkeypatch.setattr(build_mod, "execute_notebook", fake_execute)
    report = build(tmp_path, tmp_path / "_build", quick=True, progress=False)
    assert [r.status for r in report.notebooks] == ["ok", "failed", "ok"]
    assert report.notebooks[1].error == "its page could not be published (RuntimeError: the renderer choked)"


def _stopped_line(err: str) -> str:
    """The one line (besides the progress bar) a stopped build prints; no traceback."""
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("aelab build: stopped")]
    return line


def test_a_full_disk_stops_the_build_in_one_line_and_the_index_says_so(tmp_path, monkeypatch, capsys):
    _fake_notebooks(tmp_path)
    out = tmp_path / "_build"

    def fake_execute(path, root, out, *, quick, timeout, nav=None):
        if path.name == "02_x.ipynb":
            raise OSError(28, "No space left on device")
        return NotebookResult(path=path.relative_to(root).as_posix())

    monkeypatch.setattr(build_mod, "execute_notebook", fake_execute)
    assert main(["build", "--quick", "--root", str(tmp_path)]) == 1
    line = _stopped_line(capsys.readouterr().err)
    assert line.startswith(f"aelab build: stopped by a full disk ({out})") and "free space" in line
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["stopped"] == f"a full disk ({out})"
    assert report["not_run"] == ["lectures/02_x.ipynb", "lectures/03_x.ipynb"]
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Build in progress" not in index and f"a full disk ({out})" in index


def test_a_disk_full_while_finishing_still_writes_the_index(tmp_path, monkeypatch, capsys):
    """The space a reserve file held back is enough for the index when report.json no longer fits."""
    _fake_notebooks(tmp_path, 1)
    out = tmp_path / "_build"
    monkeypatch.setattr(build_mod, "execute_notebook",
                        lambda path, root, out, **k: NotebookResult(path=path.relative_to(root).as_posix()))
    real_write = build_mod.atomic_write_text
    reserve_seen = []

    def full_disk(path, text):
        if Path(path).name == "report.json":
            raise OSError(28, "No space left on device")
        if Path(path).name == "index.html":
            reserve_seen.append((out / ".aelab-reserve").exists())
        return real_write(path, text)

    monkeypatch.setattr(build_mod, "atomic_write_text", full_disk)
    assert main(["build", "--quick", "--root", str(tmp_path)]) == 1
    assert "stopped by a full disk" in _stopped_line(capsys.readouterr().err)
    assert reserve_seen == [True, False]  # held while the notebooks ran, freed for the final index
    assert f"a full disk ({out})" in (out / "index.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- one build per folder


def test_a_second_build_into_the_same_folder_stops_naming_the_first(tmp_path, monkeypatch, capsys):
    _fake_notebooks(tmp_path, 1)
    out = tmp_path / "_build"
    monkeypatch.setattr(build_mod, "execute_notebook", lambda *a, **k: pytest.fail("a notebook ran"))
    with build_mod._locked(out):
        assert (out / build_mod.LOCK_NAME).read_text().strip() == str(os.getpid())
        assert main(["build", "--quick", "--root", str(tmp_path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"another aelab build (PID {os.getpid()}) is writing to {out}" in line
    assert not (out / "index.html").exists()
    assert not (out / build_mod.LOCK_NAME).exists()  # released and removed


def test_a_lock_left_by_a_killed_build_does_not_block(tmp_path, monkeypatch):
    """flock dies with its process: a lock file with a PID but no lock on it is taken over."""
    _fake_notebooks(tmp_path, 1)
    out = tmp_path / "_build"
    out.mkdir()
    (out / build_mod.LOCK_NAME).write_text("999999\n")
    monkeypatch.setattr(build_mod, "execute_notebook",
                        lambda path, root, out, **k: NotebookResult(path=path.relative_to(root).as_posix()))
    assert build(tmp_path, out, quick=True, progress=False).notebooks[0].status == "ok"


def test_two_real_builds_into_one_folder(tmp_path):
    """The second of two concurrent builds stops at once; the first publishes every page in its index."""
    go = tmp_path / "go"  # the first build's notebook waits for it: the second build starts while it runs
    _write(tmp_path / "lectures" / "01_slow.ipynb", [new_code_cell(
        f"import pathlib, time\nfor _ in range(1200):\n    if pathlib.Path({str(go)!r}).exists():\n        break\n"
        "    time.sleep(0.1)")])
    first = subprocess.Popen([*AELAB, "build", "--quick", "--root", str(tmp_path), "--dirs", "lectures"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path), cwd=tmp_path)
    lock = tmp_path / "_build" / build_mod.LOCK_NAME
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    second = run_aelab("build", "--quick", "--root", tmp_path, "--dirs", "lectures", tmp=tmp_path, timeout=120)
    go.touch()
    assert first.wait(timeout=240) == 0, first.stderr.read()
    assert second.returncode == 2 and f"another aelab build (PID {first.pid})" in _one_line(second.stderr)
    report = json.loads((tmp_path / "_build" / "report.json").read_text(encoding="utf-8"))
    assert [nb["status"] for nb in report["notebooks"]] == ["ok"]


# --------------------------------------------------------------------------- nothing read or written outside


def test_dirs_outside_the_root_are_refused(tmp_path, capsys, monkeypatch):
    root = tmp_path / "course"
    _write(tmp_path / "elsewhere" / "01_x.ipynb", AFTER_CELLS)
    _write(root / "lectures" / "01_y.ipynb", AFTER_CELLS)
    monkeypatch.setattr(build_mod, "execute_notebook", lambda *a, **k: pytest.fail("a notebook ran"))
    assert main(["build", "--root", str(root), "--dirs", "lectures", "../elsewhere"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--dirs ../elsewhere is" in line and "outside the course root" in line
    assert not (root / "_build").exists() and not (tmp_path / "elsewhere" / "01_x.html").exists()
    (root / "linked").symlink_to(tmp_path / "elsewhere")  # a folder that is a link out of the root
    assert main(["build", "--root", str(root), "--dirs", "linked"]) == 2
    assert "outside the course root" in _one_line(capsys.readouterr().err)


def test_a_notebook_linked_to_a_file_outside_the_root_is_refused(tmp_path, capsys, monkeypatch):
    root = tmp_path / "course"
    secret = tmp_path / "secret.txt"
    secret.write_text("the first line of a private file\n", encoding="utf-8")
    _write(root / "lectures" / "01_y.ipynb", AFTER_CELLS)
    (root / "lectures" / "02_link.ipynb").symlink_to(secret)
    monkeypatch.setattr(build_mod, "execute_notebook", lambda *a, **k: pytest.fail("a notebook ran"))
    assert main(["build", "--root", str(root)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("aelab build: lectures/02_link.ipynb is a link to") and "outside the course root" in line
    assert not (root / "_build").exists()


def test_a_notebook_linked_inside_the_root_is_fine_and_pages_stay_inside_out(tmp_path, capsys, monkeypatch):
    root = tmp_path / "course"
    _write(root / "lectures" / "01_y.ipynb", AFTER_CELLS)
    (root / "lectures" / "02_same.ipynb").symlink_to(root / "lectures" / "01_y.ipynb")
    seen = []
    monkeypatch.setattr(build_mod, "execute_notebook",
                        lambda path, root, out, **k: seen.append(path.name) or NotebookResult(
                            path=path.relative_to(root).as_posix()))
    assert main(["build", "--root", str(root), "--dirs", "lectures"]) == 0
    assert seen == ["01_y.ipynb", "02_same.ipynb"]
    capsys.readouterr()
    out = root / "_build"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if (out / "lectures").is_dir():
        for child in (out / "lectures").iterdir():
            child.unlink()
        (out / "lectures").rmdir()
    (out / "lectures").symlink_to(elsewhere)  # pages would land outside --out
    assert main(["build", "--root", str(root), "--dirs", "lectures"]) == 2
    assert "outside --out" in _one_line(capsys.readouterr().err)
    assert list(elsewhere.iterdir()) == []


# --------------------------------------------------------------------------- seeds


def test_seed_reaches_execute_notebook_and_the_report(tmp_path, monkeypatch):
    _fake_notebooks(tmp_path, 1)
    seen = []
    monkeypatch.setattr(build_mod, "execute_notebook",
                        lambda path, root, out, **k: seen.append(k.get("seed")) or NotebookResult(
                            path=path.relative_to(root).as_posix()))
    assert main(["build", "--root", str(tmp_path), "--seed", "4"]) == 0
    assert main(["build", "--root", str(tmp_path)]) == 0
    assert seen == [4, None]
    with pytest.raises(TypeError):
        build(tmp_path, tmp_path / "_b", quick=True, seed=1.5, progress=False)


@pytest.mark.parametrize("value", ["-1", "x", "2.0"])
def test_seed_must_be_a_whole_number(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["build", "--root", str(tmp_path), "--seed", value])
    assert info.value.code == 2 and "--seed" in _one_line(capsys.readouterr().err)


def test_seeds_tabulates_claims_across_seeds():
    from aelab.tools.seeds import render_table, tabulate

    def nb(path, statuses, status="ok"):
        return {"path": path, "status": status, "error": "boom" if status != "ok" else "",
                "claims": [{"text": f"claim {i}", "status": s} for i, s in enumerate(statuses)]}

    reports = {0: {"notebooks": [nb("lectures/01.ipynb", ["held", "held"]), nb("lectures/02.ipynb", ["held"])]},
               1: {"notebooks": [nb("lectures/01.ipynb", ["held", "failed"]),
                                 nb("lectures/02.ipynb", [], status="failed")]},
               2: {"notebooks": [nb("lectures/01.ipynb", ["held", "skipped"])], "not_run": ["lectures/02.ipynb"]}}
    rows, unfinished = tabulate(reports)
    assert [(r.notebook, r.index) for r in rows] == [("lectures/01.ipynb", 0), ("lectures/01.ipynb", 1),
                                                     ("lectures/02.ipynb", 0)]
    assert rows[0].seeds_with("held") == [0, 1, 2]
    assert rows[1].seeds_with("failed") == [1] and rows[1].seeds_with("skipped") == [2]
    assert rows[2].seeds_with("not run") == [1, 2]
    assert unfinished == {1: ["lectures/02.ipynb: failed (boom)"], 2: ["lectures/02.ipynb: not run"]}
    table = render_table(rows, unfinished, [0, 1, 2])
    assert "1 of 3 claims hold at every seed." in table
    assert "| lectures/01.ipynb | 2 | claim 1 | 1/3 | 1 | 2 |  |" in table


def test_seeds_command_runs_one_build_per_seed(tmp_path):
    """A claim that depends on AELAB_SEED holds at the even seeds only, and the table says so."""
    _write(tmp_path / "lectures" / "01_parity.ipynb", [new_code_cell(
        "import os, aelab\naelab.claim(True, 'always')\n"
        "aelab.claim(int(os.environ['AELAB_SEED']) % 2 == 0, 'even seed')")])
    proc = run_aelab("seeds", "--seeds", "0", "1", "--root", tmp_path, "--out", tmp_path / "sweep",
                     "--dirs", "lectures", tmp=tmp_path, timeout=300)
    assert proc.returncode == 1, proc.stderr  # a claim failed at some seed
    table = (tmp_path / "sweep" / "seeds.md").read_text(encoding="utf-8")
    assert "| lectures/01_parity.ipynb | 1 | always | 2/2 |" in table
    assert "| lectures/01_parity.ipynb | 2 | even seed | 0/2 |" not in table
    assert "seed 1: lectures/01_parity.ipynb: failed" in table  # the ClaimError stopped the notebook
    assert (tmp_path / "sweep" / "seed-0" / "report.json").is_file()
    assert (tmp_path / "sweep" / "seed-1" / "report.json").is_file()


# --------------------------------------------------------------------------- doctor validates what it reports


def _idx(path: Path, magic: int, dims: tuple[int, ...], payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    path.write_bytes(header + payload)


@pytest.mark.parametrize("complete", [True, False])
def test_doctor_reports_a_damaged_mnist_file_as_damaged(tmp_path, capsys, monkeypatch, complete):
    raw = tmp_path / "data" / "MNIST" / "raw"
    _idx(raw / "train-images-idx3-ubyte", 2051, (60000, 28, 28), bytes(1000))  # truncated
    if complete:
        for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            (raw / name).write_bytes(b"")
    monkeypatch.setenv("AELAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    mnist = next(ln for ln in out.splitlines() if ln.startswith("MNIST:"))
    assert "70,000" not in mnist and "DAMAGED" in mnist and "train-images-idx3-ubyte" in mnist


def test_doctor_counts_the_images_it_reports(tmp_path, capsys, monkeypatch):
    """Full MNIST is reported with the number of images its files hold, after loading them."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        _idx(raw / f"{prefix}-images-idx3-ubyte", 2051, (n, 28, 28), bytes(n * 784))
        _idx(raw / f"{prefix}-labels-idx1-ubyte", 2049, (n,), bytes(n))
    monkeypatch.setenv("AELAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    assert main(["doctor"]) == 0
    mnist = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("MNIST:"))
    assert mnist.startswith("MNIST: the full 70,000 images, checked")
