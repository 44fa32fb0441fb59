"""The masked autoencoder (lecture 09): a denoising autoencoder whose noise is masking in patch space.

He et al. (2021), "Masked Autoencoders Are Scalable Vision Learners" (arXiv:2111.06377), as their
code does it (``facebookresearch/mae``, ``models_mae.py``):

1. :func:`patchify` cuts an image into non-overlapping ``p × p`` patches, one token per patch, in
   row-major order over the patch grid (a 28 × 28 image with ``p = 7`` gives 16 tokens of 49 pixels);
2. :func:`random_masking` keeps a random subset of the tokens of *each* image (``argsort`` of uniform
   noise) and returns the indices that undo the shuffle;
3. the **encoder** (a small ViT: :class:`torch.nn.TransformerEncoderLayer` blocks) sees only the
   visible tokens — the asymmetric design that makes pretraining cheap (:func:`encoder_flops`);
4. a **light decoder** gets the encoded visible tokens plus a shared, learned *mask token* at every
   removed position (unshuffled with ``ids_restore``) and predicts the pixels of every patch;
5. :func:`masked_patch_loss` is the mean squared error over the **masked** patches only (§3 of the
   paper: "we compute the loss only on masked patches, similar to BERT").

Differences from the paper's ViT-Base (on purpose, for a laptop CPU): widths of 64 / 32 instead of
768 / 512, two encoder blocks and one decoder block, no class token (the features for a linear probe
are the encoder's tokens, mean-pooled, as the paper's "global average pooling" variant), and no
per-patch normalization of the target (the paper's ``norm_pix_loss``; MNIST patches are often blank).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import _validation
from ._steps import optimize_steps, random_rows
from .base import Autoencoder

__all__ = ["patchify", "unpatchify", "random_masking", "masked_patch_loss", "sincos_position_embedding",
           "MaskedAutoencoder", "fit_mae", "encoder_flops", "REDUCTIONS"]

#: The reductions :func:`masked_patch_loss` accepts (torch's convention; ``"none"`` gives one value per image).
REDUCTIONS = ("mean", "sum", "none")


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches: ``(N, C, H, W) -> (N, L, p·p·C)``.

    As ``MaskedAutoencoder.patchify`` of facebookresearch/mae (``einsum('nchpwq->nhwpqc')``): patch
    ``l = i · (W/p) + j`` is the one at patch row ``i``, patch column ``j`` (row-major over the
    ``(H/p, W/p)`` grid), and its vector lists the pixels row by row inside the patch, with the
    channel last: entry ``(a · p + b) · C + c`` is pixel ``(i·p + a, j·p + b)`` of channel ``c``.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, C, H, W)`` floating point (MNIST: ``(N, 1, 28, 28)`` float32 in [0, 1]).
    patch_size : int
        The side ``p >= 1`` of a patch, dividing both ``H`` and ``W``.

    Returns
    -------
    torch.Tensor
        ``(N, L, p·p·C)`` with ``L = (H/p)(W/p)``, same dtype and device (a copy).

    Raises
    ------
    TypeError
        If ``images`` is not a floating-point tensor or ``patch_size`` not an integer.
    ValueError
        If ``images`` is not 4-D, or ``H`` or ``W`` is not divisible by ``patch_size``.
    """
    _validation.tensor(images, "images", ndim=4)
    p = _validation.integer(patch_size, "patch_size", minimum=1)
    n, c, h, w = images.shape
    if h % p or w % p:
        raise ValueError(f"patchify: the image height and width must be divisible by patch_size={p}, "
                         f"got images of shape {tuple(images.shape)} (H={h}, W={w})")
    x = images.reshape(n, c, h // p, p, w // p, p)              # (N, C, h, p, w, q)
    x = torch.einsum("nchpwq->nhwpqc", x)                         # (N, h, w, p, q, C)
    return x.reshape(n, (h // p) * (w // p), p * p * c)           # (N, L, p·p·C)


def unpatchify(patches: torch.Tensor, patch_size: int, channels: int = 1) -> torch.Tensor:
    """Put patches back into images, the exact inverse of :func:`patchify` (square images).

    Parameters
    ----------
    patches : torch.Tensor
        ``(N, L, p·p·C)`` floating point, patches in :func:`patchify`'s order; ``L`` a perfect square.
    patch_size : int
        ``p >= 1``.
    channels : int
        ``C >= 1`` (1 for MNIST).

    Returns
    -------
    torch.Tensor
        ``(N, C, H, W)`` with ``H = W = p·√L``.

    Raises
    ------
    TypeError
        If ``patches`` is not a floating-point tensor or a size not an integer.
    ValueError
        If ``patches`` is not 3-D, its last dimension is not ``p·p·C``, or ``L`` is not a perfect square.
    """
    _validation.tensor(patches, "patches", ndim=3)
    p = _validation.integer(patch_size, "patch_size", minimum=1)
    c = _validation.integer(channels, "channels", minimum=1)
    n, L, d = patches.shape
    if d != p * p * c:
        raise ValueError(f"unpatchify: patches must have p·p·C = {p}·{p}·{c} = {p * p * c} values each "
                         f"(patch_size={p}, channels={c}), got shape {tuple(patches.shape)}")
    side = math.isqrt(L)
    if side * side != L:
        raise ValueError(f"unpatchify: the number of patches must be a perfect square (a square grid), got L={L}")
    x = patches.reshape(n, side, side, p, p, c)                   # (N, h, w, p, q, C)
    x = torch.einsum("nhwpqc->nchpwq", x)                         # (N, C, h, p, w, q)
    return x.reshape(n, c, side * p, side * p)                    # (N, C, H, W)


def random_masking(tokens: torch.Tensor, mask_ratio: float, *,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random subset of each sequence's tokens, a different one per image (He et al. 2021, §3).

    As ``MaskedAutoencoder.random_masking`` of facebookresearch/mae: ``noise = rand(N, L)``;
    ``ids_shuffle = argsort(noise, dim=1)`` (ascending: the tokens with the smallest noise are kept);
    ``ids_restore = argsort(ids_shuffle, dim=1)``; ``len_keep = int(L · (1 − mask_ratio))``; the
    visible tokens are ``tokens`` gathered at ``ids_shuffle[:, :len_keep]``.

    Parameters
    ----------
    tokens : torch.Tensor
        ``(N, L, D)``.
    mask_ratio : float
        The fraction of tokens removed, ``0 <= mask_ratio < 1``.
    generator : torch.Generator, optional
        Source of the noise (on ``tokens``' device); default torch's global RNG.

    Returns
    -------
    visible : torch.Tensor
        ``(N, len_keep, D)``, the kept tokens in shuffled order (``visible[n, i] = tokens[n, ids_shuffle[n, i]]``).
    mask : torch.Tensor
        ``(N, L)`` float32 in the **original** token order: 1 where a token was removed, 0 where it is
        visible (every row sums to ``L − len_keep``).
    ids_restore : torch.Tensor
        ``(N, L)`` int64, the inverse permutation of ``ids_shuffle``: gathering ``cat([visible,
        removed])`` at ``ids_restore`` puts every token back in its place.

    Raises
    ------
    TypeError
        If ``tokens`` is not a tensor or ``mask_ratio`` not a real number.
    ValueError
        If ``tokens`` is not 3-D or empty, or ``mask_ratio`` is outside ``[0, 1)``.
    """
    _validation.tensor(tokens, "tokens", ndim=3, floating=False)
    ratio = _validation.probability(mask_ratio, "mask_ratio")
    n, L, d = tokens.shape
    len_keep = int(L * (1 - ratio))
    noise = torch.rand(n, L, generator=generator, device=tokens.device)   # (N, L) in [0, 1)
    ids_shuffle = torch.argsort(noise, dim=1)                              # (N, L): ascending noise is kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)                        # (N, L): the inverse permutation
    ids_keep = ids_shuffle[:, :len_keep]                                   # (N, len_keep)
    visible = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))  # (N, len_keep, D)
    mask = torch.ones(n, L, device=tokens.device)                          # shuffled order: 0 kept, 1 removed
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)                              # (N, L) original order
    return visible, mask, ids_restore


def masked_patch_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *,
                      reduction: str = "mean") -> torch.Tensor:
    """Mean squared error over the **masked** patches only (He et al. 2021, §3; ``forward_loss`` of their code).

    ``per_patch[n, l] = mean_j (pred[n, l, j] − target[n, l, j])²`` (the mean over a patch's values), then
    ``loss = Σ per_patch · mask / Σ mask``: visible patches do not count, however badly they are predicted.

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(N, L, P)`` floating point, the predicted and true pixels of every patch (:func:`patchify`).
    mask : torch.Tensor
        ``(N, L)``, 1 (or True) for a masked patch, 0 for a visible one (as :func:`random_masking`).
    reduction : {"mean", "sum", "none"}
        ``"mean"``: over all masked patches of the batch (the paper's); ``"sum"``: the sum of the masked
        patches' per-patch errors; ``"none"``: ``(N,)``, each image's mean over its own masked patches.

    Returns
    -------
    torch.Tensor
        0-d (or ``(N,)`` for ``"none"``), in squared pixel units, differentiable in ``pred``.

    Raises
    ------
    TypeError
        If an argument is not a tensor, ``pred``/``target`` not floating point.
    ValueError
        On mismatched shapes, a mask with values other than 0 and 1, no masked patch at all (or, for
        ``"none"``, an image without one), or an unknown ``reduction``.
    """
    _validation.tensor(pred, "pred", ndim=3)
    _validation.tensor(target, "target", ndim=3)
    _validation.tensor(mask, "mask", ndim=2, floating=False)
    reduction = _validation.choice(reduction, "reduction", REDUCTIONS)
    if pred.shape != target.shape:
        raise ValueError(f"masked_patch_loss: pred and target must have the same shape (N, L, P), "
                         f"got {tuple(pred.shape)} and {tuple(target.shape)}")
    if tuple(mask.shape) != tuple(pred.shape[:2]):
        raise ValueError(f"masked_patch_loss: mask must have shape (N, L) = {tuple(pred.shape[:2])} (one entry per "
                         f"patch, 1 = masked), got {tuple(mask.shape)}")
    m = mask.to(pred.dtype)
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError("masked_patch_loss: mask must hold only 0 (visible) and 1 (masked)")
    if reduction == "none":
        if bool((m.sum(1) == 0).any()):
            raise ValueError("masked_patch_loss: an image has no masked patch, so its loss over masked patches "
                             "is undefined (use reduction='mean', or a mask_ratio that removes a patch)")
    elif float(m.sum()) == 0:
        raise ValueError("masked_patch_loss: the mask has no masked patch (all zeros), so the loss over masked "
                         "patches is undefined; did you pass mask_ratio=0, or the visible mask (1 − mask)?")
    per_patch = (pred - target).pow(2).mean(dim=-1)         # (N, L)
    if reduction == "none":
        return (per_patch * m).sum(1) / m.sum(1)            # (N,)
    total = (per_patch * m).sum()
    return total if reduction == "sum" else total / m.sum()


def sincos_position_embedding(grid_size: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings, ``(grid_size², dim)`` (facebookresearch/mae ``pos_embed.py``).

    Half of the dimensions encode the patch row, half the patch column, each with the 1-D embedding of
    Vaswani et al. (2017, §3.5): ``sin(pos · ω_i)``, ``cos(pos · ω_i)``, ``ω_i = 10000^(−i/(dim/4))``. A
    ``dim`` not divisible by 4 is built at the next multiple of 4 and cut to ``dim``.

    Parameters
    ----------
    grid_size : int
        Patches per side (4 for 28 × 28 images with 7 × 7 patches).
    dim : int
        Embedding width >= 1.

    Returns
    -------
    torch.Tensor
        ``(grid_size², dim)`` float32, rows in :func:`patchify`'s order.

    Raises
    ------
    TypeError, ValueError
        If a size is not an integer >= 1.
    """
    g = _validation.integer(grid_size, "grid_size", minimum=1)
    dim = _validation.integer(dim, "dim", minimum=1)
    quarter = -(-dim // 4)
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)    # (dim/4,)
    rows, cols = torch.meshgrid(torch.arange(g, dtype=torch.float64), torch.arange(g, dtype=torch.float64),
                                indexing="ij")

    def one_axis(pos):                                                                  # (g·g,) -> (g·g, dim/2)
        angles = pos.reshape(-1, 1) * omega                                             # (g·g, dim/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([one_axis(rows), one_axis(cols)], dim=1)[:, :dim].float()         # (g·g, dim)


def _blocks(dim: int, heads: int, depth: int, mlp_ratio: float) -> nn.Sequential:
    """``depth`` pre-norm transformer blocks (ViT's: LayerNorm → attention, LayerNorm → GELU MLP), batch first."""
    return nn.Sequential(*[nn.TransformerEncoderLayer(dim, heads, dim_feedforward=max(1, round(dim * mlp_ratio)),
                                                      dropout=0.0, activation="gelu", batch_first=True,
                                                      norm_first=True)
                           for _ in range(depth)])


class MaskedAutoencoder(Autoencoder):
    """A tiny masked autoencoder (He et al. 2021): ViT encoder on the visible patches, light decoder on all.

    Image ``(N, C, H, W)`` → :func:`patchify` → a linear patch embedding plus fixed 2-D sin-cos position
    embeddings → :func:`random_masking` → ``depth`` pre-norm transformer blocks
    (:class:`torch.nn.TransformerEncoderLayer`, ``batch_first=True, norm_first=True``) and a LayerNorm on
    the **visible tokens only** → a linear map to the decoder's width, the learned mask token appended
    at every removed position and unshuffled (``ids_restore``) → decoder position embeddings →
    ``decoder_depth`` blocks → a linear head predicting the ``p·p·C`` pixels of every patch.

    The :class:`~aelab.models.Autoencoder` contract, read for a masked autoencoder:

    - ``code_size`` is the encoder's width (``dim``); ``encode(x)`` → ``(N, code_size)``: the encoder's
      tokens of the **full, unmasked** image, mean-pooled (the features of a linear probe);
    - ``forward(x)`` → ``(N, C, H, W)``: the reconstruction from **all** patches (mask ratio 0); the
      training pass is :meth:`forward_loss`, the masked reconstruction :meth:`reconstruct`;
    - ``decode(z)`` → ``(N, C, H, W)``: the decoder given the code ``z`` at every patch position (plus
      the position embeddings). The decoder was trained on per-patch tokens, not on pooled codes, so
      ``decode(encode(x))`` is *not* a reconstruction of ``x``; it exists for the shared contract.

    Parameters
    ----------
    code_size : int
        The encoder's width ``dim`` (default 64), divisible by ``heads``.
    patch_size : int
        Patch side ``p`` (default 7: 16 patches of a 28 × 28 image).
    depth, heads : int
        Encoder blocks and attention heads.
    decoder_dim, decoder_depth, decoder_heads : int
        The decoder's width (divisible by ``decoder_heads``), blocks and heads.
    mlp_ratio : float
        Hidden width of each block's MLP over the block's width.
    mask_ratio : float
        The default fraction of patches removed in :meth:`forward_loss`, ``[0, 1)`` (the paper's 0.75).
    input_shape : tuple of int
        ``(C, H, W)`` with ``H == W`` divisible by ``patch_size`` (default MNIST's ``(1, 28, 28)``).
    seed : int
        Seed of the initial weights (torch's global RNG is restored afterwards).

    Attributes
    ----------
    patch_embed : nn.Linear ``(p·p·C → dim)``; pos_embed, decoder_pos_embed : buffers ``(1, L, ·)``;
    encoder, decoder : nn.Sequential of TransformerEncoderLayer; encoder_norm, decoder_norm : nn.LayerNorm;
    decoder_embed : nn.Linear ``(dim → decoder_dim)``; mask_token : nn.Parameter ``(1, 1, decoder_dim)``;
    decoder_pred : nn.Linear ``(decoder_dim → p·p·C)``; num_patches : int ``L``; patch_dim : int ``p·p·C``.

    Raises
    ------
    TypeError
        If a size or the seed is not an integer, or a ratio not a real number.
    ValueError
        If a size is below 1, a width is not divisible by its heads, the image is not square or not
        divisible by ``patch_size``, or ``mask_ratio`` is outside ``[0, 1)``.
    """

    def __init__(self, code_size: int = 64, *, patch_size: int = 7, depth: int = 2, heads: int = 4,
                 decoder_dim: int = 32, decoder_depth: int = 1, decoder_heads: int = 2, mlp_ratio: float = 2.0,
                 mask_ratio: float = 0.75, input_shape=(1, 28, 28), seed: int = 0):
        owner = type(self).__name__
        super().__init__(code_size=code_size, input_shape=input_shape)
        if len(self.input_shape) != 3:
            raise ValueError(f"{owner}: input_shape must be (C, H, W), got {self.input_shape}")
        c, h, w = self.input_shape
        p = _validation.integer(patch_size, f"{owner}: patch_size", minimum=1)
        if h != w or h % p:
            raise ValueError(f"{owner}: input_shape must be a square image whose side is divisible by "
                             f"patch_size={p}, got {self.input_shape}")
        sizes = {name: _validation.integer(v, f"{owner}: {name}", minimum=1) for name, v in
                 dict(depth=depth, heads=heads, decoder_dim=decoder_dim, decoder_depth=decoder_depth,
                      decoder_heads=decoder_heads).items()}
        dim = self.code_size
        for width, nh, wname, hname in [(dim, sizes["heads"], "code_size", "heads"),
                                        (sizes["decoder_dim"], sizes["decoder_heads"], "decoder_dim", "decoder_heads")]:
            if width % nh:
                raise ValueError(f"{owner}: {wname}={width} must be divisible by {hname}={nh} "
                                 "(each attention head gets width / heads dimensions)")
        mlp_ratio = _validation.real(mlp_ratio, f"{owner}: mlp_ratio", low=0.0, low_open=True)
        self.mask_ratio = _validation.probability(mask_ratio, f"{owner}: mask_ratio")
        self.patch_size, self.channels = p, c
        self.num_patches = (h // p) ** 2
        self.patch_dim = p * p * c
        dd = sizes["decoder_dim"]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_validation.seed(seed, f"{owner}: seed"))
            self.patch_embed = nn.Linear(self.patch_dim, dim)
            self.encoder = _blocks(dim, sizes["heads"], sizes["depth"], mlp_ratio)
            self.encoder_norm = nn.LayerNorm(dim)
            self.decoder_embed = nn.Linear(dim, dd)
            self.mask_token = nn.Parameter(0.02 * torch.randn(1, 1, dd))
            self.decoder = _blocks(dd, sizes["decoder_heads"], sizes["decoder_depth"], mlp_ratio)
            self.decoder_norm = nn.LayerNorm(dd)
            self.decoder_pred = nn.Linear(dd, self.patch_dim)
        self.register_buffer("pos_embed", sincos_position_embedding(h // p, dim).unsqueeze(0))
        self.register_buffer("decoder_pos_embed", sincos_position_embedding(h // p, dd).unsqueeze(0))

    # --- the two halves ------------------------------------------------------------------------------
    def forward_encoder(self, images: torch.Tensor, mask_ratio: float | None = None, *,
                        generator: torch.Generator | None = None):
        """Drop a random ``mask_ratio`` of the patches of each image, embed and encode the visible ones.

        Returns
        -------
        latent : torch.Tensor ``(N, len_keep, dim)`` — the encoded visible tokens (shuffled order)
        mask : torch.Tensor ``(N, L)`` float32, 1 = masked (original order)
        ids_restore : torch.Tensor ``(N, L)`` int64

        Raises
        ------
        TypeError, ValueError
            On a wrong input (as :meth:`encode`), ``mask_ratio`` outside ``[0, 1)``, or one that leaves no
            patch visible.
        """
        self.check_input(images, f"{type(self).__name__}.forward_encoder")
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        patches = patchify(images, self.patch_size)                                      # (N, L, P)
        visible, mask, ids_restore = random_masking(patches, ratio, generator=generator)  # (N, K, P)
        k = visible.shape[1]
        if k == 0:
            raise ValueError(f"{type(self).__name__}: mask_ratio={ratio} leaves no visible patch of "
                             f"{self.num_patches} (int(L·(1 − mask_ratio)) = 0); use a smaller mask_ratio")
        # embed only the visible patches (the same as embedding all, then masking: the embedding is per patch)
        ids_keep = torch.argsort(ids_restore, dim=1)[:, :k]                               # (N, K) = ids_shuffle[:, :K]
        pos = torch.gather(self.pos_embed.expand(len(images), -1, -1), 1,
                           ids_keep.unsqueeze(-1).expand(-1, -1, self.code_size))          # (N, K, dim)
        latent = self.encoder_norm(self.encoder(self.patch_embed(visible) + pos))          # (N, K, dim)
        return latent, mask, ids_restore

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """``(N, K, dim)`` visible latents + mask tokens → ``(N, L, p·p·C)`` predicted pixels of every patch."""
        x = self.decoder_embed(latent)                                            # (N, K, dd)
        n, k, dd = x.shape
        fill = self.mask_token.expand(n, ids_restore.shape[1] - k, dd)            # (N, L − K, dd)
        x = torch.cat([x, fill], dim=1)                                            # (N, L, dd) shuffled order
        x = torch.gather(x, 1, ids_restore.unsqueeze(-1).expand(-1, -1, dd))       # (N, L, dd) original order
        x = self.decoder_norm(self.decoder(x + self.decoder_pos_embed))            # (N, L, dd)
        return self.decoder_pred(x)                                                # (N, L, P)

    def forward_loss(self, images: torch.Tensor, mask_ratio: float | None = None, *,
                     generator: torch.Generator | None = None):
        """One MAE pass: mask, encode, decode, and the loss over the masked patches (He et al. 2021, §3).

        Parameters
        ----------
        images : torch.Tensor
            ``(N, *input_shape)`` of the model's dtype and device.
        mask_ratio : float, optional
            Fraction of patches removed, ``(0, 1)`` (default the model's ``mask_ratio``).
        generator : torch.Generator, optional
            Source of the masks.

        Returns
        -------
        loss : torch.Tensor — 0-d, :func:`masked_patch_loss` (squared pixel units)
        pred : torch.Tensor — ``(N, L, p·p·C)`` predicted pixels of every patch
        mask : torch.Tensor — ``(N, L)`` float32, 1 = masked

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward_encoder`; ValueError if ``mask_ratio`` masks no patch (then there is no loss).
        """
        latent, mask, ids_restore = self.forward_encoder(images, mask_ratio, generator=generator)
        pred = self.forward_decoder(latent, ids_restore)                           # (N, L, P)
        target = patchify(images, self.patch_size)                                 # (N, L, P)
        return masked_patch_loss(pred, target, mask), pred, mask

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, mask_ratio: float | None = None, *,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The reconstruction of randomly masked images, and where the mask was (for figures).

        Returns
        -------
        reconstruction : torch.Tensor
            ``(N, C, H, W)``, the decoder's prediction of every patch (clamped to [0, 1]).
        masked : torch.Tensor
            ``(N, C, H, W)`` float32, 1 on the pixels of masked patches, 0 on visible ones.
        """
        _, pred, mask = self.forward_loss(images, mask_ratio, generator=generator)
        masked = unpatchify(mask.unsqueeze(-1).expand(-1, -1, self.patch_dim).contiguous(), self.patch_size,
                            self.channels)
        return unpatchify(pred, self.patch_size, self.channels).clamp(0, 1), masked

    # --- the Autoencoder contract ---------------------------------------------------------------------
    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        """All patches through the encoder, no masking: ``(N, L, dim)``."""
        tokens = self.patch_embed(patchify(x, self.patch_size)) + self.pos_embed   # (N, L, dim)
        return self.encoder_norm(self.encoder(tokens))                             # (N, L, dim)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self._tokens(x).mean(dim=1)                                         # (N, dim)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        n = len(z)
        ids = torch.arange(self.num_patches, device=z.device).expand(n, -1)       # (N, L) identity order
        latent = z.unsqueeze(1).expand(-1, self.num_patches, -1)                   # (N, L, dim)
        return unpatchify(self.forward_decoder(latent, ids), self.patch_size, self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, H, W)``: the reconstruction from all patches (mask ratio 0, unclamped)."""
        self.check_input(x, f"{type(self).__name__}.forward")
        tokens = self._tokens(x)                                                   # (N, L, dim)
        ids = torch.arange(self.num_patches, device=x.device).expand(len(x), -1)  # (N, L)
        return unpatchify(self.forward_decoder(tokens, ids), self.patch_size, self.channels)


def fit_mae(model: MaskedAutoencoder, images: torch.Tensor, *, steps: int = 1000, batch_size: int = 256,
            lr: float = 2e-3, weight_decay: float = 0.05, mask_ratio: float | None = None,
            seed: int = 0) -> list[float]:
    """Pretrain a masked autoencoder with AdamW on :meth:`MaskedAutoencoder.forward_loss`.

    AdamW with ``betas = (0.9, 0.95)`` and weight decay 0.05 as the paper (He et al. 2021, Table 8),
    a linear warm-up over the first 5 % of the steps, then a cosine decay to 0. Minibatches are drawn
    with replacement; minibatches and masks come from one private generator seeded by ``seed``.

    Parameters
    ----------
    model : MaskedAutoencoder
    images : torch.Tensor
        ``(N, *input_shape)`` training images of the model's dtype and device.
    steps, batch_size : int
        Optimizer steps (>= 1) and images per step (>= 1).
    lr, weight_decay : float
        Peak learning rate (> 0) and AdamW's decoupled weight decay (>= 0).
    mask_ratio : float, optional
        Default: the model's.
    seed : int

    Returns
    -------
    list of float
        The loss (mean squared error over masked patches) at each step.

    Raises
    ------
    TypeError, ValueError
        On a wrong argument.
    """
    steps = _validation.integer(steps, "steps", minimum=1)
    batch_size = _validation.integer(batch_size, "batch_size", minimum=1)
    lr = _validation.real(lr, "lr", low=0.0, low_open=True)
    weight_decay = _validation.real(weight_decay, "weight_decay", low=0.0)
    model.check_input(images, "fit_mae (images)")
    g = torch.Generator(device=images.device).manual_seed(_validation.seed(seed))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup))))
    model.train()
    history = optimize_steps(lambda idx: model.forward_loss(images[idx], mask_ratio, generator=g)[0],
                             random_rows(len(images), batch_size, steps, g, images.device), opt, schedule=schedule)
    model.eval()
    return history


def encoder_flops(model: MaskedAutoencoder, images: torch.Tensor, mask_ratio: float) -> int:
    """Floating-point operations of one encoder pass on the visible patches, counted by FlopCounterMode.

    Runs :meth:`MaskedAutoencoder.forward_encoder` (patch embedding, masking, blocks, norm) under
    :class:`torch.utils.flop_counter.FlopCounterMode`, which counts 2 FLOPs per multiply-add of the
    matrix products (linear layers and attention); elementwise work (LayerNorm, softmax, GELU) is not
    counted. The pass runs in **training mode** (restored afterwards) and without gradients:
    :class:`torch.nn.TransformerEncoderLayer` in eval mode under ``no_grad`` takes a fused inference
    fast path that the counter does not see (it reports 0). Dropout is 0, so training mode changes
    nothing else. ``mask_ratio=0`` counts the encoder that processes every patch — what an encoder
    that also processed mask tokens (BEiT, SimMIM) would cost.

    Parameters
    ----------
    model : MaskedAutoencoder
    images : torch.Tensor
        ``(N, *input_shape)``.
    mask_ratio : float
        ``[0, 1)``.

    Returns
    -------
    int
        FLOPs for the whole batch.

    Raises
    ------
    TypeError, ValueError
        As :meth:`MaskedAutoencoder.forward_encoder`.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.train()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model.forward_encoder(images, mask_ratio, generator=torch.Generator(device=images.device).manual_seed(0))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())
