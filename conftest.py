"""Repository-wide pytest set-up: quick mode, a headless matplotlib, and the ``slow`` marker.

nbval's kernels inherit ``os.environ``, so setting these here (at import time, before any
notebook kernel starts) makes nbval execute the lectures and solutions in quick mode.
Export ``AELAB_QUICK=0`` to run them at full size.

``slow`` marks what executes notebooks (every nbval item, and tests marked ``@pytest.mark.slow``
that run ``aelab build`` or train for many seconds). The README's test command runs everything;
``pytest -m "not slow"`` is the fast inner loop (about a minute).
"""

import os

os.environ.setdefault("AELAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        if str(getattr(item, "path", "")).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
