"""aelab — the helper package of the autoencoder course.

Notebooks start with::

    import aelab
    session = aelab.setup(seed=0)

and then use ``aelab.data``, ``aelab.models``, ``aelab.losses``, ``aelab.train``,
``aelab.plot`` and ``aelab.checks``; ``aelab.sized`` for sizes that shrink in quick mode;
``aelab.claim`` and ``aelab.record`` for the build report.
"""

from .course import ClaimError, Session, claim, is_quick, pick_device, record, seed_everything, setup, sized

__version__ = "0.1.0"

__all__ = ["ClaimError", "Session", "claim", "is_quick", "pick_device", "record", "seed_everything",
           "setup", "sized", "__version__"]
