"""A small convolutional VAE for 28×28 digits (lecture 07): Kingma & Welling (2014) with a conv encoder/decoder."""

from __future__ import annotations

import torch
from torch import nn

from ._layers import check_input, check_size
from .vae import VAE

__all__ = ["ConvVAE"]


class ConvVAE(nn.Module):
    """A convolutional VAE: two stride-2 convolutions down, two stride-2 transposed convolutions up.

    Encoder ``1×28×28 → c1×14×14 → c2×7×7 → (mu, logvar)`` (3×3 kernels, stride 2, padding 1,
    ReLU); decoder ``z → c2×7×7 → c1×14×14 → 1×28×28`` (4×4 transposed convolutions, stride 2,
    padding 1: no checkerboard from uneven overlaps), ending in a sigmoid: pixel probabilities
    of a Bernoulli decoder, as :class:`VAE`. ``encode``, ``reparameterize``, ``decode`` and
    ``forward`` behave as :class:`VAE`'s, so :func:`aelab.losses.vae_loss`,
    :func:`aelab.losses.log_likelihood` and the widgets take either.

    Parameters
    ----------
    latent : int
        Code dimension k (default 20).
    channels : tuple of two int
        ``(c1, c2)``, default ``(16, 32)`` (small enough for a CPU).

    Attributes
    ----------
    code_size : int — k
    likelihood : str — ``"bernoulli"``
    input_shape : tuple — ``(1, 28, 28)``

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer.

    Examples
    --------
    >>> vae = ConvVAE(latent=8)
    >>> x_hat, mu, logvar = vae(torch.rand(4, 1, 28, 28))
    >>> x_hat.shape, mu.shape
    (torch.Size([4, 1, 28, 28]), torch.Size([4, 8]))
    """

    input_shape = (1, 28, 28)
    likelihood = "bernoulli"

    def __init__(self, latent: int = 20, channels: tuple[int, int] = (16, 32)):
        super().__init__()
        owner = type(self).__name__
        self.latent = check_size(latent, "latent", owner=owner)
        if not isinstance(channels, (tuple, list)) or len(channels) != 2:
            raise ValueError(f"{owner}: channels must be a pair (c1, c2), got {channels!r}")
        c1, c2 = (check_size(c, f"channels[{i}]", owner=owner) for i, c in enumerate(channels))
        self.channels = (c1, c2)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),   # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # (N, c2, 7, 7)
            nn.Flatten())                                          # (N, c2 * 49)
        self.to_mu = nn.Linear(c2 * 49, self.latent)
        self.to_logvar = nn.Linear(c2 * 49, self.latent)
        self.decoder = nn.Sequential(
            nn.Linear(self.latent, c2 * 49), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),  # (N, c2, 7, 7)
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),            # (N, c1, 14, 14)
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1), nn.Sigmoid())          # (N, 1, 28, 28)

    @property
    def code_size(self) -> int:
        """The latent dimension k."""
        return self.latent

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, 1, 28, 28) -> (mu, logvar)``, each ``(N, k)``.

        Raises
        ------
        TypeError, ValueError
            On input of another dtype, shape or device than the model's.
        """
        check_input(x, self.input_shape, "ConvVAE.encode", like=self.to_mu.weight)
        h = self.encoder(x)  # (N, c2 * 49)
        return self.to_mu(h), self.to_logvar(h)  # (N, k), (N, k)

    reparameterize = VAE.reparameterize

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, 1, 28, 28)`` pixel probabilities.

        Raises
        ------
        TypeError, ValueError
            On a code of another dtype, shape or device than the model's.
        """
        check_input(z, (self.latent,), "ConvVAE.decode", like=self.to_mu.weight, model_input=False)
        return self.decoder(z)  # (N, 1, 28, 28)

    forward = VAE.forward
