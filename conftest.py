"""Repository-wide pytest set-up: quick mode and a headless matplotlib, unless already set.

nbval's kernels inherit ``os.environ``, so setting these here (at import time, before any
notebook kernel starts) makes nbval execute the lectures and solutions in quick mode.
Export ``AELAB_QUICK=0`` to run them at full size.
"""

import os

os.environ.setdefault("AELAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
