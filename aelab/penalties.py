"""Regularizers of lecture 03 (Goodfellow, Bengio & Courville 2016, chapter 14) and the objectives that add them.

Penalties on the code ``h = f(x)`` of an autoencoder:

- :func:`l1_sparsity` — ``Σⱼ |hⱼ|`` per image (14.2.1: the negative log of a Laplace prior);
- :func:`kl_sparsity` — ``Σⱼ KL(ρ ‖ ρ̂ⱼ)`` with ``ρ̂ⱼ`` unit j's mean activation over the batch
  (Ng's sparse autoencoder notes, 2011);
- :func:`contractive_penalty` — ``‖∂h/∂x‖²_F`` per image (Rifai et al. 2011, equation 14.18), for
  any encoder, through automatic differentiation: :func:`encoder_jacobian` builds the Jacobian either
  with ``torch.func.vmap(torch.func.jacrev(f))`` (one vectorized reverse pass per code unit) or with
  an explicit loop of ``k`` ``torch.autograd.grad(..., create_graph=True)`` calls (the
  "double-backward" trick: the penalty's gradient with respect to the weights is a second
  backward pass through the first);
- :func:`contractive_sigmoid` — the closed form for one sigmoid layer ``h = σ(Wx + b)``:
  ``Σⱼ (hⱼ(1−hⱼ))² Σᵢ Wⱼᵢ²`` (Rifai et al. 2011, section 4).

Per-image penalties are averaged over the batch (the course's "per image" unit); the KL penalty is
a property of the batch (it compares the batch's mean activation with ρ).

:class:`Penalized` is an objective for :func:`aelab.train.fit`: reconstruction loss plus
``weight`` times a penalty, with the parts ``total``, ``recon`` and ``penalty`` recorded per epoch.
Penalties for it are small dataclasses (:class:`L1Code`, :class:`KLCode`, :class:`Contractive`)
so that :func:`aelab.zoo.fit_cached` can key them by their fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from . import _validation
from .losses import squared_error_per_image
from .objectives import Parts

__all__ = ["l1_sparsity", "kl_sparsity", "encoder_jacobian", "contractive_penalty", "contractive_sigmoid",
           "L1Code", "KLCode", "Contractive", "Penalized", "penalized"]

_METHODS = ("vmap", "loop")


def _check_code(h, name: str = "h", *, unit_range: bool = False) -> None:
    if not isinstance(h, torch.Tensor) or not h.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (N, k), got "
                        f"{type(h).__name__ if not isinstance(h, torch.Tensor) else h.dtype}")
    if h.ndim != 2 or h.shape[0] < 1:
        raise ValueError(f"{name} must have shape (N, k) with N >= 1, got {tuple(h.shape)}")
    if unit_range:
        with torch.no_grad():
            inside = bool(((h >= 0) & (h <= 1)).all())  # False on NaN too
        if not inside:
            raise ValueError(f"{name} must hold sigmoid activations in [0, 1], got values in "
                             f"[{h.min().item():.4g}, {h.max().item():.4g}] (pre-activations, or a ReLU/tanh code?)")


def l1_sparsity(h: torch.Tensor) -> torch.Tensor:
    """L1 sparsity penalty: ``Σⱼ |hⱼ|`` per image, averaged over the batch.

    Goodfellow et al. (2016), section 14.2.1: with a Laplace prior ``p(hⱼ) = λ/2 · exp(−λ|hⱼ|)``
    the negative log prior is ``λ Σⱼ |hⱼ|`` plus a constant.

    Parameters
    ----------
    h : torch.Tensor
        Codes, float ``(N, k)``.

    Returns
    -------
    torch.Tensor
        0-dim, same dtype as ``h``.

    Raises
    ------
    TypeError, ValueError
        If ``h`` is not a floating-point ``(N, k)`` tensor.
    """
    _check_code(h)
    return h.abs().sum(dim=1).mean()


def kl_sparsity(h: torch.Tensor, rho: float, *, eps: float = 1e-6) -> torch.Tensor:
    """KL sparsity penalty ``Σⱼ KL(ρ ‖ ρ̂ⱼ)`` with ``ρ̂ⱼ`` the mean activation of unit j over the batch.

    ``KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1−ρ) log((1−ρ)/(1−ρ̂))``: the divergence between two Bernoulli
    distributions, zero when ``ρ̂ⱼ = ρ``, summed over the k units (Ng, "Sparse autoencoder",
    CS294A lecture notes, 2011). It pushes each unit to be active (≈1) on a fraction ρ of the inputs.

    Parameters
    ----------
    h : torch.Tensor
        Codes in ``[0, 1]`` (a sigmoid layer), float ``(N, k)``.
    rho : float
        Target mean activation, in ``(0, 1)`` (e.g. 0.05).
    eps : float
        ``ρ̂`` is clamped to ``[eps, 1−eps]`` so that the logarithms stay finite.

    Returns
    -------
    torch.Tensor
        0-dim, in nats, summed over units (not averaged).

    Raises
    ------
    TypeError, ValueError
        If ``h`` is not a floating-point ``(N, k)`` tensor with values in ``[0, 1]``, ``rho`` not
        in ``(0, 1)`` or ``eps`` not in ``(0, 0.5)``.
    """
    _check_code(h, unit_range=True)
    rho = _validation.real(rho, "rho", low=0.0, high=1.0, low_open=True, high_open=True)
    eps = _validation.real(eps, "eps", low=0.0, high=0.5, low_open=True, high_open=True)
    rho_hat = h.mean(dim=0).clamp(eps, 1.0 - eps)  # (k,)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


def encoder_jacobian(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, method: str = "vmap",
                     create_graph: bool = False) -> torch.Tensor:
    """The Jacobian ``∂h/∂x`` of an encoder at each input: ``(N, k, d)``.

    Parameters
    ----------
    encode : callable
        ``encode(x) -> h``, ``(N, *shape) -> (N, k)``, treating the images independently
        (no batch normalization in training mode); e.g. ``model.encoder`` or ``model.encode``.
    x : torch.Tensor
        Inputs, float ``(N, *shape)``; ``d = prod(shape)``.
    method : {"vmap", "loop"}
        ``"vmap"``: ``torch.func.vmap(torch.func.jacrev(f))`` over single images (``encode``
        must then avoid data-dependent Python control flow). ``"loop"``: ``k`` calls of
        ``torch.autograd.grad(h[:, j].sum(), x)``; row j of every image's Jacobian at once,
        because image i's code depends on image i only.
    create_graph : bool
        Keep the graph so that a function of the Jacobian can be differentiated with respect
        to the encoder's weights (training a contractive autoencoder).

    Returns
    -------
    torch.Tensor
        ``(N, k, d)``, the dtype of ``x``.

    Raises
    ------
    ValueError
        On an unknown ``method``, ``x`` without a batch dimension or with ``N = 0``, an input the
        encoder cannot take, or an encoder that does not return ``(N, k)``.
    TypeError
        If ``encode`` is not callable or ``x`` is not a floating-point tensor.
    """
    _validation.choice(method, "method", _METHODS)
    if not callable(encode):
        raise TypeError(f"encode must be callable as encode(x) -> (N, k) (e.g. model.encoder), got "
                        f"{type(encode).__name__}")
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"x must be a floating-point tensor (N, ...), got {got}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"x must be a batch (N, ...) with N >= 1 and a batch dimension first, got shape "
                         f"{tuple(x.shape)} (one image? use x.unsqueeze(0))")
    n, d = x.shape[0], x[0].numel()
    try:
        with torch.no_grad():
            encode(x[:1])  # a clear error for inputs the encoder does not take
    except RuntimeError as exc:
        raise ValueError(f"encode failed on an input of shape {tuple(x[:1].shape)}: does x have the encoder's "
                         f"input shape? ({exc})") from exc
    if method == "vmap":
        from torch.func import jacrev, vmap

        def one(xi):  # (*shape) -> (k,)
            h = encode(xi.unsqueeze(0))
            if h.ndim != 2:
                raise ValueError(f"encode must return (N, k), got {tuple(h.shape)} for one image")
            return h.squeeze(0)

        jac = vmap(jacrev(one))(x)  # (N, k, *shape)
        if not create_graph:
            jac = jac.detach()
        return jac.reshape(n, jac.shape[1], d)
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        h = encode(xg)  # (N, k)
        if h.ndim != 2 or h.shape[0] != n:
            raise ValueError(f"encode must return (N, k) = ({n}, k), got {tuple(h.shape)}")
        rows = [torch.autograd.grad(h[:, j].sum(), xg, create_graph=create_graph, retain_graph=True)[0].reshape(n, d)
                for j in range(h.shape[1])]
    return torch.stack(rows, dim=1)  # (N, k, d)


#: Largest Jacobian block ``chunk · k · d`` (entries) that :func:`contractive_penalty` builds at once: 2**22
#: float32 entries are 16 MiB, so a batch of 1,024 MNIST images with a 64-unit code goes in 13 chunks.
CHUNK_ENTRIES = 2 ** 22


def contractive_penalty(encode: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
                        method: str = "vmap", chunk_size: int | None = None) -> torch.Tensor:
    """``‖∂h/∂x‖²_F`` per image, averaged over the batch, for any encoder (Rifai et al. 2011, eq. 14.18).

    Differentiable with respect to the encoder's weights (the Jacobian is built with
    ``create_graph=True``). Costs about ``k`` backward passes; for one sigmoid layer use the
    closed form :func:`contractive_sigmoid`, which gives the same number.

    The batch is processed in chunks of ``chunk_size`` images, each reduced to its sum of squared
    norms at once, so that the ``(N, k, d)`` Jacobian and ``vmap``'s per-image intermediates never
    exist for the whole batch: peak memory grows with the chunk, not with N (without chunks,
    N = 1,024 images and a 64-unit code took about 1 GB; ``tests/test_penalties.py``). The result
    equals the unchunked one up to float rounding (a sum in another order).

    Parameters
    ----------
    encode : callable
        ``(N, *shape) -> (N, k)``; see :func:`encoder_jacobian`.
    x : torch.Tensor
        Float ``(N, *shape)``.
    method : {"vmap", "loop"}
        How the Jacobian is built (see :func:`encoder_jacobian`).
    chunk_size : int, optional
        Images per chunk (>= 1); default: as many as keep one chunk's Jacobian within
        :data:`CHUNK_ENTRIES` entries. ``chunk_size=len(x)`` builds it in one piece.

    Returns
    -------
    torch.Tensor
        0-dim: the squared Frobenius norm (sum of the squares of all ``k·d`` entries) per image.

    Raises
    ------
    ValueError, TypeError
        As :func:`encoder_jacobian`; for a ``chunk_size`` that is not a positive integer.
    """
    if chunk_size is not None:
        chunk_size = _validation.integer(chunk_size, "chunk_size", minimum=1)
    if chunk_size is None and isinstance(x, torch.Tensor) and x.ndim >= 2 and x.shape[0] > 1:
        k = _code_width(encode, x)
        chunk_size = max(1, CHUNK_ENTRIES // max(1, k * x[0].numel()))
    if chunk_size is None or chunk_size >= x.shape[0]:
        jac = encoder_jacobian(encode, x, method=method, create_graph=True)  # (N, k, d)
        return jac.pow(2).sum(dim=(1, 2)).mean()
    total = sum(encoder_jacobian(encode, part, method=method, create_graph=True).pow(2).sum()  # (n, k, d) -> ()
                for part in x.split(chunk_size))
    return total / x.shape[0]


def _code_width(encode, x: torch.Tensor) -> int:
    """k, the width of ``encode``'s output on one image (1 when it cannot tell; the Jacobian's check reports)."""
    try:
        with torch.no_grad():
            h = encode(x[:1])
    except Exception:  # noqa: BLE001 - encoder_jacobian raises the clear error
        return 1
    return int(h.shape[-1]) if isinstance(h, torch.Tensor) and h.ndim == 2 else 1


def contractive_sigmoid(h: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Closed-form contractive penalty of one sigmoid layer ``h = σ(W x + b)``, per image, batch mean.

    ``∂hⱼ/∂xᵢ = hⱼ(1−hⱼ) Wⱼᵢ``, so ``‖∂h/∂x‖²_F = Σⱼ (hⱼ(1−hⱼ))² Σᵢ Wⱼᵢ²`` (Rifai et al. 2011,
    section 4): ``O(k·d)`` work once per batch instead of ``k`` backward passes.

    Parameters
    ----------
    h : torch.Tensor
        The layer's output ``σ(W x + b)``, float ``(N, k)`` (values in (0, 1)).
    W : torch.Tensor
        The weight matrix, ``(k, d)`` (``nn.Linear(d, k).weight``: row j feeds unit j).

    Returns
    -------
    torch.Tensor
        0-dim, in the wider dtype of ``h`` and ``W``.

    Raises
    ------
    TypeError, ValueError
        If ``h`` is not ``(N, k)`` float with values in ``[0, 1]`` (pre-activations are not
        codes), or ``W`` is not a floating-point 2-D tensor with ``k`` rows (a transposed
        ``(d, k)`` matrix is named in the message).
    """
    _check_code(h, unit_range=True)
    if not isinstance(W, torch.Tensor) or not W.is_floating_point():
        got = W.dtype if isinstance(W, torch.Tensor) else type(W).__name__
        raise TypeError(f"W must be a floating-point tensor (k, d), got {got}")
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D tensor (k, d), got shape {tuple(W.shape)}")
    k = h.shape[1]
    if W.shape[0] != k:
        extra = " — it looks transposed: pass the (k, d) weight of nn.Linear(d, k)" if W.shape[1] == k else ""
        raise ValueError(f"W must have k = {k} rows (one per code unit), got shape {tuple(W.shape)}{extra}")
    dtype = torch.promote_types(h.dtype, W.dtype)  # float32 codes with a float64 W (or back) are fine
    slope = (h.to(dtype) * (1 - h.to(dtype))).pow(2)  # (N, k)
    return (slope @ W.to(dtype).pow(2).sum(dim=1)).mean()  # Σ_j slope_j · ‖W_j‖², mean over images


# --------------------------------------------------------------------------- objectives
# A penalty for Penalized is called as penalty(model, inputs, h) -> 0-dim tensor.

@dataclass(frozen=True)
class L1Code:
    """Penalty ``Σⱼ |hⱼ|`` per image (:func:`l1_sparsity`)."""

    def __call__(self, model: nn.Module, inputs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return l1_sparsity(h)


@dataclass(frozen=True)
class KLCode:
    """Penalty ``Σⱼ KL(ρ ‖ ρ̂ⱼ)`` over the batch (:func:`kl_sparsity`)."""

    rho: float = 0.05

    def __post_init__(self) -> None:
        rho = _validation.real(self.rho, "rho", low=0.0, high=1.0, low_open=True, high_open=True)
        object.__setattr__(self, "rho", rho)  # a plain float: the same zoo key for 0.05 and np.float64(0.05)

    def __call__(self, model: nn.Module, inputs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return kl_sparsity(h, self.rho)


@dataclass(frozen=True)
class Contractive:
    """Penalty ``‖∂h/∂x‖²_F`` per image: ``"closed_form"`` (one sigmoid layer) or autograd (``"vmap"``, ``"loop"``).

    ``"closed_form"`` needs a model whose code is one sigmoid layer with its weight as
    ``model.weight`` (:class:`aelab.models.ShallowAutoencoder`); the autograd methods differentiate
    ``model.encoder``.
    """

    method: str = "closed_form"

    def __post_init__(self) -> None:
        _validation.choice(self.method, "method", ("closed_form", *_METHODS))

    def __call__(self, model: nn.Module, inputs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        if self.method == "closed_form":
            if getattr(model, "activation", None) != "sigmoid" or not isinstance(getattr(model, "weight", None),
                                                                                  torch.Tensor):
                raise TypeError("the closed-form contractive penalty needs one sigmoid code layer with its weight as "
                                "model.weight (aelab.models.ShallowAutoencoder); use method='vmap' otherwise")
            return contractive_sigmoid(h, model.weight)
        return contractive_penalty(model.encoder, inputs, method=self.method)


@dataclass(frozen=True)
class Penalized:
    """Objective ``loss(decode(h), targets) + weight · penalty(model, inputs, h)`` with ``h = encode(inputs)``.

    Parts: ``total``, ``recon`` (the loss, e.g. squared error per image) and ``penalty``
    (unweighted), so that :class:`aelab.train.History` shows both. Wrap it in
    :func:`aelab.objectives.denoising` to combine with corruption (the penalty then sees the
    corrupted inputs).
    """

    penalty: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    weight: float
    loss: Callable = squared_error_per_image

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> Parts:
        h = model.encode(inputs)  # (N, k)
        recon = self.loss(model.decode(h), targets)
        pen = self.penalty(model, inputs, h)
        if not isinstance(pen, torch.Tensor) or pen.ndim != 0:
            got = tuple(pen.shape) if isinstance(pen, torch.Tensor) else type(pen).__name__
            raise ValueError(f"the penalty must return a 0-dim tensor (averaged or summed over the batch), got {got}")
        return {"total": recon + self.weight * pen, "recon": recon, "penalty": pen}


def penalized(penalty: Callable, weight: float, loss: Callable = squared_error_per_image) -> Penalized:
    """Reconstruction loss plus ``weight`` times ``penalty``: an objective for :func:`aelab.train.fit`.

    Parameters
    ----------
    penalty : callable
        ``penalty(model, inputs, h) -> 0-dim tensor``, e.g. ``KLCode(rho=0.05)``,
        ``L1Code()``, ``Contractive()``.
    weight : float
        λ (or β), >= 0.
    loss : callable
        ``loss(x_hat, targets)``; default squared error per image.

    Returns
    -------
    Penalized

    Raises
    ------
    TypeError
        If ``penalty`` or ``loss`` is not callable, or ``weight`` not a number.
    ValueError
        If ``weight`` is not a finite number >= 0.
    """
    if not callable(penalty) or not callable(loss):
        raise TypeError("penalty must be callable as penalty(model, inputs, h) and loss as loss(x_hat, x)")
    weight = _validation.real(weight, "weight", low=0.0)
    return Penalized(penalty, weight, loss)
