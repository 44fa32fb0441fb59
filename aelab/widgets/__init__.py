"""Interactive explorers: move a code and watch the decoder's image change.

- :mod:`.frame` — the shared "decode a code and draw it" frame: :func:`decode_image`,
  :class:`LatentFrame` (a figure redrawn in place; an update takes a few milliseconds, well
  under the 50 ms a slider needs to feel immediate; ``python -m benchmarks`` measures it) and
  :func:`render_frame` (the same frame as a static figure: every widget in the course has one
  beside it, so the executed site and nbviewer still teach);
- :mod:`.latent` — :func:`latent_explorer`, one slider per code unit;
- lecture 07's explorers, built on :class:`._panel.SliderPanel` (sliders that redraw on release
  and refuse codes outside their range): :mod:`.traversal` (:func:`latent_traversal`, static
  :func:`traversal_grid`), :mod:`.plane` (:func:`latent_plane`, the 2-D latent plane with a
  marker; static :func:`plane_figure`), :mod:`.interpolation` (:func:`interpolation_explorer`,
  AE vs VAE; static :func:`interpolation_figure`).

A new explorer (lecture 07's) is a small module here that puts its controls around a
:class:`LatentFrame`. A model's code size comes from :func:`aelab.models.code_size`, its device
from :func:`aelab.runtime.device_of`. matplotlib and ipywidgets are imported lazily, so models
and losses do not need them.
"""

from .frame import LatentFrame, as_code, decode_image, render_frame, resolve_code_size
from .latent import MAX_SLIDERS, LatentExplorer, latent_explorer

__all__ = ["MAX_SLIDERS", "LatentExplorer", "LatentFrame", "as_code", "decode_image", "latent_explorer",
           "render_frame", "resolve_code_size"]

from .interpolation import InterpolationExplorer, encode_mean, interpolation_explorer, interpolation_figure  # noqa: E402
from .plane import PlaneExplorer, latent_plane, plane_figure  # noqa: E402
from .traversal import TraversalExplorer, latent_traversal, traversal_grid  # noqa: E402

__all__ += ["InterpolationExplorer", "encode_mean", "interpolation_explorer", "interpolation_figure",
            "PlaneExplorer", "latent_plane", "plane_figure", "TraversalExplorer", "latent_traversal",
            "traversal_grid"]
