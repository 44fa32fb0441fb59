"""The base classes every autoencoder of :mod:`aelab.models` inherits: :class:`Autoencoder` and
:class:`VariationalAutoencoder` (the contract is in their docstrings).

A new model family (a sparse, masked or vector-quantized autoencoder, …) is a new file in
``aelab/models/`` whose class inherits :class:`Autoencoder` (or :class:`VariationalAutoencoder`),
calls ``super().__init__(code_size=..., input_shape=...)`` first and implements ``_encode`` and
``_decode``; the checks of what ``encode``/``decode`` receive, ``code_size``, ``input_shape`` and
``forward`` come from the base. :func:`code_size_argument` resolves the one constructor keyword
for the code dimension, ``code_size``, and the deprecated names it replaces.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import nn

from .. import _validation
from .layers import check_input, check_sizes

__all__ = ["Autoencoder", "VariationalAutoencoder", "code_size_argument", "dims_with_code", "LIKELIHOODS"]

#: The decoder distributions ``p(x|z)`` a :class:`VariationalAutoencoder` can have.
LIKELIHOODS = ("bernoulli", "gaussian")

#: A Gaussian decoder's log-variance is ``_LOGVAR_SCALE * log_var_pixels``: Adam moves a parameter by about
#: ``lr`` per step whatever its gradient, so without the factor the log-variances would need thousands of steps
#: to travel the few units between the start (log 0.1) and the floor.
_LOGVAR_SCALE = 10.0


def code_size_argument(owner: str, code_size, *, default: int | None = None, **old) -> int:
    """Resolve a model's ``code_size`` argument and its deprecated aliases (one constructor word).

    Every model of :mod:`aelab.models` names its code dimension ``code_size``. The keywords it
    replaces (``n_components`` of :class:`~aelab.models.LinearAutoencoder`, ``hidden`` of
    :class:`~aelab.models.ShallowAutoencoder`, ``latent`` of the VAEs, ``n_hidden`` of the
    :class:`~aelab.models.RBM`) still work for a release and emit a ``DeprecationWarning``.

    Parameters
    ----------
    owner : str
        The class being built, named in messages.
    code_size : int or None
        The value given as ``code_size`` (positionally or by keyword); None when not given.
    default : int, optional
        The value when neither ``code_size`` nor an alias is given; None makes it required.
    **old
        The deprecated aliases, ``name=value`` (value None when not given).

    Returns
    -------
    int
        The code size, >= 1, as a Python ``int``.

    Raises
    ------
    TypeError
        If the code size is given twice (``code_size`` and an alias), is missing, or is not an integer
        (a bool, ``2.0``).
    ValueError
        If it is below 1.

    Warns
    -----
    DeprecationWarning
        When an alias is used.
    """
    given = [name for name, value in old.items() if value is not None]
    if len(given) + (code_size is not None) > 1:
        names = (["code_size"] if code_size is not None else []) + given
        raise TypeError(f"{owner}: the code size was given twice ({' and '.join(names)}); give it once, as code_size=")
    name = "code_size"
    if given:
        name = given[0]
        code_size = old[name]
        warnings.warn(f"{owner}({name}=...) is deprecated and will be removed: every aelab model names its code "
                      f"dimension code_size=, so write {owner}(..., code_size={code_size!r})",
                      DeprecationWarning, stacklevel=3)
    elif code_size is None:
        if default is None:
            raise TypeError(f"{owner}: missing the code size: give code_size= (the code dimension k)")
        code_size = default
    return _validation.integer(code_size, f"{owner}: {name}", minimum=1)


def dims_with_code(owner: str, dims, code_size, *, min_len: int = 2) -> tuple[int, ...]:
    """The full layer sizes ``(input, hidden…, code)`` from ``dims`` and ``code_size``.

    With ``code_size`` given, ``dims`` are the sizes before the code, ``(input, hidden…)``; without
    it, ``dims[-1]`` is the code (the papers' notation, e.g. Hinton & Salakhutdinov's
    784-1000-500-250-30).

    Raises
    ------
    TypeError, ValueError
        As :func:`aelab.models.layers.check_sizes`; ValueError for too few sizes.
    """
    if code_size is None:
        return check_sizes(dims, "dims", owner=owner, min_len=min_len)
    k = code_size_argument(owner, code_size)
    return (*check_sizes(dims, "dims", owner=owner, min_len=min_len - 1), k)


class Autoencoder(nn.Module):
    """Base class of every autoencoder in :mod:`aelab.models`: ``encode``, ``decode``, ``forward``.

    The contract (what widgets, plots, checks, :func:`aelab.train.fit` and :mod:`aelab.zoo` rely on):

    - ``code_size`` (int >= 1, read-only) is the code dimension k and ``input_shape`` (tuple of
      int) the shape of one example, e.g. ``(1, 28, 28)``; both are fixed at construction.
    - ``encode(x)`` takes ``(N, *input_shape)`` and returns ``(N, code_size)`` codes (a
      :class:`VariationalAutoencoder` returns ``(mu, logvar)``, each ``(N, code_size)``).
    - ``decode(z)`` takes ``(N, code_size)`` and returns ``(N, *input_shape)``.
    - ``forward(x)`` is ``decode(encode(x))`` unless a family says otherwise (a VAE returns
      ``(x_hat, mu, logvar)``).
    - ``encode`` and ``decode`` check what they receive before torch sees it: a ``torch.Tensor``
      of the model's dtype and device, of shape ``(N, *input_shape)`` resp. ``(N, code_size)``;
      otherwise a ``TypeError`` (not a tensor, integer pixels, float64) or ``ValueError`` (shape,
      device) whose message names the fix (:func:`aelab.models.layers.check_input`).

    How to write a new family: call ``super().__init__(code_size=..., input_shape=...)`` first
    (resolve deprecated keywords with :func:`code_size_argument` before it), build the layers,
    and implement

    - ``_encode(x)``: the encoder on an input that has already been checked;
    - ``_decode(z)``: the decoder on a checked code.

    Override :meth:`check_input` / :meth:`check_code` to add checks (call the base's first), or
    ``encode``/``decode`` themselves when they take more arguments (as
    :class:`~aelab.models.ConvAutoencoder`'s ``decode(z, switches=)``) — then call
    :meth:`check_input` / :meth:`check_code` in them.

    Parameters
    ----------
    code_size : int
        The code dimension k >= 1 (Python or NumPy int).
    input_shape : sequence of int
        The shape of one example (positive ints).

    Raises
    ------
    TypeError
        If a size is not an integer (a bool, a float).
    ValueError
        If a size is below 1.
    """

    def __init__(self, *, code_size: int, input_shape: Sequence[int]):
        super().__init__()
        owner = type(self).__name__
        self._code_size = _validation.integer(code_size, f"{owner}: code_size", minimum=1)
        self.input_shape = check_sizes(input_shape, "input_shape", owner=owner)

    @property
    def code_size(self) -> int:
        """The code dimension k."""
        return self._code_size

    @property
    def n_input(self) -> int:
        """The number of values in one example, ``prod(input_shape)`` (784 for MNIST)."""
        return math.prod(self.input_shape)

    def _like(self) -> torch.Tensor | None:
        """One parameter (its dtype and device are the model's), or None for a model without any."""
        return next(self.parameters(), None)

    def check_input(self, x, what: str | None = None) -> None:
        """Check an input batch: a tensor ``(N, *input_shape)`` of the model's dtype and device.

        Raises
        ------
        TypeError, ValueError
            As :func:`aelab.models.layers.check_input`; the message names ``what`` (default
            ``"<Class>.encode"``).
        """
        check_input(x, self.input_shape, what or f"{type(self).__name__}.encode", like=self._like())

    def check_code(self, z, what: str | None = None) -> None:
        """Check a batch of codes: a tensor ``(N, code_size)`` of the model's dtype and device.

        Raises
        ------
        TypeError, ValueError
            As :func:`aelab.models.layers.check_input`; the message names ``what`` (default
            ``"<Class>.decode"``).
        """
        check_input(z, (self.code_size,), what or f"{type(self).__name__}.decode", like=self._like(),
                    model_input=False)

    def encode(self, x: torch.Tensor):
        """``(N, *input_shape) -> (N, code_size)``: the code (a VAE: ``(mu, logvar)``).

        Raises
        ------
        TypeError, ValueError
            On input of another dtype, shape or device than the model's (see :meth:`check_input`).
        """
        self.check_input(x)
        return self._encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, code_size) -> (N, *input_shape)``: the reconstruction from a code.

        Raises
        ------
        TypeError, ValueError
            On a code of another dtype, shape or device than the model's (a single code needs
            ``z.unsqueeze(0)``); see :meth:`check_code`.
        """
        self.check_code(z)
        return self._decode(z)

    def forward(self, x: torch.Tensor):
        """``(N, *input_shape) -> (N, *input_shape)``: ``decode(encode(x))``."""
        z = self.encode(x)     # (N, k)
        return self.decode(z)  # (N, *input_shape)

    def _encode(self, x: torch.Tensor):
        raise NotImplementedError(f"{type(self).__name__} must implement _encode(x) (see aelab.models.Autoencoder)")

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement _decode(z) (see aelab.models.Autoencoder)")


class VariationalAutoencoder(Autoencoder):
    """Base class of the VAEs (Kingma & Welling 2014): ``encode -> (mu, logvar)``, ``reparameterize``, a likelihood.

    Encoder ``q(z|x) = N(mu, diag(exp(logvar)))`` with ``mu, logvar = encode(x)``; prior
    ``p(z) = N(0, I)``; decoder ``p(x|z)`` a Bernoulli (``decode(z)`` gives pixel probabilities)
    or a Gaussian (``decode(z)`` gives the means and :meth:`decoder_logvar` one learned
    log-variance per pixel, floored at ``log(min_var)``; Kingma & Welling 2014, Appendix C.2).
    :func:`aelab.losses.vae_loss`, :func:`aelab.losses.log_likelihood` and the widgets take any
    subclass. The contract of :class:`Autoencoder` holds, except that ``_encode`` returns
    ``(mu, logvar)`` and ``forward(x)`` returns ``(x_hat, mu, logvar)``.

    Parameters
    ----------
    code_size : int
        The latent dimension k.
    input_shape : sequence of int
        The shape of one example.
    decoder : {"bernoulli", "gaussian"}
        The decoder's distribution ``p(x|z)``.
    min_var : float
        Smallest variance of a Gaussian decoder (> 0; default 1e-3: a standard deviation of 0.03
        grey levels; without a floor the likelihood of always-black pixels grows without bound).

    Attributes
    ----------
    likelihood : str — ``"bernoulli"`` or ``"gaussian"``
    min_var : float
    log_var_pixels : nn.Parameter or None — a Gaussian decoder's log-variances divided by 10, ``input_shape``
        (the factor lets Adam move them quickly; read them with :meth:`decoder_logvar`)

    Raises
    ------
    ValueError
        On an unknown ``decoder`` or ``min_var`` not a positive finite number (TypeError for a non-number).
    """

    def __init__(self, *, code_size: int, input_shape: Sequence[int], decoder: str = "bernoulli",
                 min_var: float = 1e-3):
        super().__init__(code_size=code_size, input_shape=input_shape)
        owner = type(self).__name__
        self.likelihood = _validation.choice(decoder, f"{owner}: decoder", LIKELIHOODS)
        self.min_var = _validation.real(min_var, f"{owner}: min_var", low=0.0, low_open=True)
        # a Gaussian decoder starts at variance 0.1 (a std of 0.3 grey levels)
        self.log_var_pixels = None if self.likelihood == "bernoulli" else nn.Parameter(
            torch.full(self.input_shape, math.log(0.1) / _LOGVAR_SCALE))

    @property
    def latent(self) -> int:
        """The latent dimension k: ``code_size`` (the old name)."""
        return self.code_size

    def decoder_logvar(self) -> torch.Tensor:
        """A Gaussian decoder's log-variances, ``input_shape``, at least ``log(min_var)``.

        Raises
        ------
        AttributeError
            For a Bernoulli decoder (its variance is ``p (1 - p)``, not a parameter).
        """
        if self.log_var_pixels is None:
            raise AttributeError(f"{type(self).__name__} has a Bernoulli decoder: it has no variance parameter "
                                 "(build it with decoder='gaussian')")
        return (_LOGVAR_SCALE * self.log_var_pixels).clamp_min(math.log(self.min_var))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, *input_shape) -> (mu, logvar)``, each ``(N, k)``: the parameters of ``q(z|x)``.

        Raises
        ------
        TypeError, ValueError
            On input of another dtype, shape or device than the model's.
        """
        self.check_input(x)
        return self._encode(x)

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
        owner = type(self).__name__
        self.check_code(mu, f"{owner}.reparameterize (mu)")
        if not isinstance(logvar, torch.Tensor) or logvar.shape != mu.shape:
            got = tuple(logvar.shape) if isinstance(logvar, torch.Tensor) else type(logvar).__name__
            raise ValueError(f"{owner}.reparameterize: logvar must be a tensor of mu's shape {tuple(mu.shape)}, "
                             f"got {got}")
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)  # (N, k)
        return mu + torch.exp(0.5 * logvar) * eps  # (N, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, *input_shape)``: the parameters of ``p(x|z)`` (pixel probabilities or Gaussian means).

        Parameters
        ----------
        z : torch.Tensor
            ``(N, k)`` codes: samples of ``q(z|x)`` from :meth:`reparameterize`, or of the prior
            ``N(0, I)`` to generate new images.

        Returns
        -------
        torch.Tensor
            ``(N, *input_shape)``; the decoder's expected image.

        Raises
        ------
        TypeError, ValueError
            On a code of another dtype, shape or device than the model's.
        """
        self.check_code(z)
        return self._decode(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(N, *input_shape) -> (x_hat, mu, logvar)``; ``z`` is sampled in train and eval mode alike.

        Sampling in eval mode too makes ``evaluate(vae, x, loss=vae_loss)`` a one-sample
        estimate of the negative ELBO, the quantity the paper reports.
        """
        mu, logvar = self.encode(x)           # (N, k), (N, k)
        z = self.reparameterize(mu, logvar)   # (N, k)
        return self.decode(z), mu, logvar     # (N, *input_shape), (N, k), (N, k)
