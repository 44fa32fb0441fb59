"""The MLP variational autoencoder (lecture 07): Kingma & Welling (2014)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ._layers import check_input, check_size, check_sizes, linear_stack, resolve_input_shape


class VAE(nn.Module):
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
    latent : int
        Code dimension k (default 20; 2 for a plottable latent space).
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

    Attributes
    ----------
    encoder : nn.Sequential — ``Flatten, Linear, ReLU, …``, ending in ``(N, hidden[-1])``
    to_mu, to_logvar : nn.Linear — ``hidden[-1] -> k`` each
    decoder : nn.Sequential — ``Linear, ReLU, …, Linear, Sigmoid, Unflatten``
    code_size : int — k (``latent``)
    likelihood : str — ``"bernoulli"`` or ``"gaussian"``
    log_var_pixels : nn.Parameter or None — a Gaussian decoder's log-variances divided by 10, ``input_shape``
        (the factor lets Adam move them quickly; read them with :meth:`decoder_logvar`)

    Raises
    ------
    TypeError
        If a size is not an integer (a bool, a float).
    ValueError
        On a size below 1, an empty ``hidden``, a mismatched ``input_shape``, an unknown
        ``decoder`` or ``min_var <= 0``.

    Examples
    --------
    >>> vae = VAE(784, 400, 20, input_shape=(1, 28, 28))
    >>> x_hat, mu, logvar = vae(torch.rand(8, 1, 28, 28))
    >>> x_hat.shape, mu.shape
    (torch.Size([8, 1, 28, 28]), torch.Size([8, 20]))
    """

    def __init__(self, n_features: int = 784, hidden: int | Sequence[int] = 400, latent: int = 20,
                 input_shape: Sequence[int] | None = None, decoder: str = "bernoulli", min_var: float = 1e-3):
        super().__init__()
        owner = type(self).__name__
        n_features = check_size(n_features, "n_features", owner=owner)
        if isinstance(hidden, (int, np.integer, float)):  # one hidden layer (bools fail in check_size)
            hidden = (check_size(hidden, "hidden", owner=owner),)
        else:
            hidden = check_sizes(hidden, "hidden", owner=owner)
        latent = check_size(latent, "latent", owner=owner)
        self.n_features, self.hidden, self.latent = n_features, hidden, latent
        self.input_shape = resolve_input_shape(input_shape, n_features, owner=owner)
        self.encoder = nn.Sequential(nn.Flatten(), *linear_stack((n_features, *hidden), "relu", "relu"))
        self.to_mu = nn.Linear(hidden[-1], latent)
        self.to_logvar = nn.Linear(hidden[-1], latent)
        self.decoder = nn.Sequential(*linear_stack((latent, *hidden[::-1], n_features), "relu", "sigmoid"),
                                     nn.Unflatten(1, self.input_shape))
        self.likelihood, self.log_var_pixels, self.min_var = _decoder_kind(decoder, min_var, self.input_shape, owner)

    def decoder_logvar(self) -> torch.Tensor:
        """A Gaussian decoder's log-variances, ``input_shape``, at least ``log(min_var)``.

        Raises
        ------
        AttributeError
            For a Bernoulli decoder (its variance is ``p (1 - p)``, not a parameter).
        """
        return _floored_logvar(self)

    @property
    def code_size(self) -> int:
        """The latent dimension k."""
        return self.latent

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, *input_shape) -> (mu, logvar)``, each ``(N, k)``: the parameters of ``q(z|x)``.

        Raises
        ------
        TypeError, ValueError
            On input of another dtype, shape or device than the model's.
        """
        check_input(x, self.input_shape, "VAE.encode", like=self.to_mu.weight)
        h = self.encoder(x)  # (N, hidden[-1])
        return self.to_mu(h), self.to_logvar(h)  # (N, k), (N, k)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor, *,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` (Kingma & Welling 2014, eq. 10).

        The sample is a differentiable function of ``mu`` and ``logvar`` (the reparameterization
        trick). ``eps`` comes from ``generator`` if given, else from torch's global RNG (seeded by
        :func:`aelab.setup`; :func:`aelab.train.fit` seeds it from its ``seed`` for training).

        Parameters
        ----------
        mu, logvar : torch.Tensor
            ``(N, k)`` each, float, of the model's dtype and device.
        generator : torch.Generator, optional
            Source of ``eps`` (on ``mu``'s device).

        Returns
        -------
        torch.Tensor
            ``(N, k)``.

        Raises
        ------
        TypeError
            If ``mu`` is not a float tensor of the model's dtype.
        ValueError
            If ``mu`` and ``logvar`` differ in shape or are not ``(N, k)``.
        """
        check_input(mu, (self.latent,), "VAE.reparameterize (mu)", like=self.to_mu.weight, model_input=False)
        if not isinstance(logvar, torch.Tensor) or logvar.shape != mu.shape:
            got = tuple(logvar.shape) if isinstance(logvar, torch.Tensor) else type(logvar).__name__
            raise ValueError(f"VAE.reparameterize: logvar must be a tensor of mu's shape {tuple(mu.shape)}, got {got}")
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)  # (N, k)
        return mu + torch.exp(0.5 * logvar) * eps  # (N, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, *input_shape)``: Bernoulli means (pixel probabilities in [0, 1]) or Gaussian means.

        Parameters
        ----------
        z : torch.Tensor
            ``(N, k)`` codes: samples of ``q(z|x)`` from :meth:`reparameterize`, or of the prior
            ``N(0, I)`` to generate new images.

        Returns
        -------
        torch.Tensor
            ``(N, *input_shape)``, the parameters of ``p(x|z)``; its expected image.

        Raises
        ------
        TypeError, ValueError
            On a code of another dtype, shape or device than the model's.
        """
        check_input(z, (self.latent,), "VAE.decode", like=self.decoder[0].weight, model_input=False)
        return self.decoder(z)  # (N, *input_shape)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(N, *input_shape) -> (x_hat, mu, logvar)``; ``z`` is sampled in train and eval mode alike.

        Sampling in eval mode too makes ``evaluate(vae, x, loss=vae_loss)`` a one-sample
        estimate of the negative ELBO, the quantity the paper reports.
        """
        mu, logvar = self.encode(x)  # (N, k), (N, k)
        z = self.reparameterize(mu, logvar)  # (N, k)
        return self.decode(z), mu, logvar  # (N, *input_shape), (N, k), (N, k)


_DECODERS = ("bernoulli", "gaussian")


def _decoder_kind(decoder, min_var, input_shape, owner: str):
    """``(likelihood, log_var_pixels or None, min_var)`` for a VAE's ``decoder=`` argument."""
    import math

    if decoder not in _DECODERS:
        raise ValueError(f"{owner}: decoder must be one of {_DECODERS}, got {decoder!r}")
    if isinstance(min_var, bool) or not isinstance(min_var, (int, float)) or not min_var > 0:
        raise ValueError(f"{owner}: min_var must be a positive number, got {min_var!r}")
    if decoder == "bernoulli":
        return decoder, None, float(min_var)
    # start at variance 0.1 (a std of 0.3 grey levels); stored divided by _LOGVAR_SCALE (see _floored_logvar)
    return decoder, nn.Parameter(torch.full(tuple(input_shape), math.log(0.1) / _LOGVAR_SCALE)), float(min_var)


#: A Gaussian decoder's log-variance is ``_LOGVAR_SCALE * log_var_pixels``: Adam moves a parameter by about
#: ``lr`` per step whatever its gradient, so without the factor the log-variances would need thousands of steps
#: to travel the few units between the start (log 0.1) and the floor.
_LOGVAR_SCALE = 10.0


def _floored_logvar(model) -> torch.Tensor:
    import math

    if model.log_var_pixels is None:
        raise AttributeError(f"{type(model).__name__} has a Bernoulli decoder: it has no variance parameter "
                             "(build it with decoder='gaussian')")
    return (_LOGVAR_SCALE * model.log_var_pixels).clamp_min(math.log(model.min_var))
