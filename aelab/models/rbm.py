"""The restricted Boltzmann machine (lecture 05): Bernoulli visible and hidden units, CD-k.

Smolensky (1986), Hinton (2002) "Training products of experts by minimizing contrastive
divergence"; Hinton, Osindero & Teh (2006) and Hinton & Salakhutdinov (2006) stack RBMs to
pretrain a deep autoencoder. The recipe followed here is Hinton's "A practical guide to training
restricted Boltzmann machines" (UTML TR 2010-003), section 3: the data drive *sampled* binary
hidden states, the reconstruction uses *probabilities* for the visible units, and the negative
statistics use the hidden *probabilities* of the reconstruction.

Energy of a joint configuration (``v`` visible, ``h`` hidden, both binary)::

    E(v, h) = -b_v·v - b_h·h - hᵀ W v                     (W: (n_hidden, n_visible))

and the free energy of ``v`` (the hidden units summed out)::

    F(v) = -b_v·v - Σ_j softplus(b_h,j + W_j·v),   p(v) = exp(-F(v)) / Z.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import _validation
from ..errors import TrainingDiverged
from .base import code_size_argument
from .layers import check_input, check_size

__all__ = ["RBM", "CDStatistics"]


def _check_unit_range(v: torch.Tensor, what: str) -> None:
    """Raise ValueError unless every value of ``v`` is a finite number in [0, 1]."""
    if v.numel() and (not _validation.all_finite(v) or v.min() < 0 or v.max() > 1):
        raise ValueError(f"{what}: visible values must lie in [0, 1] and be finite (binary data or grey levels read "
                         f"as probabilities), got values in [{float(v.min()):.3g}, {float(v.max()):.3g}]")


class CDStatistics(dict):
    """The CD-k estimate of the log-likelihood gradient: ``{"W", "b_visible", "b_hidden"}``.

    Each value has its parameter's shape and is ``<positive statistics> − <negative
    statistics>`` averaged over the batch (an *ascent* direction: add ``lr`` times it). The
    attribute ``reconstruction`` holds the visible probabilities after k Gibbs steps ``(N, n_visible)``.
    """

    reconstruction: torch.Tensor


class RBM(nn.Module):
    """A Bernoulli–Bernoulli restricted Boltzmann machine.

    Parameters
    ----------
    n_visible : int
        Number of visible units (784 for MNIST pixels), a positive int.
    code_size : int
        Number of hidden units (the code of an RBM used as one layer of an encoder), a positive int.
    seed : int
        Seeds the initial weights: ``W ~ N(0, 0.01²)``, biases zero (Hinton's guide, section 8).
    n_hidden : int, optional
        Deprecated alias of ``code_size`` (``DeprecationWarning``).

    The RBM is an energy model, not an autoencoder: it does not inherit
    :class:`aelab.models.Autoencoder`, though ``encode``/``decode`` (the conditional
    probabilities) let it stand as one layer of an unrolled stack.

    Attributes
    ----------
    W : nn.Parameter, ``(n_hidden, n_visible)``
    b_visible : nn.Parameter, ``(n_visible,)``
    b_hidden : nn.Parameter, ``(n_hidden,)``
    n_hidden : int — the number of hidden units (``code_size``)
    code_size : int — ``n_hidden``

    Inputs are flat ``(N, n_visible)`` float tensors with values in [0, 1] (grey levels are read
    as probabilities, as Hinton & Salakhutdinov did with MNIST pixels).

    Raises
    ------
    TypeError, ValueError
        On a size that is not a positive integer, or a seed that is not a non-negative integer.
    """

    def __init__(self, n_visible: int, code_size: int | None = None, *, seed: int = 0, n_hidden: int | None = None):
        super().__init__()
        owner = type(self).__name__
        self.n_visible = check_size(n_visible, "n_visible", owner=owner)
        self.n_hidden = code_size_argument(owner, code_size, n_hidden=n_hidden)
        g = torch.Generator().manual_seed(_validation.seed(seed, f"{owner}: seed"))
        self.W = nn.Parameter(0.01 * torch.randn(self.n_hidden, self.n_visible, generator=g))
        self.b_visible = nn.Parameter(torch.zeros(self.n_visible))
        self.b_hidden = nn.Parameter(torch.zeros(self.n_hidden))

    @property
    def code_size(self) -> int:
        """The number of hidden units (``n_hidden``)."""
        return self.n_hidden

    def _check_v(self, v: torch.Tensor, what: str) -> None:
        check_input(v, (self.n_visible,), what, like=self.W)

    def hidden_probs(self, v: torch.Tensor) -> torch.Tensor:
        """``p(h_j = 1 | v) = σ(b_h + W v)``: ``(N, n_visible) -> (N, n_hidden)``.

        Raises
        ------
        TypeError, ValueError
            If ``v`` is not a float tensor ``(N, n_visible)`` of the model's dtype and device.
        """
        self._check_v(v, "RBM.hidden_probs")
        return torch.sigmoid(F.linear(v, self.W, self.b_hidden))

    def visible_probs(self, h: torch.Tensor) -> torch.Tensor:
        """``p(v_i = 1 | h) = σ(b_v + Wᵀ h)``: ``(N, n_hidden) -> (N, n_visible)``.

        Raises
        ------
        TypeError, ValueError
            If ``h`` is not a float tensor ``(N, n_hidden)`` of the model's dtype and device.
        """
        check_input(h, (self.n_hidden,), "RBM.visible_probs", like=self.W, model_input=False)
        return torch.sigmoid(F.linear(h, self.W.t(), self.b_visible))

    # an RBM used as one layer of an encoder / decoder (lecture 05's unrolling)
    encode = hidden_probs
    decode = visible_probs

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """Mean-field reconstruction ``visible_probs(hidden_probs(v))``, ``(N, n_visible)``."""
        return self.visible_probs(self.hidden_probs(v))

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``E(v, h) = −b_v·v − b_h·h − hᵀWv`` per example, ``(N,)``."""
        self._check_v(v, "RBM.energy")
        check_input(h, (self.n_hidden,), "RBM.energy (h)", like=self.W, model_input=False)
        if h.shape[0] != v.shape[0]:
            raise ValueError(f"RBM.energy expects as many hidden rows as visible rows, got {h.shape[0]} and {v.shape[0]}")
        return -(v @ self.b_visible) - (h @ self.b_hidden) - ((h @ self.W) * v).sum(dim=1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """``F(v) = −b_v·v − Σ_j softplus(b_h,j + W_j·v)`` per example, ``(N,)`` (nats).

        ``exp(−F(v)) = Σ_h exp(−E(v, h))``: the hidden units summed out in closed form.
        """
        self._check_v(v, "RBM.free_energy")
        return -(v @ self.b_visible) - F.softplus(F.linear(v, self.W, self.b_hidden)).sum(dim=1)

    @torch.no_grad()
    def contrastive_divergence(self, v: torch.Tensor, k: int = 1, *, sample_visible: bool = False,
                               generator: torch.Generator | None = None) -> CDStatistics:
        """The CD-k gradient estimate (Hinton 2002) on a batch, without changing the model.

        Positive phase: ``p_h0 = p(h | v)``, ``h0 ~ p_h0``. Then k Gibbs steps: ``v_k =
        p(v | h_{k−1})`` (probabilities, not samples, unless ``sample_visible``), ``p_hk = p(h | v_k)``,
        and ``h_k`` sampled for the next step. Statistics::

            ΔW = (p_h0ᵀ v − p_hkᵀ v_k) / N,  Δb_v = mean(v − v_k),  Δb_h = mean(p_h0 − p_hk)

        Parameters
        ----------
        v : torch.Tensor, ``(N, n_visible)``, values in [0, 1]
        k : int
            Gibbs steps, >= 1.
        sample_visible : bool
            Sample binary visible states in the Gibbs chain instead of using their probabilities.
            Hinton's recipe uses probabilities (less noise, slightly biased); with samples, the
            negative statistics tend to the model's expectation as k grows (the exact
            log-likelihood gradient, which the tests check by enumeration on a tiny RBM).
        generator : torch.Generator, optional
            For the Bernoulli samples of the hidden units.

        Returns
        -------
        CDStatistics
            An ascent direction of the log-likelihood; ``.reconstruction`` is ``v_k``.

        Raises
        ------
        TypeError
            If ``k`` is not an integer (NumPy integers accepted), or ``v`` not a float tensor of
            the model's dtype.
        ValueError
            If ``k < 1``, ``v`` is empty or leaves [0, 1].
        aelab.train.TrainingDiverged
            If the RBM's weights hold NaN or infinite values (a learning rate too large for
            :meth:`cd_step`), instead of torch's "Expected p_in >= 0" from the sampler.
        """
        k = _validation.integer(k, "RBM.contrastive_divergence: k", minimum=1)
        self._check_v(v, "RBM.contrastive_divergence")
        if v.shape[0] == 0:
            raise ValueError("RBM.contrastive_divergence: v holds no examples (shape (0, n_visible)); "
                             "the statistics are averages over the batch")
        _check_unit_range(v, "RBM.contrastive_divergence")
        p_h0 = self.hidden_probs(v)
        if bool(torch.isnan(p_h0).any()):  # NaN weights: torch.bernoulli would fail with "Expected p_in >= 0"
            raise TrainingDiverged("RBM.contrastive_divergence: the RBM's weights hold NaN or infinite values (a "
                                   "learning rate too large diverged earlier); rebuild the RBM and lower lr")
        h = torch.bernoulli(p_h0, generator=generator)
        for _ in range(k):
            v_k = self.visible_probs(h)
            if sample_visible:
                v_k = torch.bernoulli(v_k, generator=generator)
            p_hk = self.hidden_probs(v_k)
            h = torch.bernoulli(p_hk, generator=generator)
        n = v.shape[0]
        stats = CDStatistics(W=(p_h0.t() @ v - p_hk.t() @ v_k) / n, b_visible=(v - v_k).mean(dim=0),
                             b_hidden=(p_h0 - p_hk).mean(dim=0))
        stats.reconstruction = v_k
        return stats

    @torch.no_grad()
    def cd_step(self, v: torch.Tensor, lr: float = 0.05, k: int = 1, *,
                generator: torch.Generator | None = None) -> float:
        """One CD-k update ``θ ← θ + lr · Δθ``; returns the batch's squared error per image.

        The error is ``Σ_i (v_i − v_k,i)²`` averaged over the batch (the reconstruction of the
        last Gibbs step), the quantity Hinton's guide says to watch but not to trust.

        Raises
        ------
        TypeError
            If ``lr`` is not a number (NumPy scalars accepted).
        ValueError
            If ``lr`` is not a positive finite number, or as :meth:`contrastive_divergence`.
        aelab.train.TrainingDiverged
            If the update made a weight NaN or infinite (the learning rate is too large): the
            message names ``lr``.
        """
        lr = _validation.real(lr, "RBM.cd_step: lr", low=0.0, low_open=True)
        stats = self.contrastive_divergence(v, k, generator=generator)
        for name, param in (("W", self.W), ("b_visible", self.b_visible), ("b_hidden", self.b_hidden)):
            param.add_(lr * stats[name])  # lr * Δθ, not alpha=lr: an lr beyond float32's range gives inf, not an error
        if not all(_validation.all_finite(p) for p in (self.W, self.b_visible, self.b_hidden)):
            raise TrainingDiverged(f"RBM.cd_step diverged: a weight became NaN or infinite after the update with "
                                   f"lr={lr:g}; lower the learning rate (Hinton's guide starts at 0.01-0.1)")
        return float((v - stats.reconstruction).pow(2).sum(dim=1).mean())

    @torch.no_grad()
    def pseudo_log_likelihood(self, v: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Stochastic pseudo-log-likelihood per example, ``(N,)`` (nats), as scikit-learn's
        ``BernoulliRBM.score_samples``: ``n_visible · log σ(F(ṽ) − F(v))`` where ``ṽ`` is ``v``
        with one randomly chosen unit flipped (``v`` is binarized at 0.5 first).
        """
        self._check_v(v, "RBM.pseudo_log_likelihood")
        _check_unit_range(v, "RBM.pseudo_log_likelihood")
        v = (v > 0.5).to(v.dtype)
        idx = torch.randint(self.n_visible, (v.shape[0],), generator=generator, device=v.device)
        flipped = v.clone()
        rows = torch.arange(v.shape[0], device=v.device)
        flipped[rows, idx] = 1 - flipped[rows, idx]
        return self.n_visible * F.logsigmoid(self.free_energy(flipped) - self.free_energy(v))

    def log_partition(self) -> torch.Tensor:
        """``log Z = log Σ_v exp(−F(v))`` by enumerating all ``2^n_visible`` visible states (a scalar, nats).

        Only for tiny RBMs (lecture 05 and the tests compare CD-k with the exact gradient, which
        ``torch.autograd.grad`` of :meth:`log_likelihood` gives).

        Raises
        ------
        ValueError
            If ``n_visible > 20`` (over a million states).
        """
        if self.n_visible > 20:
            raise ValueError(f"RBM.log_partition enumerates 2^n_visible states; n_visible={self.n_visible} is too "
                             "many (at most 20)")
        bits = torch.arange(2 ** self.n_visible, device=self.W.device)
        states = ((bits[:, None] >> torch.arange(self.n_visible, device=self.W.device)) & 1).to(self.W.dtype)
        return torch.logsumexp(-self.free_energy(states), 0)

    def log_likelihood(self, v: torch.Tensor) -> torch.Tensor:
        """Exact ``log p(v) = −F(v) − log Z`` per example, ``(N,)`` (nats); tiny RBMs only (see :meth:`log_partition`)."""
        return -self.free_energy(v) - self.log_partition()
