"""The Binder (repo2docker) files agree with the package: the same dependencies, the package installed.

repo2docker reads ``binder/`` when it exists (and then ignores the root's ``environment.yml``):
``binder/environment.yml`` (conda-forge), ``binder/postBuild`` (installs aelab itself) and
``binder/apt.txt`` (Ubuntu packages). The root ``environment.yml`` is for ``conda env create``
on a laptop. These tests fail when someone adds a dependency to ``pyproject.toml`` and forgets
an environment, or when the two environments drift apart.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"

#: PyPI name -> conda-forge name, where they differ (per environment)
CONDA_NAME = {"root": {"torch": "pytorch", "playwright": "playwright-python"},  # conda-forge's `playwright` is Node's
              "binder": {"torch": "pytorch-cpu"}}
#: conda packages an environment has that are not a pyproject dependency
TOOLS = {"python", "pip"}
#: test tools (PyPI names) Binder leaves out: the browser test needs Debian's Chromium, which a Binder image lacks
NOT_ON_BINDER = {"playwright"}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements(extra: str | None = None) -> dict[str, Requirement]:
    project = _pyproject()["project"]
    reqs = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return {Requirement(r).name.lower(): Requirement(r) for r in reqs}


def _env(path: Path) -> tuple[dict[str, str], list[str]]:
    """``({conda name: version spec}, [pip lines])`` of an environment file."""
    doc = yaml.safe_load(path.read_text())
    assert doc["channels"] == ["conda-forge"], f"{path}: use conda-forge only (matching pytorch/torchvision builds)"
    conda, pip = {}, []
    for dep in doc["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", dep.strip())
        assert m, f"{path}: cannot read dependency {dep!r}"
        conda[m.group(1).lower()] = m.group(2).strip()
    return conda, pip


ENVS = {"root": ROOT / "environment.yml", "binder": BINDER / "environment.yml"}


@pytest.mark.parametrize("which", ["root", "binder"])
def test_environment_holds_every_dependency(which):
    """Every pyproject dependency (and the test tools nbval/pytest) is a conda package, at the same bound."""
    conda, _ = _env(ENVS[which])
    wanted = dict(_requirements())
    wanted.update({k: v for k, v in _requirements("test").items() if which == "root" or k not in NOT_ON_BINDER})
    for name, req in wanted.items():
        cname = CONDA_NAME[which].get(name, name)
        assert cname in conda, f"{ENVS[which].name} ({which}) lacks {cname} (pyproject: {req})"
        spec = conda[cname]
        if spec:  # a bound given in the environment must be pyproject's
            assert spec.replace(" ", "") == str(req.specifier), \
                f"{which}: {cname}{spec} disagrees with pyproject's {req}"
    extra = set(conda) - TOOLS - {CONDA_NAME[which].get(n, n) for n in wanted}
    assert not extra, f"{which} environment has packages pyproject does not list: {sorted(extra)}"


def test_environments_agree():
    """binder/environment.yml is the root one with CPU-only PyTorch, no pip part and no browser-test tools."""
    root, root_pip = _env(ENVS["root"])
    binder, binder_pip = _env(ENVS["binder"])
    assert root.pop("pytorch") == binder.pop("pytorch-cpu")
    for name in NOT_ON_BINDER:
        root.pop(CONDA_NAME["root"].get(name, name), None)
    assert root == binder
    python = re.fullmatch(r"=(\d+\.\d+)", binder["python"])
    assert python, "pin Binder's Python to one minor version (python=3.X): repo2docker needs an explicit one"
    assert tuple(map(int, python.group(1).split("."))) >= tuple(
        int(x) for x in re.findall(r"\d+", _pyproject()["project"]["requires-python"])[:2])
    # laptops: `conda env create -f environment.yml` installs the package and its test tools through pip
    assert any(re.fullmatch(r"""-e\s+["']?\.\[test\]["']?""", line) for line in root_pip), root_pip
    # Binder: repo2docker installs environment.yml before it copies the repository, so `-e .` there fails
    assert binder_pip == [], "binder/environment.yml must not pip-install the package (binder/postBuild does)"


def test_postbuild_installs_the_package():
    post = BINDER / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert os.access(post, os.X_OK), "binder/postBuild must be executable (chmod +x)"
    commands = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    installs = [c for c in commands if re.search(r"\bpip install\b", c)]
    assert len(installs) == 1, installs
    assert re.search(r"--no-deps\b.*\s-e \.$", installs[0]), \
        f"postBuild must install this repository (-e .) with --no-deps (no second torch from PyPI): {installs[0]}"
    assert any("import aelab" in c for c in commands), "postBuild should fail the build if aelab does not import"
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(post)], check=True)  # syntax


def test_binder_folder_is_the_only_repo2docker_config():
    """With binder/ present repo2docker ignores root config files: a root postBuild would be dead code."""
    for name in ("postBuild", "apt.txt", "requirements.txt", "start", "runtime.txt", "Dockerfile"):
        assert not (ROOT / name).exists(), f"{name} at the root is ignored by repo2docker because binder/ exists"
    apt = [line.strip() for line in (BINDER / "apt.txt").read_text().splitlines() if line.strip()]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+\-]+", p) for p in apt), apt
    assert "wordnet-base" in apt  # lecture 06's WordNet 3.0 glosses, as scripts/setup.sh installs on Debian
