"""The vector-quantized VAE (lecture 09): an autoencoder whose code is a grid of codebook entries.

van den Oord, Vinyals & Kavukcuoglu (2017), "Neural Discrete Representation Learning" (arXiv:1711.00937):

1. a convolutional **encoder** turns a 28 × 28 digit into a 7 × 7 grid of ``D``-dimensional vectors ``z_e``;
2. :func:`vector_quantize` replaces each vector by its **nearest codebook entry** ``e_k`` (eq. 1-2), and
   passes the gradient straight through: ``z_q = z_e + sg[e_k − z_e]`` has the value ``e_k`` and the
   gradient of the identity with respect to ``z_e`` (``sg`` = stop-gradient, ``.detach()``);
3. a convolutional **decoder** maps the grid of codes to Bernoulli logits of the 784 pixels;
4. the loss (eq. 3) is ``−log p(x | z_q) + ‖sg[z_e] − e‖² + β ‖z_e − sg[e]‖²``: reconstruction, the
   **codebook loss** (moves the codes towards the encoder outputs assigned to them; :func:`vq_losses`) and
   the **commitment loss** (keeps the encoder near its codes), β = 0.25 as the paper.

Codes that no encoder output ever picks receive no gradient and stay *dead*. :class:`VectorQuantizer`
offers the two common remedies as keywords: ``restart_dead=True`` replaces a code unused for
``restart_every`` (5) training steps by a random encoder output of the current batch (as
``vector-quantize-pytorch``'s ``threshold_ema_dead_code``; Dhariwal et al. 2020, Jukebox, §2.3), and
``kmeans_init=True`` sets the codebook to k-means centroids of the first training batch's encoder outputs
(Łańcucki et al. 2020). The default initialization, uniform in ``[−1/K, 1/K]``, is the one of the common
PyTorch re-implementations and leaves many codes dead without a remedy.

A VQ-VAE's code of one image is ``H · W`` indices, each one of ``K``: at most ``H · W · log2 K`` bits (the
rate of a uniform code). :class:`CodePrior`, a small causal transformer over the grid in raster order,
models ``p(c) = Π_i p(c_i | c_<i)``; its negative log-likelihood in bits is the length of the code under
it (a tighter rate), and sampling from it and decoding generates digits (the paper's §4.1 used a PixelCNN).
:func:`code_marginals` is the independent baseline: one categorical per grid position.

Conventions: images ``(N, 1, 28, 28)`` float32 in [0, 1]; vectors passed to :func:`vector_quantize` are
channel-**last** ``(..., D)``; the model's grids are channel-first ``(N, D, 7, 7)``; code indices are int64
``(N, 7, 7)``. Losses are in nats per image (reconstruction summed over pixels, averaged over the batch).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validation
from ._steps import optimize_steps
from .base import Autoencoder

__all__ = ["vector_quantize", "vq_losses", "VectorQuantizer", "VQVAE", "CodePrior", "code_marginals",
           "fit_vqvae", "fit_prior", "GRID"]

#: The code grid of a 28 × 28 digit after two stride-2 convolutions.
GRID = (7, 7)


def _float_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (e.g. float32), got {x.dtype}")
    return x


def _check_codebook(z: torch.Tensor, codebook: torch.Tensor, owner: str) -> None:
    _float_tensor(z, f"{owner}: z")
    _float_tensor(codebook, f"{owner}: codebook")
    if codebook.dim() != 2 or codebook.shape[0] < 1:
        raise ValueError(f"{owner}: codebook must have shape (K, D) with K >= 1 codes, got {tuple(codebook.shape)}")
    if z.dim() < 1 or z.shape[-1] != codebook.shape[1]:
        raise ValueError(f"{owner}: z must hold vectors of the codebook's length D = {codebook.shape[1]} along its "
                         f"LAST axis (..., D), got shape {tuple(z.shape)} (a channel-first grid (N, D, H, W) needs "
                         "z.permute(0, 2, 3, 1))")
    if z.dtype != codebook.dtype:
        raise TypeError(f"{owner}: z and codebook must have the same dtype, got {z.dtype} and {codebook.dtype}")
    if z.device != codebook.device:
        raise ValueError(f"{owner}: z and codebook must be on the same device, got {z.device} and {codebook.device}")


def _nearest(flat: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """argmin_k ‖flat_n − e_k‖² for ``flat`` (M, D): ``(M,)`` int64, via ‖z‖² − 2 z·e + ‖e‖²."""
    dist = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.T + codebook.pow(2).sum(1))  # (M, K)
    return dist.argmin(1)


def vector_quantize(z: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest codebook entry of each vector, with the straight-through gradient (van den Oord et al. 2017, eq. 1-2).

    ``indices = argmin_k ‖z − e_k‖²`` (squared Euclidean distance, computed as ``‖z‖² − 2 z·e_k + ‖e_k‖²``;
    ties go to the lowest index), and ``quantized = z + (e[indices] − z).detach()``: its value is the codes
    ``e[indices]``, its gradient with respect to ``z`` is the identity (the decoder's gradient at the
    quantized vectors is copied to the encoder), and no gradient reaches the codebook through it — the
    codebook is trained by the codebook loss of :func:`vq_losses`.

    Parameters
    ----------
    z : torch.Tensor
        ``(..., D)`` float, channel-LAST vectors (a grid ``(N, H, W, D)``, or rows ``(M, D)``).
    codebook : torch.Tensor
        ``(K, D)``, the same dtype and device.

    Returns
    -------
    quantized : torch.Tensor
        ``(..., D)``, z's dtype.
    indices : torch.Tensor
        ``(...)`` int64 in ``[0, K)``.

    Raises
    ------
    TypeError
        If an argument is not a floating-point tensor, or their dtypes differ.
    ValueError
        If ``codebook`` is not ``(K, D)`` or ``z``'s last axis is not ``D``; if the devices differ.

    Examples
    --------
    >>> q, i = vector_quantize(torch.tensor([[0.9, 0.1]]), torch.eye(2))
    >>> i.tolist(), q.tolist()
    ([0], [[1.0, 0.0]])
    """
    _check_codebook(z, codebook, "vector_quantize")
    with torch.no_grad():
        indices = _nearest(z.detach().reshape(-1, z.shape[-1]), codebook.detach()).reshape(z.shape[:-1])  # (...)
    e = codebook.detach()[indices]                                  # (..., D), no path to the codebook
    return z + (e - z).detach(), indices


def vq_losses(z: torch.Tensor, codebook: torch.Tensor, indices: torch.Tensor, *,
              beta: float = 0.25) -> tuple[torch.Tensor, torch.Tensor]:
    """The codebook and commitment losses of a VQ-VAE (van den Oord et al. 2017, eq. 3, second and third terms).

    ``codebook_loss = mean ‖sg[z] − e‖²`` (gradient only to the codes ``e = codebook[indices]``: each moves
    towards the encoder outputs assigned to it) and ``commitment_loss = β · mean ‖z − sg[e]‖²`` (gradient
    only to ``z``: the encoder commits to its codes). ``‖·‖²`` is summed over the ``D`` components; the mean
    is over the vectors (grid positions and images). The paper: "β = 0.25" and the results "quite robust"
    to it in 0.1–2.0. (keras-io's ``vq_vae.py`` and ``vector-quantize-pytorch`` average over components too,
    a factor ``1/D`` smaller.)

    Parameters
    ----------
    z : torch.Tensor
        ``(..., D)`` float encoder outputs (channel-last).
    codebook : torch.Tensor
        ``(K, D)``.
    indices : torch.Tensor
        ``(...)`` integer (z's shape without the last axis), in ``[0, K)``: usually from :func:`vector_quantize`.
    beta : float
        Commitment weight >= 0.

    Returns
    -------
    codebook_loss, commitment_loss : torch.Tensor
        Scalars (squared distance per vector; the commitment loss already multiplied by β).

    Raises
    ------
    TypeError
        If ``z`` / ``codebook`` are not float tensors, ``indices`` not an integer tensor, ``beta`` not a number.
    ValueError
        On mismatched shapes, indices out of range, or ``beta < 0``.
    """
    _check_codebook(z, codebook, "vq_losses")
    beta = _validation.real(beta, "vq_losses: beta", low=0.0)
    if not isinstance(indices, torch.Tensor) or indices.is_floating_point() or indices.dtype == torch.bool:
        raise TypeError(f"vq_losses: indices must be an integer tensor (from vector_quantize), got "
                        f"{indices.dtype if isinstance(indices, torch.Tensor) else type(indices).__name__}")
    if tuple(indices.shape) != tuple(z.shape[:-1]):
        raise ValueError(f"vq_losses: indices must have z's shape without the last axis {tuple(z.shape[:-1])}, "
                         f"got {tuple(indices.shape)}")
    if indices.numel() and (indices.min() < 0 or indices.max() >= len(codebook)):
        raise ValueError(f"vq_losses: indices must lie in [0, {len(codebook)}), got "
                         f"[{int(indices.min())}, {int(indices.max())}]")
    e = codebook[indices.long()]                                    # (..., D)
    codebook_loss = (z.detach() - e).pow(2).sum(-1).mean()
    commitment_loss = beta * (z - e.detach()).pow(2).sum(-1).mean()
    return codebook_loss, commitment_loss


def _kmeans(x: torch.Tensor, k: int, iters: int = 10) -> torch.Tensor:
    """k-means (Lloyd) centroids of the rows of ``x`` (M, D), M >= k, started at k random rows; (k, D)."""
    centers = x[torch.randperm(len(x), device=x.device)[:k]].clone()
    for _ in range(iters):
        assign = _nearest(x, centers)                                               # (M,)
        sums = torch.zeros_like(centers).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).unsqueeze(1).to(x.dtype)     # (k, 1)
        centers = torch.where(counts > 0, sums / counts.clamp_min(1), centers)     # an empty cluster keeps its center
    return centers


class VectorQuantizer(nn.Module):
    """A codebook of ``K`` vectors of length ``D``, quantizing a channel-first grid with the straight-through gradient.

    ``forward(z)`` takes the encoder's grid ``(N, D, H, W)`` and returns ``(quantized, indices, vq_loss)``:
    the straight-through quantized grid ``(N, D, H, W)`` (:func:`vector_quantize`), the code indices
    ``(N, H, W)`` int64, and ``vq_loss = codebook_loss + β · commitment_loss`` (:func:`vq_losses`, per vector).

    Dead-code remedies (training mode only; both off gives the paper's plain VQ-VAE):

    - ``restart_dead=True``: the quantizer counts how often each code is picked; after every
      ``restart_every`` training forwards, each code not picked in them is replaced by a random encoder
      output of the next batch (without replacement), before that batch is quantized.
    - ``kmeans_init=True``: on the first training forward the codebook is set to the k-means centroids
      (10 Lloyd iterations) of that batch's encoder outputs.

    Randomness (the restarted vectors, k-means' starting rows) comes from torch's global generator, which
    :func:`fit_vqvae` seeds.

    Parameters
    ----------
    num_codes : int
        K >= 1.
    code_dim : int
        D >= 1.
    beta : float
        Commitment weight (default 0.25, the paper's).
    restart_dead : bool
        Restart unused codes (default False).
    restart_every : int
        Training forwards between restarts (default 5).
    kmeans_init : bool
        Initialize the codebook by k-means on the first training batch (default False).

    Attributes
    ----------
    codebook : nn.Parameter — ``(K, D)``, initialized uniform in ``[−1/K, 1/K]``
    usage : torch.Tensor — buffer ``(K,)`` int64, picks of each code since the last restart check
    restarted : int — codes restarted so far

    Raises
    ------
    TypeError, ValueError
        On a size that is not a positive integer, a negative ``beta``, or a flag that is not a bool.
    """

    def __init__(self, num_codes: int, code_dim: int, *, beta: float = 0.25, restart_dead: bool = False,
                 restart_every: int = 5, kmeans_init: bool = False):
        super().__init__()
        owner = type(self).__name__
        self.num_codes = _validation.integer(num_codes, f"{owner}: num_codes", minimum=1)
        self.code_dim = _validation.integer(code_dim, f"{owner}: code_dim", minimum=1)
        self.beta = _validation.real(beta, f"{owner}: beta", low=0.0)
        self.restart_dead = _validation.flag(restart_dead, f"{owner}: restart_dead")
        self.restart_every = _validation.integer(restart_every, f"{owner}: restart_every", minimum=1)
        self.kmeans_init = _validation.flag(kmeans_init, f"{owner}: kmeans_init")
        self.codebook = nn.Parameter(torch.empty(self.num_codes, self.code_dim).uniform_(-1 / self.num_codes,
                                                                                          1 / self.num_codes))
        self.register_buffer("usage", torch.zeros(self.num_codes, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(not self.kmeans_init))
        self.restarted = 0
        self._forwards = 0

    def extra_repr(self) -> str:
        return (f"num_codes={self.num_codes}, code_dim={self.code_dim}, beta={self.beta}, "
                f"restart_dead={self.restart_dead}, kmeans_init={self.kmeans_init}")

    def _check_grid(self, z) -> None:
        owner = type(self).__name__
        _float_tensor(z, f"{owner}: z")
        if z.dim() != 4 or z.shape[1] != self.code_dim:
            raise ValueError(f"{owner} expects a channel-first grid (N, {self.code_dim}, H, W), got shape "
                             f"{tuple(z.shape)}")

    @torch.no_grad()
    def restart_dead_codes(self, vectors: torch.Tensor) -> int:
        """Replace every code with ``usage == 0`` by a random row of ``vectors`` (M, D); reset ``usage``.

        Returns
        -------
        int
            The number of codes restarted (0 when all were used, or ``vectors`` is empty).
        """
        dead = torch.nonzero(self.usage == 0).flatten()
        n = min(len(dead), len(vectors))
        if n:
            rows = torch.randperm(len(vectors), device=vectors.device)[:n]
            self.codebook[dead[:n]] = vectors[rows].to(self.codebook.dtype)
        self.usage.zero_()
        self.restarted += n
        return n

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(N, D, H, W) -> (quantized (N, D, H, W), indices (N, H, W) int64, vq_loss scalar)``.

        Raises
        ------
        TypeError, ValueError
            If ``z`` is not a float grid ``(N, D, H, W)`` with this quantizer's ``D``.
        """
        self._check_grid(z)
        z_last = z.permute(0, 2, 3, 1)                                       # (N, H, W, D)
        if self.training:
            flat = z_last.detach().reshape(-1, self.code_dim)                # (N·H·W, D)
            if not bool(self.initialized):
                if len(flat) >= self.num_codes:
                    with torch.no_grad():
                        self.codebook.copy_(_kmeans(flat, self.num_codes))
                self.initialized.fill_(True)
            if self.restart_dead and self._forwards and self._forwards % self.restart_every == 0:
                self.restart_dead_codes(flat)                                # unused in the last restart_every
        quantized, indices = vector_quantize(z_last, self.codebook)         # (N, H, W, D), (N, H, W)
        if self.training:
            self.usage += torch.bincount(indices.flatten(), minlength=self.num_codes)
            self._forwards += 1
        codebook_loss, commitment_loss = vq_losses(z_last, self.codebook, indices, beta=self.beta)
        return quantized.permute(0, 3, 1, 2), indices, codebook_loss + commitment_loss


class VQVAE(Autoencoder):
    """A small VQ-VAE for 28 × 28 digits: conv encoder to a 7 × 7 grid, a codebook, conv decoder to Bernoulli logits.

    Encoder ``1×28×28 → c1×14×14 → c2×7×7 → D×7×7`` (4×4 convolutions of stride 2, padding 1, ReLU, then a
    1×1 convolution to the code dimension ``D``); :class:`VectorQuantizer` with ``K`` codes; decoder
    ``D×7×7 → c2×7×7 → c1×14×14 → 1×28×28`` (a 3×3 convolution, then 4×4 transposed convolutions of stride
    2), ending in the **logits** of a Bernoulli decoder (van den Oord et al. 2017, with the paper's
    residual stacks left out for a CPU).

    The :class:`Autoencoder` contract holds with ``code_size = D · 49``: ``encode(x)`` returns the quantized
    grid flattened channel-first ``(N, D·49)``, ``decode(z)`` pixel **probabilities** ``(N, 1, 28, 28)``
    (the sigmoid of the logits, as the other Bernoulli decoders of the course). The discrete code is
    :meth:`encode_indices` ``(N, 7, 7)`` and :meth:`decode_indices` turns it back into logits.

    Parameters
    ----------
    num_codes : int
        K, the codebook size (default 64).
    code_dim : int
        D, the length of each code vector (default 16).
    channels : tuple of two int
        ``(c1, c2)`` (default ``(16, 32)``).
    beta : float
        Commitment weight (default 0.25).
    restart_dead, restart_every, kmeans_init
        The quantizer's dead-code remedies, see :class:`VectorQuantizer` (default: none).

    Raises
    ------
    TypeError, ValueError
        On a size that is not a positive integer, or as :class:`VectorQuantizer`.

    Examples
    --------
    >>> m = VQVAE(num_codes=8, code_dim=4)
    >>> loss, parts, idx = m.forward_loss(torch.rand(2, 1, 28, 28).round())
    >>> idx.shape, sorted(parts)
    (torch.Size([2, 7, 7]), ['codebook', 'commitment', 'recon'])
    """

    def __init__(self, num_codes: int = 64, code_dim: int = 16, *, channels: tuple[int, int] = (16, 32),
                 beta: float = 0.25, restart_dead: bool = False, restart_every: int = 5, kmeans_init: bool = False):
        owner = type(self).__name__
        code_dim = _validation.integer(code_dim, f"{owner}: code_dim", minimum=1)
        if not isinstance(channels, (tuple, list)) or len(channels) != 2:
            raise ValueError(f"{owner}: channels must be a pair (c1, c2), got {channels!r}")
        c1, c2 = (_validation.integer(c, f"{owner}: channels[{i}]", minimum=1) for i, c in enumerate(channels))
        super().__init__(code_size=code_dim * GRID[0] * GRID[1], input_shape=(1, 28, 28))
        self.code_dim, self.channels = code_dim, (c1, c2)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(),     # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),    # (N, c2, 7, 7)
            nn.Conv2d(c2, code_dim, 1))                              # (N, D, 7, 7)
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta=beta, restart_dead=restart_dead,
                                         restart_every=restart_every, kmeans_init=kmeans_init)
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, c2, 3, padding=1), nn.ReLU(),                 # (N, c2, 7, 7)
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),    # (N, c1, 14, 14)
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1))                # (N, 1, 28, 28) logits

    @property
    def num_codes(self) -> int:
        """K, the codebook size."""
        return self.quantizer.num_codes

    def rate_bound_bits(self) -> float:
        """``H · W · log2 K``: the bits per image of the code written with a uniform (fixed-length) code."""
        return GRID[0] * GRID[1] * math.log2(self.num_codes)

    def encode_grid(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 28, 28) -> z_e (N, D, 7, 7)``: the encoder's continuous grid, before quantization."""
        self.check_input(x, f"{type(self).__name__}.encode_grid")
        return self.encoder(x)

    def encode_indices(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 28, 28) -> (N, 7, 7)`` int64: each grid vector's nearest code (no side effects, no gradient)."""
        with torch.no_grad():
            z_e = self.encode_grid(x).permute(0, 2, 3, 1)                  # (N, 7, 7, D)
            return vector_quantize(z_e, self.quantizer.codebook)[1]

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """``(N, 7, 7)`` integer codes ``-> (N, 1, 28, 28)`` Bernoulli logits.

        Raises
        ------
        TypeError, ValueError
            If ``indices`` is not an integer tensor ``(N, 7, 7)`` with values in ``[0, K)``.
        """
        _check_indices(indices, self.num_codes, f"{type(self).__name__}.decode_indices")
        e = self.quantizer.codebook[indices.long()].permute(0, 3, 1, 2)     # (N, D, 7, 7)
        return self.decoder(e)

    def forward_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """The VQ-VAE loss of eq. 3 in nats per image: ``(loss, parts, indices)``.

        ``loss = recon + 49 · (codebook + commitment)``: the Bernoulli negative log-likelihood
        ``−log p(x | z_q)`` summed over pixels, plus the two VQ terms summed over the 49 grid positions
        (each is a mean per vector), all averaged over the batch. ``parts`` holds the three terms
        (``"recon"`` nats per image; ``"codebook"``, ``"commitment"`` per vector, the latter with β).

        Parameters
        ----------
        x : torch.Tensor
            ``(N, 1, 28, 28)`` float targets in [0, 1] (binary for a true likelihood).

        Raises
        ------
        TypeError, ValueError
            On input of another dtype or shape than the model's.
        """
        self.check_input(x, f"{type(self).__name__}.forward_loss")
        z_e = self.encoder(x)                                               # (N, D, 7, 7)
        z_q, indices, _ = self.quantizer(z_e)                                # (N, D, 7, 7), (N, 7, 7)
        logits = self.decoder(z_q)                                           # (N, 1, 28, 28)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        codebook_loss, commitment_loss = vq_losses(z_e.permute(0, 2, 3, 1), self.quantizer.codebook, indices,
                                                   beta=self.quantizer.beta)
        positions = GRID[0] * GRID[1]
        loss = recon + positions * (codebook_loss + commitment_loss)
        return loss, {"recon": recon, "codebook": codebook_loss, "commitment": commitment_loss}, indices

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 28, 28) -> (N, D·49)``: the quantized grid (straight-through), flattened channel-first."""
        z_q, _, _ = self.quantizer(self.encoder(x))                          # (N, D, 7, 7)
        return z_q.flatten(1)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, D·49) -> (N, 1, 28, 28)`` pixel probabilities."""
        return torch.sigmoid(self.decoder(z.reshape(len(z), self.code_dim, *GRID)))


def _check_indices(indices, num_codes: int, owner: str, grid: tuple[int, int] = GRID) -> None:
    if not isinstance(indices, torch.Tensor) or indices.is_floating_point() or indices.dtype == torch.bool:
        got = indices.dtype if isinstance(indices, torch.Tensor) else type(indices).__name__
        raise TypeError(f"{owner}: indices must be an integer tensor (N, {grid[0]}, {grid[1]}), got {got}")
    if indices.dim() != 3 or tuple(indices.shape[1:]) != tuple(grid):
        raise ValueError(f"{owner}: indices must have shape (N, {grid[0]}, {grid[1]}), got {tuple(indices.shape)}")
    if indices.numel() and (indices.min() < 0 or indices.max() >= num_codes):
        raise ValueError(f"{owner}: indices must lie in [0, {num_codes}), got [{int(indices.min())}, "
                         f"{int(indices.max())}]")


class CodePrior(nn.Module):
    """An autoregressive prior over a grid of codes: a small causal transformer in raster order.

    ``p(c) = Π_i p(c_i | c_<i)`` over the ``L = H·W`` positions read row by row (van den Oord et al. 2017, §3.2,
    fit a PixelCNN; VQGAN, Esser et al. 2021, a transformer). Position ``i`` sees the embeddings of codes
    ``0 … i−1`` (shifted right behind a learned start vector) plus a learned position embedding; a causal
    attention mask hides later positions, so the logits for ``c_i`` do not depend on ``c_i`` or anything
    after it. Pre-norm :class:`torch.nn.TransformerEncoderLayer` blocks, no dropout.

    Parameters
    ----------
    num_codes : int
        K.
    grid : tuple of two int
        ``(H, W)`` (default ``(7, 7)``).
    dim, heads, depth : int
        Width (divisible by ``heads``), attention heads and blocks (defaults 32, 2, 2).

    Raises
    ------
    TypeError, ValueError
        On a size that is not a positive integer, or ``dim`` not divisible by ``heads``.
    """

    def __init__(self, num_codes: int, *, grid: tuple[int, int] = GRID, dim: int = 32, heads: int = 2,
                 depth: int = 2):
        super().__init__()
        owner = type(self).__name__
        self.num_codes = _validation.integer(num_codes, f"{owner}: num_codes", minimum=1)
        if not isinstance(grid, (tuple, list)) or len(grid) != 2:
            raise ValueError(f"{owner}: grid must be a pair (H, W), got {grid!r}")
        self.grid = tuple(_validation.integer(g, f"{owner}: grid[{i}]", minimum=1) for i, g in enumerate(grid))
        dim = _validation.integer(dim, f"{owner}: dim", minimum=1)
        heads = _validation.integer(heads, f"{owner}: heads", minimum=1)
        depth = _validation.integer(depth, f"{owner}: depth", minimum=1)
        if dim % heads:
            raise ValueError(f"{owner}: dim ({dim}) must be divisible by heads ({heads})")
        self.length = self.grid[0] * self.grid[1]
        self.embed = nn.Embedding(self.num_codes, dim)
        self.start = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(0.02 * torch.randn(1, self.length, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, self.num_codes)
        self.register_buffer("causal", torch.triu(torch.full((self.length, self.length), float("-inf")), 1))

    def forward(self, indices: torch.Tensor) -> torch.Tensor:
        """``(N, H, W)`` integer codes ``-> (N, K, H, W)`` logits of ``p(c_i | c_<i)`` at every position.

        Raises
        ------
        TypeError, ValueError
            If ``indices`` is not an integer tensor of the prior's grid with values in ``[0, K)``.
        """
        _check_indices(indices, self.num_codes, f"{type(self).__name__}", self.grid)
        n = len(indices)
        tokens = self.embed(indices.long().flatten(1))                         # (N, L, dim)
        h = torch.cat([self.start.expand(n, -1, -1), tokens[:, :-1]], 1)       # (N, L, dim): shifted right
        h = self.blocks(h + self.pos, mask=self.causal, is_causal=True)       # (N, L, dim)
        logits = self.head(self.norm(h))                                       # (N, L, K)
        return logits.transpose(1, 2).reshape(n, self.num_codes, *self.grid)

    def nll(self, indices: torch.Tensor) -> torch.Tensor:
        """``(N, H, W) -> (N,)``: ``−log p(c)`` of each grid in **nats** (divide by ``ln 2`` for bits).

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`.
        """
        logits = self(indices)                                                 # (N, K, H, W)
        return F.cross_entropy(logits, indices.long(), reduction="none").flatten(1).sum(1)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Draw ``n`` grids position by position in raster order: ``(n, H, W)`` int64.

        Parameters
        ----------
        n : int
            >= 1.
        generator : torch.Generator, optional
            Source of the draws (on the prior's device).
        temperature : float
            > 0; logits are divided by it (1: the model's distribution).

        Raises
        ------
        TypeError, ValueError
            On ``n < 1`` or a temperature that is not a positive number.
        """
        n = _validation.integer(n, "sample: n", minimum=1)
        temperature = _validation.real(temperature, "sample: temperature", low=0.0, low_open=True)
        was = self.training
        self.eval()
        device = self.head.weight.device
        codes = torch.zeros(n, *self.grid, dtype=torch.long, device=device)
        flat = codes.view(n, -1)
        for i in range(self.length):
            logits = self(codes).flatten(2)[:, :, i] / temperature            # (n, K)
            flat[:, i] = torch.multinomial(logits.softmax(1), 1, generator=generator).squeeze(1)
        self.train(was)
        return codes


def code_marginals(indices: torch.Tensor, num_codes: int, *, smoothing: float = 1.0) -> torch.Tensor:
    """Per-position code frequencies: the independent model ``p(c) = Π_i p_i(c_i)``, ``(H, W, K)`` probabilities.

    ``p_i(k) = (count_i(k) + smoothing) / (N + K · smoothing)`` — add-``smoothing`` (Laplace) estimates, so
    that a code never seen at a position on the training grids keeps a finite NLL on held-out ones. The
    independent baseline of :class:`CodePrior`: its NLL of a grid is ``−Σ_i log p_i(c_i)``.

    Parameters
    ----------
    indices : torch.Tensor
        ``(N, H, W)`` integer training grids, values in ``[0, K)``.
    num_codes : int
        K.
    smoothing : float
        Pseudo-count >= 0 (0: raw frequencies).

    Returns
    -------
    torch.Tensor
        float32 ``(H, W, K)``, summing to 1 over the last axis.

    Raises
    ------
    TypeError, ValueError
        On non-integer or out-of-range indices, or a negative smoothing.
    """
    num_codes = _validation.integer(num_codes, "code_marginals: num_codes", minimum=1)
    smoothing = _validation.real(smoothing, "code_marginals: smoothing", low=0.0)
    if not isinstance(indices, torch.Tensor) or indices.dim() != 3:
        got = tuple(indices.shape) if isinstance(indices, torch.Tensor) else type(indices).__name__
        raise ValueError(f"code_marginals: indices must be a tensor (N, H, W), got {got}")
    _check_indices(indices, num_codes, "code_marginals", tuple(indices.shape[1:]))
    counts = F.one_hot(indices.long(), num_codes).sum(0).float()               # (H, W, K)
    total = counts.sum(-1, keepdim=True) + num_codes * smoothing
    if (total == 0).any():
        raise ValueError("code_marginals: no grids and smoothing 0: the frequencies are undefined")
    return (counts + smoothing) / total


def _batches(steps: int, batch_size: int, n: int, g: torch.Generator, device) -> torch.Tensor:
    return torch.randint(0, n, (steps, batch_size), generator=g, device=device)


def fit_vqvae(model: VQVAE, images: torch.Tensor, *, steps: int = 500, batch_size: int = 128, lr: float = 2e-3,
              binarize: bool = True, seed: int = 0, monitor: torch.Tensor | None = None,
              monitor_every: int = 50) -> dict[str, list]:
    """Train a :class:`VQVAE` with Adam on :meth:`VQVAE.forward_loss`; optionally monitor codebook usage.

    Minibatches are drawn with replacement; with ``binarize`` each pixel of each drawn image becomes 1 with
    probability equal to its grey level (dynamic binarization, as lecture 07's Bernoulli VAEs). Minibatches,
    binarization and the quantizer's remedies (restarts, k-means) draw from generators seeded by ``seed``
    (torch's global generator is forked: the caller's state is unchanged).

    Parameters
    ----------
    model : VQVAE
    images : torch.Tensor
        ``(N, 1, 28, 28)`` training images in [0, 1].
    steps, batch_size : int
        Optimizer steps (>= 1) and images per step (>= 1).
    lr : float
        Adam's learning rate (> 0).
    binarize : bool
        Dynamic binarization of the targets and inputs.
    seed : int
    monitor : torch.Tensor, optional
        ``(M, 1, 28, 28)`` images (e.g. held-out, binarized) whose codes are counted every ``monitor_every``
        steps and after the last: the history then holds ``"step"``, ``"perplexity"`` and ``"dead"``.
    monitor_every : int
        >= 1.

    Returns
    -------
    dict of lists
        ``"loss"``, ``"recon"`` (nats per image) at every step, ``"restarted"`` (codes restarted so far, per
        step), and with ``monitor``: ``"step"``, ``"perplexity"`` (:func:`aelab.metrics.codebook_perplexity`),
        ``"dead"`` (:func:`aelab.metrics.dead_codes`).

    Raises
    ------
    TypeError, ValueError
        On a wrong argument.
    """
    from ..metrics import codebook_perplexity, dead_codes   # same layer (L1); kept lazy: metrics is the larger module

    if not isinstance(model, VQVAE):
        raise TypeError(f"fit_vqvae: model must be a VQVAE, got {type(model).__name__}")
    steps = _validation.integer(steps, "fit_vqvae: steps", minimum=1)
    batch_size = _validation.integer(batch_size, "fit_vqvae: batch_size", minimum=1)
    lr = _validation.real(lr, "fit_vqvae: lr", low=0.0, low_open=True)
    binarize = _validation.flag(binarize, "fit_vqvae: binarize")
    monitor_every = _validation.integer(monitor_every, "fit_vqvae: monitor_every", minimum=1)
    model.check_input(images, "fit_vqvae (images)")
    _validation.images(images, "fit_vqvae: images", unit_range=True)
    if monitor is not None:
        model.check_input(monitor, "fit_vqvae (monitor)")
    g = torch.Generator(device=images.device).manual_seed(_validation.seed(seed))
    history: dict[str, list] = {"loss": [], "recon": [], "restarted": []}
    if monitor is not None:
        history.update(step=[], perplexity=[], dead=[])

    def look(step: int) -> None:
        idx = model.encode_indices(monitor)
        history["step"].append(step)
        history["perplexity"].append(codebook_perplexity(idx, model.num_codes))
        history["dead"].append(dead_codes(idx, model.num_codes))

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.train()
        if monitor is not None:
            look(0)
        for step, idx in enumerate(_batches(steps, batch_size, len(images), g, images.device), 1):
            x = images[idx]
            if binarize:
                x = torch.bernoulli(x, generator=g)
            loss, parts, _ = model.forward_loss(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            history["loss"].append(loss.item())
            history["recon"].append(parts["recon"].item())
            history["restarted"].append(model.quantizer.restarted)
            if monitor is not None and (step % monitor_every == 0 or step == steps):
                if history["step"][-1] != step:
                    look(step)
    model.eval()
    return history


def fit_prior(prior: CodePrior, indices: torch.Tensor, *, steps: int = 500, batch_size: int = 128,
              lr: float = 3e-3, seed: int = 0) -> list[float]:
    """Train a :class:`CodePrior` by maximum likelihood (Adam) on code grids; returns the NLL (nats per grid) per step.

    Parameters
    ----------
    prior : CodePrior
    indices : torch.Tensor
        ``(N, H, W)`` integer training grids (e.g. ``VQVAE.encode_indices`` of the training images).
    steps, batch_size : int
        >= 1 each.
    lr : float
        > 0; cosine-decayed to 0 over the steps.
    seed : int
        Seeds the minibatch draws.

    Raises
    ------
    TypeError, ValueError
        On a wrong argument or grids that do not fit the prior.
    """
    if not isinstance(prior, CodePrior):
        raise TypeError(f"fit_prior: prior must be a CodePrior, got {type(prior).__name__}")
    steps = _validation.integer(steps, "fit_prior: steps", minimum=1)
    batch_size = _validation.integer(batch_size, "fit_prior: batch_size", minimum=1)
    lr = _validation.real(lr, "fit_prior: lr", low=0.0, low_open=True)
    _check_indices(indices, prior.num_codes, "fit_prior", prior.grid)
    g = torch.Generator(device=indices.device).manual_seed(_validation.seed(seed))
    opt = torch.optim.Adam(prior.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    prior.train()
    history = optimize_steps(lambda idx: prior.nll(indices[idx]).mean(),
                             _batches(steps, batch_size, len(indices), g, indices.device), opt, schedule=schedule)
    prior.eval()
    return history
