#!/usr/bin/env bash
# Set up aelab on a fresh machine (idempotent): a virtual environment in .venv holding every package at
# the version requirements.lock pins (one lock for Linux, macOS and Windows; scripts/lock.sh makes it from
# pyproject.toml and constraints.txt), then the package itself in editable mode; plus Debian's
# dataset-fashion-mnist (full Fashion-MNIST offline) and wordnet-base (WordNet 3.0, lecture 06) and
# chromium (the browser tests) where apt is usable; and JupyterLab set up for students (`aelab jupyter`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# uv installs the lock (about 225 packages, several GB with torch's CUDA libraries) in under 2 minutes where
# pip takes 10 or more (measured on a fresh clone: 100 s vs 721 s). Same lock, same versions; pip is the
# fallback where uv cannot be installed or fails (or AELAB_NO_UV=1). uv reads the system's certificates.
UV_VERSION=0.13.9
uv=(.venv/bin/uv pip install --quiet --python .venv/bin/python --system-certs)
if [ "${AELAB_NO_UV:-0}" != 1 ] && { [ -x .venv/bin/uv ] || "${pip[@]}" "uv==$UV_VERSION"; } \
    && "${uv[@]}" -r requirements.lock; then
  "${uv[@]}" --no-deps -e .  # every dependency came from the lock
else
  echo "note: installing with pip (slower)" >&2
  "${pip[@]}" -r requirements.lock
  "${pip[@]}" --no-deps -e .  # every dependency came from the lock
fi

# Debian packages: full Fashion-MNIST (lectures 04, 06), WordNet 3.0 (lecture 06's glosses) and headless
# Chromium for the browser tests (Playwright drives /usr/bin/chromium; it never downloads a browser).
need=()
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
[ -e /usr/share/wordnet/data.noun ] || need+=(wordnet-base)
[ -x /usr/bin/chromium ] || need+=(chromium)  # the browser tests drive JupyterLab and the site in it
if [ ${#need[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: ${need[*]} not installed; run 'sudo apt-get install ${need[*]}'" \
         "(or let torchvision download Fashion-MNIST / NLTK download WordNet, which needs network)." >&2
  fi
fi

# Fail here, clearly, if torch and torchvision do not match.
.venv/bin/python -c "import torch, torchvision.ops; print(f'aelab set up: torch {torch.__version__}, torchvision {torchvision.__version__}')"

# JupyterLab as students get it: nbgrader's instructor tools hidden, notebooks open without being marked unsaved
# (written into .venv/etc/jupyter). Only on the first run: an instructor's `.venv/bin/aelab jupyter --instructor`
# is kept when this script runs again.
.venv/bin/aelab jupyter --student --if-unset
