"""The linear autoencoder (lecture 01): PCA's subspace, learned by gradient descent."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._layers import check_input, check_size, resolve_input_shape


class LinearAutoencoder(nn.Module):
    """A linear autoencoder: ``z = W_e (x - b)``, ``x_hat = W_d z + b``.

    Trained on squared error it learns the same subspace as PCA with ``n_components``
    components, though its weights need not be orthonormal (Baldi & Hornik 1989;
    Bourlard & Kamp 1988).

    Parameters
    ----------
    n_features : int
        Input dimension D (e.g. 784). A Python or NumPy int.
    n_components : int
        Code dimension k, ``1 <= k <= D``.
    tied : bool
        If True the decoder uses the transpose of the encoder's weight, ``W_d = W_eᵀ``
        (tied weights), as PCA does.
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(1, 28, 28)``; its product must equal ``n_features``.
        Default ``(n_features,)``.

    Attributes
    ----------
    encoder_weight : nn.Parameter, shape ``(k, D)``
    decoder_weight : nn.Parameter, shape ``(D, k)``, or None when tied
    bias : nn.Parameter, shape ``(D,)`` — the learned centre (PCA's mean)
    code_size : int — k

    Raises
    ------
    TypeError
        If a size is not an integer (a bool, a float), or ``tied`` is not a bool.
    ValueError
        If a size is below 1, ``n_components > n_features``, or ``input_shape`` does not hold
        ``n_features`` values.
    """

    def __init__(self, n_features: int, n_components: int, tied: bool = False,
                 input_shape: Sequence[int] | None = None):
        super().__init__()
        owner = type(self).__name__
        n_features = check_size(n_features, "n_features", owner=owner)
        n_components = check_size(n_components, "n_components", owner=owner)
        if n_components > n_features:
            raise ValueError(f"{owner}: need n_components <= n_features, got n_components={n_components} > "
                             f"n_features={n_features}")
        if not isinstance(tied, (bool, np.bool_)):
            raise TypeError(f"{owner}: tied must be True or False, got {tied!r}")
        self.input_shape = resolve_input_shape(input_shape, n_features, owner=owner)
        self.n_features, self.n_components, self.tied = n_features, n_components, bool(tied)
        self.flatten = nn.Flatten()
        self.unflatten = nn.Unflatten(1, self.input_shape)
        bound = 1.0 / math.sqrt(n_features)
        self.encoder_weight = nn.Parameter(torch.empty(n_components, n_features).uniform_(-bound, bound))
        self.decoder_weight = None if tied else nn.Parameter(
            torch.empty(n_features, n_components).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(n_features))

    @property
    def code_size(self) -> int:
        """The code dimension k (``n_components``)."""
        return self.n_components

    @property
    def decoder_matrix(self) -> torch.Tensor:
        """The decoder weight ``W_d`` of shape ``(D, k)`` (``W_eᵀ`` when tied)."""
        return self.encoder_weight.T if self.tied else self.decoder_weight

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, k)``: project the centred input.

        Raises
        ------
        TypeError, ValueError
            On input of another dtype, shape or device than the model's (see
            :func:`aelab.models._layers.check_input`).
        """
        check_input(x, self.input_shape, "LinearAutoencoder.encode", like=self.bias)
        x = self.flatten(x)  # (N, D)
        return (x - self.bias) @ self.encoder_weight.T  # (N, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, *input_shape)``.

        Raises
        ------
        TypeError, ValueError
            On a code of another dtype, shape or device than the model's.
        """
        check_input(z, (self.n_components,), "LinearAutoencoder.decode", like=self.bias, model_input=False)
        x_hat = z @ self.decoder_matrix.T + self.bias  # (N, D)
        return self.unflatten(x_hat)  # (N, *input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, *input_shape)``: the reconstruction."""
        return self.decode(self.encode(x))
