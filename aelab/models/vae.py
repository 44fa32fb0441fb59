"""The MLP variational autoencoder (lecture 07): Kingma & Welling (2014)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .base import VariationalAutoencoder, code_size_argument
from .layers import check_size, check_sizes, linear_stack, resolve_input_shape

__all__ = ["VAE"]


class VAE(VariationalAutoencoder):
    """The classic MLP variational autoencoder of Kingma & Welling (2014), 784-400-20 by default.

    Encoder ``q(z|x) = N(mu, diag(exp(logvar)))`` with ``mu, logvar = encode(x)``; decoder
    ``p(x|z) = Bernoulli(decode(z))``; prior ``p(z) = N(0, I)``. The hidden layers use ReLU,
    the decoder's output a sigmoid (pixel probabilities in [0, 1]), as in pytorch/examples
    ``vae/main.py``. Train it with :func:`aelab.losses.vae_loss` (the negative ELBO).

    Parameters
    ----------
    n_features : int
        Input dimension D (784 for 28x28 images). Python or NumPy int.
    hidden : int or sequence of int
        Hidden layer size(s) of the encoder; the decoder mirrors them. Default 400.
    code_size : int
        Code (latent) dimension k (default 20; 2 for a plottable latent space).
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(1, 28, 28)``; its product must equal ``n_features``.
        Default ``(n_features,)``.
    decoder : {"bernoulli", "gaussian"}
        The decoder's distribution ``p(x|z)``. ``"bernoulli"`` (default): ``decode`` gives pixel
        probabilities (binary or binarized data). ``"gaussian"``: ``decode`` gives the means
        (sigmoid, grey levels in [0, 1]) and :meth:`decoder_logvar` one learned log-variance per
        pixel, kept above ``log(min_var)`` (Kingma & Welling 2014, Appendix C.2).
    min_var : float
        Smallest variance of a Gaussian decoder (default 1e-3: a standard deviation of 0.03 grey
        levels; without a floor the likelihood of always-black pixels grows without bound).
    latent : int, optional
        Deprecated alias of ``code_size`` (``DeprecationWarning``).

    Attributes
    ----------
    encoder : nn.Sequential — ``Flatten, Linear, ReLU, …``, ending in ``(N, hidden[-1])``
    to_mu, to_logvar : nn.Linear — ``hidden[-1] -> k`` each
    decoder : nn.Sequential — ``Linear, ReLU, …, Linear, Sigmoid, Unflatten``
    code_size : int — k (also readable as ``latent``)
    likelihood : str — ``"bernoulli"`` or ``"gaussian"``
    log_var_pixels : nn.Parameter or None — a Gaussian decoder's log-variances divided by 10, ``input_shape``
        (the factor lets Adam move them quickly; read them with :meth:`decoder_logvar`)

    Raises
    ------
    TypeError
        If a size is not an integer (a bool, a float).
    ValueError
        On a size below 1, an empty ``hidden``, a mismatched ``input_shape``, an unknown
        ``decoder`` or ``min_var <= 0``. (The methods are those of
        :class:`aelab.models.VariationalAutoencoder`.)

    Examples
    --------
    >>> vae = VAE(784, 400, 20, input_shape=(1, 28, 28))
    >>> x_hat, mu, logvar = vae(torch.rand(8, 1, 28, 28))
    >>> x_hat.shape, mu.shape
    (torch.Size([8, 1, 28, 28]), torch.Size([8, 20]))
    """

    def __init__(self, n_features: int = 784, hidden: int | Sequence[int] = 400, code_size: int | None = None,
                 input_shape: Sequence[int] | None = None, decoder: str = "bernoulli", min_var: float = 1e-3, *,
                 latent: int | None = None):
        owner = type(self).__name__
        n_features = check_size(n_features, "n_features", owner=owner)
        if isinstance(hidden, (int, np.integer, float)):  # one hidden layer (bools fail in check_size)
            hidden = (check_size(hidden, "hidden", owner=owner),)
        else:
            hidden = check_sizes(hidden, "hidden", owner=owner)
        latent = code_size_argument(owner, code_size, default=20, latent=latent)
        super().__init__(code_size=latent, input_shape=resolve_input_shape(input_shape, n_features, owner=owner),
                         decoder=decoder, min_var=min_var)
        self.n_features, self.hidden = n_features, hidden
        self.encoder = nn.Sequential(nn.Flatten(), *linear_stack((n_features, *hidden), "relu", "relu"))
        self.to_mu = nn.Linear(hidden[-1], latent)
        self.to_logvar = nn.Linear(hidden[-1], latent)
        self.decoder = nn.Sequential(*linear_stack((latent, *hidden[::-1], n_features), "relu", "sigmoid"),
                                     nn.Unflatten(1, self.input_shape))

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, *input_shape) -> (mu, logvar)``, each ``(N, k)``."""
        h = self.encoder(x)  # (N, hidden[-1])
        return self.to_mu(h), self.to_logvar(h)  # (N, k), (N, k)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, *input_shape)``: pixel probabilities or Gaussian means."""
        return self.decoder(z)  # (N, *input_shape)
