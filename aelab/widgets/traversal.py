"""Latent traversal: one slider per code unit of a VAE, the decoded image beside them (lecture 07).

What each dimension changes: move one unit, keep the others. :func:`latent_traversal` is the
widget (sliders over the prior's range, redrawn on release, codes outside the range refused);
:func:`traversal_grid` is its static figure (one row per unit, the unit swept across the
columns), for the executed site.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from torch import nn

from ._panel import SliderPanel
from .frame import LatentFrame, as_code, decode_image, resolve_code_size
from .latent import MAX_SLIDERS

__all__ = ["TraversalExplorer", "latent_traversal", "traversal_grid"]


def _dims(k: int, dims) -> list[int]:
    if dims is None:
        if k > MAX_SLIDERS:
            raise ValueError(f"the code has {k} units; pick at most {MAX_SLIDERS} with dims=[...]")
        return list(range(k))
    dims = [int(d) for d in dims]
    if not dims or len(dims) > MAX_SLIDERS or len(set(dims)) != len(dims) or not all(0 <= d < k for d in dims):
        raise ValueError(f"dims must be 1 to {MAX_SLIDERS} distinct unit indices in [0, {k}), got {dims}")
    return dims


class TraversalExplorer(SliderPanel):
    """The panel :func:`latent_traversal` returns (see :class:`~aelab.widgets._panel.SliderPanel`).

    Attributes
    ----------
    frame : LatentFrame
    dims : list of int — the units on sliders
    base : np.ndarray ``(k,)`` — the code of the other units
    """

    def __init__(self, frame: LatentFrame, dims: list[int], base: np.ndarray, span: float, continuous_update: bool):
        self.frame, self.dims, self.base = frame, dims, base.copy()
        super().__init__([f"z[{d}]" for d in dims], [(-span, span)] * len(dims), [base[d] for d in dims],
                         width_px=int(frame.fig.get_figwidth() * 100), continuous_update=continuous_update)
        self.redraw()

    def current_code(self) -> np.ndarray:
        """The full code ``(k,)``: ``base`` with the slider units set."""
        z = self.base.copy()
        z[self.dims] = self.values()
        return z

    def draw(self, values):
        z = self.base.copy()
        z[self.dims] = values
        self.frame.update(z)
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
        values = [code[d] for d in self.dims]
        from ._panel import check_in_range

        check_in_range(values, self.ranges, self.names)
        self.base = code.copy()
        return self.set_values(values)


def latent_traversal(model: nn.Module, *, dims: Sequence[int] | None = None, z0=None, span: float = 3.0,
                     size: float = 2.6, title: str = "decoded", continuous_update: bool = False) -> TraversalExplorer:
    """One slider per code unit of a VAE (range ``[-span, span]``, the prior's ±3σ by default).

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
    size, title
        As :class:`~aelab.widgets.LatentFrame`.
    continuous_update : bool
        Default False: redraw on release (see :mod:`aelab.widgets._panel`).

    Returns
    -------
    TraversalExplorer
        Displays as the widget; ``.sliders``, ``.images[0]``, ``.set_code(z)``.

    Raises
    ------
    TypeError
        If ``model`` cannot decode.
    ValueError
        On bad ``dims``, ``span <= 0``, or ``z0`` of the wrong shape or outside the range.
    """
    k = resolve_code_size(model)
    dims = _dims(k, dims)
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not span > 0:
        raise ValueError(f"span must be a positive number, got {span!r}")
    base = np.zeros(k, np.float32) if z0 is None else as_code(z0, k, "z0")[0].numpy()
    frame = LatentFrame(model, code_size=k, size=size, title=title)
    return TraversalExplorer(frame, dims, base, float(span), continuous_update)


def traversal_grid(model: nn.Module, *, dims: Sequence[int] | None = None, values: Sequence[float] = (-2, -1, 0, 1, 2),
                   z0=None, title: str = "Latent traversal"):
    """The static figure of a traversal: row ``i`` decodes ``z0`` with unit ``dims[i]`` set to each value.

    Parameters
    ----------
    model : nn.Module
        A VAE (``decode``, ``code_size``).
    dims : sequence of int, optional
        Units, one row each (default all, at most :data:`~aelab.widgets.MAX_SLIDERS`).
    values : sequence of float
        The columns.
    z0 : array-like ``(k,)``, optional
        The code of the other units (default zeros).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError, TypeError
        As :func:`latent_traversal`.
    """
    import matplotlib.pyplot as plt

    k = resolve_code_size(model)
    dims = _dims(k, dims)
    base = np.zeros(k, np.float32) if z0 is None else as_code(z0, k, "z0")[0].numpy()
    values = [float(v) for v in values]
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"values must be a non-empty sequence of finite numbers (the columns), got {values}")
    fig, axes = plt.subplots(len(dims), len(values), figsize=(0.9 * len(values), 0.9 * len(dims) + 0.5),
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
                ax.set_title(f"{v:+g}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig
