"""Interactive explorers: move a code with sliders and watch the decoder's image change.

:func:`latent_explorer` builds an ipywidgets panel (one slider per code unit, the decoded
image beside them). Each slider move decodes one code and redraws it through a
:class:`LatentFrame`: the figure and its ``imshow`` are made once, and an update only replaces
the image's data, redraws the small Agg canvas and sends the PNG to an ``ipywidgets.Image``
(no figure is re-created, no pyplot state grows). That takes a few milliseconds, well under the
50 ms a slider needs to feel immediate (``python -m benchmarks`` measures it).

:func:`render_frame` draws the same frame as a static figure, for the executed site and
nbviewer, where widgets do not run: every widget in the course has one beside it.

matplotlib and ipywidgets are imported lazily, so models and losses do not need them.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

#: Largest number of sliders :func:`latent_explorer` builds (pick units with ``dims`` beyond it).
MAX_SLIDERS = 16


def code_size_of(model: nn.Module) -> int:
    """The code dimension of ``model``: its ``code_size`` (MLP AE, VAE) or ``n_components`` (linear AE).

    Raises
    ------
    TypeError
        If ``model`` has no ``decode`` method, or no attribute telling its code size.
    """
    if not callable(getattr(model, "decode", None)):
        raise TypeError(f"expected an autoencoder with a decode(z) method, got {type(model).__name__}")
    for attr in ("code_size", "n_components", "latent"):
        k = getattr(model, attr, None)
        if isinstance(k, int) and k >= 1:
            return k
    raise TypeError(f"cannot tell the code size of {type(model).__name__}: give it a `code_size` attribute "
                    "or pass code_size=... explicitly")


def _as_code(z, k: int, what: str = "z") -> torch.Tensor:
    """A single code as a float32 ``(1, k)`` tensor; accepts ``(k,)`` or ``(1, k)`` arrays/tensors/lists."""
    try:
        t = torch.as_tensor(np.asarray(z, dtype=np.float32) if not isinstance(z, torch.Tensor) else z)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be a sequence of {k} numbers, got {type(z).__name__}") from exc
    t = t.detach().to(torch.float32)
    if t.ndim == 2 and t.shape[0] == 1:
        t = t[0]
    if t.shape != (k,):
        raise ValueError(f"{what} must hold one code of shape ({k},) (or (1, {k})), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{what} must be finite, got {t.tolist()}")
    return t.unsqueeze(0)  # (1, k)


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def decode_image(model: nn.Module, z, *, code_size: int | None = None) -> np.ndarray:
    """Decode one code to a 2-D image array.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with ``decode(z: (1, k)) -> (1, ...)``, e.g. ``MLPAutoencoder`` or ``VAE``
        (whose decoder gives Bernoulli means, i.e. the expected image).
    z : array-like or Tensor
        One code, shape ``(k,)`` or ``(1, k)``.
    code_size : int, optional
        k, if the model does not tell it (see :func:`code_size_of`).

    Returns
    -------
    np.ndarray
        float32, ``(H, W)`` (``H = W = sqrt(n_pixels)``, 28 × 28 for MNIST).

    Raises
    ------
    TypeError
        If ``model`` cannot decode or ``z`` is not numeric.
    ValueError
        If ``z`` has the wrong shape or non-finite values, or the output is not a square image.
    """
    k = code_size if code_size is not None else code_size_of(model)
    code = _as_code(z, k).to(_model_device(model))
    was_training = model.training
    model.eval()
    try:
        out = model.decode(code)  # (1, *input_shape)
    finally:
        model.train(was_training)
    flat = out.reshape(-1).float().cpu().numpy()
    side = math.isqrt(flat.size)
    if side * side != flat.size:
        raise ValueError(f"the decoder's output has {flat.size} values, not a square image")
    return flat.reshape(side, side)


class LatentFrame:
    """One decoded image in a small matplotlib figure that is redrawn in place.

    The figure (a plain ``matplotlib.figure.Figure`` on an Agg canvas, outside pyplot) and its
    ``imshow`` are created once; :meth:`update` decodes a code and replaces the image's data,
    :meth:`png` redraws the canvas and returns PNG bytes. This is the widget's fast path and
    what the benchmark times.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with ``decode`` (see :func:`decode_image`).
    code_size : int, optional
        k, if the model does not tell it.
    size : float
        Figure width and height in inches (at 100 dpi).
    title : str
        Title prefix; the code's values are appended.

    Attributes
    ----------
    fig : matplotlib.figure.Figure
    image : matplotlib.image.AxesImage
    code : np.ndarray, shape ``(k,)`` — the last code drawn
    """

    def __init__(self, model: nn.Module, *, code_size: int | None = None, size: float = 2.6,
                 title: str = "decoded"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if not isinstance(size, (int, float)) or not size > 0:
            raise ValueError(f"size must be a positive number of inches, got {size!r}")
        self.model = model
        self.k = code_size if code_size is not None else code_size_of(model)
        self.title = title
        self.fig = Figure(figsize=(size, size + 0.35), dpi=100)
        FigureCanvasAgg(self.fig)
        ax = self.fig.add_axes((0.03, 0.03, 0.94, 0.94 * size / (size + 0.35)))
        ax.set_axis_off()
        first = decode_image(model, np.zeros(self.k, np.float32), code_size=self.k)
        self.image = ax.imshow(first, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        self._title = self.fig.suptitle("", fontsize=8, y=0.99)
        self.code = np.zeros(self.k, np.float32)
        self.update(self.code)

    def update(self, z) -> np.ndarray:
        """Decode ``z`` (shape ``(k,)``) and put it into the existing image; returns the ``(H, W)`` array.

        Raises
        ------
        ValueError, TypeError
            As :func:`decode_image`.
        """
        arr = decode_image(self.model, z, code_size=self.k)
        self.code = _as_code(z, self.k)[0].numpy()
        self.image.set_data(arr)
        shown = ", ".join(f"{v:+.2f}" for v in self.code[:6]) + (", …" if self.k > 6 else "")
        self._title.set_text(f"{self.title}: z = ({shown})")
        return arr

    def png(self) -> bytes:
        """Redraw the canvas and return the figure as PNG bytes."""
        buf = io.BytesIO()
        self.fig.canvas.print_png(buf)
        return buf.getvalue()


def render_frame(model: nn.Module, z, *, code_size: int | None = None, size: float = 2.6,
                 title: str = "decoded"):
    """Decode one code and draw it as a static figure (what a widget would show for ``z``).

    Use it beside :func:`latent_explorer` so the executed site and nbviewer still show the
    picture, and to time one frame without widgets.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with ``decode`` (e.g. ``MLPAutoencoder``, ``VAE``).
    z : array-like or Tensor
        One code, shape ``(k,)`` or ``(1, k)``.
    code_size, size, title
        As :class:`LatentFrame`.

    Returns
    -------
    matplotlib.figure.Figure
        Gray image, no ticks, titled with the code (it displays as a notebook cell's result).

    Raises
    ------
    TypeError, ValueError
        As :func:`decode_image`.
    """
    frame = LatentFrame(model, code_size=code_size, size=size, title=title)
    frame.update(z)
    return frame.fig


def _slider_ranges(k: int, dims: list[int], span: float, codes, ranges) -> list[tuple[float, float]]:
    if ranges is not None:
        ranges = [tuple(map(float, r)) for r in ranges]
        if len(ranges) != len(dims) or any(len(r) != 2 or not r[0] < r[1] for r in ranges):
            raise ValueError(f"ranges must hold {len(dims)} (low, high) pairs with low < high, got {ranges}")
        return ranges
    if codes is not None:
        c = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes, dtype=np.float32)
        if c.ndim != 2 or c.shape[1] != k or len(c) < 2:
            raise ValueError(f"codes must be an (N, {k}) array of codes with N >= 2, got shape {c.shape}")
        lo, hi = np.percentile(c[:, dims], 1, axis=0), np.percentile(c[:, dims], 99, axis=0)
        pad = 0.1 * (hi - lo) + 1e-3
        return [(float(a - p), float(b + p)) for a, b, p in zip(lo, hi, pad)]
    if not isinstance(span, (int, float)) or not span > 0:
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

    def __init__(self, frame: LatentFrame, dims: list[int], base: np.ndarray, ranges, step: float,
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
        """Set the explored units (one value per slider, ranges widened if needed) and redraw once."""
        if len(values) != len(self.sliders):
            raise ValueError(f"need {len(self.sliders)} values (one per slider), got {len(values)}")
        self._muted = True
        try:
            for s, v in zip(self.sliders, values):
                v = float(v)
                if not math.isfinite(v):
                    raise ValueError(f"slider values must be finite, got {v}")
                s.min, s.max = min(s.min, v), max(s.max, v)  # widen the range to reach v
                s.value = v
        finally:
            self._muted = False
        self.redraw()

    def set_code(self, z) -> None:
        """Move to the full code ``z`` (shape ``(k,)``): base and sliders; redraw once."""
        code = _as_code(z, self.frame.k)[0].numpy()
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
    :func:`render_frame` beside it for readers without a running kernel.

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
        k, if the model does not tell it.
    size : float
        Image size in inches (100 dpi).
    continuous_update : bool
        Redraw while a slider is dragged (True) or on release.

    Returns
    -------
    LatentExplorer
        Displays as the widget; ``.sliders``, ``.frame``, ``.set_code(z)``.

    Raises
    ------
    TypeError
        If ``model`` cannot decode.
    ValueError
        On more than :data:`MAX_SLIDERS` units without ``dims``, a unit index out of range,
        ``codes``/``z0``/``ranges`` of the wrong shape, or ``span <= 0``.

    Examples
    --------
    >>> vae = VAE(784, 400, 2, input_shape=(1, 28, 28))          # doctest: +SKIP
    >>> explorer = latent_explorer(vae)                          # doctest: +SKIP
    >>> explorer                                                 # doctest: +SKIP
    """
    k = code_size if code_size is not None else code_size_of(model)
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
        base = _as_code(z0, k, "z0")[0].numpy()
    elif codes is not None:
        c = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes, np.float32)
        base = c.mean(0).astype(np.float32)
    else:
        base = np.zeros(k, np.float32)
    if step is not None and not (isinstance(step, (int, float)) and step > 0):
        raise ValueError(f"step must be a positive number, got {step!r}")
    frame = LatentFrame(model, code_size=k, size=size, title=title)
    return LatentExplorer(frame, dims, base, slider_ranges, step, continuous_update)
