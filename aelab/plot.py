"""Figures for the lectures: image grids, reconstructions, code scatter plots, loss curves.

Every function returns a ``matplotlib.figure.Figure`` (and works headless). matplotlib is
imported lazily so that models, losses and their tests do not need it. First used in lecture 01
(``image_grid``, ``reconstruction_rows``, ``loss_curves``) and lecture 02 (``code_scatter``);
every later lecture draws with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

__all__ = ["image_grid", "reconstruction_rows", "code_scatter", "loss_curves"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _as_images(images) -> np.ndarray:
    """(N, 1, H, W) / (N, H, W) / (N, 784) tensor or array -> (N, H, W) float array."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2:
        side = int(round(np.sqrt(arr.shape[1])))
        if side * side != arr.shape[1]:
            raise ValueError(f"flat images need a square number of pixels, got {arr.shape[1]}")
        arr = arr.reshape(len(arr), side, side)
    if arr.ndim != 3:
        raise ValueError(f"expected images of shape (N, 1, H, W), (N, H, W) or (N, H*W), got {arr.shape}")
    return arr


def image_grid(images, ncols: int = 10, *, title: str | None = None, labels: Sequence | None = None,
               scale: float = 1.0):
    """Show images in a grid (gray, no ticks, optional per-image labels).

    Parameters
    ----------
    images : Tensor or array
        ``(N, 1, H, W)``, ``(N, H, W)`` or ``(N, H*W)``, values in [0, 1].
    ncols : int
        Images per row.
    labels : sequence, optional
        One caption per image.
    """
    plt = _plt()
    imgs = _as_images(images)
    n = len(imgs)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    if int(ncols) != ncols or ncols < 1:
        raise ValueError(f"ncols must be an integer >= 1, got {ncols!r}")
    if labels is not None and len(labels) < n:
        raise ValueError(f"image_grid got {n} images but only {len(labels)} labels")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols * 0.9, scale * nrows * 0.9 + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i < n:
            ax.imshow(imgs[i], cmap="gray", vmin=0, vmax=1)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def reconstruction_rows(originals, reconstructions: Mapping[str, object] | object, n: int = 10, *,
                        title: str | None = None, top_label: str = "original"):
    """Originals in the first row, one row of reconstructions per model below.

    Parameters
    ----------
    originals : images, ``(N, 1, H, W)``
    reconstructions : images, or a mapping ``{row label: images}`` for several models
    n : int
        How many columns (images) to show.
    title : str, optional
        The figure's title.
    top_label : str
        The label of the first row (default ``"original"``).
    """
    plt = _plt()
    if int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    rows = {top_label: originals}
    if isinstance(reconstructions, Mapping):
        rows.update(reconstructions)
    else:
        rows["reconstruction"] = reconstructions
    arrays = {k: _as_images(v)[:n] for k, v in rows.items()}
    n = min(len(a) for a in arrays.values())
    if n == 0:
        raise ValueError("reconstruction_rows needs at least one image in every row")
    fig, axes = plt.subplots(len(arrays), n, figsize=(n * 0.9, len(arrays) * 1.0 + 0.3), squeeze=False)
    for r, (label, imgs) in enumerate(arrays.items()):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(imgs[c], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def code_scatter(codes, labels, *, title: str = "2-D codes", xlabel: str = "code unit 1",
                 ylabel: str = "code unit 2", class_names: Sequence[str] | None = None, ax=None,
                 s: float = 4.0):
    """Scatter 2-D codes coloured by label, with a legend.

    Parameters
    ----------
    codes : Tensor or array, ``(N, 2)``
    labels : Tensor or array of int, ``(N,)``
    class_names : names for the legend (default: the label values)
    ax : matplotlib Axes, optional (draw into it instead of a new figure)
    """
    plt = _plt()
    z = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"code_scatter needs codes of shape (N, 2), got {z.shape}")
    if len(y) != len(z):
        raise ValueError(f"codes and labels differ in length: {len(z)} vs {len(y)}")
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    cmap = plt.get_cmap("tab10")
    for k in np.unique(y):
        m = y == k
        name = class_names[int(k)] if class_names is not None else str(k)
        ax.scatter(z[m, 0], z[m, 1], s=s, color=cmap(int(k) % 10), label=name, alpha=0.7)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(markerscale=3, fontsize=7, loc="best", ncol=2, title="label")
    return fig if fig is not None else ax.figure


def loss_curves(histories: Mapping[str, object] | object, *, title: str = "Training curves",
                ylabel: str = "squared error per image", logy: bool = False):
    """Per-epoch training (solid) and validation (dashed) losses of one or more ``History``.

    Parameters
    ----------
    histories : History or mapping ``{label: History}``
    ylabel : the loss's unit
    """
    plt = _plt()
    if not isinstance(histories, Mapping):
        histories = {"model": histories}
    fig, ax = plt.subplots()
    for i, (label, h) in enumerate(histories.items()):
        color = f"C{i}"
        epochs = np.arange(1, len(h.train_loss) + 1)
        ax.plot(epochs, h.train_loss, color=color, label=f"{label} (train)")
        if h.val_loss:
            ax.plot(epochs, h.val_loss, color=color, linestyle="--", label=f"{label} (validation)")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)  # epochs are whole numbers: no 2.5 on the axis
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    return fig
