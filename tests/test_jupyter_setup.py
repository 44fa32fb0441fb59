"""``aelab jupyter``: students do not see nbgrader's instructor tools, and a notebook opens without being dirtied.

Unit tests of the configuration files and of the contents manager; one browser test opens a lab
in a real JupyterLab (Debian's headless Chromium, as ``tests/test_browser.py``) in each mode and
checks the menus, the formgrader endpoint and the tab's unsaved mark.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from aelab.tools import jupyter
from aelab.tools.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("AELAB_CHROMIUM", "/usr/bin/chromium")


def test_student_and_instructor_configuration(tmp_path, capsys):
    (tmp_path / "labconfig").mkdir()
    (tmp_path / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {"other": True},
                                                                         "keep": 1}))
    (tmp_path / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions":
                                                                                   {"x.y": True}}}))
    assert main(["jupyter", "--student", "--config-dir", str(tmp_path)]) == 0
    assert "nbgrader's instructor tools hidden" in capsys.readouterr().out
    page = json.loads((tmp_path / "labconfig" / "page_config.json").read_text())
    server = json.loads((tmp_path / "jupyter_server_config.json").read_text())
    assert page == {"disabledExtensions": {"other": True, "@jupyter/nbgrader": True}, "keep": 1}
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert extensions["x.y"] is True and all(extensions[n] is False for n in jupyter.NBGRADER_SERVER_EXTENSIONS)
    assert server["ServerApp"]["contents_manager_class"] == jupyter.CONTENTS_MANAGER

    assert main(["jupyter", "--instructor", "--config-dir", str(tmp_path)]) == 0  # the one instructor command
    page = json.loads((tmp_path / "labconfig" / "page_config.json").read_text())
    server = json.loads((tmp_path / "jupyter_server_config.json").read_text())
    assert page == {"disabledExtensions": {"other": True, "@jupyter/nbgrader": False}, "keep": 1}
    assert all(server["ServerApp"]["jpserver_extensions"][n] is True for n in jupyter.NBGRADER_SERVER_EXTENSIONS)


def test_if_unset_keeps_an_earlier_choice(tmp_path, capsys):
    """`aelab jupyter --student --if-unset` (scripts/setup.sh) sets up students once and keeps an instructor's switch."""
    assert jupyter.current_mode(tmp_path) is None
    assert main(["jupyter", "--student", "--if-unset", "--config-dir", str(tmp_path)]) == 0
    assert jupyter.current_mode(tmp_path) == "student"
    assert main(["jupyter", "--instructor", "--config-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    files = {p: p.read_bytes() for p in tmp_path.rglob("*.json")}
    assert main(["jupyter", "--student", "--if-unset", "--config-dir", str(tmp_path)]) == 0  # setup.sh run again
    assert "already set up for instructors" in capsys.readouterr().out
    assert jupyter.current_mode(tmp_path) == "instructor"
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.json")} == files
    assert main(["jupyter", "--student", "--config-dir", str(tmp_path)]) == 0  # without --if-unset: switches
    assert jupyter.current_mode(tmp_path) == "student"


def test_setup_and_binder_give_students_the_student_setup():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    post = (ROOT / "binder" / "postBuild").read_text()

    def commands(text):
        return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]

    assert ".venv/bin/aelab jupyter --student --if-unset" in commands(setup)
    assert "aelab jupyter --student" in commands(post)
    guide = (ROOT / "INSTRUCTORS.md").read_text()
    assert "\n.venv/bin/aelab jupyter --instructor " in guide and "scripts/setup.sh" in guide


def test_jupyter_needs_a_mode_and_a_valid_file(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["jupyter"])
    (tmp_path / "jupyter_server_config.json").write_text("{not json")
    assert main(["jupyter", "--student", "--config-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not valid JSON" in err and "Traceback" not in err


def test_fill_language_info_is_what_the_kernel_reports():
    from ipykernel.ipkernel import IPythonKernel

    nb = nbformat.read(ROOT / "labs" / "01_pca_linear_autoencoder_lab.ipynb", as_version=4)
    assert nb.metadata.language_info != IPythonKernel.language_info  # the course stores a short one
    assert jupyter.fill_language_info(nb)
    assert nb.metadata.language_info == IPythonKernel.language_info
    assert not jupyter.fill_language_info(nb)  # already equal
    other = {"metadata": {"kernelspec": {"name": "ir", "language": "R"}, "language_info": {"name": "R"}}}
    assert not jupyter.fill_language_info(other) and other["metadata"]["language_info"] == {"name": "R"}


def test_contents_manager_serves_the_kernels_language_info_and_leaves_the_file(tmp_path):
    from ipykernel.ipkernel import IPythonKernel

    src = ROOT / "labs" / "01_pca_linear_autoencoder_lab.ipynb"
    shutil.copy(src, tmp_path / src.name)
    manager = jupyter.NotebookContentsManager(root_dir=str(tmp_path))
    model = asyncio.run(manager.get(src.name))
    assert model["content"]["metadata"]["language_info"] == IPythonKernel.language_info
    assert (tmp_path / src.name).read_bytes() == src.read_bytes()
    listing = asyncio.run(manager.get(""))  # folders and other files are untouched
    assert listing["type"] == "directory"


# --------------------------------------------------------------------------- in a real JupyterLab


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _open_lab(mode: str | None, tmp: Path) -> dict:
    """Open lab 01 in a fresh JupyterLab configured for ``mode``; what the page shows and the server serves."""
    from playwright.sync_api import sync_playwright

    root, config = tmp / "root", tmp / "config"
    root.mkdir(parents=True)
    name = "01_pca_linear_autoencoder_lab.ipynb"
    shutil.copy(ROOT / "labs" / name, root / name)
    config.mkdir()
    if mode:
        assert main(["jupyter", f"--{mode}", "--config-dir", str(config)]) == 0
    else:  # jupyter_server's default contents manager, whatever this environment's own setup says
        (config / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {
            "contents_manager_class": "jupyter_server.services.contents.largefilemanager.AsyncLargeFileManager"}}))
    settings = tmp / "settings" / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    # JUPYTER_CONFIG_PATH comes first, before this environment's etc/jupyter (which scripts/setup.sh set up for
    # students and which, inside a virtual environment, outranks JUPYTER_CONFIG_DIR)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_CONFIG_PATH=str(config),
               JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", AELAB_QUICK="1")
    cmd = [str(Path(sys.executable).parent / "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=None"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "jupyterlab.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp / "jupyterlab.log").read_text()[-3000:]
                time.sleep(0.5)
        try:
            with urllib.request.urlopen(f"{base}/formgrader?token={token}", timeout=10) as r:
                formgrader = r.status
        except urllib.error.HTTPError as exc:
            formgrader = exc.code
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{base}/lab/tree/{name}?token={token}")
                page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=90_000)
                page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=90_000)
                time.sleep(8)  # the kernel_info reply has been applied by now
                tab = page.locator(".lm-TabBar-tab.jp-mod-current").first.get_attribute("class") or ""
                menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
                side = page.locator(".jp-SideBar .lm-TabBar-tab").evaluate_all(
                    "els => els.map(e => e.getAttribute('title') || e.textContent)")
            finally:
                browser.close()
        return {"dirty": "jp-mod-dirty" in tab, "menus": menus, "side": " ".join(map(str, side)),
                "formgrader": formgrader}
    finally:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        log.close()


@pytest.mark.slow
@pytest.mark.browser
def test_students_see_no_instructor_tools_and_labs_open_clean():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"needs Debian's headless Chromium at {CHROMIUM} (sudo apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    tmp = Path(tempfile.mkdtemp(prefix="aelab-jupyter-setup-"))
    try:
        before = _open_lab(None, tmp / "plain")
        student = _open_lab("student", tmp / "student")
        instructor = _open_lab("instructor", tmp / "instructor")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert before["dirty"], before  # the defect, without `aelab jupyter`: the kernel's language_info dirties the lab
    assert not student["dirty"] and not instructor["dirty"], (student, instructor)
    assert "Nbgrader" not in student["menus"] and "Create Assignment" not in student["side"]
    assert student["formgrader"] == 404
    assert "Nbgrader" in instructor["menus"] and "Create Assignment" in instructor["side"]
    assert instructor["formgrader"] == 200
