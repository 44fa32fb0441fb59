"""Repository-wide pytest set-up: quick mode, a headless matplotlib, and the ``slow`` marker.

nbval's kernels inherit ``os.environ``, so setting these here (at import time, before any
notebook kernel starts) makes nbval execute the lectures and solutions in quick mode.
Export ``AELAB_QUICK=0`` to run them at full size.

``slow`` marks what executes notebooks (every nbval item, and tests marked ``@pytest.mark.slow``
that run ``aelab build`` or train for many seconds). The README's test command runs everything;
``pytest -m "not slow"`` is the fast inner loop (about a minute).

The suite runs in parallel (pyproject's ``addopts``: pytest-xdist, ``-n auto --maxprocesses 4
--dist loadfile``): one worker per physical core, at most four, each file on one worker, so a
notebook's cells run in order in one kernel and a module's fixtures are built once. Each worker
gives PyTorch (and the kernels and builds it starts, which inherit its environment) its share of
the cores, ``OMP_NUM_THREADS`` = cores // workers: two workers with two threads each on two cores
would be several times slower than one thread each. ``-n 0`` runs everything in one process.
"""

import os

os.environ.setdefault("AELAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


if os.environ.get("PYTEST_XDIST_WORKER"):  # set before torch is imported, so its thread pool sees it
    _workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))
    _threads = str(max(1, _cores() // _workers))
    os.environ.setdefault("OMP_NUM_THREADS", _threads)
    os.environ.setdefault("MKL_NUM_THREADS", _threads)


#: Seconds nbval waits for a cell's output messages after the kernel has replied (nbval's own default is
#: 5). On a loaded two-core machine the kernel's IOPub messages can lag the reply by more than that: lecture
#: 03's cell that trains 20 models failed once with "Timeout of 5 seconds exceeded waiting for output"
#: although it had finished. The cell's execution time limit (``--nbval-cell-timeout``) is separate.
NBVAL_OUTPUT_TIMEOUT = 60


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        if str(getattr(item, "path", "")).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
            if hasattr(item, "output_timeout"):  # nbval's IPyNbCell
                item.output_timeout = NBVAL_OUTPUT_TIMEOUT
