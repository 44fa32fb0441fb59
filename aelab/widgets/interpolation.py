"""Interpolation between two test images, an autoencoder and a VAE side by side (lecture 07).

Both models encode the two images (a VAE by its means), and one slider ``t ∈ [0, 1]`` moves
along the straight line ``z(t) = (1 − t) z_a + t z_b`` in each code space; each model decodes its
own point (two :class:`~aelab.widgets.LatentFrame`, each captioned with its model's name and
``t``, so the panels can be told apart). :func:`interpolation_explorer` is the widget,
:func:`interpolation_figure` its static figure (a row of steps per model), with alt text.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from aelab import _validation as check

from ._alt import with_alt
from ._panel import SliderPanel
from .frame import LatentFrame, decode_image, resolve_code_size

__all__ = ["InterpolationExplorer", "encode_mean", "interpolation_explorer", "interpolation_figure"]


@torch.no_grad()
def encode_mean(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The code of each image: ``encode(x)`` of an autoencoder, the mean ``mu`` of a VAE; ``(N, k)`` float32.

    Parameters
    ----------
    model : nn.Module
        An autoencoder (``encode(x) -> z``) or a VAE (``encode(x) -> (mu, logvar)``).
    x : torch.Tensor
        Images ``(N, 1, 28, 28)`` (or ``(N, 784)``), float, as the model was trained on.

    Raises
    ------
    TypeError
        If ``model`` has no ``encode`` or ``x`` is not a float tensor.
    """
    if not callable(getattr(model, "encode", None)):
        raise TypeError(f"expected an autoencoder with encode(x), got {type(model).__name__}")
    check.tensor(x, "x")
    was = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        out = model.encode(x.to(dev))
    finally:
        model.train(was)
    z = out[0] if isinstance(out, tuple) else out
    return z.float().cpu().numpy()


def _ends(model, x_a, x_b):
    for name, x in (("x_a", x_a), ("x_b", x_b)):
        if not isinstance(x, torch.Tensor) or x.ndim < 2 or len(x) != 1:
            raise ValueError(f"{name} must be one image as a batch of one, shape (1, ...), e.g. X_test[3:4]; "
                             f"got {tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    return encode_mean(model, x_a)[0], encode_mean(model, x_b)[0]


def _check_models(models) -> None:
    if not isinstance(models, dict) or not models:
        raise TypeError(f"models must be a non-empty dict {{name: model}}, got {type(models).__name__}")
    for name in models:
        if not isinstance(name, str) or not name:
            raise TypeError(f"model names must be non-empty strings (they caption the panels), got {name!r}")


class InterpolationExplorer(SliderPanel):
    """The panel :func:`interpolation_explorer` returns: ``images[i]`` model ``i``'s decoded point.

    Attributes
    ----------
    frames : list of LatentFrame — one per model, captioned with its name
    ends : list of (z_a, z_b) — each model's end codes
    """

    def __init__(self, frames, ends, continuous_update: bool):
        self.frames, self.ends = frames, ends
        super().__init__(["t"], [(0.0, 1.0)], [0.0], n_images=len(frames),
                         width_px=[int(round(f.fig.get_figwidth() * 100)) for f in frames],
                         continuous_update=continuous_update, step=0.01,
                         alts=[f"{f.title}: the image decoded at fraction t of the straight line from image a's "
                               "code to image b's" for f in frames])
        self.redraw()

    def draw(self, values):
        t = values[0]
        out = []
        for frame, (za, zb) in zip(self.frames, self.ends):
            frame.update((1 - t) * za + t * zb, f"t = {t:.2f} (0: image a, 1: image b)")
            out.append(frame.png())
        return out

    def describe(self, values) -> str:
        return f"t = {values[0]:.2f}"

    def set_t(self, t) -> float:
        """Move to ``t`` and redraw; returns the redraw's seconds.

        Raises
        ------
        TypeError
            If ``t`` is not a real number (``"0.5"`` and ``True`` are refused).
        ValueError
            If ``t`` is outside [0, 1] (the path ends at the two images) or not finite.
        """
        return self.set_values([t])


def interpolation_explorer(models: dict, x_a: torch.Tensor, x_b: torch.Tensor, *, size: float = 2.2,
                           continuous_update: bool = True) -> InterpolationExplorer:
    """One slider ``t`` moving from image ``x_a`` to ``x_b`` in each model's code space, models side by side (lecture 07).

    Parameters
    ----------
    models : dict of str to nn.Module
        E.g. ``{"plain AE": ae, "VAE": vae}``; each with ``encode`` and ``decode``. The names
        caption the panels (first line), ``t`` the second.
    x_a, x_b : torch.Tensor
        One image each, ``(1, 1, 28, 28)``, as the models were trained on.
    size : float
        Image width in inches.
    continuous_update : bool
        Default True: redraw while dragged, newest value only.

    Returns
    -------
    InterpolationExplorer

    Raises
    ------
    TypeError
        If a model cannot encode or decode, or ``models`` is not a non-empty dict with string names.
    ValueError
        If ``x_a``/``x_b`` are not single images.
    """
    _check_models(models)
    frames, ends = [], []
    for name, model in models.items():
        k = resolve_code_size(model)
        ends.append(_ends(model, x_a, x_b))
        frames.append(LatentFrame(model, code_size=k, size=size, title=name))
    return InterpolationExplorer(frames, ends, continuous_update)


def interpolation_figure(models: dict, x_a: torch.Tensor, x_b: torch.Tensor, *, steps: int = 8,
                         title: str = "Interpolation between two test digits", alt: str | None = None):
    """The static figure (lecture 07): one row per model, ``steps`` points from ``t = 0`` to ``t = 1``.

    Returns
    -------
    matplotlib.figure.Figure
        With alt text (:func:`aelab.widgets.alt_text`).

    Raises
    ------
    TypeError, ValueError
        As :func:`interpolation_explorer`; ``steps`` not an integer >= 2.
    """
    import matplotlib.pyplot as plt

    steps = check.integer(steps, "steps", minimum=2)
    _check_models(models)
    ts = np.linspace(0, 1, steps)
    fig, axes = plt.subplots(len(models), steps, figsize=(0.95 * steps + 0.5, 1.1 * len(models) + 0.6), squeeze=False)
    for r, (name, model) in enumerate(models.items()):
        k = resolve_code_size(model)
        za, zb = _ends(model, x_a, x_b)
        for c, t in enumerate(ts):
            ax = axes[r, c]
            ax.imshow(decode_image(model, (1 - t) * za + t * zb, code_size=k), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
            if r == 0:
                ax.set_title(f"t={t:.2f}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.supxlabel("t: fraction of the straight line from image a's code (t = 0) to image b's (t = 1)", fontsize=8)
    names = " and ".join(models)
    text = alt or (f"Interpolation between two test digits: {len(models)} rows ({names}), each decoding {steps} "
                   f"points of the straight line between the two images' codes, from t = 0 to t = 1; "
                   f"gray 28 by 28 digits.")
    return with_alt(fig, text)
