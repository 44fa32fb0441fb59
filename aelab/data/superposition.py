"""Toy data in superposition (lecture 08): sparse non-negative features embedded in fewer dimensions.

Elhage et al. (2022), "Toy Models of Superposition": ``F`` features, each zero with probability
``S`` (the *sparsity*) and otherwise uniform in ``[0, 1]``, are written into ``D < F`` dimensions
along fixed random unit directions, ``x = Σ_f a_f d_f``. With ``F > D`` the directions cannot be
orthogonal, so no linear map (PCA's) recovers the features; sparse coding can, because few
features are active at once (Sharkey, Braun & Millidge 2022).
"""

from __future__ import annotations

import torch

from .. import _validation

__all__ = ["superposition"]


def superposition(n_features: int, dim: int, sparsity: float, n_samples: int, *,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sparse non-negative features superposed along random unit directions: ``x = A Dᵀ``.

    Each of ``n_features`` features is 0 with probability ``sparsity`` (Elhage et al. 2022's ``S``)
    and otherwise drawn uniformly from ``[0, 1]``, independently per sample; the directions are
    i.i.d. standard normal columns scaled to unit length (fixed by ``seed``). The data are
    ``x_n = Σ_f a_{n,f} d_f`` (no noise), so on average ``n_features · (1 − sparsity)`` features are
    active per sample.

    Parameters
    ----------
    n_features : int
        Number of ground-truth features F >= 1 (e.g. 256).
    dim : int
        Dimension D >= 1 of the data (e.g. 32); superposition needs ``F > D``.
    sparsity : float
        Probability that a feature is 0, in ``[0, 1)``.
    n_samples : int
        Number of samples N >= 1.
    seed : int
        Seed of a private ``torch.Generator`` (torch's global RNG is not touched): the same seed gives
        the same directions and samples; different seeds give different directions.

    Returns
    -------
    x : torch.Tensor
        ``(N, D)`` float32, the embedded data.
    features : torch.Tensor
        ``(N, F)`` float32, the true feature activations ``a`` (>= 0, in ``[0, 1]``).
    directions : torch.Tensor
        ``(D, F)`` float32, the unit-length embedding directions as columns (``x = features @ directions.T``).

    Raises
    ------
    TypeError
        If a size or the seed is not an integer, or ``sparsity`` is not a real number.
    ValueError
        If a size is below 1 or ``sparsity`` is outside ``[0, 1)``.

    Examples
    --------
    >>> x, a, d = superposition(256, 32, 0.98, 1000, seed=0)
    >>> tuple(x.shape), tuple(a.shape), tuple(d.shape)
    ((1000, 32), (1000, 256), (32, 256))
    """
    n_features = _validation.integer(n_features, "n_features", minimum=1)
    dim = _validation.integer(dim, "dim", minimum=1)
    n_samples = _validation.integer(n_samples, "n_samples", minimum=1)
    sparsity = _validation.real(sparsity, "sparsity", low=0.0, high=1.0, high_open=True)
    g = torch.Generator().manual_seed(_validation.seed(seed, "seed"))
    directions = torch.randn(dim, n_features, generator=g, dtype=torch.float64)
    directions = directions / directions.norm(dim=0, keepdim=True)
    active = torch.rand(n_samples, n_features, generator=g, dtype=torch.float64) >= sparsity
    features = torch.rand(n_samples, n_features, generator=g, dtype=torch.float64) * active
    x = features @ directions.T
    return x.float(), features.float(), directions.float()
