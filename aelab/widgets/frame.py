"""The shared frame of every explorer: decode one code and draw it, fast and in place.

:func:`decode_image` turns one code into a 2-D image array; :class:`LatentFrame` keeps a small
matplotlib figure whose ``imshow`` is updated in place (no figure is re-created, no pyplot state
grows); :func:`render_frame` draws the same frame as a static figure for the executed site and
nbviewer. Explorers (:mod:`aelab.widgets.latent`, and lecture 07's) put controls around a
:class:`LatentFrame` and call its :meth:`~LatentFrame.update` and :meth:`~LatentFrame.png`.

matplotlib is imported lazily, inside :class:`LatentFrame`.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from torch import nn

from aelab.models import code_size as _model_code_size
from aelab.models._layers import check_size
from aelab.runtime import device_of

__all__ = ["resolve_code_size", "as_code", "decode_image", "LatentFrame", "render_frame"]


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
    return check_size(code_size, "code_size", owner="widgets")


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
        If ``z`` is not numeric.
    ValueError
        If ``z`` is not ``(k,)`` or ``(1, k)``, or holds a NaN or an infinity.
    """
    try:
        t = z if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z, dtype=np.float32))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be a sequence of {k} numbers, got {type(z).__name__}") from exc
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
        float32, ``(H, W)`` (``H = W = sqrt(n_pixels)``, 28 × 28 for MNIST).

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


class LatentFrame:
    """One decoded image in a small matplotlib figure that is redrawn in place.

    The figure (a plain ``matplotlib.figure.Figure`` on an Agg canvas, outside pyplot) and its
    ``imshow`` are created once; :meth:`update` decodes a code and replaces the image's data,
    :meth:`png` redraws the canvas and returns PNG bytes. This is every widget's fast path and
    what the benchmark times: a few milliseconds, well under the 50 ms a slider needs to feel
    immediate.

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
    k : int — the code size
    code : np.ndarray, shape ``(k,)`` — the last code drawn

    Raises
    ------
    TypeError
        If ``model`` cannot decode (see :func:`resolve_code_size`).
    ValueError
        If ``size`` is not a positive number.
    """

    def __init__(self, model: nn.Module, *, code_size: int | None = None, size: float = 2.6,
                 title: str = "decoded"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if isinstance(size, bool) or not isinstance(size, (int, float)) or not size > 0:
            raise ValueError(f"size must be a positive number of inches, got {size!r}")
        self.model = model
        self.k = resolve_code_size(model, code_size)
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
        self.code = as_code(z, self.k)[0].numpy()
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

    Use it beside an explorer so the executed site and nbviewer still show the picture, and
    to time one frame without widgets.

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
