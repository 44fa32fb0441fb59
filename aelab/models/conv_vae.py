"""A small convolutional VAE for 28×28 digits (lecture 07): Kingma & Welling (2014) with a conv encoder/decoder."""

from __future__ import annotations

from torch import nn

from .base import VariationalAutoencoder, code_size_argument
from .layers import check_sizes

__all__ = ["ConvVAE"]


class ConvVAE(VariationalAutoencoder):
    """A convolutional VAE: two stride-2 convolutions down, two stride-2 transposed convolutions up.

    Encoder ``1×28×28 → c1×14×14 → c2×7×7 → (mu, logvar)`` (3×3 kernels, stride 2, padding 1,
    ReLU); decoder ``z → c2×7×7 → c1×14×14 → 1×28×28`` (4×4 transposed convolutions, stride 2,
    padding 1: no checkerboard from uneven overlaps), ending in a sigmoid: pixel probabilities
    of a Bernoulli decoder (or the means of a Gaussian one), as :class:`VAE`. ``encode``,
    ``reparameterize``, ``decode`` and ``forward`` are :class:`VariationalAutoencoder`'s, shared
    with :class:`VAE`, so :func:`aelab.losses.vae_loss`, :func:`aelab.losses.log_likelihood` and
    the widgets take either.

    Parameters
    ----------
    code_size : int
        Code (latent) dimension k (default 20).
    channels : tuple of two int
        ``(c1, c2)``, default ``(16, 32)`` (small enough for a CPU).
    decoder : {"bernoulli", "gaussian"}
        The decoder's distribution, as :class:`VAE`'s.
    min_var : float
        Smallest variance of a Gaussian decoder, as :class:`VAE`'s.
    latent : int, optional
        Deprecated alias of ``code_size`` (``DeprecationWarning``).

    Attributes
    ----------
    code_size : int — k
    likelihood : str — ``"bernoulli"`` or ``"gaussian"``
    input_shape : tuple — ``(1, 28, 28)``

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer.

    Examples
    --------
    >>> vae = ConvVAE(code_size=8)
    >>> x_hat, mu, logvar = vae(torch.rand(4, 1, 28, 28))
    >>> x_hat.shape, mu.shape
    (torch.Size([4, 1, 28, 28]), torch.Size([4, 8]))
    """

    def __init__(self, code_size: int | None = None, channels: tuple[int, int] = (16, 32), decoder: str = "bernoulli",
                 min_var: float = 1e-3, *, latent: int | None = None):
        owner = type(self).__name__
        latent = code_size_argument(owner, code_size, default=20, latent=latent)
        c1, c2 = check_sizes(channels, "channels", owner=owner)[:2] if _is_pair(channels) else _bad_pair(owner, channels)
        super().__init__(code_size=latent, input_shape=(1, 28, 28), decoder=decoder, min_var=min_var)
        self.channels = (c1, c2)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),   # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # (N, c2, 7, 7)
            nn.Flatten())                                          # (N, c2 * 49)
        self.to_mu = nn.Linear(c2 * 49, latent)
        self.to_logvar = nn.Linear(c2 * 49, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, c2 * 49), nn.ReLU(), nn.Unflatten(1, (c2, 7, 7)),  # (N, c2, 7, 7)
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),       # (N, c1, 14, 14)
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1), nn.Sigmoid())     # (N, 1, 28, 28)

    def _encode(self, x):
        """``(N, 1, 28, 28) -> (mu, logvar)``, each ``(N, k)``."""
        h = self.encoder(x)  # (N, c2 * 49)
        return self.to_mu(h), self.to_logvar(h)  # (N, k), (N, k)

    def _decode(self, z):
        """``(N, k) -> (N, 1, 28, 28)`` pixel probabilities (or Gaussian means)."""
        return self.decoder(z)  # (N, 1, 28, 28)


def _is_pair(channels) -> bool:
    return isinstance(channels, (tuple, list)) and len(channels) == 2


def _bad_pair(owner: str, channels):
    raise ValueError(f"{owner}: channels must be a pair (c1, c2), got {channels!r}")
