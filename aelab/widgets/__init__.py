"""Interactive explorers of lectures 02 and 07: move a code and watch the decoder's image change.

- :mod:`.frame` — the shared "decode a code and draw it" frame: :func:`decode_image`,
  :class:`LatentFrame` (a figure redrawn in place under a caption fitted to its width — which
  model, which code units at which values; an update takes a few milliseconds, well under the
  50 ms a slider needs to feel immediate; ``python -m benchmarks`` measures it) and
  :func:`render_frame` (the same frame as a static figure: every widget in the course has one
  beside it, so the executed site and nbviewer still teach);
- :mod:`._panel` — :class:`SliderPanel`, what every explorer is: sliders that redraw while
  dragged (or moved with the arrow keys), drawing only the newest value, and that refuse codes
  outside their ranges alike;
- :mod:`.latent` — :func:`latent_explorer`, one slider per code unit (lecture 02);
- lecture 07's explorers: :mod:`.traversal` (:func:`latent_traversal`, static
  :func:`traversal_grid`), :mod:`.plane` (:func:`latent_plane`, the 2-D latent plane with a
  marker and a colour-blind-safe class key; static :func:`plane_figure`), :mod:`.interpolation`
  (:func:`interpolation_explorer`, AE vs VAE; static :func:`interpolation_figure`);
- :mod:`._alt` — alt text for the static figures (:func:`alt_text`).

A new explorer is a small module here that puts a :class:`SliderPanel` around a
:class:`LatentFrame`. A model's code size comes from :func:`aelab.models.code_size`, its device
from :func:`aelab.runtime.device_of`. matplotlib and ipywidgets are imported lazily, so models
and losses do not need them.
"""

from ._alt import alt_text
from ._panel import SliderPanel
from .frame import LatentFrame, as_code, decode_image, render_frame, resolve_code_size, text_overflow
from .interpolation import InterpolationExplorer, encode_mean, interpolation_explorer, interpolation_figure
from .latent import MAX_SLIDERS, LatentExplorer, latent_explorer
from .plane import CLASS_COLORS, PlaneExplorer, latent_plane, plane_figure
from .traversal import TraversalExplorer, latent_traversal, traversal_grid

__all__ = ["CLASS_COLORS", "MAX_SLIDERS", "InterpolationExplorer", "LatentExplorer", "LatentFrame", "PlaneExplorer",
           "SliderPanel", "TraversalExplorer", "alt_text", "as_code", "decode_image", "encode_mean",
           "interpolation_explorer", "interpolation_figure", "latent_explorer", "latent_plane", "latent_traversal",
           "plane_figure", "render_frame", "resolve_code_size", "text_overflow", "traversal_grid"]
