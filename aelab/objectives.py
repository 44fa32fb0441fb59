"""Training objectives: what :func:`aelab.train.fit` minimises, and the names of its parts.

What ``fit`` minimises is an *objective*: ``objective(model, inputs, targets)`` called on each
mini-batch, returning one of

- a scalar tensor: the total to minimise;
- a mapping ``{"total": t, "recon": r, "kl": k, ...}`` (:data:`TOTAL` is the key of the total);
- a tuple whose first element is the total, e.g. ``(total, recon, kl)``; a named tuple (such as
  :class:`aelab.losses.VAELoss`) names the other parts, a plain tuple's are ``part1``, ``part2``…

Every part is a scalar tensor (or a Python number) averaged over the batch; ``fit`` records
each part's per-image mean per epoch in :class:`aelab.train.History` (``history.parts["kl"]``).
The ordinary ``loss(model(x), target)`` is the default objective (:func:`loss_objective`), a
denoising autoencoder corrupts the inputs inside its objective (:func:`denoising`), and an
objective that depends on the epoch (KL warm-up, :class:`KLWarmup`) has a method
``set_epoch(epoch)`` that ``fit`` calls at the start of every epoch (0-based, as torch's
``DistributedSampler.set_epoch``). Penalties that need the model (a contractive penalty on
the encoder's Jacobian, a sparsity penalty on the code) are objectives too: they get the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import torch
from torch import nn

from .losses import squared_error_per_image, vae_loss

__all__ = ["TOTAL", "Parts", "Objective", "as_parts", "split_parts", "LossObjective", "loss_objective", "Denoising",
           "denoising", "KLWarmup", "resolve_objective", "ELBO"]

#: What an objective returns: a scalar total, ``{"total": ..., name: part}``, or ``(total, *parts)``.
Parts = Union[torch.Tensor, Mapping[str, Any], tuple, list]
#: ``objective(model, inputs, targets) -> Parts``.
Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], Parts]

#: The name of the total (the quantity minimised) among an objective's parts.
TOTAL = "total"


def as_parts(out: Parts) -> dict[str, torch.Tensor]:
    """An objective's result as named parts, the total first under :data:`TOTAL`.

    Parameters
    ----------
    out : Tensor, mapping or tuple
        A scalar tensor (the total); a mapping with the key ``"total"``; or a tuple/list whose
        first element is the total (a named tuple's field names name the others, else
        ``part1``, ``part2``, …).

    Returns
    -------
    dict of str to Tensor or number
        ``{"total": ..., **others}`` in the objective's order.

    Raises
    ------
    TypeError
        On another type, or a mapping without ``"total"``, or an empty tuple.
    """
    names, values = split_parts(out)
    return dict(zip(names, values))


_SINGLE = (TOTAL,)


def split_parts(out) -> tuple[tuple[str, ...], list]:
    """``(names, values)`` of an objective's result, the total first (see :func:`as_parts`)."""
    if isinstance(out, torch.Tensor):
        return _SINGLE, [out]
    if isinstance(out, Mapping):
        if TOTAL not in out:
            raise TypeError(f"an objective returning a dict must give the total to minimise under the key "
                            f"{TOTAL!r}, got the keys {list(out)}")
        names = (TOTAL, *(str(k) for k in out if k != TOTAL))
        return names, [out[k] for k in names]
    if isinstance(out, (tuple, list)) and len(out) > 0:
        fields = getattr(out, "_fields", None)
        names = (TOTAL, *(fields[1:] if fields else (f"part{i}" for i in range(1, len(out)))))
        return names, list(out)
    raise TypeError(f"an objective must return a scalar tensor, a dict with the key {TOTAL!r} or a tuple "
                    f"(total, *parts), got {type(out).__name__}")


@dataclass(frozen=True)
class LossObjective:
    """The objective ``loss(model(inputs), targets)``: what ``fit(..., loss=...)`` trains with."""

    loss: Callable

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> Parts:
        return self.loss(model(inputs), targets)


def loss_objective(loss: Callable) -> LossObjective:
    """Adapt a loss ``loss(model_output, targets)`` to an objective ``(model, inputs, targets)``.

    A loss returning ``(total, recon, kl)`` (:func:`aelab.losses.vae_loss`) gives the parts
    ``total``, ``recon`` and ``kl``.

    Raises
    ------
    TypeError
        If ``loss`` is not callable.
    """
    if not callable(loss):
        raise TypeError(f"loss must be callable as loss(model_output, targets), got {type(loss).__name__}")
    return LossObjective(loss)


@dataclass(frozen=True)
class Denoising:
    """The objective of a denoising autoencoder (Vincent et al. 2008): ``objective(model, corrupt(x), t)``.

    The model sees corrupted inputs and is scored against the clean targets. ``corrupt(x) ->
    x_tilde`` draws its noise from torch's global generator, which :func:`fit` seeds with its
    ``seed`` (e.g. ``functools.partial(aelab.data.add_noise, kind="masking", level=0.25)``).
    :func:`evaluate` with this objective corrupts too: it measures the denoising loss.
    """

    corrupt: Callable[[torch.Tensor], torch.Tensor]
    objective: Objective = LossObjective(squared_error_per_image)

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> Parts:
        return self.objective(model, self.corrupt(inputs), targets)

    def set_epoch(self, epoch: int) -> None:
        hook = getattr(self.objective, "set_epoch", None)
        if hook is not None:
            hook(epoch)


def denoising(corrupt: Callable[[torch.Tensor], torch.Tensor], objective: Objective | None = None) -> Denoising:
    """Wrap ``objective`` (default: squared error per image) so that the model sees ``corrupt(inputs)``.

    Parameters
    ----------
    corrupt : callable
        ``corrupt(x) -> x_tilde``, same shape; its noise comes from torch's global generator.
    objective : callable, optional
        ``objective(model, inputs, targets)``; default ``loss_objective(squared_error_per_image)``.

    Returns
    -------
    Denoising

    Raises
    ------
    TypeError
        If ``corrupt`` or ``objective`` is not callable.
    """
    if not callable(corrupt):
        raise TypeError(f"corrupt must be callable as corrupt(x) -> x_tilde, got {type(corrupt).__name__}")
    if objective is None:
        return Denoising(corrupt)
    if not callable(objective):
        raise TypeError(f"objective must be callable as objective(model, inputs, targets), got "
                        f"{type(objective).__name__}")
    return Denoising(corrupt, objective)


@dataclass
class KLWarmup:
    """β-VAE objective whose β rises linearly from 0 to ``beta`` over the first ``warmup_epochs`` epochs.

    KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): in epoch ``e`` (0-based) the
    objective is ``vae_loss(model(x), x, beta=beta * min(1, e / warmup_epochs))``, so the first
    epoch trains the reconstruction alone. :func:`fit` calls :meth:`set_epoch`; the β in use is
    ``current_beta`` (0 before any epoch when ``warmup_epochs > 0``). Parts: total, recon, kl.

    Raises
    ------
    ValueError
        If ``warmup_epochs`` is not an integer >= 0 or ``beta < 0``.
    """

    warmup_epochs: int
    beta: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.warmup_epochs, bool) or not isinstance(self.warmup_epochs, int) or self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be an integer >= 0, got {self.warmup_epochs!r}")
        if not isinstance(self.beta, (int, float)) or self.beta < 0:
            raise ValueError(f"beta must be a number >= 0, got {self.beta!r}")
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        ramp = 1.0 if self.warmup_epochs == 0 else min(1.0, epoch / self.warmup_epochs)
        self.current_beta = float(self.beta) * ramp

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> Parts:
        return vae_loss(model(inputs), targets, beta=self.current_beta)


def resolve_objective(objective: Objective | None, loss: Callable) -> Objective:
    """The objective that ``fit(objective=..., loss=...)`` trains with.

    ``objective`` if given (then ``loss`` must be the default), else ``loss_objective(loss)``.

    Raises
    ------
    TypeError
        If both are given, or the one given is not callable.
    """
    if objective is None:
        return loss_objective(loss)
    if loss is not squared_error_per_image:
        raise TypeError("give either objective= or loss=, not both (loss=f is objective=loss_objective(f))")
    if not callable(objective):
        raise TypeError(f"objective must be callable as objective(model, inputs, targets), got "
                        f"{type(objective).__name__}")
    return objective


# --------------------------------------------------------------------------- lecture 07: the ELBO objective
@dataclass
class ELBO:
    """The negative ELBO (or β-VAE objective) of a VAE in nats per image, with named parts.

    ``objective(model, x, x)`` returns ``{"total": recon + β·kl, "recon": -log p(x|z), "kl": KL(q(z|x) || p(z))}``,
    each averaged over the batch (Kingma & Welling 2014, eq. 10 with Appendix B's closed-form KL;
    Higgins et al. 2017 for β ≠ 1). Options:

    - ``binarize=True``: *dynamic binarization* (as in Burda et al. 2016): every time an image is
      used, each pixel becomes 1 with probability its grey level (``torch.bernoulli``, global
      generator, which :func:`aelab.train.fit` seeds); the model sees and is scored on the binary
      image. For a Bernoulli decoder.
    - ``warmup_epochs``: β rises linearly from 0 to ``beta`` over those epochs (KL warm-up,
      Bowman et al. 2016), as :class:`KLWarmup`; ``fit`` calls :meth:`set_epoch`.
    - ``recon_reduction="pixel_mean"``: the reconstruction term averaged over pixels instead of
      summed (the common bug; it weighs the KL D = 784 times more: a β = 784 VAE). Default ``"sum"``.

    The decoder's likelihood comes from the model (:func:`aelab.losses.recon_nll_per_image`):
    Bernoulli, or Gaussian for ``VAE(..., decoder="gaussian")``.

    Raises
    ------
    ValueError
        If ``beta < 0``, ``warmup_epochs`` is not an int >= 0, or ``recon_reduction`` is unknown.
    """

    beta: float = 1.0
    binarize: bool = False
    warmup_epochs: int = 0
    recon_reduction: str = "sum"

    def __post_init__(self) -> None:
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or self.beta < 0:
            raise ValueError(f"ELBO: beta must be a number >= 0, got {self.beta!r}")
        if isinstance(self.warmup_epochs, bool) or not isinstance(self.warmup_epochs, int) or self.warmup_epochs < 0:
            raise ValueError(f"ELBO: warmup_epochs must be an integer >= 0, got {self.warmup_epochs!r}")
        if self.recon_reduction not in ("sum", "pixel_mean"):
            raise ValueError(f"ELBO: recon_reduction must be 'sum' or 'pixel_mean', got {self.recon_reduction!r}")
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        ramp = 1.0 if self.warmup_epochs == 0 else min(1.0, epoch / self.warmup_epochs)
        self.current_beta = float(self.beta) * ramp

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> Parts:
        from .losses import gaussian_kl_per_image, recon_nll_per_image

        if self.binarize:
            inputs = targets = torch.bernoulli(inputs)
        x_hat, mu, logvar = model(inputs)
        recon = recon_nll_per_image(model, x_hat, targets)  # (N,)
        if self.recon_reduction == "pixel_mean":
            recon = recon / targets[0].numel()
        recon, kl = recon.mean(), gaussian_kl_per_image(mu, logvar).mean()
        return {TOTAL: recon + self.current_beta * kl, "recon": recon, "kl": kl}


