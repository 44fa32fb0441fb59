"""Old name of :mod:`aelab.models.layers` (renamed when it became public); import from there."""
from .layers import *  # noqa: F401,F403
from .layers import __all__  # noqa: F401
