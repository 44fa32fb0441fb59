"""Latent traversal of lecture 07: one slider per code unit of a VAE, the decoded image beside them.

What each dimension changes: move one unit, keep the others. :func:`latent_traversal` is the
widget (sliders over the prior's range in its standard deviations, redrawn while dragged,
codes outside the range refused; the caption names the model and the slider units that differ
from the starting code); :func:`traversal_grid` is its static figure (one row per unit, the unit
swept across the columns), with alt text, for the executed site.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from aelab import _validation as check

from ._alt import with_alt
from ._panel import SliderPanel, check_in_range
from .frame import LatentFrame, as_code, code_caption, decode_image, model_label, resolve_code_size
from .latent import check_dims

__all__ = ["TraversalExplorer", "latent_traversal", "traversal_grid"]


class TraversalExplorer(SliderPanel):
    """The panel :func:`latent_traversal` returns (see :class:`~aelab.widgets._panel.SliderPanel`).

    Attributes
    ----------
    frame : LatentFrame
    dims : list of int — the units on sliders
    base : np.ndarray ``(k,)`` — the starting code (the units without a slider keep it)
    """

    def __init__(self, frame: LatentFrame, dims: list[int], base: np.ndarray, span: float, continuous_update: bool):
        self.frame, self.dims, self.base = frame, dims, base.copy()
        super().__init__([f"z[{d}]" for d in dims], [(-span, span)] * len(dims), [float(base[d]) for d in dims],
                         width_px=int(round(frame.fig.get_figwidth() * 100)), continuous_update=continuous_update,
                         alts=[f"Decoded image of {frame.title}; each slider moves one code unit"])
        self.redraw()

    def current_code(self) -> np.ndarray:
        """The full code ``(k,)``: ``base`` with the slider units set."""
        z = self.base.copy()
        z[self.dims] = self.values()
        return z

    def caption(self, values) -> str:
        """Line 2 of the frame: the slider units away from the starting code, in the prior's standard deviations σ."""
        moved = [(n, v) for n, d, v in zip(self.names, self.dims, values) if abs(v - float(self.base[d])) > 1e-6]
        if not moved:
            return f"{len(self.dims)} slider units at the start code"
        return code_caption([v for _, v in moved], [n for n, _ in moved], unit="σ")

    def describe(self, values) -> str:
        i = min(self._moved, len(values) - 1)
        return code_caption([values[i]], [self.names[i]], unit="σ")

    def draw(self, values):
        z = self.base.copy()
        z[self.dims] = values
        self.frame.update(z, self.caption(values))
        return [self.frame.png()]

    def set_code(self, z) -> float:
        """Move to the full code ``z`` ``(k,)``; returns the redraw's seconds.

        Raises
        ------
        ValueError
            If a slider unit of ``z`` lies outside ``[-span, span]`` (nothing changes), or ``z``
            has the wrong shape.
        """
        code = as_code(z, self.frame.k)[0].numpy()
        values = [float(code[d]) for d in self.dims]
        check_in_range(values, self.ranges, self.names)
        self.base = code.copy()
        return self.set_values(values)


def latent_traversal(model: nn.Module, *, dims: Sequence[int] | None = None, z0=None, span: float = 3.0,
                     size: float = 2.6, title: str | None = None, continuous_update: bool = True) -> TraversalExplorer:
    """One slider per code unit of a VAE (range ``[-span, span]``: the prior's ±3σ by default), lecture 07.

    The caption's first line names the model (``title``), its second the slider units moved away
    from ``z0`` and their values, in standard deviations of the prior N(0, I).

    Parameters
    ----------
    model : nn.Module
        A VAE (or any autoencoder with ``decode`` and ``code_size``).
    dims : sequence of int, optional
        Units on sliders (default all, at most :data:`~aelab.widgets.MAX_SLIDERS`).
    z0 : array-like ``(k,)``, optional
        Starting code (default zeros, the prior's mean); its slider units must be in range.
    span : float
        Half-width of each slider's range.
    size : float
        Image width in inches.
    title : str, optional
        The caption's first line (default e.g. ``"VAE (20-D code)"``).
    continuous_update : bool
        Default True: redraw while dragged, newest value only (see :mod:`aelab.widgets._panel`).

    Returns
    -------
    TraversalExplorer
        Displays as the widget; ``.sliders``, ``.images[0]``, ``.set_code(z)``.

    Raises
    ------
    TypeError
        If ``model`` cannot decode, or an argument has the wrong type.
    ValueError
        On bad ``dims``, ``span <= 0``, or ``z0`` of the wrong shape or outside the range.
    """
    k = resolve_code_size(model)
    dims = check_dims(k, dims)
    span = check.real(span, "span", low=0, low_open=True)
    base = np.zeros(k, np.float32) if z0 is None else as_code(z0, k, "z0")[0].numpy()
    check_in_range([float(base[d]) for d in dims], [(-span, span)] * len(dims), [f"z0's z[{d}]" for d in dims],
                   "starting code")
    frame = LatentFrame(model, code_size=k, size=size, title=title)
    return TraversalExplorer(frame, dims, base, span, continuous_update)


def traversal_grid(model: nn.Module, *, dims: Sequence[int] | None = None, values: Sequence[float] = (-2, -1, 0, 1, 2),
                   z0=None, title: str = "Latent traversal", alt: str | None = None):
    """The static figure of a traversal (lecture 07): row ``i`` decodes ``z0`` with unit ``dims[i]`` set to each value.

    Parameters
    ----------
    model : nn.Module
        A VAE (``decode``, ``code_size``).
    dims : sequence of int, optional
        Units, one row each (default all, at most :data:`~aelab.widgets.MAX_SLIDERS`).
    values : sequence of float
        The columns, in the code's units (the prior's standard deviations for a VAE).
    z0 : array-like ``(k,)``, optional
        The code of the other units (default zeros).
    title : str
        The figure's title.
    alt : str, optional
        Alt text (default: a sentence naming the model, the units and the values).

    Returns
    -------
    matplotlib.figure.Figure
        With alt text (:func:`aelab.widgets.alt_text`).

    Raises
    ------
    ValueError, TypeError
        As :func:`latent_traversal`; empty or non-finite ``values``.
    """
    import matplotlib.pyplot as plt

    k = resolve_code_size(model)
    dims = check_dims(k, dims)
    base = np.zeros(k, np.float32) if z0 is None else as_code(z0, k, "z0")[0].numpy()
    if isinstance(values, (str, bytes)) or len(values) == 0:
        raise ValueError(f"values must be a non-empty sequence of finite numbers (the columns), got {values!r}")
    values = [check.real(v, "values[i]") for v in values]
    fig, axes = plt.subplots(len(dims), len(values), figsize=(0.9 * len(values) + 0.4, 0.9 * len(dims) + 0.6),
                             squeeze=False)
    for r, d in enumerate(dims):
        for c, v in enumerate(values):
            z = base.copy()
            z[d] = v
            ax = axes[r, c]
            ax.imshow(decode_image(model, z, code_size=k), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"z[{d}]", fontsize=8)
            if r == 0:
                ax.set_title(f"{v:+g}".replace("-", "\u2212"), fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.supxlabel("value of the row's unit (prior σ; other units at z0)", fontsize=8)
    label = model_label(model, k)
    text = alt or (f"Latent traversal of the {label}: {len(dims)} rows, one per code unit "
                   f"({', '.join(f'z[{d}]' for d in dims)}); each row decodes the starting code with that unit set "
                   f"to {', '.join(f'{v:g}' for v in values)}, a gray 28 by 28 digit per value.")
    return with_alt(fig, text)
