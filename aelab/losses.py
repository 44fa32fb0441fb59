"""Loss functions (lectures 01–07). Units follow the papers: per-image sums averaged over the batch.

Every loss follows torch's ``reduction=`` convention: ``"mean"`` (the default everywhere, as in
``torch.nn.functional``) averages the per-image values over the batch, ``"sum"`` adds them, and
``"none"`` returns one value per image, shape ``(N,)``. ``*_per_image`` in a name means "summed over
an image's pixels (or a code's units)", never a reduction over the batch. So
``squared_error_per_image(x_hat, x)`` is Hinton & Salakhutdinov's (2006) "average squared error per
test image" and ``squared_error_per_image(x_hat, x, reduction="none")`` the error of each image.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from typing import NamedTuple

import torch

from . import _validation

__all__ = ["squared_error_per_image", "bce_per_image", "bernoulli_nll_per_image", "gaussian_kl_per_image",
           "gaussian_nll_per_image", "recon_nll_per_image", "multinomial_nll_per_document", "vae_loss",
           "VAELoss", "range_checks", "reduce", "log_importance_weights", "iwae_bound", "log_likelihood"]

REDUCTIONS = ("mean", "sum", "none")


def reduce(per_image: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Apply torch's ``reduction`` convention to one value per image.

    Parameters
    ----------
    per_image : torch.Tensor
        ``(N,)`` values, one per image (or document).
    reduction : {"mean", "sum", "none"}
        ``"mean"``: average over the batch (a scalar); ``"sum"``: total (a scalar); ``"none"``:
        ``per_image`` unchanged, shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``reduction`` is not one of the three.
    """
    if reduction == "mean":
        return per_image.mean()
    if reduction == "sum":
        return per_image.sum()
    if reduction == "none":
        return per_image
    _validation.choice(reduction, "reduction", REDUCTIONS)
    raise AssertionError  # unreachable: choice raised

#: Whether the probability losses check that their inputs lie in [0, 1] (see :func:`range_checks`).
_RANGE_CHECKS: ContextVar[bool] = ContextVar("aelab_losses_range_checks", default=True)


@contextlib.contextmanager
def range_checks(enabled: bool) -> Iterator[None]:
    """Turn the [0, 1] range check of the probability losses on or off inside a ``with`` block.

    :func:`bernoulli_nll_per_image`, :func:`bce_per_image` and :func:`vae_loss` raise a
    ``ValueError`` (as ``torch.nn.functional.binary_cross_entropy`` does) when the
    probabilities or the targets leave [0, 1]. The check costs one pass over both tensors and
    one host synchronization per call; :func:`aelab.train.fit` therefore runs it on the first
    batch of every epoch only and turns it off for the others with ``range_checks(False)``
    (the setting is per thread and per asyncio task: a ``contextvars.ContextVar``).

    Parameters
    ----------
    enabled : bool
        True (the default outside any block) checks every call.
    """
    token = _RANGE_CHECKS.set(bool(enabled))
    try:
        yield
    finally:
        _RANGE_CHECKS.reset(token)


def _check_unit_interval(p: torch.Tensor, x: torch.Tensor, name: str) -> None:
    """ValueError if ``p`` (probabilities) or ``x`` (targets) leave [0, 1]; NaN passes (fit reports it)."""
    if not _RANGE_CHECKS.get() or p.numel() == 0:
        return
    p_lo, p_hi = torch.aminmax(p.detach())
    x_lo, x_hi = torch.aminmax(x.detach())
    if bool((p_lo < 0) | (p_hi > 1) | (x_lo < 0) | (x_hi > 1)):  # one host sync
        if p_lo < 0 or p_hi > 1:
            raise ValueError(f"{name}: the reconstruction must hold probabilities in [0, 1] (e.g. the output of a "
                             f"sigmoid), got values in [{p_lo.item():.4g}, {p_hi.item():.4g}]: does the model end "
                             f"with a sigmoid? (torch's binary_cross_entropy raises here too)")
        raise ValueError(f"{name}: the targets must lie in [0, 1] (Bernoulli means: images scaled to [0, 1], not "
                         f"0-255), got values in [{x_lo.item():.4g}, {x_hi.item():.4g}]")


def _check_pair(x_hat: torch.Tensor, x: torch.Tensor, name: str) -> None:
    if not isinstance(x_hat, torch.Tensor) or not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects two torch.Tensors, got {type(x_hat).__name__} and {type(x).__name__}")
    if x_hat.shape != x.shape:
        raise ValueError(f"{name}: reconstruction shape {tuple(x_hat.shape)} != target shape {tuple(x.shape)}")
    if x.ndim < 2:
        raise ValueError(f"{name} expects a batch (N, ...), got shape {tuple(x.shape)}")


def squared_error_per_image(x_hat: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Sum of squared errors over each image's pixels, averaged over the batch (by default).

    Parameters
    ----------
    x_hat, x : torch.Tensor
        Reconstructions and targets, same shape ``(N, ...)``, float.
    reduction : {"mean", "sum", "none"}
        Over the batch: ``"mean"`` (default), ``"sum"``, or ``"none"`` for one value per image.

    Returns
    -------
    torch.Tensor
        Scalar (``(N,)`` with ``reduction="none"``), in squared pixel units per image (pixels in
        [0, 1]). This is the unit of Hinton & Salakhutdinov (2006), Fig. 2: 3.00 for their deep AE
        on MNIST, 13.87 for PCA-30.

    Raises
    ------
    ValueError, TypeError
        If shapes differ, the inputs are not batched tensors, or ``reduction`` is unknown.
    """
    _check_pair(x_hat, x, "squared_error_per_image")
    return reduce((x_hat - x).pow(2).flatten(1).sum(1), reduction)


def bce_per_image(x_hat: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Bernoulli negative log-likelihood (binary cross-entropy), summed over pixels, averaged over images.

    ``-sum_i [x_i log x_hat_i + (1 - x_i) log(1 - x_hat_i)]`` in nats per image. ``x_hat``
    holds probabilities in [0, 1] (e.g. after a sigmoid).

    Parameters
    ----------
    x_hat, x : torch.Tensor
        Probabilities and targets, same shape ``(N, ...)``, float, both in [0, 1].
    reduction : {"mean", "sum", "none"}
        Over the batch: ``"mean"`` (default), ``"sum"``, or ``"none"`` for one value per image.

    Returns
    -------
    torch.Tensor
        Scalar (``(N,)`` with ``reduction="none"``), nats per image.

    Raises
    ------
    ValueError, TypeError
        If shapes differ, the inputs are not batched tensors, or ``x_hat`` or ``x`` has values
        outside [0, 1] (checked as described in :func:`range_checks`).
    """
    _check_pair(x_hat, x, "bce_per_image")
    return reduce(_bernoulli_nll(x_hat, x, "bce_per_image"), reduction)


def gaussian_kl_per_image(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` in closed form, summed over code units.

    ``-1/2 * sum_j (1 + logvar_j - mu_j**2 - exp(logvar_j))`` (Kingma & Welling 2014, Appendix B).

    Parameters
    ----------
    mu, logvar : torch.Tensor
        ``(N, k)`` each.
    reduction : {"mean", "sum", "none"}
        Over the batch: ``"mean"`` (default), ``"sum"``, or ``"none"`` for one value per image.

    Returns
    -------
    torch.Tensor
        Scalar (``(N,)`` with ``reduction="none"``), nats per image.

    Raises
    ------
    ValueError, TypeError
        If the shapes differ or are not ``(N, k)``.
    """
    if not isinstance(mu, torch.Tensor) or not isinstance(logvar, torch.Tensor):
        raise TypeError(f"gaussian_kl_per_image expects tensors mu, logvar, got {type(mu).__name__}, "
                        f"{type(logvar).__name__}")
    if mu.shape != logvar.shape or mu.ndim != 2:
        raise ValueError(f"gaussian_kl_per_image expects mu and logvar of the same shape (N, k), "
                         f"got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    return reduce(-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1), reduction)


_TINY = torch.finfo(torch.float32).tiny


def bernoulli_nll_per_image(p: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """``-sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)]`` per image, in nats.

    With ``reduction="none"`` the same numbers as
    ``F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1)``
    but about twice as fast on a CPU (torch's kernel calls a scalar ``log1p`` per pixel; this
    uses the vectorised ``log``). Logs are clamped at ``log(float32 tiny) ≈ -87.3`` (torch
    clamps at -100), so ``p`` of exactly 0 or 1 gives finite values and gradients.

    Parameters
    ----------
    p : torch.Tensor
        ``(N, ...)`` float probabilities in [0, 1].
    x : torch.Tensor
        ``(N, ...)`` targets in [0, 1] (cast to ``p``'s dtype), same shape as ``p``.
    reduction : {"mean", "sum", "none"}
        Over the batch: ``"mean"`` (default), ``"sum"``, or ``"none"`` for one value per image.

    Returns
    -------
    torch.Tensor
        Scalar (``(N,)`` with ``reduction="none"``), nats per image.

    Raises
    ------
    ValueError
        If ``p`` or ``x`` has values outside [0, 1] (a model without an output sigmoid, targets
        of 0–255), as ``torch.nn.functional.binary_cross_entropy`` does; see :func:`range_checks`
        for when it is checked. NaN is not reported here (:func:`aelab.train.fit` reports it).
        Shapes are not checked here (see :func:`bce_per_image`, :func:`vae_loss`).
    """
    return reduce(_bernoulli_nll(p, x, "bernoulli_nll_per_image"), reduction)


def _bernoulli_nll(p: torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
    x = x.to(p.dtype)  # lerp needs one dtype
    _check_unit_interval(p, x, name)
    log_p = torch.log(p.clamp_min(_TINY))
    log_1mp = torch.log((1 - p).clamp_min(_TINY))
    return -torch.lerp(log_1mp, log_p, x).flatten(1).sum(1)  # x log p + (1 - x) log(1 - p)


class VAELoss(NamedTuple):
    """What :func:`vae_loss` returns: a tuple ``(total, recon, kl)`` whose fields are named.

    :func:`aelab.train.fit` minimises the first field and records each field per epoch under
    its name (``history.parts["recon"]``, ``history.parts["kl"]``).
    """

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor


def vae_loss(output, x: torch.Tensor, *, beta: float = 1.0, reduction: str = "mean") -> VAELoss:
    """Negative ELBO of a Bernoulli-decoder VAE in nats per image: ``(total, recon, kl)``.

    ``recon`` is the Bernoulli negative log-likelihood ``-log p(x|z)`` (binary cross-entropy
    summed over pixels), ``kl`` the closed-form ``KL(q(z|x) || N(0, I))`` (Kingma & Welling
    2014, Appendix B), both averaged over the batch; ``total = recon + beta * kl`` is the
    negative ELBO for ``beta = 1`` and the β-VAE objective (Higgins et al. 2017) otherwise.
    Use it as ``fit(vae, x, loss=vae_loss)`` (``fit`` minimises ``total`` and records ``recon``
    and ``kl`` per epoch) or with ``functools.partial(vae_loss, beta=4.0)``.

    Parameters
    ----------
    output : tuple (x_hat, mu, logvar)
        What :class:`aelab.models.VAE` returns: ``x_hat`` pixel probabilities in [0, 1] of the
        same shape as ``x``; ``mu``, ``logvar`` of shape ``(N, k)``.
    x : torch.Tensor
        Targets ``(N, ...)`` in [0, 1] (grey levels are read as Bernoulli means, as in the paper's
        MNIST experiments).
    beta : float
        Weight of the KL term (default 1: the ELBO); NumPy scalars accepted, NaN refused.
    reduction : {"mean", "sum", "none"}
        Over the batch: ``"mean"`` (default), ``"sum"``, or ``"none"`` for one value per image.

    Returns
    -------
    VAELoss
        ``(total, recon, kl)``, scalars in nats per image (``(N,)`` each with ``reduction="none"``;
        a named tuple: unpack it as a tuple).

    Raises
    ------
    TypeError
        If ``output`` is not a ``(x_hat, mu, logvar)`` tuple of tensors.
    ValueError
        If shapes disagree (``x_hat`` vs ``x``, ``mu`` vs ``logvar``, batch sizes), ``beta`` is negative,
        NaN or infinite, or ``x_hat`` or ``x`` has values outside [0, 1] (see :func:`range_checks`).
    """
    if not (isinstance(output, (tuple, list)) and len(output) == 3):
        raise TypeError("vae_loss expects output = (x_hat, mu, logvar) as returned by VAE.forward, "
                        f"got {type(output).__name__}" + (f" of length {len(output)}" if isinstance(output, (tuple, list)) else ""))
    x_hat, mu, logvar = output
    _check_pair(x_hat, x, "vae_loss")
    beta = _validation.real(beta, "vae_loss: beta", low=0.0)
    _validation.choice(reduction, "reduction", REDUCTIONS)
    kl = gaussian_kl_per_image(mu, logvar, reduction="none")  # (N,)
    if len(kl) != len(x):
        raise ValueError(f"vae_loss: mu/logvar batch size {len(kl)} != x batch size {len(x)}")
    recon = reduce(_bernoulli_nll(x_hat, x, "vae_loss"), reduction)
    kl = reduce(kl, reduction)
    return VAELoss(recon + beta * kl, recon, kl)


# --------------------------------------------------------------------------- lecture 07: ELBO parts, IWAE bound
_LOG_2PI = 1.8378770664093453  # log(2π)


def gaussian_nll_per_image(mean: torch.Tensor, logvar: torch.Tensor, x: torch.Tensor,
                           reduction: str = "mean") -> torch.Tensor:
    """``-log N(x; mean, diag(exp(logvar)))`` summed over pixels, per image, in nats.

    ``1/2 * sum_i [log(2π) + logvar_i + (x_i - mean_i)**2 / exp(logvar_i)]``: the reconstruction
    term of a Gaussian decoder (Kingma & Welling 2014, Appendix C.2). For continuous data it is a
    *density*, so it can be negative (a small variance on pixels that are always black).

    Parameters
    ----------
    mean : torch.Tensor
        ``(N, ...)`` float, the decoder's means.
    logvar : torch.Tensor
        Log-variances broadcastable to ``mean`` (e.g. one per pixel, ``(1, 28, 28)``).
    x : torch.Tensor
        ``(N, ...)`` targets, same shape as ``mean``.
    reduction : {"mean", "sum", "none"}
        Over the batch: ``"mean"`` (default), ``"sum"``, or ``"none"`` for one value per image.

    Returns
    -------
    torch.Tensor
        Scalar (``(N,)`` with ``reduction="none"``), nats per image.

    Raises
    ------
    TypeError, ValueError
        If the inputs are not batched tensors of one shape (``logvar``: broadcastable).
    """
    _check_pair(mean, x, "gaussian_nll_per_image")
    if not isinstance(logvar, torch.Tensor):
        raise TypeError(f"gaussian_nll_per_image: logvar must be a tensor, got {type(logvar).__name__}")
    try:
        torch.broadcast_shapes(logvar.shape, mean.shape)
    except RuntimeError as exc:
        raise ValueError(f"gaussian_nll_per_image: logvar of shape {tuple(logvar.shape)} does not broadcast to "
                         f"the means' shape {tuple(mean.shape)}") from exc
    nll = 0.5 * (_LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar))
    return reduce(nll.expand_as(mean).flatten(1).sum(1), reduction)


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z; mu, diag(exp(logvar)))`` summed over the last dimension."""
    return -0.5 * (_LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def recon_nll_per_image(model, x_hat: torch.Tensor, x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """``-log p(x|z)`` per image in nats, for the decoder ``model`` has (``reduction`` as the other losses).

    A model whose ``likelihood`` is ``"gaussian"`` (:class:`aelab.models.VAE` with
    ``decoder="gaussian"``) scores ``x`` with :func:`gaussian_nll_per_image` and the model's
    ``decoder_logvar()``; any other VAE with :func:`bernoulli_nll_per_image` (``x_hat`` are
    pixel probabilities).

    Raises
    ------
    ValueError, TypeError
        As the two likelihoods.
    """
    _check_pair(x_hat, x, "recon_nll_per_image")
    if getattr(model, "likelihood", "bernoulli") == "gaussian":
        return gaussian_nll_per_image(x_hat, model.decoder_logvar(), x, reduction=reduction)
    return reduce(_bernoulli_nll(x_hat, x, "recon_nll_per_image"), reduction)


@torch.no_grad()
def log_importance_weights(model, x: torch.Tensor, k: int, *, generator: torch.Generator | None = None,
                           chunk: int = 64) -> torch.Tensor:
    """``log w_j = log p(x|z_j) + log p(z_j) - log q(z_j|x)`` for ``k`` samples ``z_j ~ q(z|x)``: ``(k, N)``.

    The log importance weights of Burda, Grosse & Salakhutdinov (2016), eq. 8: their average over
    ``j`` is a one-sample-per-draw estimate of the ELBO, their log-mean-exp (:func:`iwae_bound`)
    the K-sample bound on ``log p(x)``. Runs without gradients, ``chunk`` samples at a time.

    Parameters
    ----------
    model : VAE-like module
        With ``encode(x) -> (mu, logvar)``, ``decode(z)`` and optionally ``likelihood``
        (``"bernoulli"`` default, or ``"gaussian"`` with ``decoder_logvar()``).
    x : torch.Tensor
        ``(N, ...)`` inputs of the model's shape, dtype and device (binary for a Bernoulli decoder
        when a likelihood of binarized data is wanted).
    k : int
        Number of importance samples, >= 1.
    generator : torch.Generator, optional
        Source of the samples (on the model's device); default torch's global generator.
    chunk : int
        Samples decoded per pass (memory ~ ``chunk * N`` images).

    Returns
    -------
    torch.Tensor
        ``(k, N)`` float, nats.

    Raises
    ------
    TypeError
        If ``k`` or ``chunk`` is not an integer (NumPy integers accepted), or ``model.encode`` does not
        return a pair ``(mu, logvar)`` (e.g. a plain autoencoder).
    ValueError
        If ``k`` or ``chunk`` is below 1.
    """
    k = _validation.integer(k, "log_importance_weights: k", minimum=1)
    chunk = _validation.integer(chunk, "log_importance_weights: chunk", minimum=1)
    was_training = model.training
    model.eval()
    try:
        enc = model.encode(x)
        if not (isinstance(enc, tuple) and len(enc) == 2):
            raise TypeError(f"log_importance_weights needs a VAE whose encode(x) returns (mu, logvar), "
                            f"got {type(model).__name__}.encode returning {type(enc).__name__}")
        mu, logvar = enc  # (N, d), (N, d)
        out = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = torch.randn((m, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * eps  # (m, N, d)
            x_hat = model.decode(z.flatten(0, 1))  # (m * N, ...)
            x_rep = x.unsqueeze(0).expand(m, *x.shape).flatten(0, 1)
            log_px_z = -recon_nll_per_image(model, x_hat, x_rep, reduction="none").view(m, -1)  # (m, N)
            log_pz = -0.5 * (_LOG_2PI + z.pow(2)).sum(-1)  # (m, N)
            log_qz = _log_normal(z, mu, logvar)  # (m, N)
            out.append(log_px_z + log_pz - log_qz)
    finally:
        model.train(was_training)
    return torch.cat(out)  # (k, N)


def iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """The K-sample importance-weighted bound ``log (1/K) sum_j w_j`` per image: ``(N,)``, nats.

    Burda et al. (2016), eq. 8, computed stably as ``logsumexp(log_w, 0) - log K`` (the weights
    themselves, ``exp(-90)`` for an MNIST digit, underflow in float32). For ``K = 1`` it is the
    one-sample ELBO; it never decreases in expectation as ``K`` grows and tends to ``log p(x)``.

    Parameters
    ----------
    log_w : torch.Tensor
        ``(K, N)`` log importance weights (:func:`log_importance_weights`).

    Returns
    -------
    torch.Tensor
        ``(N,)``.

    Raises
    ------
    TypeError, ValueError
        If ``log_w`` is not a 2-D float tensor with K >= 1.
    """
    if not isinstance(log_w, torch.Tensor) or not log_w.is_floating_point():
        raise TypeError(f"iwae_bound expects a float tensor of log-weights (K, N), got {type(log_w).__name__}")
    if log_w.ndim != 2 or log_w.shape[0] < 1:
        raise ValueError(f"iwae_bound expects log-weights of shape (K, N) with K >= 1, got {tuple(log_w.shape)}")
    if bool(torch.isnan(log_w).any()):
        raise ValueError("iwae_bound: log_w holds NaN log-weights (check the model's outputs and the inputs' range)")
    return torch.logsumexp(log_w, 0) - math.log(log_w.shape[0])


def log_likelihood(model, x: torch.Tensor, k: int = 200, *, batch_size: int = 100, seed: int = 0,
                   chunk: int = 64) -> torch.Tensor:
    """Importance-sampled estimate of ``log p(x)`` per image (the K-sample IWAE bound): ``(N,)`` nats.

    ``-log_likelihood(...).mean()`` is the test negative log-likelihood that VAE papers report
    (Burda et al. 2016 use K = 5,000; Rezende et al. 2014 and pythae's benchmarks K = 200 or so).
    It is a lower bound on ``log p(x)`` in expectation, tight as ``K → ∞``.

    Parameters
    ----------
    model : VAE-like module
        See :func:`log_importance_weights`.
    x : torch.Tensor
        ``(N, ...)`` inputs.
    k : int
        Importance samples per image.
    batch_size : int
        Images per pass.
    seed : int
        Seed of the samples' generator (same seed, same estimate); the global RNG is not touched.
    chunk : int
        See :func:`log_importance_weights`.

    Returns
    -------
    torch.Tensor
        ``(N,)`` on the CPU, float.

    Raises
    ------
    ValueError
        If ``k``, ``batch_size`` or ``chunk`` is below 1, ``seed`` is negative, or ``x`` holds no images.
    TypeError
        If ``k``, ``batch_size``, ``chunk`` or ``seed`` is not an integer, or the model's ``encode`` does
        not return ``(mu, logvar)``.
    """
    batch_size = _validation.integer(batch_size, "log_likelihood: batch_size", minimum=1)
    seed = _validation.seed(seed, "log_likelihood: seed")
    if isinstance(x, torch.Tensor) and len(x) == 0:
        raise ValueError("log_likelihood: x holds no images (shape (0, ...))")
    g = torch.Generator(device=x.device).manual_seed(int(seed))
    return torch.cat([iwae_bound(log_importance_weights(model, x[i:i + batch_size], k, generator=g,
                                                        chunk=chunk)).cpu()
                      for i in range(0, len(x), batch_size)])




# --- multinomial reconstruction of word counts (lecture 06's document autoencoder) ------------

def multinomial_nll_per_document(logits: torch.Tensor, counts: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Negative log-likelihood of word counts under a softmax over the vocabulary, nats per document.

    The document autoencoder's decoder outputs one logit per vocabulary word; the softmax turns
    them into word probabilities ``p = softmax(logits)``, and the document's ``n_d`` words are
    scored as ``n_d`` draws from ``p`` (the "constrained Poisson"/softmax input units of Hinton &
    Salakhutdinov 2006 and Salakhutdinov & Hinton 2009, "Semantic hashing"):
    ``-sum_w counts_w * log p_w`` per document (the multinomial's count-only constant left out),
    averaged over the batch. A document with no words costs 0.

    Parameters
    ----------
    logits : torch.Tensor
        ``(N, V)`` float: unnormalized log-probabilities of the V words.
    counts : torch.Tensor
        ``(N, V)`` float, word counts (>= 0; need not be integers, e.g. TF weights).
    reduction : {"mean", "sum", "none"}
        Over the batch: ``"mean"`` (default), ``"sum"``, or ``"none"`` for one value per document.

    Returns
    -------
    torch.Tensor
        Scalar (``(N,)`` with ``reduction="none"``), nats per document.

    Raises
    ------
    TypeError
        If either is not a floating-point tensor.
    ValueError
        If the shapes differ or are not ``(N, V)``, or ``counts`` holds a negative value.
    """
    for t, what in ((logits, "logits"), (counts, "counts")):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise TypeError(f"multinomial_nll_per_document: {what} must be a float tensor (N, V), got "
                            f"{t.dtype if isinstance(t, torch.Tensor) else type(t).__name__}")
    if logits.ndim != 2 or logits.shape != counts.shape:
        raise ValueError(f"multinomial_nll_per_document expects logits and counts of one shape (N, V), got "
                         f"{tuple(logits.shape)} and {tuple(counts.shape)}")
    if _RANGE_CHECKS.get() and counts.numel() and bool(counts.detach().min() < 0):
        raise ValueError("multinomial_nll_per_document: counts must be >= 0 (word counts), got a negative value")
    return reduce(-(counts * torch.log_softmax(logits, dim=1)).sum(1), reduction)

