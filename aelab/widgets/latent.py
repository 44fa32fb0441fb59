"""The slider explorer of lecture 02: move a code with sliders and watch the decoder's image change.

:func:`latent_explorer` builds an ipywidgets panel (one slider per code unit, the decoded image
beside them, a reset button). It is a :class:`~aelab.widgets._panel.SliderPanel`: the image
follows a dragged slider (newest value only), and a code outside the sliders' ranges is refused
with a ``ValueError``, as in lecture 07's explorers. Each frame is drawn by the shared
:class:`~aelab.widgets.frame.LatentFrame`, captioned with the model and the slider units' values.

ipywidgets is imported lazily, inside :class:`LatentExplorer`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from aelab import _validation as check

from ._panel import SliderPanel, check_in_range, decimals, nice_step
from .frame import LatentFrame, as_code, code_caption, resolve_code_size

__all__ = ["MAX_SLIDERS", "LatentExplorer", "check_dims", "latent_explorer"]

#: Largest number of sliders an explorer builds (pick units with ``dims`` beyond it).
MAX_SLIDERS = 16


def _codes_array(codes, k: int) -> np.ndarray:
    c = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes, dtype=np.float32)
    if c.ndim != 2 or c.shape[1] != k or len(c) < 2:
        raise ValueError(f"codes must be an (N, {k}) array of codes with N >= 2, got shape {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("codes must be finite: some are NaN or infinite")
    return c.astype(np.float32)


def check_dims(k: int, dims) -> list[int]:
    """The code units to put on sliders: all ``k`` (at most :data:`MAX_SLIDERS`) or the distinct ``dims``.

    Raises
    ------
    TypeError
        If an entry of ``dims`` is not an integer.
    ValueError
        If there are too many units, none, repeats, or an index outside ``[0, k)``.
    """
    if dims is None:
        if k > MAX_SLIDERS:
            raise ValueError(f"the code has {k} units; pick at most {MAX_SLIDERS} of them to put on sliders "
                             "with dims=[...] (the others stay at z0)")
        return list(range(k))
    dims = [check.integer(d, "dims[i]") for d in dims]
    if not dims or len(dims) > MAX_SLIDERS or len(set(dims)) != len(dims) or not all(0 <= d < k for d in dims):
        raise ValueError(f"dims must be 1 to {MAX_SLIDERS} distinct unit indices in [0, {k}), got {dims}")
    return dims


def _round_out(lo: float, hi: float, steps: int = 200) -> tuple[float, float]:
    """``(lo, hi)`` widened to multiples of a round step, so slider values print short."""
    st = nice_step((hi - lo) / steps)
    d = decimals(st)
    return round(math.floor(lo / st) * st, d), round(math.ceil(hi / st) * st, d)


def _slider_ranges(k: int, dims: list[int], span, codes, ranges, base) -> list[tuple[float, float]]:
    if ranges is not None:
        out = []
        for r in ranges:
            if isinstance(r, (str, bytes)) or len(r) != 2:
                raise ValueError(f"ranges must hold {len(dims)} (low, high) pairs with low < high, got {ranges}")
            out.append((check.real(r[0], "ranges[i][0]"), check.real(r[1], "ranges[i][1]")))
        if len(out) != len(dims) or any(not lo < hi for lo, hi in out):
            raise ValueError(f"ranges must hold {len(dims)} (low, high) pairs with low < high, got {ranges}")
        return out
    if codes is not None:
        c = codes[:, dims]
        lo, hi = np.percentile(c, 1, axis=0), np.percentile(c, 99, axis=0)
        pad = 0.1 * (hi - lo) + 1e-3
        lo, hi = np.minimum(lo - pad, base[dims]), np.maximum(hi + pad, base[dims])  # the data's mean is inside
        return [_round_out(float(a), float(b)) for a, b in zip(lo, hi)]
    span = check.real(span, "span", low=0, low_open=True)
    return [(-span, span)] * len(dims)


class LatentExplorer(SliderPanel):
    """The panel :func:`latent_explorer` returns: sliders, the decoded image beside them, the frame behind it.

    Displays itself as the widget. ``set_code(z)`` moves the sliders (and redraws once); a code
    whose slider units lie outside the sliders' ranges is refused.

    Attributes
    ----------
    widget : ipywidgets.HBox
    sliders : list of ipywidgets.FloatSlider, one per explored unit
    image : ipywidgets.Image — holds the PNG of the current frame (``images[0]``)
    frame : LatentFrame
    dims : list of int — which code units the sliders move
    base : np.ndarray ``(k,)`` — the code of the units without a slider

    Raises
    ------
    ValueError
        If the starting code's slider units lie outside their ranges.
    """

    def __init__(self, frame: LatentFrame, dims: list[int], base: np.ndarray, ranges, step: float | None,
                 continuous_update: bool):
        import ipywidgets as W

        self.frame, self.dims, self.base = frame, list(dims), np.asarray(base, np.float32).copy()
        reset = W.Button(description="reset", tooltip="back to the starting code", layout=W.Layout(width="80px"))
        super().__init__([f"z[{d}]" for d in self.dims], ranges, [float(self.base[d]) for d in self.dims],
                         width_px=int(round(frame.fig.get_figwidth() * 100)), step=step,
                         continuous_update=continuous_update, beside=True, extra=[reset],
                         alts=[f"Decoded image of {frame.title} at the sliders' code; it changes as the sliders move"])
        self.image = self.images[0]
        self._start = self.values()
        reset.on_click(lambda _: self.set_values(self._start))
        self.redraw()

    def current_code(self) -> np.ndarray:
        """The full code ``(k,)``: the base code with the explored units set from the sliders."""
        z = self.base.copy()
        z[self.dims] = self.values()
        return z

    def draw(self, values):
        z = self.base.copy()
        z[self.dims] = values
        self.frame.update(z, code_caption(values, self.names))
        return [self.frame.png()]

    def set_code_values(self, values: Sequence[float]) -> float:
        """Set the explored units (one value per slider, inside its range) and redraw once; returns seconds.

        Raises
        ------
        TypeError
            If a value is not a real number.
        ValueError
            If there is not one value per slider, or one lies outside its slider's range (nothing changes).
        """
        return self.set_values(values)

    def set_code(self, z) -> float:
        """Move to the full code ``z`` (shape ``(k,)``): base and sliders; redraw once; returns seconds.

        Raises
        ------
        ValueError
            If ``z`` has the wrong shape, or a slider unit lies outside its slider's range
            (nothing changes: the explorer never widens or clips silently).
        """
        code = as_code(z, self.frame.k)[0].numpy()
        values = [float(code[d]) for d in self.dims]
        check_in_range(values, self.ranges, self.names)
        self.base = code.copy()
        return self.set_values(values)


def latent_explorer(model: nn.Module, *, codes=None, dims: Sequence[int] | None = None, z0=None,
                    span: float = 3.0, ranges: Sequence[tuple[float, float]] | None = None,
                    step: float | None = None, code_size: int | None = None, size: float = 2.6,
                    title: str | None = None, continuous_update: bool = True) -> LatentExplorer:
    """Sliders for a (small) code and the decoded image beside them, redrawn as the sliders move (lecture 02).

    For a VAE the prior is N(0, I), so the default range ``[-span, span]`` per unit covers it.
    For a plain autoencoder, whose codes have no fixed scale, pass ``codes`` (the codes of some
    data) and each slider spans the 1st–99th percentile of its unit (plus 10 %, rounded out to
    the slider's step). Show :func:`~aelab.widgets.render_frame` beside it for readers without a
    running kernel.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with ``decode(z)`` (``MLPAutoencoder``, ``VAE``, ``LinearAutoencoder``).
    codes : Tensor or array ``(N, k)``, optional
        Codes of real data: set the slider ranges, and the starting code (their mean) unless
        ``z0`` is given.
    dims : sequence of int, optional
        Code units to put on sliders (default: all, at most :data:`MAX_SLIDERS`); the others
        stay at the starting code.
    z0 : array-like ``(k,)``, optional
        Starting code (default: mean of ``codes``, else zeros); its slider units must lie in the ranges.
    span : float
        Half-width of each slider's range when neither ``ranges`` nor ``codes`` is given.
    ranges : sequence of (low, high), optional
        Explicit range per slider.
    step : float, optional
        Slider step (default: a round number near range / 200).
    code_size : int, optional
        k, if the model does not tell it (see :func:`aelab.models.code_size`).
    size : float
        Image width in inches (100 dpi).
    title : str, optional
        The caption's first line, naming the model (default e.g. ``"MLPAutoencoder (2-D code)"``).
    continuous_update : bool
        Redraw while a slider is dragged (True, newest value only) or on release.

    Returns
    -------
    LatentExplorer
        Displays as the widget; ``.sliders``, ``.frame``, ``.set_code(z)``.

    Raises
    ------
    TypeError
        If ``model`` cannot decode, its code size is unknown and not given, or an argument has
        the wrong type.
    ValueError
        On more than :data:`MAX_SLIDERS` units without ``dims``, a unit index out of range,
        ``codes``/``z0``/``ranges`` of the wrong shape, ``span <= 0``, ``step <= 0``, or a
        ``z0`` outside the ranges.

    Examples
    --------
    >>> vae = VAE(784, 400, 2, input_shape=(1, 28, 28))          # doctest: +SKIP
    >>> explorer = latent_explorer(vae)                          # doctest: +SKIP
    >>> explorer                                                 # doctest: +SKIP
    """
    k = resolve_code_size(model, code_size)
    dims = check_dims(k, dims)
    c = _codes_array(codes, k) if codes is not None else None
    if z0 is not None:
        base = as_code(z0, k, "z0")[0].numpy()
    elif c is not None:
        base = c.mean(0).astype(np.float32)
    else:
        base = np.zeros(k, np.float32)
    slider_ranges = _slider_ranges(k, dims, span, c, ranges, base)
    if step is not None:
        step = check.real(step, "step", low=0, low_open=True)
    check_in_range([float(base[d]) for d in dims], slider_ranges, [f"z0's z[{d}]" for d in dims], "starting code")
    frame = LatentFrame(model, code_size=k, size=size, title=title)
    return LatentExplorer(frame, dims, base, slider_ranges, step, continuous_update)
