"""aelab — the helper package of the autoencoder course.

Lecture 01 (``lectures/01_pca_linear_autoencoder.ipynb``) introduces it. Notebooks start with::

    import aelab
    session = aelab.setup(seed=0)

and then use ``aelab.data``, ``aelab.models``, ``aelab.losses``, ``aelab.objectives``,
``aelab.train``, ``aelab.zoo``, ``aelab.baselines``, ``aelab.plot``, ``aelab.widgets`` and ``aelab.checks``; ``aelab.sized`` for sizes that shrink in
quick mode; ``aelab.claim`` and ``aelab.record`` for the build report. The runtime is in
:mod:`aelab.runtime`, the report in :mod:`aelab.report`; the ``aelab`` command lives in
:mod:`aelab.tools` and is not imported by notebooks.
"""

from .report import ClaimError, claim, record
from .runtime import Session, device_of, env_flag, is_quick, pick_device, seed_everything, setup, sized

__version__ = "0.1.0"

__all__ = ["ClaimError", "Session", "claim", "device_of", "env_flag", "is_quick", "pick_device", "record",
           "seed_everything", "setup", "sized", "__version__"]
