"""The sparse autoencoder as a dictionary learner (lecture 08): ReLU + L1, or TopK.

Encoder ``f(x) = σ(W_e (x − b_d) + b_e)``, decoder ``x̂ = W_d f + b_d`` (Bricken et al. 2023,
"Towards Monosemanticity"; Cunningham et al. 2023), with ``σ`` a ReLU trained under an L1 penalty
or TopK, which keeps the k largest pre-activations of each input (Gao et al. 2024, "Scaling and
evaluating sparse autoencoders", eq. 2). Each decoder column ``W_d[:, l]`` is latent ``l``'s
dictionary direction.

Why unit-norm decoder columns: the L1 penalty ``λ Σ_l |f_l|`` can be made as small as one likes
without changing ``x̂`` by scaling a latent down (``f_l → f_l / c``) and its decoder column up
(``W_d[:, l] → c W_d[:, l]``). The penalty then measures nothing. Either keep every column at
length 1 (:meth:`SparseAutoencoder.normalize_decoder` after each optimizer step, as
:func:`fit_sae` does) or weight each latent's L1 by its column's length, ``Σ_l |f_l| ‖W_d[:, l]‖``
(Anthropic's April 2024 update), which is invariant to the rescaling; :func:`sae_loss` does the
latter, so it is correct in both cases.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _validation
from ._steps import optimize_steps, random_rows
from .base import Autoencoder
from .layers import check_size, resolve_input_shape

__all__ = ["SparseAutoencoder", "topk_activation", "sae_loss", "auxk_loss", "fit_sae", "ACTIVATIONS"]

#: The latent activations a :class:`SparseAutoencoder` can have.
ACTIVATIONS = ("relu", "topk")


def topk_activation(pre: torch.Tensor, k: int) -> torch.Tensor:
    """TopK: keep each row's ``k`` largest pre-activations (then ReLU), zero the rest (Gao et al. 2024, eq. 2).

    ``f = ReLU(TopK(pre))``: per input (row), not per batch; negative values among the top k are
    zeroed by the ReLU, so a row has at most ``k`` non-zero entries. Ties are broken by
    ``torch.topk`` (exactly ``k`` entries are kept).

    Parameters
    ----------
    pre : torch.Tensor
        ``(N, L)`` float pre-activations.
    k : int
        ``1 <= k <= L``.

    Returns
    -------
    torch.Tensor
        ``(N, L)``, same dtype, >= 0, at most ``k`` non-zeros per row; gradients flow to the kept entries.

    Raises
    ------
    TypeError
        If ``pre`` is not a floating-point tensor or ``k`` not an integer.
    ValueError
        If ``pre`` is not 2-D or ``k`` is outside ``[1, L]``.
    """
    _validation.tensor(pre, "pre", ndim=2, floating=True)
    k = _validation.integer(k, "k", minimum=1, maximum=pre.shape[1])
    values, indices = pre.topk(k, dim=1)
    return torch.zeros_like(pre).scatter(1, indices, values.relu())


class SparseAutoencoder(Autoencoder):
    """A sparse autoencoder: ``f = σ(W_e (x − b_d) + b_e)``, ``x̂ = W_d f + b_d`` with unit-norm columns of ``W_d``.

    Bricken et al. (2023), Gao et al. (2024, eq. 1–2). ``σ`` is a ReLU (sparsity from an L1 penalty,
    :func:`sae_loss`) or TopK (:func:`topk_activation`, sparsity by construction). The decoder's
    columns start at unit length, the encoder at the decoder's transpose and the biases at 0 (Gao
    et al. 2024, §2.3); :meth:`normalize_decoder` restores unit columns after an optimizer step.

    Parameters
    ----------
    n_input : int
        Input dimension D.
    code_size : int
        Number of latents L (the dictionary size; L > D for an overcomplete dictionary).
    activation : {"relu", "topk"}
    k : int, optional
        Active latents per input for ``"topk"`` (required there, ``1 <= k <= L``); must be None for ``"relu"``.
    seed : int
        Seed of the initial weights (a private generator; torch's global RNG is not touched).
    input_shape : tuple of int, optional
        Shape of one example (its product must be ``n_input``); default ``(n_input,)``. Inputs are
        flattened to ``(N, D)`` before the encoder and the decoder's output reshaped back.

    Attributes
    ----------
    encoder_weight : nn.Parameter, ``(L, D)``
    encoder_bias : nn.Parameter, ``(L,)``
    decoder_weight : nn.Parameter, ``(D, L)`` — column ``l`` is latent ``l``'s direction
    decoder_bias : nn.Parameter, ``(D,)``

    Raises
    ------
    TypeError
        If a size, ``k`` or ``seed`` is not an integer.
    ValueError
        If a size is below 1, ``activation`` is unknown, or ``k`` is missing, out of range or given for ``"relu"``.
    """

    def __init__(self, n_input: int, code_size: int, *, activation: str = "relu", k: int | None = None,
                 seed: int = 0, input_shape=None):
        owner = type(self).__name__
        n_input = check_size(n_input, "n_input", owner=owner)
        code_size = check_size(code_size, "code_size", owner=owner)
        super().__init__(code_size=code_size, input_shape=resolve_input_shape(input_shape, n_input, owner=owner))
        self.activation = _validation.choice(activation, f"{owner}: activation", ACTIVATIONS)
        if self.activation == "topk":
            if k is None:
                raise ValueError(f"{owner}: activation='topk' needs k= (active latents per input)")
            k = _validation.integer(k, f"{owner}: k", minimum=1, maximum=code_size)
        elif k is not None:
            raise ValueError(f"{owner}: k= is for activation='topk'; a ReLU SAE is made sparse by the L1 penalty")
        self.k = k
        g = torch.Generator().manual_seed(_validation.seed(seed))
        w = torch.randn(n_input, code_size, generator=g)
        w = w / w.norm(dim=0, keepdim=True)
        self.decoder_weight = nn.Parameter(w)
        self.encoder_weight = nn.Parameter(w.T.clone())
        self.encoder_bias = nn.Parameter(torch.zeros(code_size))
        self.decoder_bias = nn.Parameter(torch.zeros(n_input))

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """``W_e (x − b_d) + b_e``, ``(N, L)``, before the ReLU/TopK (checked input)."""
        self.check_input(x, f"{type(self).__name__}.pre_activations")
        return (x.flatten(1) - self.decoder_bias) @ self.encoder_weight.T + self.encoder_bias

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        pre = (x.flatten(1) - self.decoder_bias) @ self.encoder_weight.T + self.encoder_bias   # (N, L)
        return pre.relu() if self.activation == "relu" else topk_activation(pre, self.k)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.decoder_weight.T + self.decoder_bias).reshape(len(z), *self.input_shape)  # (N, *input_shape)

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        """Rescale every decoder column to length 1 in place (call after each optimizer step)."""
        self.decoder_weight /= self.decoder_weight.norm(dim=0, keepdim=True).clamp_min(1e-12)


def sae_loss(model: SparseAutoencoder, x: torch.Tensor, l1: float = 0.0) -> torch.Tensor:
    """``mean_n ‖x_n − x̂_n‖² + λ · mean_n Σ_l f_l(x_n) ‖W_d[:, l]‖``: reconstruction plus decoder-norm-weighted L1.

    The squared error is summed over dimensions and averaged over inputs; the L1 of each latent is
    weighted by its decoder column's length so that rescaling a latent against its column cannot
    lower the penalty (Anthropic, "Towards Monosemanticity", 2023 and its April 2024 update). For a
    TopK SAE pass ``l1=0`` (Gao et al. 2024 use no penalty).

    Parameters
    ----------
    model : SparseAutoencoder
    x : torch.Tensor
        ``(N, D)`` float inputs of the model's dtype.
    l1 : float
        λ >= 0.

    Returns
    -------
    torch.Tensor
        0-d, differentiable.

    Raises
    ------
    TypeError, ValueError
        On a wrong input (as :meth:`SparseAutoencoder.encode`) or a negative or non-finite ``l1``.
    """
    l1 = _validation.real(l1, "l1", low=0.0)
    f = model.encode(x)
    x_hat = model.decode(f)
    recon = (x - x_hat).pow(2).flatten(1).sum(1).mean()
    if l1 == 0:
        return recon
    return recon + l1 * (f * model.decoder_weight.norm(dim=0)).sum(1).mean()


def auxk_loss(model: SparseAutoencoder, x: torch.Tensor, x_hat: torch.Tensor, dead: torch.Tensor, k_aux: int,
              scale: float = 1.0) -> torch.Tensor:
    """Gao et al.'s (2024, §A.2) auxiliary TopK loss: explain the residual with the top pre-activations of dead latents.

    With the residual ``e = x − x̂`` (``x̂`` detached: the term does not pull on the main reconstruction) and
    ``ê = W_d z``, where ``z = ReLU(TopK_{k_aux}(pre))`` keeps each input's ``k_aux`` largest pre-activations
    ``W_e (x − b_d) + b_e`` **among the dead latents only** (fewer if fewer are dead; no decoder bias),
    this returns

        ``scale · Σ_n ‖e_n − ê_n‖² / Σ_n ‖e_n‖²``  (the sums run over the batch and the dimensions).

    The ratio is a normalized MSE of the residual (1: ``ê`` explains nothing of it), as Gao et al. normalize
    theirs by the residual's scale — they divide per input, this divides per batch, which cannot blow up
    on an input reconstructed almost exactly. :func:`fit_sae` passes ``scale = V``, the training set's mean
    squared distance to its mean: Gao et al.'s main loss is the MSE divided by ``V``, ours is the raw MSE,
    so multiplying their auxiliary term by ``V`` keeps the two terms in their ratio. The gradient reaches
    the dead latents' encoder rows and biases and their decoder columns: a dead latent whose
    pre-activations are not the largest of the dead ones still gets none, but each step picks the dead
    latents that would best explain what the live ones miss. Returns 0 (a graph-connected zero) when no
    latent is dead or the residual is 0.

    Parameters
    ----------
    model : SparseAutoencoder
    x : torch.Tensor
        ``(N, *input_shape)`` float inputs of the model's dtype.
    x_hat : torch.Tensor
        ``(N, *input_shape)`` the model's reconstruction of ``x`` (detached here).
    dead : torch.Tensor
        ``(L,)`` bool: which latents count as dead (e.g. inactive for many steps).
    k_aux : int
        ``k_aux >= 1`` auxiliary latents per input (Gao et al. pick a power of 2 near ``d_model / 2``).
    scale : float
        ``>= 0``, multiplies the normalized error (see above).

    Returns
    -------
    torch.Tensor
        0-d, differentiable, ``>= 0``.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`SparseAutoencoder`, ``dead`` not a bool tensor, ``k_aux`` not an integer.
    ValueError
        If shapes disagree, ``k_aux < 1`` or ``scale`` is negative or not finite.
    """
    if not isinstance(model, SparseAutoencoder):
        raise TypeError(f"auxk_loss: model must be a SparseAutoencoder, got {type(model).__name__}")
    model.check_input(x, "auxk_loss")
    if not isinstance(x_hat, torch.Tensor) or x_hat.shape != x.shape:
        got = tuple(x_hat.shape) if isinstance(x_hat, torch.Tensor) else type(x_hat).__name__
        raise ValueError(f"auxk_loss: x_hat must be a tensor of x's shape {tuple(x.shape)}, got {got}")
    if not isinstance(dead, torch.Tensor) or dead.dtype != torch.bool:
        raise TypeError(f"auxk_loss: dead must be a bool tensor (L,), got "
                        f"{dead.dtype if isinstance(dead, torch.Tensor) else type(dead).__name__}")
    if dead.shape != (model.code_size,):
        raise ValueError(f"auxk_loss: dead must have shape ({model.code_size},), got {tuple(dead.shape)}")
    k_aux = _validation.integer(k_aux, "k_aux", minimum=1)
    scale = _validation.real(scale, "scale", low=0.0)
    return _auxk(model.pre_activations(x), model, x, x_hat, dead, k_aux, scale)


def _auxk(pre, model, x, x_hat, dead, k_aux, scale):
    e = (x - x_hat.detach()).flatten(1)                                             # (N, D) residual
    n_dead = int(dead.sum())
    denom = e.pow(2).sum()
    if n_dead == 0 or denom == 0:
        return pre.sum() * 0.0
    masked = pre.masked_fill(~dead, float("-inf"))
    values, indices = masked.topk(min(k_aux, n_dead), dim=1)
    z = torch.zeros_like(pre).scatter(1, indices, values.relu())                    # (N, L), dead latents only
    e_hat = z @ model.decoder_weight.T                                              # (N, D), no decoder bias
    return scale * (e - e_hat).pow(2).sum() / denom


def fit_sae(model: SparseAutoencoder, x: torch.Tensor, *, l1: float = 0.0, steps: int = 2000,
            batch_size: int = 256, lr: float = 3e-3, seed: int = 0, aux_k: int | None = None,
            aux_coef: float = 1 / 32, dead_steps: int = 50, return_inactive: bool = False):
    """Train a sparse autoencoder with Adam on :func:`sae_loss`, renormalizing the decoder after each step.

    With ``aux_k`` set, Gao et al.'s (2024, §A.2) auxiliary TopK loss revives dead latents: each step
    minimizes ``sae_loss + aux_coef · auxk_loss(..., dead, aux_k, scale=V)``, where a latent is *dead* when
    it has not been active (``f_l > 0`` on any input of a minibatch) for more than ``dead_steps``
    consecutive steps, and ``V`` is the mean squared distance of ``x``'s rows to their mean (see
    :func:`auxk_loss` for why). Gao et al. use ``aux_coef = 1/32``; their released code (``openai/sparse_autoencoder``,
    ``train.py``) counts inactivity in tokens (10M) rather than steps. The per-latent counter of
    steps since last activation is updated before the auxiliary term, as in their code. With ``aux_k=None`` (the default) training is bit-for-bit what it
    was before the option existed (same losses, same weights): the counter is not even kept.

    Parameters
    ----------
    model : SparseAutoencoder
    x : torch.Tensor
        ``(N, *input_shape)`` float training inputs of the model's dtype and device.
    l1 : float
        λ of :func:`sae_loss` (0 for TopK).
    steps, batch_size : int
        Optimizer steps and inputs per step (minibatches drawn with replacement).
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the minibatch draws (a private generator).
    aux_k : int, optional
        ``k_aux >= 1``: turn the auxiliary loss on with this many auxiliary latents per input.
    aux_coef : float
        α ``>= 0``, the auxiliary loss's weight (1/32 as in Gao et al.).
    dead_steps : int
        ``>= 1``: steps without activation after which a latent counts as dead.
    return_inactive : bool
        Also return the final ``(L,)`` long tensor of steps since each latent was last active (only with
        ``aux_k``; without it the counter is not kept).

    Returns
    -------
    list of float
        The loss at each step (including the auxiliary term when it is on); with ``return_inactive``,
        ``(history, steps_since_active)``.

    Raises
    ------
    TypeError, ValueError
        On a wrong argument (a model that is not a :class:`SparseAutoencoder`, inputs of the wrong
        shape or dtype, a non-positive size, ``return_inactive`` without ``aux_k``).
    """
    if not isinstance(model, SparseAutoencoder):
        raise TypeError(f"fit_sae: model must be a SparseAutoencoder, got {type(model).__name__}")
    model.check_input(x, "fit_sae")
    steps = _validation.integer(steps, "steps", minimum=1)
    batch_size = _validation.integer(batch_size, "batch_size", minimum=1)
    lr = _validation.real(lr, "lr", low=0.0, low_open=True)
    return_inactive = _validation.flag(return_inactive, "return_inactive")
    g = torch.Generator().manual_seed(_validation.seed(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rows = random_rows(len(x), batch_size, steps, g)
    if aux_k is None:
        if return_inactive:
            raise ValueError("fit_sae: return_inactive=True needs aux_k= (the counter is kept only with the "
                             "auxiliary loss)")
        return optimize_steps(lambda idx: sae_loss(model, x[idx], l1), rows, opt, after_step=model.normalize_decoder)
    aux_k = _validation.integer(aux_k, "aux_k", minimum=1, maximum=model.code_size)
    aux_coef = _validation.real(aux_coef, "aux_coef", low=0.0)
    dead_steps = _validation.integer(dead_steps, "dead_steps", minimum=1)
    l1 = _validation.real(l1, "l1", low=0.0)
    with torch.no_grad():
        xs = x.flatten(1).double()
        scale = float((xs - xs.mean(0)).pow(2).sum(1).mean())
    inactive = torch.zeros(model.code_size, dtype=torch.long, device=x.device)

    def loss_of_rows(idx):
        xb = x[idx]
        pre = model.pre_activations(xb)                                             # (B, L)
        f = pre.relu() if model.activation == "relu" else topk_activation(pre, model.k)
        x_hat = model.decode(f)
        loss = (xb - x_hat).pow(2).flatten(1).sum(1).mean()
        if l1 != 0:
            loss = loss + l1 * (f * model.decoder_weight.norm(dim=0)).sum(1).mean()
        with torch.no_grad():
            fired = (f > 0).any(0)
            inactive.add_(1).masked_fill_(fired, 0)
        return loss + aux_coef * _auxk(pre, model, xb, x_hat, inactive > dead_steps, aux_k, scale)

    history = optimize_steps(loss_of_rows, rows, opt, after_step=model.normalize_decoder)
    return (history, inactive.clone()) if return_inactive else history
