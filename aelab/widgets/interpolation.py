"""Interpolation between two test images, an autoencoder and a VAE side by side (lecture 07).

Both models encode the two images (a VAE by its means), and one slider ``t ∈ [0, 1]`` moves
along the straight line ``z(t) = (1 − t) z_a + t z_b`` in each code space; each model decodes its
own point (two :class:`~aelab.widgets.LatentFrame`). :func:`interpolation_explorer` is the
widget, :func:`interpolation_figure` its static figure (a row of steps per model).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ._panel import SliderPanel
from .frame import LatentFrame, decode_image, resolve_code_size

__all__ = ["InterpolationExplorer", "encode_mean", "interpolation_explorer", "interpolation_figure"]


@torch.no_grad()
def encode_mean(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """The code of each image: ``encode(x)`` of an autoencoder, the mean ``mu`` of a VAE; ``(N, k)`` float32.

    Raises
    ------
    TypeError
        If ``model`` has no ``encode``.
    """
    if not callable(getattr(model, "encode", None)):
        raise TypeError(f"expected an autoencoder with encode(x), got {type(model).__name__}")
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


class InterpolationExplorer(SliderPanel):
    """The panel :func:`interpolation_explorer` returns: ``images[i]`` model ``i``'s decoded point.

    Attributes
    ----------
    frames : list of LatentFrame — one per model
    ends : list of (z_a, z_b) — each model's end codes
    """

    def __init__(self, frames, ends, continuous_update: bool):
        self.frames, self.ends = frames, ends
        super().__init__(["t"], [(0.0, 1.0)], [0.0], n_images=len(frames),
                         width_px=[int(f.fig.get_figwidth() * 100) for f in frames],
                         continuous_update=continuous_update, steps=50)
        self.redraw()

    def draw(self, values):
        t = values[0]
        out = []
        for frame, (za, zb) in zip(self.frames, self.ends):
            frame.update((1 - t) * za + t * zb)
            out.append(frame.png())
        return out

    def set_t(self, t: float) -> float:
        """Move to ``t`` and redraw; ValueError outside [0, 1] (the path ends at the two images)."""
        return self.set_values([t])


def interpolation_explorer(models: dict, x_a: torch.Tensor, x_b: torch.Tensor, *, size: float = 2.2,
                           continuous_update: bool = False) -> InterpolationExplorer:
    """One slider ``t`` moving from image ``x_a`` to ``x_b`` in each model's code space, models side by side.

    Parameters
    ----------
    models : dict of str to nn.Module
        E.g. ``{"AE": ae, "VAE": vae}``; each with ``encode`` and ``decode``.
    x_a, x_b : torch.Tensor
        One image each, ``(1, 1, 28, 28)``.
    size : float
        Image size in inches.
    continuous_update : bool
        Default False: redraw on release.

    Returns
    -------
    InterpolationExplorer

    Raises
    ------
    TypeError
        If a model cannot encode or decode, or ``models`` is not a non-empty dict.
    ValueError
        If ``x_a``/``x_b`` are not single images.
    """
    if not isinstance(models, dict) or not models:
        raise TypeError(f"models must be a non-empty dict {{name: model}}, got {type(models).__name__}")
    frames, ends = [], []
    for name, model in models.items():
        k = resolve_code_size(model)
        ends.append(_ends(model, x_a, x_b))
        frames.append(LatentFrame(model, code_size=k, size=size, title=name))
    return InterpolationExplorer(frames, ends, continuous_update)


def interpolation_figure(models: dict, x_a: torch.Tensor, x_b: torch.Tensor, *, steps: int = 8,
                         title: str = "Interpolation between two test digits"):
    """The static figure: one row per model, ``steps`` points from ``t = 0`` to ``t = 1``.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    TypeError, ValueError
        As :func:`interpolation_explorer`; ``steps < 2``.
    """
    import matplotlib.pyplot as plt

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if not isinstance(models, dict) or not models:
        raise TypeError(f"models must be a non-empty dict {{name: model}}, got {type(models).__name__}")
    ts = np.linspace(0, 1, steps)
    fig, axes = plt.subplots(len(models), steps, figsize=(0.95 * steps, 1.1 * len(models) + 0.4), squeeze=False)
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
    return fig
