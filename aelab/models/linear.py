"""The linear autoencoder (lecture 01): PCA's subspace, learned by gradient descent."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .. import _validation
from .base import Autoencoder, code_size_argument
from .layers import check_size, resolve_input_shape

__all__ = ["LinearAutoencoder"]


class LinearAutoencoder(Autoencoder):
    """A linear autoencoder: ``z = W_e (x - b)``, ``x_hat = W_d z + b``.

    Trained on squared error it learns the same subspace as PCA with ``code_size``
    components, though its weights need not be orthonormal (Baldi & Hornik 1989;
    Bourlard & Kamp 1988).

    Parameters
    ----------
    n_features : int
        Input dimension D (e.g. 784). A Python or NumPy int.
    code_size : int
        Code dimension k, ``1 <= k <= D`` (PCA's number of components).
    tied : bool
        If True the decoder uses the transpose of the encoder's weight, ``W_d = W_eᵀ``
        (tied weights), as PCA does.
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(1, 28, 28)``; its product must equal ``n_features``.
        Default ``(n_features,)``.
    n_components : int, optional
        Deprecated alias of ``code_size`` (``DeprecationWarning``).

    Attributes
    ----------
    encoder_weight : nn.Parameter, shape ``(k, D)``
    decoder_weight : nn.Parameter, shape ``(D, k)``, or None when tied
    bias : nn.Parameter, shape ``(D,)`` — the learned centre (PCA's mean)
    code_size : int — k (also readable as ``n_components``)

    Raises
    ------
    TypeError
        If a size is not an integer (a bool, a float), ``tied`` is not a bool, or the code size is
        missing or given twice.
    ValueError
        If a size is below 1, ``code_size > n_features``, or ``input_shape`` does not hold
        ``n_features`` values.
    """

    def __init__(self, n_features: int, code_size: int | None = None, tied: bool = False,
                 input_shape: Sequence[int] | None = None, *, n_components: int | None = None):
        owner = type(self).__name__
        n_features = check_size(n_features, "n_features", owner=owner)
        code_size = code_size_argument(owner, code_size, n_components=n_components)
        if code_size > n_features:
            raise ValueError(f"{owner}: need code_size <= n_features, got code_size={code_size} > "
                             f"n_features={n_features}")
        tied = _validation.flag(tied, f"{owner}: tied")
        super().__init__(code_size=code_size, input_shape=resolve_input_shape(input_shape, n_features, owner=owner))
        self.n_features, self.tied = n_features, tied
        self.flatten = nn.Flatten()
        self.unflatten = nn.Unflatten(1, self.input_shape)
        bound = 1.0 / math.sqrt(n_features)
        self.encoder_weight = nn.Parameter(torch.empty(code_size, n_features).uniform_(-bound, bound))
        self.decoder_weight = None if tied else nn.Parameter(
            torch.empty(n_features, code_size).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(n_features))

    @property
    def n_components(self) -> int:
        """The code dimension k: ``code_size`` (PCA's name, this model's old keyword)."""
        return self.code_size

    @property
    def decoder_matrix(self) -> torch.Tensor:
        """The decoder weight ``W_d`` of shape ``(D, k)`` (``W_eᵀ`` when tied)."""
        return self.encoder_weight.T if self.tied else self.decoder_weight

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, k)``: project the centred input."""
        x = self.flatten(x)  # (N, D)
        return (x - self.bias) @ self.encoder_weight.T  # (N, k)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, *input_shape)``: ``W_d z + b``."""
        x_hat = z @ self.decoder_matrix.T + self.bias  # (N, D)
        return self.unflatten(x_hat)  # (N, *input_shape)
