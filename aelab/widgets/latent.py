"""The slider explorer: move a code with sliders and watch the decoder's image change.

:func:`latent_explorer` builds an ipywidgets panel (one slider per code unit, the decoded image
beside them). Each slider move decodes one code and redraws it through the shared
:class:`~aelab.widgets.frame.LatentFrame`, then sends the PNG to an ``ipywidgets.Image``.

ipywidgets is imported lazily, inside :class:`LatentExplorer`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .frame import LatentFrame, as_code, resolve_code_size

__all__ = ["MAX_SLIDERS", "LatentExplorer", "latent_explorer"]

#: Largest number of sliders :func:`latent_explorer` builds (pick units with ``dims`` beyond it).
MAX_SLIDERS = 16


def _codes_array(codes) -> np.ndarray:
    return codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes, dtype=np.float32)


def _slider_ranges(k: int, dims: list[int], span: float, codes, ranges) -> list[tuple[float, float]]:
    if ranges is not None:
        ranges = [tuple(map(float, r)) for r in ranges]
        if len(ranges) != len(dims) or any(len(r) != 2 or not r[0] < r[1] for r in ranges):
            raise ValueError(f"ranges must hold {len(dims)} (low, high) pairs with low < high, got {ranges}")
        return ranges
    if codes is not None:
        c = _codes_array(codes)
        if c.ndim != 2 or c.shape[1] != k or len(c) < 2:
            raise ValueError(f"codes must be an (N, {k}) array of codes with N >= 2, got shape {c.shape}")
        lo, hi = np.percentile(c[:, dims], 1, axis=0), np.percentile(c[:, dims], 99, axis=0)
        pad = 0.1 * (hi - lo) + 1e-3
        return [(float(a - p), float(b + p)) for a, b, p in zip(lo, hi, pad)]
    if isinstance(span, bool) or not isinstance(span, (int, float)) or not span > 0:
        raise ValueError(f"span must be a positive number, got {span!r}")
    return [(-float(span), float(span))] * len(dims)


class LatentExplorer:
    """The panel :func:`latent_explorer` returns: sliders, the decoded image, and the frame behind it.

    Displays itself as the widget. ``set_code(z)`` moves the sliders (and redraws once).

    Attributes
    ----------
    widget : ipywidgets.HBox
    sliders : list of ipywidgets.FloatSlider, one per explored unit
    image : ipywidgets.Image — holds the PNG of the current frame
    frame : LatentFrame
    dims : list of int — which code units the sliders move
    """

    def __init__(self, frame: LatentFrame, dims: list[int], base: np.ndarray, ranges, step: float | None,
                 continuous_update: bool):
        import ipywidgets as W

        self.frame, self.dims, self.base = frame, dims, base.copy()
        self.sliders = [
            W.FloatSlider(value=float(np.clip(base[d], lo, hi)), min=lo, max=hi,
                          step=step if step else (hi - lo) / 200, description=f"z[{d}]",
                          continuous_update=continuous_update, readout_format=".2f",
                          layout=W.Layout(width="320px"))
            for d, (lo, hi) in zip(dims, ranges)
        ]
        self.timing = W.Label(value="")
        self.image = W.Image(format="png", layout=W.Layout(width=f"{frame.fig.get_figwidth() * 100:.0f}px"))
        reset = W.Button(description="reset", tooltip="back to the starting code", layout=W.Layout(width="80px"))
        self._start = [s.value for s in self.sliders]
        reset.on_click(lambda _: self.set_code_values(self._start))
        self._muted = False
        for s in self.sliders:
            s.observe(self._on_change, names="value")
        self.widget = W.HBox([W.VBox([*self.sliders, W.HBox([reset, self.timing])]), self.image])
        self.redraw()

    def current_code(self) -> np.ndarray:
        """The full code ``(k,)``: the base code with the explored units set from the sliders."""
        z = self.base.copy()
        for d, s in zip(self.dims, self.sliders):
            z[d] = s.value
        return z

    def redraw(self) -> float:
        """Decode the current code, update the image; returns the seconds it took."""
        t = time.perf_counter()
        self.frame.update(self.current_code())
        self.image.value = self.frame.png()
        dt = time.perf_counter() - t
        self.timing.value = f"decode + draw: {dt * 1e3:.0f} ms"
        return dt

    def set_code_values(self, values: Sequence[float]) -> None:
        """Set the explored units (one value per slider, ranges widened if needed) and redraw once.

        Raises
        ------
        ValueError
            If there is not one finite value per slider.
        """
        if len(values) != len(self.sliders):
            raise ValueError(f"need {len(self.sliders)} values (one per slider), got {len(values)}")
        values = [float(v) for v in values]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"slider values must be finite, got {values}")
        self._muted = True
        try:
            for s, v in zip(self.sliders, values):
                s.min, s.max = min(s.min, v), max(s.max, v)  # widen the range to reach v
                s.value = v
        finally:
            self._muted = False
        self.redraw()

    def set_code(self, z) -> None:
        """Move to the full code ``z`` (shape ``(k,)``): base and sliders; redraw once."""
        code = as_code(z, self.frame.k)[0].numpy()
        self.base = code.copy()
        self.set_code_values([code[d] for d in self.dims])

    def _on_change(self, change) -> None:
        if not self._muted:
            self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def latent_explorer(model: nn.Module, *, codes=None, dims: Sequence[int] | None = None, z0=None,
                    span: float = 3.0, ranges: Sequence[tuple[float, float]] | None = None,
                    step: float | None = None, code_size: int | None = None, size: float = 2.6,
                    title: str = "decoded", continuous_update: bool = True) -> LatentExplorer:
    """Sliders for a (small) code and the decoded image beside them, redrawn as the sliders move.

    For a VAE the prior is N(0, I), so the default range ``[-span, span]`` per unit covers it.
    For a plain autoencoder, whose codes have no fixed scale, pass ``codes`` (the codes of some
    data) and each slider spans the 1st–99th percentile of its unit (plus 10 %). Show
    :func:`~aelab.widgets.render_frame` beside it for readers without a running kernel.

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
        Starting code (default: mean of ``codes``, else zeros).
    span : float
        Half-width of each slider's range when neither ``ranges`` nor ``codes`` is given.
    ranges : sequence of (low, high), optional
        Explicit range per slider.
    step : float, optional
        Slider step (default: range / 200).
    code_size : int, optional
        k, if the model does not tell it (see :func:`aelab.models.code_size`).
    size : float
        Image size in inches (100 dpi).
    title : str
        Title prefix of the frame.
    continuous_update : bool
        Redraw while a slider is dragged (True) or on release.

    Returns
    -------
    LatentExplorer
        Displays as the widget; ``.sliders``, ``.frame``, ``.set_code(z)``.

    Raises
    ------
    TypeError
        If ``model`` cannot decode, or its code size is unknown and not given.
    ValueError
        On more than :data:`MAX_SLIDERS` units without ``dims``, a unit index out of range,
        ``codes``/``z0``/``ranges`` of the wrong shape, ``span <= 0`` or ``step <= 0``.

    Examples
    --------
    >>> vae = VAE(784, 400, 2, input_shape=(1, 28, 28))          # doctest: +SKIP
    >>> explorer = latent_explorer(vae)                          # doctest: +SKIP
    >>> explorer                                                 # doctest: +SKIP
    """
    k = resolve_code_size(model, code_size)
    if dims is None:
        if k > MAX_SLIDERS:
            raise ValueError(f"the code has {k} units; pick at most {MAX_SLIDERS} of them to put on sliders "
                             "with dims=[...] (the others stay at z0)")
        dims = list(range(k))
    else:
        dims = [int(d) for d in dims]
        if not dims or len(dims) > MAX_SLIDERS or len(set(dims)) != len(dims) or not all(0 <= d < k for d in dims):
            raise ValueError(f"dims must be 1 to {MAX_SLIDERS} distinct unit indices in [0, {k}), got {dims}")
    slider_ranges = _slider_ranges(k, dims, span, codes, ranges)
    if z0 is not None:
        base = as_code(z0, k, "z0")[0].numpy()
    elif codes is not None:
        base = _codes_array(codes).mean(0).astype(np.float32)
    else:
        base = np.zeros(k, np.float32)
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0):
        raise ValueError(f"step must be a positive number, got {step!r}")
    frame = LatentFrame(model, code_size=k, size=size, title=title)
    return LatentExplorer(frame, dims, base, slider_ranges, step, continuous_update)
