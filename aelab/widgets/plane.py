"""The latent plane of lecture 07's 2-D VAE: test digits' means as a scatter, a marker at the current code, its image.

:func:`latent_plane` is the widget (two sliders move the marker; the decoded image is drawn by
the shared :class:`~aelab.widgets.LatentFrame`); :func:`plane_figure` is its static figure, with
alt text. Classes are colored with a colour-blind-safe palette (:data:`CLASS_COLORS`, Petroff's
ten-color sequence) and keyed twice: a legend, and each class's digit written at the median of
its points (so the key does not depend on telling colors apart). Means outside the drawn square
``[-span, span]²`` are not hidden silently: the plot says how many there are.

The scatter is drawn once into a cached background (matplotlib's *blitting*): an update
restores it, draws the marker and encodes the PNG, so the many points cost nothing per update.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from torch import nn

from aelab import _validation as check

from ._alt import with_alt
from ._panel import SliderPanel, check_in_range
from .frame import LatentFrame, code_caption, model_label, resolve_code_size

__all__ = ["CLASS_COLORS", "PlaneExplorer", "draw_classes", "latent_plane", "plane_figure"]

#: Ten colors distinguishable under the common color-vision deficiencies: M. A. Petroff,
#: "Accessible Color Sequences for Data Visualization" (arXiv:2107.02270, 2021), the sequence
#: matplotlib ships as ``color_sequences["petroff10"]`` (>= 3.10).
CLASS_COLORS = ("#3f90da", "#ffa90e", "#bd1f01", "#94a4a2", "#832db6",
                "#a96b59", "#e76300", "#b9ac70", "#717581", "#92dadd")


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
        if lab.dtype.kind not in "iu" or lab.min() < 0 or lab.max() >= len(CLASS_COLORS):
            raise ValueError(f"labels must be integer classes 0-{len(CLASS_COLORS) - 1}, got dtype {lab.dtype} "
                             f"with values in [{lab.min()}, {lab.max()}]")
    return c, lab


def _outside(c: np.ndarray, span: float) -> int:
    return int((np.abs(c) > span).any(axis=1).sum())


def draw_classes(ax, codes: np.ndarray, labels, span: float, *, s: float = 4, legend_fontsize: float = 7) -> int:
    """Scatter ``codes`` on ``ax`` in :data:`CLASS_COLORS` with a class key; returns how many lie outside the square.

    Each class gets its color, a legend entry and its digit at the median of its points; the
    axes cover ``[-span, span]²`` and a note at the bottom counts the points outside it.
    """
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], color=CLASS_COLORS[0], s=s, alpha=0.7, linewidths=0)
    else:
        for cls in range(len(CLASS_COLORS)):
            pts = codes[labels == cls]
            if not len(pts):
                continue
            ax.scatter(pts[:, 0], pts[:, 1], color=CLASS_COLORS[cls], s=s, alpha=0.7, linewidths=0, label=str(cls))
            mx, my = np.median(pts, axis=0)
            if abs(mx) < span and abs(my) < span:
                ax.text(mx, my, str(cls), ha="center", va="center", fontsize=8, fontweight="bold", color="black",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=CLASS_COLORS[cls], lw=1.2, alpha=0.85))
        ax.legend(title="class", loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=legend_fontsize,
                  title_fontsize=legend_fontsize, markerscale=3, frameon=False,
                  handletextpad=0.1, borderaxespad=0.0, labelspacing=0.3)
    ax.set_xlim(-span, span), ax.set_ylim(-span, span)
    n_out = _outside(codes, span)
    if n_out:
        ax.text(0.5, 0.01, f"{n_out} of {len(codes):,} means lie outside ±{span:g} (not shown)", transform=ax.transAxes,
                ha="center", va="bottom", fontsize=6.5, color="black",
                bbox=dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.8))
    return n_out


class _ScatterMarker:
    """A scatter drawn once (cached background) and a marker moved over it."""

    def __init__(self, codes: np.ndarray, labels, span: float, size: float = 3.2):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        width = size + (0.7 if labels is not None else 0.0)  # room for the class key at the right
        self.fig = Figure(figsize=(width, size), dpi=100)
        self.canvas = FigureCanvasAgg(self.fig)
        ax = self.fig.add_axes((0.15 * size / width, 0.13, 0.8 * size / width, 0.78))
        self.n_outside = draw_classes(ax, codes, labels, span)
        ax.set_xlabel("z[0] (prior σ)", fontsize=8), ax.set_ylabel("z[1] (prior σ)", fontsize=8)
        ax.set_title("test digits' encoder means", fontsize=8)
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
    plane : the scatter figure (``plane.fig``, ``plane.marker``, ``plane.n_outside``)
    """

    def __init__(self, frame: LatentFrame, plane: _ScatterMarker, span: float, start, continuous_update: bool):
        self.frame, self.plane = frame, plane
        super().__init__(["z[0]", "z[1]"], [(-span, span)] * 2, start, n_images=2,
                         width_px=[int(round(plane.fig.get_figwidth() * 100)), int(round(frame.fig.get_figwidth() * 100))],
                         continuous_update=continuous_update,
                         alts=["The latent plane: test digits' means colored by class, a cross at the sliders' code",
                               f"The digit {frame.title} decodes at the cross"])
        self.redraw()

    def draw(self, values):
        self.frame.update(np.asarray(values, np.float32), "at " + code_caption(values, self.names, unit="σ"))
        return [self.plane.png(*values), self.frame.png()]

    def set_code(self, z) -> float:
        """Move the marker to ``z = (z0, z1)`` and redraw; ``ValueError`` outside the plane's range."""
        if isinstance(z, torch.Tensor):
            z = z.detach().cpu().reshape(-1).tolist()
        return self.set_values(list(np.asarray(z, dtype=object).reshape(-1)))


def latent_plane(model: nn.Module, codes, labels=None, *, span: float = 3.0, start=(0.0, 0.0), size: float = 2.6,
                 title: str | None = None, continuous_update: bool = True) -> PlaneExplorer:
    """The latent plane of a 2-D VAE with a movable marker and the digit it decodes to (lecture 07).

    Parameters
    ----------
    model : nn.Module
        An autoencoder with a 2-D code (``decode``, ``code_size == 2``).
    codes : Tensor or array ``(N, 2)``
        Points to scatter, e.g. the encoder means of test digits; those outside the square are
        counted in a note on the plot.
    labels : Tensor or array ``(N,)``, optional
        Integer classes 0–9 for the colors and the key.
    span : float
        The plane and both sliders cover ``[-span, span]`` (default 3: the prior's ±3σ).
    start : (float, float)
        Starting code (inside the range).
    size : float
        Width of the decoded image in inches.
    title : str, optional
        The decoded image's caption, first line (default e.g. ``"VAE (2-D code)"``).
    continuous_update : bool
        Default True: redraw while dragged, newest value only.

    Returns
    -------
    PlaneExplorer

    Raises
    ------
    TypeError
        If ``model`` cannot decode, or an argument has the wrong type.
    ValueError
        If the code is not 2-D, ``codes``/``labels`` have the wrong shape or values, ``span <= 0``,
        or ``start`` is outside the range.
    """
    k = resolve_code_size(model)
    if k != 2:
        raise ValueError(f"latent_plane needs a model with a 2-D code, got code size {k}")
    span = check.real(span, "span", low=0, low_open=True)
    c, lab = _check_codes(codes, labels)
    check_in_range(list(start), [(-span, span)] * 2, ["start's z[0]", "start's z[1]"], "starting code")
    frame = LatentFrame(model, code_size=2, size=size, title=title)
    return PlaneExplorer(frame, _ScatterMarker(c, lab, span), span, list(start), continuous_update)


def plane_figure(model: nn.Module, codes, labels=None, *, z=(0.0, 0.0), span: float = 3.0, alt: str | None = None):
    """The static figure of :func:`latent_plane` at code ``z``: the scatter with a marker and a class key, and the decoded digit.

    Returns
    -------
    matplotlib.figure.Figure
        With alt text (:func:`aelab.widgets.alt_text`).

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
    span = check.real(span, "span", low=0, low_open=True)
    z = tuple(check_in_range(list(z), [(-span, span)] * 2, ["z[0]", "z[1]"], "code"))
    fig, (ax, ax_img) = plt.subplots(1, 2, figsize=(7.6, 3.6), gridspec_kw={"width_ratios": [1.3, 1]})
    n_out = draw_classes(ax, c, lab, span, legend_fontsize=8)
    ax.plot([z[0]], [z[1]], marker="x", color="k", markersize=12, mew=2.5, linestyle="none")
    ax.set_xlabel("z[0] (prior σ)"), ax.set_ylabel("z[1] (prior σ)"), ax.set_title("test digits' encoder means")
    ax_img.imshow(decode_image(model, z, code_size=2), cmap="gray", vmin=0, vmax=1)
    ax_img.set_xticks([]), ax_img.set_yticks([])
    ax_img.set_title(f"decoded at the cross,\nz = ({z[0]:+.2f}, {z[1]:+.2f})".replace("-", "\u2212"), fontsize=9)
    fig.tight_layout(pad=1.2)
    label = model_label(model, 2)
    text = alt or (f"Left: the encoder means of {len(c):,} test digits, {label}, in the plane z[0], z[1] "
                   f"from {-span:g} to {span:g}" + (", colored by class with a key" if lab is not None else "")
                   + (f" ({n_out} lie outside and are not shown)" if n_out else "")
                   + f", a cross at z = ({z[0]:.2f}, {z[1]:.2f}). Right: the gray digit the decoder draws there.")
    return with_alt(fig, text)
