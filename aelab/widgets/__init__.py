"""Interactive explorers: move a code and watch the decoder's image change.

- :mod:`.frame` — the shared "decode a code and draw it" frame: :func:`decode_image`,
  :class:`LatentFrame` (a figure redrawn in place; an update takes a few milliseconds, well
  under the 50 ms a slider needs to feel immediate; ``python -m benchmarks`` measures it) and
  :func:`render_frame` (the same frame as a static figure: every widget in the course has one
  beside it, so the executed site and nbviewer still teach);
- :mod:`.latent` — :func:`latent_explorer`, one slider per code unit.

A new explorer (lecture 07's) is a small module here that puts its controls around a
:class:`LatentFrame`. A model's code size comes from :func:`aelab.models.code_size`, its device
from :func:`aelab.runtime.device_of`. matplotlib and ipywidgets are imported lazily, so models
and losses do not need them.
"""

from .frame import LatentFrame, as_code, decode_image, render_frame, resolve_code_size
from .latent import MAX_SLIDERS, LatentExplorer, latent_explorer

__all__ = ["MAX_SLIDERS", "LatentExplorer", "LatentFrame", "as_code", "decode_image", "latent_explorer",
           "render_frame", "resolve_code_size"]
