"""Project-level consistency: dependencies, README commands vs CI, stored notebooks, layout."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
ENV = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: PyPI name -> conda-forge name where they differ
CONDA_NAMES = {"torch": "pytorch", "playwright": "playwright-python"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_deps() -> list[str]:
    reqs = list(PYPROJECT["project"]["dependencies"])
    for extra in PYPROJECT["project"].get("optional-dependencies", {}).values():
        reqs += extra
    return [_norm(Requirement(r).name) for r in reqs]


def _conda_names() -> tuple[set[str], list[str]]:
    conda, pip = set(), []
    for dep in ENV["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
        else:
            conda.add(_norm(re.split(r"[\s=<>!~]", dep, maxsplit=1)[0]))
    return conda, pip


# --- pyproject.toml and environment.yml cannot drift ------------------------------------

def test_declared_dependencies_include_the_essentials():
    deps = set(_pyproject_deps())
    for name in ["torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "tqdm", "scikit-learn",
                 "mlxtend", "nbclient", "nbconvert", "pytest", "nbval"]:
        assert name in deps, name
    assert "test" in PYPROJECT["project"]["optional-dependencies"]


def test_every_pyproject_dependency_is_in_environment_yml():
    conda, pip = _conda_names()
    pip_names = {_norm(re.split(r"[\s=<>!~\[]", p, maxsplit=1)[0]) for p in pip if not p.startswith("-")}
    missing = [d for d in _pyproject_deps() if _norm(CONDA_NAMES.get(d, d)) not in conda and d not in pip_names]
    assert not missing, f"in pyproject.toml but not in environment.yml: {missing}"


def test_environment_yml_installs_this_package_from_conda_forge():
    assert ENV["channels"][0] == "conda-forge"
    conda, pip = _conda_names()
    assert "python" in conda and "pip" in conda
    assert any(re.fullmatch(r'-e\s+"?\.(\[[\w,-]*test[\w,-]*\])?"?', p) for p in pip), pip


def test_console_script_and_pytest_config():
    assert PYPROJECT["project"]["scripts"]["aelab"] == "aelab.tools.cli:main"
    ini = PYPROJECT["tool"]["pytest"]["ini_options"]
    assert {"tests", "lectures", "solutions"} <= set(ini["testpaths"])
    assert "--nbval-lax" in ini["addopts"].split()
    assert any(m.startswith("slow") for m in ini["markers"])


def test_slow_marker_deselects_the_notebooks():
    """`pytest -m "not slow"` is the fast inner loop: it must leave out every nbval notebook."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not slow",
                           "lectures", "solutions"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    collected = [ln for ln in proc.stdout.splitlines() if ".ipynb::" in ln]
    assert not collected, collected[:5]
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "lectures"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert any(".ipynb::" in ln for ln in proc.stdout.splitlines()), proc.stdout[-2000:]


def test_constraints_pin_a_torch_torchvision_pair():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            pins[_norm(req.name)] = req
    assert {"torch", "torchvision"} <= set(pins)
    assert all(str(pins[n].specifier).startswith("==") for n in ("torch", "torchvision"))


# --- README quick start and CI -----------------------------------------------------------

def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S)
    assert block, "no code block under '## Quick start'"
    return [ln.strip() for ln in block.group(1).splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_readme_quick_start_has_exactly_two_commands():
    cmds = _quick_start_commands()
    assert len(cmds) == 2, cmds
    build, test = cmds
    assert build == "bash scripts/setup.sh && .venv/bin/aelab build"
    assert test == "bash scripts/setup.sh && .venv/bin/pytest"
    assert (ROOT / "scripts" / "setup.sh").is_file()


def test_ci_runs_exactly_the_readme_test_command():
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK), ".ci/run must be executable"
    lines = [ln.strip() for ln in ci.read_text(encoding="utf-8").splitlines()]
    commands = [ln for ln in lines if ln and not ln.startswith("#") and not ln.startswith(("set ", "cd "))]
    assert commands == [_quick_start_commands()[1]], commands
    assert "set -euo pipefail" in lines
    assert any(ln.startswith("#!") and "bash" in ln for ln in lines[:1])


def test_readme_course_map_and_jupyterlab():
    assert "jupyter lab" in README
    assert "environment.yml" in README


def test_gitignore_keeps_build_outputs_out():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "_build/" in ignored and ".venv/" in ignored


# --- stored notebooks ----------------------------------------------------------------------

NOTEBOOKS = sorted(p for d in ("lectures", "solutions", "labs") for p in (ROOT / d).glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_is_stored_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts (clear them before committing)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_file_names_follow_the_course_map(path):
    pattern = r"\d\d_[a-z0-9_]+\.ipynb" if path.parent.name == "lectures" else r"\d\d_[a-z0-9_]+_lab\.ipynb"
    assert re.fullmatch(pattern, path.name), path.name


def test_labs_mirror_solutions():
    labs = sorted(p.name for p in (ROOT / "labs").glob("*.ipynb"))
    solutions = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    assert solutions, "no solutions/ notebooks"
    assert labs == solutions  # labs/ is generated from solutions/, one lab per solution


# --- the package's import boundaries --------------------------------------------------------

def test_models_losses_train_do_not_import_plotting_or_torchvision():
    code = ("import sys, aelab, aelab.models, aelab.losses, aelab.train, aelab.data, aelab.plot, aelab.zoo, "
            "aelab.widgets, aelab.checks\n"
            "bad = [m for m in ('matplotlib', 'ipywidgets', 'torchvision') if m in sys.modules]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AELAB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_conftest_defaults_quick_mode_and_headless_plots():
    text = (ROOT / "conftest.py").read_text(encoding="utf-8")
    assert 'os.environ.setdefault("AELAB_QUICK", "1")' in text
    assert 'os.environ.setdefault("MPLBACKEND", "Agg")' in text
    assert os.environ.get("AELAB_QUICK") and os.environ.get("MPLBACKEND")


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.parent.name == "labs"], ids=lambda p: p.name)
def test_every_paper_value_names_its_source(path):
    """The Reproductions page shows each paper value's source: every record(paper=...) passes source=."""
    import ast

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics: not this test's business
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "record":
                names = {k.arg for k in node.keywords}
                if "paper" in names:
                    assert "source" in names, f"{path.name}: record(..., paper=...) without source=: " \
                                              f"{ast.get_source_segment(cell.source, node)[:120]}"
