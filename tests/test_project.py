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
    """Every dependency reaches the conda environment: by conda, by pip, or through the lock it installs."""
    conda, pip = _conda_names()
    pip_names = {_norm(re.split(r"[\s=<>!~\[]", p, maxsplit=1)[0]) for p in pip if not p.startswith("-")}
    for line in pip:
        if line.startswith("-r "):  # a requirements file (requirements.lock): the packages it pins count
            lock = (ROOT / line[3:].strip()).read_text(encoding="utf-8").splitlines()
            pip_names |= {_norm(re.split(r"[\s=<>!~\[;]", entry, maxsplit=1)[0]) for entry in lock
                          if entry and not entry.startswith(("#", " ", "-"))}
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


# --- the package's architecture (docs/architecture.md) ------------------------------------

import ast  # noqa: E402
import importlib  # noqa: E402

PACKAGE = ROOT / "aelab"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "templates" not in p.parts}


def _imports(path: Path) -> set[str]:
    """Every aelab module ``path`` imports (module level and inside functions), resolved to module names."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "aelab"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "aelab":
                continue
            for alias in node.names:  # `from aelab import data` imports the module aelab.data
                sub = f"{target}.{alias.name}"
                is_module = (ROOT / Path(*sub.split("."))).with_suffix(".py").exists() or \
                    (ROOT / Path(*sub.split("."))).is_dir()
                found.add(sub if is_module else target)
    found.discard(name)
    return found


def _layers() -> tuple[dict[str, int], dict[int, set[int]]]:
    """The layer table of docs/architecture.md: module prefix -> layer, layer -> layers it may import."""
    of, allowed = {}, {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"L\d", cells[0]):
            layer = int(cells[0][1:])
            for mod in re.findall(r"`([\w.]+)`", cells[2]):
                of["aelab" if mod == "aelab" else f"aelab.{mod}"] = layer
            allowed[layer] = {int(x) for x in re.findall(r"L(\d)", cells[3])}
    return of, allowed


def _layer_of(module: str, table: dict[str, int]) -> int | None:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):  # the longest listed prefix: aelab.models.base -> aelab.models
        prefix = ".".join(parts[:i])
        if prefix in table and (prefix != "aelab" or module == "aelab"):
            return table[prefix]
    return None


def _import_rule_violations(modules: dict[str, Path]) -> list[str]:
    table, allowed = _layers()
    problems = []
    for name, path in modules.items():
        mine = _layer_of(name, table)
        if mine is None:
            problems.append(f"{name} is in no layer of docs/architecture.md: add it to the table")
            continue
        for target in sorted(_imports(path)):
            theirs = _layer_of(target, table)
            if target.startswith("aelab.tools") and not name.startswith("aelab.tools"):
                problems.append(f"{name} imports {target}: nothing outside aelab.tools imports it")
            elif theirs is not None and theirs not in allowed[mine]:
                problems.append(f"{name} (L{mine}) imports {target} (L{theirs}): only L{sorted(allowed[mine])} allowed")
    return problems


def _cycles(modules: dict[str, Path]) -> list[list[str]]:
    graph = {name: {t for t in _imports(path) if t in modules} for name, path in modules.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_architecture_table_lists_the_layers_and_the_rules():
    table, allowed = _layers()
    assert sorted(allowed) == [0, 1, 2, 3, 4]
    assert all(allowed[i] == set(range(i + 1)) for i in allowed)  # never upward
    assert table["aelab.models"] == 1 and table["aelab.train"] == 2 and table["aelab.tools"] == 4


def test_imports_follow_the_layers_of_docs_architecture():
    assert _import_rule_violations(_package_modules()) == []


def test_no_import_cycles():
    assert _cycles(_package_modules()) == []


def test_the_import_rules_catch_a_forbidden_import(tmp_path, monkeypatch):
    """The rule test fails when a model imports train, anything imports tools, or a cycle appears."""
    import shutil

    shutil.copytree(PACKAGE, tmp_path / "aelab", ignore=shutil.ignore_patterns("__pycache__", "templates"))
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "aelab" / "models" / "bad.py").write_text("from ..train import fit\nfrom aelab.tools import cli\n")
    (tmp_path / "aelab" / "errors.py").write_text("from aelab import models\n")  # L0 -> L1, and a cycle
    (tmp_path / "aelab" / "models" / "__init__.py").write_text("from . import bad\nfrom .. import errors\n")
    for name, value in (("ROOT", tmp_path), ("PACKAGE", tmp_path / "aelab"),
                        ("ARCHITECTURE", tmp_path / "docs" / "architecture.md")):
        monkeypatch.setitem(globals(), name, value)
    modules = _package_modules()
    problems = _import_rule_violations(modules)
    assert any("aelab.models.bad (L1) imports aelab.train (L2)" in p for p in problems), problems
    assert any("aelab.models.bad imports aelab.tools.cli: nothing outside aelab.tools" in p for p in problems)
    assert any("aelab.errors (L0) imports aelab.models (L1)" in p for p in problems)
    assert any({"aelab.errors", "aelab.models"} <= set(c) for c in _cycles(modules)), _cycles(modules)


# --- every public module has one __all__ naming its public definitions ----------------------

#: Public modules owned by other engineers that do not satisfy the rule yet (the coordinator tightens this).
ALL_GAPS: set[str] = set()  # modules allowed to lack one complete __all__: none


def _public_modules() -> list[str]:
    return [name for name in _package_modules()
            if not any(part.startswith("_") for part in name.split(".")[1:])]


def _all_problems(name: str) -> list[str]:
    path = _package_modules()[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assigned = [n for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                and any(isinstance(t, ast.Name) and t.id == "__all__"
                        for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
    if not assigned:
        return [f"{name} has no __all__"]
    problems = []
    if len(assigned) > 1:
        problems.append(f"{name} builds __all__ in {len(assigned)} places (one list per module)")
    module = importlib.import_module(name)
    listed = list(module.__all__)
    problems += [f"{name}.__all__ lists {n!r}, which it does not define" for n in listed if not hasattr(module, n)]
    problems += [f"{name}.__all__ lists {n!r} twice" for n in set(listed) if listed.count(n) > 1]
    defined = {n for n, obj in vars(module).items() if not n.startswith("_")
               and getattr(obj, "__module__", None) == name and callable(obj)}
    problems += [f"{name} defines public {n!r} but __all__ does not list it" for n in sorted(defined - set(listed))]
    return problems


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=False, reason="owned elsewhere; "
                                                                             "lacks one complete __all__"))
                                  if n in ALL_GAPS else n for n in _public_modules()])
def test_every_public_module_has_one_complete_all(name):
    assert _all_problems(name) == []


def test_the_old_layers_module_still_works_for_its_importers():
    """aelab.models._layers is the old name of aelab.models.layers (widgets and pretrain import it)."""
    from aelab.models import _layers, layers

    assert all(getattr(_layers, n) is getattr(layers, n) for n in layers.__all__)


#: Files that may cite DESIGN.md, the design document that is not in the repository.
DESIGN_CITATIONS: set[str] = set()  # files allowed to cite it: none


@pytest.mark.parametrize("rel", [pytest.param(r, marks=pytest.mark.xfail(strict=False, reason="cites DESIGN.md"))
                                 if r in DESIGN_CITATIONS else r
                                 for r in sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py"))])
def test_docstrings_cite_no_design_document_outside_the_repository(rel):
    text = (ROOT / rel).read_text(encoding="utf-8")
    assert "DESIGN.md" not in text or (ROOT / "DESIGN.md").exists(), \
        f"{rel} cites DESIGN.md, which is not in the repository: cite docs/architecture.md (or say it in place)"


def test_each_parallel_worker_gives_torch_its_share_of_the_cores():
    """conftest.py: under pytest-xdist each worker sets OMP_NUM_THREADS (cores // workers) before torch starts."""
    import torch

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("runs only under pytest-xdist (the default addopts)")
    threads = int(os.environ["OMP_NUM_THREADS"])
    assert threads >= 1 and torch.get_num_threads() == threads
