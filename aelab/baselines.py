"""Baselines the autoencoders are compared with: PCA with k components (scikit-learn).

PCA is the best linear autoencoder (lecture 01): encoding is the projection of the centred
image onto the top-k principal directions, decoding maps the k numbers back and adds the
mean. Hinton & Salakhutdinov (2006) compare their deep autoencoder with PCA-30 on MNIST
(squared error per test image 13.87); lectures and labs use :func:`fit_pca` and
:func:`pca_reconstruct` so that every notebook computes that number the same way.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["fit_pca", "pca_reconstruct"]


def _as_rows(X: torch.Tensor, name: str) -> np.ndarray:
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images (N, ...), got {type(X).__name__}")
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty batch (N, ...), got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be floating point (float32 images in [0, 1]), got {X.dtype}")
    return X.detach().cpu().flatten(1).numpy()


def fit_pca(X: torch.Tensor, n_components: int):
    """Fit scikit-learn's PCA with ``n_components`` components to the images ``X``.

    Uses the ``covariance_eigh`` solver (the eigendecomposition of the D × D covariance: the
    same subspace as lecture 01's SVD, and fast when N ≫ D = 784).

    Parameters
    ----------
    X : torch.Tensor
        ``(N, ...)`` float images, flattened to ``(N, D)``.
    n_components : int
        k, with ``1 <= k <= min(N, D)``.

    Returns
    -------
    sklearn.decomposition.PCA
        Fitted; its ``components_`` are ``(k, D)``, ``mean_`` is ``(D,)``.

    Raises
    ------
    TypeError
        If ``X`` is not a float tensor or ``n_components`` not an integer.
    ValueError
        If ``X`` is not a non-empty batch or ``n_components`` is out of range.
    """
    from sklearn.decomposition import PCA

    rows = _as_rows(X, "X")
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise TypeError(f"n_components must be an integer, got {n_components!r}")
    if not 1 <= n_components <= min(rows.shape):
        raise ValueError(f"n_components must be in [1, min(N, D)] = [1, {min(rows.shape)}] for X of shape "
                         f"{tuple(X.shape)}, got {n_components}")
    return PCA(n_components=int(n_components), svd_solver="covariance_eigh").fit(rows)


def pca_reconstruct(pca, X: torch.Tensor) -> torch.Tensor:
    """Encode and decode images with a fitted PCA: ``mean + (x - mean) W^T W``.

    Parameters
    ----------
    pca : sklearn.decomposition.PCA
        Fitted (e.g. by :func:`fit_pca`) on images with as many pixels as ``X``'s.
    X : torch.Tensor
        ``(N, ...)`` float images, e.g. ``(N, 1, 28, 28)``.

    Returns
    -------
    torch.Tensor
        float32, ``X``'s shape, on the CPU. Values can leave [0, 1] slightly (clamp to show them).

    Raises
    ------
    TypeError
        If ``X`` is not a float tensor or ``pca`` is not a fitted PCA.
    ValueError
        If ``X`` has another number of pixels than ``pca`` was fitted on.
    """
    rows = _as_rows(X, "X")
    mean = getattr(pca, "mean_", None)
    if mean is None or not hasattr(pca, "inverse_transform"):
        raise TypeError(f"pca must be a fitted sklearn PCA (see aelab.baselines.fit_pca), got {type(pca).__name__}")
    if rows.shape[1] != len(mean):
        raise ValueError(f"X has {rows.shape[1]} values per image but the PCA was fitted on {len(mean)}")
    return torch.from_numpy(pca.inverse_transform(pca.transform(rows))).float().reshape(X.shape)
