"""The latent plane of a 2-D VAE: test digits' means as a scatter, a marker at the current code, its image.

:func:`latent_plane` is the widget (two sliders move the marker; the decoded image is drawn by
the shared :class:`~aelab.widgets.LatentFrame`); :func:`plane_figure` is its static figure.
The scatter is drawn once into a cached background (matplotlib's *blitting*): an update
restores it, draws the marker and encodes the PNG, so the many points cost nothing per update.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from torch import nn

from ._panel import SliderPanel, check_in_range
from .frame import LatentFrame, resolve_code_size

__all__ = ["PlaneExplorer", "latent_plane", "plane_figure"]


def _check_codes(codes, labels):
    c = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes, dtype=np.float32)
    if c.ndim != 2 or c.shape[1] != 2 or len(c) < 1:
        raise ValueError(f"codes must be an (N, 2) array of 2-D codes (e.g. the VAE's means of test digits), "
                         f"got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("codes must be finite: some of the (N, 2) codes are NaN or infinite")
    lab = None
    if labels is not None:
        lab = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
        if lab.shape != (len(c),):
            raise ValueError(f"labels must have shape ({len(c)},), got {lab.shape}")
    return c, lab


class _ScatterMarker:
    """A scatter drawn once (cached background) and a marker moved over it."""

    def __init__(self, codes: np.ndarray, labels, span: float, size: float = 3.2):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(size, size), dpi=100)
        self.canvas = FigureCanvasAgg(self.fig)
        ax = self.fig.add_axes((0.16, 0.13, 0.8, 0.78))
        ax.scatter(codes[:, 0], codes[:, 1], c=labels if labels is not None else "C0", cmap="tab10", s=4,
                   vmin=-0.5, vmax=9.5, alpha=0.7)
        ax.set_xlim(-span, span), ax.set_ylim(-span, span)
        ax.set_xlabel("z[0]", fontsize=8), ax.set_ylabel("z[1]", fontsize=8)
        ax.set_title("test digits' means (color: class)", fontsize=8)
        ax.tick_params(labelsize=7)
        self.ax = ax
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        (self.marker,) = ax.plot([0], [0], marker="x", color="k", markersize=12, mew=2.5, animated=True)

    def png(self, z0: float, z1: float) -> bytes:
        self.marker.set_data([z0], [z1])
        self.canvas.restore_region(self.background)
        self.ax.draw_artist(self.marker)
        buf = io.BytesIO()
        from PIL import Image

        Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1
                         ).save(buf, format="png", compress_level=1)
        return buf.getvalue()


class PlaneExplorer(SliderPanel):
    """The panel :func:`latent_plane` returns: ``images[0]`` the plane, ``images[1]`` the decoded digit.

    Attributes
    ----------
    frame : LatentFrame
    plane : the scatter figure (``plane.fig``, ``plane.marker``)
    """

    def __init__(self, frame: LatentFrame, plane: _ScatterMarker, span: float, start, continuous_update: bool):
        self.frame, self.plane = frame, plane
        super().__init__(["z[0]", "z[1]"], [(-span, span)] * 2, start, n_images=2,
                         width_px=[int(plane.fig.get_figwidth() * 100), int(frame.fig.get_figwidth() * 100)],
                         continuous_update=continuous_update)
        self.redraw()

    def draw(self, values):
        self.frame.update(np.asarray(values, np.float32))
        return [self.plane.png(*values), self.frame.png()]

    def set_code(self, z) -> float:
        """Move the marker to ``z = (z0, z1)`` and redraw; ValueError outside the plane's range."""
        return self.set_values(list(np.asarray(z, dtype=np.float64).reshape(-1)))


def latent_plane(model: nn.Module, codes, labels=None, *, span: float = 3.0, start=(0.0, 0.0), size: float = 2.6,
                 continuous_update: bool = False) -> PlaneExplorer:
    """The latent plane of a 2-D VAE with a movable marker and the digit it decodes to.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with a 2-D code (``decode``, ``code_size == 2``).
    codes : Tensor or array ``(N, 2)``
        Points to scatter, e.g. the encoder means of test digits.
    labels : Tensor or array ``(N,)``, optional
        Classes 0–9 for the colors.
    span : float
        The plane and both sliders cover ``[-span, span]`` (default 3: the prior's ±3σ).
    start : (float, float)
        Starting code (inside the range).
    size : float
        Size of the decoded image in inches.
    continuous_update : bool
        Default False: redraw on release.

    Returns
    -------
    PlaneExplorer

    Raises
    ------
    TypeError
        If ``model`` cannot decode.
    ValueError
        If the code is not 2-D, ``codes``/``labels`` have the wrong shape, ``span <= 0``, or
        ``start`` is outside the range.
    """
    k = resolve_code_size(model)
    if k != 2:
        raise ValueError(f"latent_plane needs a model with a 2-D code, got code size {k}")
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not span > 0:
        raise ValueError(f"span must be a positive number, got {span!r}")
    c, lab = _check_codes(codes, labels)
    frame = LatentFrame(model, code_size=2, size=size, title="decoded")
    return PlaneExplorer(frame, _ScatterMarker(c, lab, float(span)), float(span), list(start), continuous_update)


def plane_figure(model: nn.Module, codes, labels=None, *, z=(0.0, 0.0), span: float = 3.0):
    """The static figure of :func:`latent_plane` at code ``z``: the scatter with a marker, and the decoded digit.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError, TypeError
        As :func:`latent_plane`; also if ``z`` lies outside the drawn square ``[-span, span]²``.
    """
    import matplotlib.pyplot as plt

    from .frame import decode_image

    if resolve_code_size(model) != 2:
        raise ValueError("plane_figure needs a model with a 2-D code")
    c, lab = _check_codes(codes, labels)
    if not (isinstance(span, (int, float)) and not isinstance(span, bool) and 0 < span < math.inf):
        raise ValueError(f"span must be a positive number, got {span!r}")
    z = tuple(check_in_range(z, [(-span, span)] * 2, ["z[0]", "z[1]"], "code"))
    fig, (ax, ax_img) = plt.subplots(1, 2, figsize=(7, 3.4), gridspec_kw={"width_ratios": [1.2, 1]})
    sc = ax.scatter(c[:, 0], c[:, 1], c=lab if lab is not None else "C0", cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
    ax.plot([z[0]], [z[1]], marker="x", color="k", markersize=12, mew=2.5, label=f"z = ({z[0]:+.2f}, {z[1]:+.2f})")
    ax.set_xlim(-span, span), ax.set_ylim(-span, span)
    ax.set_xlabel("z[0]"), ax.set_ylabel("z[1]"), ax.set_title("test digits' means")
    ax.legend(loc="upper right", fontsize=8)
    if lab is not None:
        fig.colorbar(sc, ax=ax, ticks=range(10), label="class")
    ax_img.imshow(decode_image(model, z, code_size=2), cmap="gray", vmin=0, vmax=1)
    ax_img.set_xticks([]), ax_img.set_yticks([])
    ax_img.set_title("decoded at the marker")
    fig.tight_layout()
    return fig
