"""One locked environment: requirements.lock, and everything that installs the course installs it.

``requirements.lock`` (``scripts/lock.sh``: ``uv pip compile --universal`` over pyproject.toml and
constraints.txt) pins every package for Linux, macOS and Windows. ``scripts/setup.sh`` (and so CI),
the root ``environment.yml`` (conda, laptops) and Binder (``binder/environment.yml`` gives Python and
pip, ``binder/postBuild`` installs the lock with CPU-only PyTorch) all install it. These tests fail
when someone adds a dependency to ``pyproject.toml`` and forgets to recompile the lock, when the
lock's torch/torchvision pair drifts from constraints.txt, or when an installer stops using the lock.
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
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
LOCK = ROOT / "requirements.lock"
#: the Linux CUDA libraries of torch's PyPI build: Binder (no GPU) leaves them out
CUDA_ONLY = re.compile(r"^(nvidia-|triton$)")
#: sys_platform / platform_system / platform_machine of the laptops and servers the lock must serve
PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
    "linux-aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
    "windows-amd64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64"},
}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _lock() -> list[Requirement]:
    reqs = []
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert not line.startswith("-"), f"requirements.lock: options have no place in the lock: {line}"
            reqs.append(Requirement(line))
    return reqs


def _env_for(platform: str, python: str = "3.11") -> dict:
    env = {"python_version": python, "python_full_version": f"{python}.0", "os_name": "nt" if "windows" in platform
           else "posix", "platform_python_implementation": "CPython", "implementation_name": "cpython",
           "platform_release": "", "platform_version": "", "extra": ""}
    return {**env, **PLATFORMS[platform]}


def _pins(platform: str, python: str = "3.11") -> dict[str, str]:
    """``{name: version}`` the lock installs on ``platform`` under ``python``."""
    env = _env_for(platform, python)
    pins = {}
    for req in _lock():
        if req.marker is None or req.marker.evaluate(env):
            spec = str(req.specifier)
            assert spec.startswith("==") and "," not in spec, f"requirements.lock: {req} is not one exact version"
            name = canonicalize_name(req.name)
            assert name not in pins, f"requirements.lock pins {name} twice for {platform}"
            pins[name] = spec[2:]
    return pins


def _wanted() -> list[Requirement]:
    project = _pyproject()["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_the_lock_pins_every_dependency_for_each_platform(platform):
    """Every pyproject dependency (and test tool) has one version, inside pyproject's bound, everywhere."""
    pins = _pins(platform)
    for req in _wanted():
        name = canonicalize_name(req.name)
        assert name in pins, f"requirements.lock has no {name} for {platform}: run scripts/lock.sh"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject's {req}: run scripts/lock.sh"


def test_the_lock_keeps_constraints_torch_pair_and_cuda_only_on_linux():
    constraints = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            constraints[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
    assert set(constraints) == {"torch", "torchvision"}
    for platform in PLATFORMS:
        pins = _pins(platform)
        assert {n: pins[n] for n in constraints} == constraints, (platform, "run scripts/lock.sh")
    for req in _lock():
        if CUDA_ONLY.match(canonicalize_name(req.name)):
            assert req.marker is not None, f"{req.name} must carry a Linux-only marker"
            for platform in ("macos-arm64", "windows-amd64"):
                assert not req.marker.evaluate(_env_for(platform)), f"{req.name} would install on {platform}"


def test_the_lock_is_uv_universal_output_and_says_how_to_regenerate():
    head = LOCK.read_text(encoding="utf-8").splitlines()[:3]
    assert "scripts/lock.sh" in head[0] and "do not edit" in head[0]
    script = (ROOT / "scripts" / "lock.sh").read_text()
    assert "pip compile" in script and "--universal" in script and "constraints.txt" in script
    # markers only of the kinds uv writes (platform, machine, Python version): never a local quirk
    for req in _lock():
        if req.marker is not None:
            names = set(re.findall(r"\b(sys_platform|platform_system|platform_machine|python_full_version|"
                                   r"python_version|implementation_name|platform_python_implementation|os_name)\b",
                                   str(req.marker)))
            assert names, req


def test_this_environment_is_the_lock():
    """The environment running the tests (made by scripts/setup.sh) has every locked version."""
    from importlib.metadata import PackageNotFoundError, version

    wrong = []
    for req in _lock():
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = version(req.name)
        except PackageNotFoundError:
            wrong.append(f"{req.name} missing")
            continue
        if not req.specifier.contains(have, prereleases=True) and have.split("+")[0] != str(req.specifier)[2:]:
            wrong.append(f"{req.name} {have} (lock: {req.specifier})")
    assert not wrong, f"run `bash scripts/setup.sh`: {wrong[:10]}"


def test_setup_and_ci_install_the_lock():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    commands = [ln.strip() for ln in setup.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert any("-r requirements.lock" in c for c in commands), "scripts/setup.sh must install requirements.lock"
    assert any(re.search(r"--no-deps -e \.", c) for c in commands), "the package itself goes in with --no-deps"
    assert not any("-c constraints.txt" in c for c in commands), "the lock already holds constraints.txt's pair"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/setup.sh" in ci
    latest = (ROOT / "scripts" / "check-latest.sh").read_text()
    latest_cmds = [ln for ln in latest.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert "requirements.lock" in latest and "not slow" in latest
    assert not any(".venv" in ln for ln in latest_cmds), "check-latest.sh must never touch the project's .venv"
    if shutil.which("bash"):
        for script in ("setup.sh", "lock.sh", "check-latest.sh"):
            subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], check=True)


def _env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    doc = yaml.safe_load(path.read_text())
    assert doc["channels"] == ["conda-forge"], path
    conda, pip = {}, []
    for dep in doc["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(.*)", dep.strip())
        assert m, f"{path}: cannot read dependency {dep!r}"
        conda[m.group(1).lower()] = m.group(2).strip()
    return conda, pip


@pytest.mark.parametrize("path", [ROOT / "environment.yml", BINDER / "environment.yml"], ids=["root", "binder"])
def test_conda_environments_give_python_and_pip_only(path):
    """Conda must not install a second, unlocked copy of a package: the lock is installed through pip."""
    conda, _ = _env_file(path)
    assert set(conda) == {"python", "pip"}, f"{path}: conda packages beside the lock: {sorted(set(conda) - {'python', 'pip'})}"
    python = re.fullmatch(r"=(\d+)\.(\d+)", conda["python"])
    assert python, f"{path}: pin Python to one minor version (python=3.X)"
    minimum = tuple(int(x) for x in re.findall(r"\d+", _pyproject()["project"]["requires-python"])[:2])
    assert tuple(map(int, python.groups())) >= minimum
    assert _pins("linux-x86_64", ".".join(python.groups())), "the lock installs nothing for that Python"


def test_root_environment_installs_the_lock():
    _, pip = _env_file(ROOT / "environment.yml")
    assert pip[0] == "-r requirements.lock", pip
    assert any(re.fullmatch(r"""-e\s+["']?\.(\[test\])?["']?""", line) for line in pip), pip


def test_binder_installs_the_lock_with_cpu_torch():
    """Binder installs every locked package at its locked version, except the Linux CUDA libraries."""
    post = BINDER / "postBuild"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert os.access(post, os.X_OK), "binder/postBuild must be executable (chmod +x)"
    commands = [ln.strip() for ln in text.replace("\\\n", " ").splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
    filt = next(c for c in commands if "requirements.lock" in c)
    m = re.fullmatch(r"grep -vE '(\S+)' requirements\.lock > (\S+)", filt)
    assert m, filt
    left_out, req_file = re.compile(m.group(1)), m.group(2)
    lock_lines = [ln for ln in LOCK.read_text().splitlines() if re.match(r"[A-Za-z0-9]", ln)]
    dropped = {canonicalize_name(Requirement(ln).name) for ln in lock_lines if left_out.search(ln)}
    assert dropped and all(CUDA_ONLY.match(n) for n in dropped), dropped
    installs = [c for c in commands if re.search(r"\bpip install\b", c)]
    assert len(installs) == 2, installs
    assert f"-r {req_file}" in installs[0] and "whl/cpu" in installs[0] and "--no-deps" not in installs[0]
    assert re.search(r"--no-deps\b.*\s-e \.$", installs[1]), installs[1]
    assert any("import aelab" in c for c in commands), "postBuild should fail the build if aelab does not import"
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(post)], check=True)


def test_binder_folder_is_the_only_repo2docker_config():
    """With binder/ present repo2docker ignores root config files: a root postBuild would be dead code."""
    for name in ("postBuild", "apt.txt", "requirements.txt", "start", "runtime.txt", "Dockerfile"):
        assert not (ROOT / name).exists(), f"{name} at the root is ignored by repo2docker because binder/ exists"
    apt = [line.strip() for line in (BINDER / "apt.txt").read_text().splitlines() if line.strip()]
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+\-]+", p) for p in apt), apt
    assert "wordnet-base" in apt  # lecture 06's WordNet 3.0 glosses, as scripts/setup.sh installs on Debian
