"""The shared frame of every explorer: decode one code and draw it, fast and in place.

:func:`decode_image` turns one code into a 2-D image array; :class:`LatentFrame` keeps a small
matplotlib figure whose ``imshow`` is updated in place (no figure is re-created, no pyplot state
grows) under a two-line caption — which model, then which code units at which values — that is
fitted to the figure's width (:func:`fit_caption`; :func:`text_overflow` measures it);
:func:`render_frame` draws the same frame as a static figure, with alt text
(:mod:`aelab.widgets._alt`). Lectures 02 and 07 use them through the explorers
(:mod:`aelab.widgets.latent`, :mod:`~aelab.widgets.traversal`, :mod:`~aelab.widgets.plane`,
:mod:`~aelab.widgets.interpolation`).

matplotlib is imported lazily, inside :class:`LatentFrame`.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from torch import nn

from aelab import _validation as check
from aelab.models import code_size as _model_code_size
from aelab.runtime import device_of

from ._alt import with_alt

__all__ = ["resolve_code_size", "as_code", "decode_image", "model_label", "code_caption", "fit_caption",
           "text_overflow", "LatentFrame", "render_frame"]

#: Smallest caption font (points) before a caption is shortened with "…" instead.
MIN_FONTSIZE = 6.5


def resolve_code_size(model: nn.Module, code_size: int | None = None) -> int:
    """The code size k an explorer uses for ``model``: ``code_size`` if given, else the model's.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with a ``decode(z)`` method.
    code_size : int, optional
        k, for a model that does not tell it (see :func:`aelab.models.code_size`).

    Raises
    ------
    TypeError
        If ``model`` has no ``decode`` method, ``code_size`` is not an integer, or it is None and
        the model has no ``code_size``.
    ValueError
        If ``code_size < 1``.
    """
    if not callable(getattr(model, "decode", None)):
        raise TypeError(f"expected an autoencoder with a decode(z) method, got {type(model).__name__}")
    if code_size is None:
        return _model_code_size(model)
    return check.integer(code_size, "code_size", minimum=1)


def as_code(z, k: int, what: str = "z") -> torch.Tensor:
    """One code as a float32 ``(1, k)`` tensor on the CPU.

    Parameters
    ----------
    z : array-like or Tensor
        Shape ``(k,)`` or ``(1, k)``: a list, a NumPy array or a tensor.
    k : int
        The code size.
    what : str
        The argument's name in error messages.

    Raises
    ------
    TypeError
        If ``z`` is not numeric (strings and booleans included).
    ValueError
        If ``z`` is not ``(k,)`` or ``(1, k)``, or holds a NaN or an infinity.
    """
    if isinstance(z, torch.Tensor):
        if z.dtype == torch.bool or z.is_complex():
            raise TypeError(f"{what} must hold real numbers, got a {z.dtype} tensor")
        t = z
    else:
        arr = np.asarray(z)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{what} must be a sequence of {k} numbers, got {type(z).__name__} of {arr.dtype}")
        t = torch.as_tensor(arr.astype(np.float32))
    t = t.detach().cpu().to(torch.float32)
    if t.ndim == 2 and t.shape[0] == 1:
        t = t[0]
    if t.shape != (k,):
        raise ValueError(f"{what} must hold one code of shape ({k},) (or (1, {k})), got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{what} must be finite, got {t.tolist()}")
    return t.unsqueeze(0)  # (1, k)


@torch.no_grad()
def decode_image(model: nn.Module, z, *, code_size: int | None = None) -> np.ndarray:
    """Decode one code to a 2-D image array.

    The model is put in eval mode for the call and back in its previous mode afterwards; the
    code is moved to the model's device (:func:`aelab.runtime.device_of`).

    Parameters
    ----------
    model : nn.Module
        An autoencoder with ``decode(z: (1, k)) -> (1, ...)`` on float32 codes, e.g.
        ``MLPAutoencoder`` or ``VAE`` (whose decoder gives Bernoulli means, i.e. the expected
        image).
    z : array-like or Tensor
        One code, shape ``(k,)`` or ``(1, k)``.
    code_size : int, optional
        k, if the model does not tell it (see :func:`aelab.models.code_size`).

    Returns
    -------
    np.ndarray
        float32, ``(H, W)`` (``H = W = sqrt(n_pixels)``, 28 × 28 for MNIST), pixel values as
        the decoder gives them (in [0, 1] for the course's sigmoid decoders).

    Raises
    ------
    TypeError
        If ``model`` cannot decode or ``z`` is not numeric.
    ValueError
        If ``z`` has the wrong shape or non-finite values, or the output is not a square image.
    """
    k = resolve_code_size(model, code_size)
    code = as_code(z, k).to(device_of(model))  # (1, k)
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


def model_label(model: nn.Module, k: int | None = None) -> str:
    """A short name for a model in a caption: its class and code size, e.g. ``"VAE (20-D code)"``."""
    k = resolve_code_size(model, k)
    return f"{type(model).__name__} ({k}-D code)"


def code_caption(values, names, *, fmt: str = "+.2f", unit: str = "") -> str:
    """``"z[3] = +1.20σ, z[7] = −0.50σ"``: which code units, at which values, in which unit.

    Parameters
    ----------
    values : sequence of float
    names : sequence of str
        One name per value (``"z[3]"``, ``"t"``).
    fmt : str
        Format of each value (minus signs are written as "−").
    unit : str
        Appended to each value (``"σ"``: standard deviations of a VAE's prior).
    """
    return ", ".join(f"{n} = " + format(float(v), fmt).replace("-", "\u2212") + unit for n, v in zip(names, values))


def _width(text, renderer) -> float:
    return text.get_window_extent(renderer).width if text.get_text() else 0.0


_FIT_CACHE: dict = {}
_DIGITS = str.maketrans("123456789\u2212-", "000000000++")


def _shape(line: str) -> str:
    """``line`` with every digit as 0 and every minus as +: the same width in the course's fonts
    (DejaVu Sans has tabular digits and a minus as wide as the plus), so one fit serves all values."""
    return line.translate(_DIGITS)


def _fit(text, lines: list[str], fontsize: float, avail: float, min_fontsize: float):
    """The font size and, per line, how much of it to keep: ``("items", n)``, ``("chars", n)`` or None."""
    renderer = text.get_figure().canvas.get_renderer()
    text.set_fontsize(fontsize)
    text.set_text("\n".join(lines))
    width = _width(text, renderer)
    size = fontsize
    if width > avail:  # widths scale with the font size: jump to the size that fits, then check
        size = max(min_fontsize, math.floor(2 * fontsize * avail / width) / 2)
        text.set_fontsize(size)
        while _width(text, renderer) > avail and size > min_fontsize:
            size = max(min_fontsize, size - 0.5)
            text.set_fontsize(size)
    if _width(text, renderer) <= avail:
        return size, [None] * len(lines)
    cuts = []
    for line in lines:  # shorten each line on its own, at the final font size
        text.set_text(line)
        if _width(text, renderer) <= avail:
            cuts.append(None)
            continue
        items = line.split(", ")
        n = len(items)
        while n > 1:
            n -= 1  # drop trailing items: "z[3] = +1.20, z[7] = -0.50, …"
            text.set_text(", ".join(items[:n]) + ", …")
            if _width(text, renderer) <= avail:
                break
        if _width(text, renderer) <= avail:
            cuts.append(("items", n))
            continue
        m = len(line)
        while m > 1:
            m -= 1
            text.set_text(line[:m].rstrip() + "…")
            if _width(text, renderer) <= avail:
                break
        cuts.append(("chars", m))
    return size, cuts


def fit_caption(text, lines: list[str], *, fontsize: float = 8.0, width_px: float | None = None,
                min_fontsize: float = MIN_FONTSIZE) -> str:
    """Put ``lines`` into the matplotlib ``text`` so that it fits the figure's width; returns what was set.

    The caption is measured with the figure's renderer (the pixels it will have in the PNG). If it is
    too wide, the font shrinks (down to ``min_fontsize``), then each line that is still too wide
    loses trailing comma-separated items (or characters) and ends in "…". Nothing is ever cut by the
    figure's edge. The decision is cached per caption *shape* (digits and signs have one width), so
    a slider's frames measure nothing after the first.

    Parameters
    ----------
    text : matplotlib.text.Text
        A text artist of a figure with a canvas (e.g. from ``fig.text``).
    lines : list of str
        The caption, one string per line.
    fontsize : float
        Preferred size in points.
    width_px : float, optional
        Width available (default: the figure's width minus 4 px).
    min_fontsize : float

    Returns
    -------
    str
        The text set (lines joined by newlines).
    """
    fig = text.get_figure()
    avail = (fig.bbox.width - 4) if width_px is None else float(width_px)
    lines = [str(s) for s in lines]
    key = (tuple(_shape(s) for s in lines), fontsize, avail, min_fontsize, fig.dpi, str(text.get_fontfamily()))
    if key not in _FIT_CACHE:
        if len(_FIT_CACHE) > 2048:
            _FIT_CACHE.clear()
        _FIT_CACHE[key] = _fit(text, lines, fontsize, avail, min_fontsize)
    size, cuts = _FIT_CACHE[key]
    out = []
    for line, cut in zip(lines, cuts):
        if cut is None:
            out.append(line)
        elif cut[0] == "items":
            out.append(", ".join(line.split(", ")[:cut[1]]) + ", …")
        else:
            out.append(line[:cut[1]].rstrip() + "…")
    text.set_fontsize(size)
    text.set_text("\n".join(out))
    return text.get_text()


def text_overflow(fig) -> list[tuple[str, float]]:
    """Every text of ``fig`` that leaves the figure, with the pixels it overflows by (empty when all fit).

    Draws the figure once and compares each visible text's extent (as the renderer draws it) with
    the figure's box, so a caption cut off by the edge of its PNG is found.

    Returns
    -------
    list of (str, float)
        ``(text, pixels outside)`` for each text that does not fit.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    out = []
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent")):
        if not t.get_visible() or not t.get_text():
            continue
        e = t.get_window_extent(renderer)
        over = max(box.x0 - e.x0, e.x1 - box.x1, box.y0 - e.y0, e.y1 - box.y1, 0.0)
        if over > 0.5:
            out.append((t.get_text(), float(over)))
    return out


class LatentFrame:
    """One decoded image in a small matplotlib figure that is redrawn in place, under a fitted caption.

    The figure (a plain ``matplotlib.figure.Figure`` on an Agg canvas, outside pyplot) and its
    ``imshow`` are created once; :meth:`update` decodes a code, replaces the image's data and
    sets the caption — line 1 the model (``title``), line 2 which code units at which values —
    fitted to the figure's width (:func:`fit_caption`); :meth:`png` redraws the canvas and
    returns PNG bytes. This is every widget's fast path and what the benchmark times: a few
    milliseconds, well under the 50 ms a slider needs to feel immediate.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with ``decode`` (see :func:`decode_image`).
    code_size : int, optional
        k, if the model does not tell it.
    size : float
        Figure width in inches (at 100 dpi); the image is square, the caption above it.
    title : str, optional
        The caption's first line: which model (default :func:`model_label`, e.g. ``"VAE (2-D code)"``).

    Attributes
    ----------
    fig : matplotlib.figure.Figure
    image : matplotlib.image.AxesImage
    k : int — the code size
    code : np.ndarray, shape ``(k,)`` — the last code drawn
    caption : str — the caption drawn (both lines)

    Raises
    ------
    TypeError
        If ``model`` cannot decode (see :func:`resolve_code_size`), or ``size``/``title`` have the wrong type.
    ValueError
        If ``size`` is not a positive number.
    """

    CAPTION_IN = 0.42  # inches above the image for two caption lines

    def __init__(self, model: nn.Module, *, code_size: int | None = None, size: float = 2.6,
                 title: str | None = None):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        size = check.real(size, "size", low=0.5, high=20)
        self.model = model
        self.k = resolve_code_size(model, code_size)
        if title is not None and not isinstance(title, str):
            raise TypeError(f"title must be a str (which model the frame shows), got {type(title).__name__}")
        self.title = model_label(model, self.k) if title is None else title
        self.fig = Figure(figsize=(size, size + self.CAPTION_IN), dpi=100)
        FigureCanvasAgg(self.fig)
        h = size / (size + self.CAPTION_IN)
        ax = self.fig.add_axes((0.02, 0.01, 0.96, 0.96 * h))
        ax.set_axis_off()
        first = decode_image(model, np.zeros(self.k, np.float32), code_size=self.k)
        self.image = ax.imshow(first, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        self._caption = self.fig.text(0.5, 0.995, "", ha="center", va="top", fontsize=8, linespacing=1.25)
        self.caption = ""
        self.code = np.zeros(self.k, np.float32)
        self.update(self.code)

    def default_caption(self, code: np.ndarray) -> str:
        """Line 2 when none is given: the first units' values (``z = (+0.50, −1.00)``, "…" beyond six)."""
        shown = ", ".join(f"{v:+.2f}" for v in code[:6]).replace("-", "\u2212")
        return f"z = ({shown}{', …' if self.k > 6 else ''})"

    def update(self, z, caption: str | None = None) -> np.ndarray:
        """Decode ``z`` (shape ``(k,)``) into the existing image and set the caption; returns the ``(H, W)`` array.

        Parameters
        ----------
        z : array-like ``(k,)``
        caption : str, optional
            The caption's second line (which units, which values); default :meth:`default_caption`.

        Raises
        ------
        ValueError, TypeError
            As :func:`decode_image`.
        """
        arr = decode_image(self.model, z, code_size=self.k)
        self.code = as_code(z, self.k)[0].numpy()
        self.image.set_data(arr)
        line2 = self.default_caption(self.code) if caption is None else caption
        self.caption = fit_caption(self._caption, [self.title, line2])
        return arr

    def png(self) -> bytes:
        """Redraw the canvas and return the figure as PNG bytes."""
        buf = io.BytesIO()
        self.fig.canvas.print_png(buf)
        return buf.getvalue()


def render_frame(model: nn.Module, z, *, code_size: int | None = None, size: float = 2.6,
                 title: str | None = None, caption: str | None = None, alt: str | None = None):
    """Decode one code and draw it as a static figure (what a widget would show for ``z``).

    Use it beside an explorer (lecture 02) so the executed site and nbviewer still show the
    picture, and to time one frame without widgets.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with ``decode`` (e.g. ``MLPAutoencoder``, ``VAE``).
    z : array-like or Tensor
        One code, shape ``(k,)`` or ``(1, k)``.
    code_size, size, title
        As :class:`LatentFrame`.
    caption : str, optional
        The caption's second line (default: the code's values).
    alt : str, optional
        Alt text of the displayed image (default: what it shows, from the caption).

    Returns
    -------
    matplotlib.figure.Figure
        Gray image, no ticks, under the fitted caption; displayed in a notebook with its alt
        text (:func:`aelab.widgets.alt_text`).

    Raises
    ------
    TypeError, ValueError
        As :func:`decode_image`.
    """
    frame = LatentFrame(model, code_size=code_size, size=size, title=title)
    frame.update(z, caption)
    text = alt if alt is not None else (f"The image {frame.title} decodes from the code "
                                        f"{frame.caption.splitlines()[-1]}: a 28 by 28 gray-level picture.")
    return with_alt(frame.fig, text)
