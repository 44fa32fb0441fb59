"""One-hidden-layer autoencoders with a nonlinear code (lecture 03): sparse, denoising, contractive.

The code ``h = s(W x + b)`` is the hidden layer itself (a sigmoid by default), which is what the
sparsity penalties (a target mean activation ρ) and the closed-form contractive penalty of
Rifai et al. (2011) are written for; the decoder is ``x_hat = s(W' h + c)``. Optional dropout
(Srivastava et al. 2014) on the code during training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import _validation
from .base import Autoencoder, code_size_argument
from .layers import check_size, make_activation, resolve_input_shape

__all__ = ["ShallowAutoencoder"]


class ShallowAutoencoder(Autoencoder):
    """``x → h = act(W x + b) → x_hat = out(W' h + c)``: one hidden layer, the code.

    Parameters
    ----------
    n_features : int
        Input size d (784 for MNIST).
    code_size : int
        Code size k (the hidden layer is the code); ``k > d`` is an *overcomplete* autoencoder.
    activation : str
        The code's nonlinearity (``"sigmoid"`` default; ``"relu"``, ``"tanh"``, ...,
        ``"identity"`` for a linear code).
    output_activation : str
        ``"sigmoid"`` (pixels in [0, 1]) or ``"identity"`` (unbounded data such as 2-D toys).
    dropout : float
        Probability of zeroing each code unit while training (``nn.Dropout``, inverted scaling);
        0 for none. Inactive in ``eval()`` mode, so ``encode`` in eval mode is deterministic.
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(1, 28, 28)``; default ``(n_features,)``.
    hidden : int, optional
        Deprecated alias of ``code_size`` (``DeprecationWarning``).

    Attributes
    ----------
    encoder : nn.Sequential — ``Flatten, Linear(d, k), act``; ``encoder[1].weight`` is W ``(k, d)``
    decoder : nn.Sequential — ``[Dropout,] Linear(k, d), out, Unflatten``
    code_size : int — k

    Raises
    ------
    TypeError, ValueError
        On a non-integer or non-positive size, an unknown activation, a mismatched
        ``input_shape`` or ``dropout`` outside ``[0, 1)``.
    """

    def __init__(self, n_features: int, code_size: int | None = None, activation: str = "sigmoid",
                 output_activation: str = "sigmoid", dropout: float = 0.0, input_shape: Sequence[int] | None = None,
                 *, hidden: int | None = None):
        owner = type(self).__name__
        n_features = check_size(n_features, "n_features", owner=owner)
        hidden = code_size_argument(owner, code_size, hidden=hidden)
        dropout = _validation.probability(dropout, f"{owner}: dropout")
        super().__init__(code_size=hidden, input_shape=resolve_input_shape(input_shape, n_features, owner=owner))
        self.n_features, self.dropout = n_features, dropout
        self.activation, self.output_activation = activation, output_activation
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(n_features, hidden), make_activation(activation, owner=owner))
        drop = [nn.Dropout(dropout)] if dropout > 0 else []
        self.decoder = nn.Sequential(*drop, nn.Linear(hidden, n_features),
                                     make_activation(output_activation, argument="output_activation", owner=owner),
                                     nn.Unflatten(1, self.input_shape))

    @property
    def hidden(self) -> int:
        """The code dimension k: ``code_size`` (this model's old keyword)."""
        return self.code_size

    @property
    def weight(self) -> torch.Tensor:
        """The encoder's weight matrix W, ``(k, d)`` (row j: the filter of code unit j)."""
        return self.encoder[1].weight

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, k)``: the code ``act(W x + b)``."""
        return self.encoder(x)  # (N, k)

    def _decode(self, h: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, *input_shape)`` (dropout on ``h`` first, in training mode only)."""
        return self.decoder(h)  # (N, *input_shape)
