"""Autoencoder models: ``encode(x) -> z``, ``decode(z) -> x_hat``, ``forward(x) -> x_hat``.

Inputs are ``(N, *input_shape)``; images are ``(N, 1, 28, 28)`` (pass
``input_shape=IMAGE_SHAPE``). The flattening to ``(N, n_features)`` is an explicit
``nn.Flatten`` layer, and the decoder's last layer is an explicit ``nn.Unflatten``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,  # Hinton & Salakhutdinov's logistic units
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


def _activation(name: str) -> nn.Module:
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}") from None


def _check_input(x: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} expects a torch.Tensor of shape (N, {', '.join(map(str, shape))}), "
                        f"got {type(x).__name__}")
    if tuple(x.shape[1:]) != tuple(shape) or x.ndim != len(shape) + 1:
        raise ValueError(f"{what} expects shape (N, {', '.join(map(str, shape))}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{what} expects a floating-point tensor (float32), got {x.dtype}")


class LinearAutoencoder(nn.Module):
    """A linear autoencoder: ``z = W_e (x - b)``, ``x_hat = W_d z + b``.

    Trained on squared error it learns the same subspace as PCA with ``n_components``
    components, though its weights need not be orthonormal (Baldi & Hornik 1989;
    Bourlard & Kamp 1988).

    Parameters
    ----------
    n_features : int
        Input dimension D (e.g. 784).
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
    """

    def __init__(self, n_features: int, n_components: int, tied: bool = False,
                 input_shape: Sequence[int] | None = None):
        super().__init__()
        if not (isinstance(n_features, int) and isinstance(n_components, int)) or not 1 <= n_components <= n_features:
            raise ValueError(f"need integers 1 <= n_components <= n_features, got {n_components}, {n_features}")
        self.input_shape = tuple(input_shape) if input_shape is not None else (n_features,)
        if math.prod(self.input_shape) != n_features:
            raise ValueError(f"input_shape {self.input_shape} does not hold n_features={n_features} values")
        self.n_features, self.n_components, self.tied = n_features, n_components, tied
        self.flatten = nn.Flatten()
        self.unflatten = nn.Unflatten(1, self.input_shape)
        bound = 1.0 / math.sqrt(n_features)
        self.encoder_weight = nn.Parameter(torch.empty(n_components, n_features).uniform_(-bound, bound))
        self.decoder_weight = None if tied else nn.Parameter(
            torch.empty(n_features, n_components).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(n_features))

    @property
    def decoder_matrix(self) -> torch.Tensor:
        """The decoder weight ``W_d`` of shape ``(D, k)`` (``W_eᵀ`` when tied)."""
        return self.encoder_weight.T if self.tied else self.decoder_weight

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, k)``: project the centred input."""
        _check_input(x, self.input_shape, "LinearAutoencoder.encode")
        x = self.flatten(x)  # (N, D)
        return (x - self.bias) @ self.encoder_weight.T  # (N, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, *input_shape)``."""
        _check_input(z, (self.n_components,), "LinearAutoencoder.decode")
        x_hat = z @ self.decoder_matrix.T + self.bias  # (N, D)
        return self.unflatten(x_hat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, *input_shape)``: the reconstruction."""
        return self.decode(self.encode(x))


class MLPAutoencoder(nn.Module):
    """A deep (fully connected) autoencoder with a mirrored decoder.

    ``dims=(784, 1000, 500, 250, 30)`` builds Hinton & Salakhutdinov's (2006) encoder
    784→1000→500→250→30 and the decoder 30→250→500→1000→784. Hidden layers use
    ``activation``; the code layer is linear (as in the paper); the output layer uses
    ``output_activation`` (``"sigmoid"`` for pixel values in [0, 1]).

    Parameters
    ----------
    dims : sequence of int
        Layer sizes from input to code, at least two, all positive.
    activation : str
        Hidden nonlinearity: ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"elu"``, ``"gelu"``.
    output_activation : str
        ``"sigmoid"`` (images in [0, 1]) or ``"identity"`` (unbounded data).
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(1, 28, 28)``; product must equal ``dims[0]``.
        Default ``(dims[0],)``.

    Raises
    ------
    ValueError
        On fewer than two dims, a non-positive size, an unknown activation or a mismatched
        ``input_shape``.
    """

    def __init__(self, dims: Sequence[int], activation: str = "relu", output_activation: str = "sigmoid",
                 input_shape: Sequence[int] | None = None):
        super().__init__()
        dims = tuple(dims)
        if len(dims) < 2 or any((not isinstance(d, int)) or d < 1 for d in dims):
            raise ValueError(f"dims must be at least two positive ints (input, ..., code), got {dims}")
        self.dims = dims
        self.input_shape = tuple(input_shape) if input_shape is not None else (dims[0],)
        if math.prod(self.input_shape) != dims[0]:
            raise ValueError(f"input_shape {self.input_shape} does not hold dims[0]={dims[0]} values")
        _activation(activation), _activation(output_activation)  # validate names early

        enc: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            enc.append(nn.Linear(a, b))
            if i < len(dims) - 2:  # the code layer stays linear
                enc.append(_activation(activation))
        rev = dims[::-1]
        dec: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(rev[:-1], rev[1:])):
            dec.append(nn.Linear(a, b))
            dec.append(_activation(activation) if i < len(rev) - 2 else _activation(output_activation))
        dec.append(nn.Unflatten(1, self.input_shape))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    @property
    def code_size(self) -> int:
        return self.dims[-1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, dims[-1])``: the code."""
        _check_input(x, self.input_shape, "MLPAutoencoder.encode")
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, dims[-1]) -> (N, *input_shape)``: the reconstruction from a code."""
        _check_input(z, (self.code_size,), "MLPAutoencoder.decode")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, *input_shape)``."""
        z = self.encode(x)  # (N, code)
        return self.decode(z)  # (N, *input_shape)


class VAE(nn.Module):
    """The classic MLP variational autoencoder of Kingma & Welling (2014), 784-400-20 by default.

    Encoder ``q(z|x) = N(mu, diag(exp(logvar)))`` with ``mu, logvar = encode(x)``; decoder
    ``p(x|z) = Bernoulli(decode(z))``; prior ``p(z) = N(0, I)``. The hidden layers use ReLU,
    the decoder's output a sigmoid (pixel probabilities in [0, 1]), as in pytorch/examples
    ``vae/main.py``. Train it with :func:`aelab.losses.vae_loss` (the negative ELBO).

    Parameters
    ----------
    n_features : int
        Input dimension D (784 for 28x28 images).
    hidden : int or sequence of int
        Hidden layer size(s) of the encoder; the decoder mirrors them. Default 400.
    latent : int
        Code dimension k (default 20; 2 for a plottable latent space).
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(1, 28, 28)``; its product must equal ``n_features``.
        Default ``(n_features,)``.

    Raises
    ------
    ValueError
        On non-positive sizes or a mismatched ``input_shape``.

    Examples
    --------
    >>> vae = VAE(784, 400, 20, input_shape=(1, 28, 28))
    >>> x_hat, mu, logvar = vae(torch.rand(8, 1, 28, 28))
    >>> x_hat.shape, mu.shape
    (torch.Size([8, 1, 28, 28]), torch.Size([8, 20]))
    """

    def __init__(self, n_features: int = 784, hidden: int | Sequence[int] = 400, latent: int = 20,
                 input_shape: Sequence[int] | None = None):
        super().__init__()
        hidden = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        sizes = (n_features, *hidden, latent)
        if any((not isinstance(d, int)) or isinstance(d, bool) or d < 1 for d in sizes):
            raise ValueError(f"VAE sizes must be positive ints, got n_features={n_features}, hidden={hidden}, "
                             f"latent={latent}")
        self.n_features, self.hidden, self.latent = n_features, hidden, latent
        self.input_shape = tuple(input_shape) if input_shape is not None else (n_features,)
        if math.prod(self.input_shape) != n_features:
            raise ValueError(f"input_shape {self.input_shape} does not hold n_features={n_features} values")
        enc: list[nn.Module] = [nn.Flatten()]
        for a, b in zip((n_features, *hidden[:-1]), hidden):
            enc += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.to_mu = nn.Linear(hidden[-1], latent)
        self.to_logvar = nn.Linear(hidden[-1], latent)
        rev = (latent, *hidden[::-1])
        dec: list[nn.Module] = []
        for a, b in zip(rev[:-1], rev[1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        dec += [nn.Linear(hidden[0], n_features), nn.Sigmoid(), nn.Unflatten(1, self.input_shape)]
        self.decoder = nn.Sequential(*dec)

    @property
    def code_size(self) -> int:
        """The latent dimension k."""
        return self.latent

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, *input_shape) -> (mu, logvar)``, each ``(N, k)``: the parameters of ``q(z|x)``."""
        _check_input(x, self.input_shape, "VAE.encode")
        h = self.encoder(x)  # (N, hidden[-1])
        return self.to_mu(h), self.to_logvar(h)  # (N, k), (N, k)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor, *,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` (Kingma & Welling 2014, eq. 10).

        The sample is a differentiable function of ``mu`` and ``logvar`` (the reparameterization
        trick). ``eps`` comes from ``generator`` if given, else from torch's global RNG
        (seeded by :func:`aelab.setup`).

        Parameters
        ----------
        mu, logvar : torch.Tensor
            ``(N, k)`` each, float.

        Returns
        -------
        torch.Tensor
            ``(N, k)``.

        Raises
        ------
        ValueError
            If ``mu`` and ``logvar`` differ in shape or are not ``(N, k)``.
        """
        _check_input(mu, (self.latent,), "VAE.reparameterize (mu)")
        if logvar.shape != mu.shape:
            raise ValueError(f"VAE.reparameterize: logvar shape {tuple(logvar.shape)} != mu shape {tuple(mu.shape)}")
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)  # (N, k)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, *input_shape)``: Bernoulli means (pixel probabilities in [0, 1])."""
        _check_input(z, (self.latent,), "VAE.decode")
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(N, *input_shape) -> (x_hat, mu, logvar)``; ``z`` is sampled in train and eval mode alike.

        Sampling in eval mode too makes ``evaluate(vae, x, loss=vae_loss)`` a one-sample
        estimate of the negative ELBO, the quantity the paper reports.
        """
        mu, logvar = self.encode(x)  # (N, k), (N, k)
        z = self.reparameterize(mu, logvar)  # (N, k)
        return self.decode(z), mu, logvar  # (N, *input_shape), (N, k), (N, k)
