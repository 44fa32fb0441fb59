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

__all__ = ["SparseAutoencoder", "topk_activation", "sae_loss", "fit_sae", "ACTIVATIONS"]

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


def fit_sae(model: SparseAutoencoder, x: torch.Tensor, *, l1: float = 0.0, steps: int = 2000,
            batch_size: int = 256, lr: float = 3e-3, seed: int = 0) -> list[float]:
    """Train a sparse autoencoder with Adam on :func:`sae_loss`, renormalizing the decoder after each step.

    Parameters
    ----------
    model : SparseAutoencoder
    x : torch.Tensor
        ``(N, D)`` float training inputs.
    l1 : float
        λ of :func:`sae_loss` (0 for TopK).
    steps, batch_size : int
        Optimizer steps and inputs per step (minibatches drawn with replacement).
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the minibatch draws (a private generator).

    Returns
    -------
    list of float
        The loss at each step.

    Raises
    ------
    TypeError, ValueError
        On a wrong argument.
    """
    steps = _validation.integer(steps, "steps", minimum=1)
    batch_size = _validation.integer(batch_size, "batch_size", minimum=1)
    lr = _validation.real(lr, "lr", low=0.0, low_open=True)
    g = torch.Generator().manual_seed(_validation.seed(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    return optimize_steps(lambda idx: sae_loss(model, x[idx], l1), random_rows(len(x), batch_size, steps, g), opt,
                          after_step=model.normalize_decoder)
