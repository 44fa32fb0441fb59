#!/usr/bin/env bash
# Try the course with the NEWEST release of every dependency, before moving requirements.lock forward:
# builds a throwaway virtual environment (never .venv) from pyproject.toml alone (no lock), keeping only
# constraints.txt's torch/torchvision pair unless --no-constraints is given, prints which versions differ
# from the lock, and runs the fast tests (pytest -m "not slow") in it.
#   bash scripts/check-latest.sh [--no-constraints] [FOLDER]   (FOLDER: where the environment goes; default a temp folder)
# Then, if the tests pass: bash scripts/lock.sh (recompiles the lock), bash scripts/setup.sh && .venv/bin/pytest,
# and commit requirements.lock (and constraints.txt, if the pair moved).
set -euo pipefail
cd "$(dirname "$0")/.."
constraints=(--constraint constraints.txt)
if [ "${1:-}" = "--no-constraints" ]; then constraints=(); shift; fi
DIR=${1:-$(mktemp -d -t aelab-latest-XXXXXX)}
PYTHON=${PYTHON:-python3}
"$PYTHON" -m venv "$DIR/venv"
PY="$DIR/venv/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
# not editable: nothing is written into the repository; pytest imports the package from the work tree
"$PY" -m pip install --quiet --disable-pip-version-check --upgrade "${constraints[@]}" ".[test]"
"$PY" - <<'PYEOF'
from importlib.metadata import distributions
from packaging.requirements import Requirement

installed = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in distributions()}
newer = []
for line in open("requirements.lock", encoding="utf-8"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate():
        continue
    name, locked = req.name.lower().replace("_", "-"), str(req.specifier).removeprefix("==")
    if installed.get(name, locked) != locked:
        newer.append(f"  {name}: {locked} -> {installed[name]}")
print(f"{len(newer)} package(s) newer than requirements.lock" + (":" if newer else "."))
print("\n".join(newer))
PYEOF
echo "running the fast tests with the newest versions ($DIR/venv)"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$PY" -m pytest -q -m "not slow" -p no:cacheprovider tests
