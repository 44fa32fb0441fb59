"""The convolutional autoencoder (lecture 04): conv/pool encoder, mirrored unpool/deconv decoder.

The encoder is ``Conv2d → ReLU → MaxPool2d(2)`` twice, then a linear code:
``(N, C, H, W) → (N, c1, H/2, W/2) → (N, c2, H/4, W/4) → (N, code_size)``; for MNIST
``1×28×28 → 16×14×14 → 32×7×7 → 32``. The decoder mirrors it, and how it doubles the
resolution is the ``upsampling`` choice:

- ``"max_unpool"``: ``MaxUnpool2d`` with the encoder's own pooling indices (the *switches* of
  Zeiler & Fergus 2014): each value goes back where the maximum was taken, zeros elsewhere; then
  a stride-1 transposed convolution ("deconvolution").
- ``"repeat"``: nearest-neighbor upsampling (:class:`RepeatUpsample`, the numbers of
  ``nn.Upsample(scale_factor=2)``) — every value repeated in a 2×2 block (Keras's
  ``UpSampling2D``); then a stride-1 transposed convolution.
- ``"transposed"``: one ``ConvTranspose2d`` with stride 2 does both (Dumoulin & Visin 2016,
  "A guide to convolution arithmetic"; prone to checkerboard artifacts, Odena et al. 2016).

Switches exist only for an input that went through the encoder. :meth:`ConvAutoencoder.decode`
of a max-unpool model therefore needs ``switches=`` (from :meth:`~ConvAutoencoder.encode_with_switches`);
decoding a code with no input behind it (generation) raises a ``ValueError`` that says so,
rather than silently inventing locations — build the model with ``"repeat"`` or
``"transposed"`` to generate, or pass another image's switches deliberately.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .. import _validation
from .base import Autoencoder
from .layers import check_size, check_sizes, make_activation

__all__ = ["ConvAEConfig", "ConvAutoencoder", "RepeatUpsample", "UPSAMPLING"]

#: The decoder's ways of doubling the resolution.
UPSAMPLING = ("max_unpool", "repeat", "transposed")

_OWNER = "ConvAutoencoder"


@dataclass(frozen=True)
class ConvAEConfig:
    """Hyper-parameters of :class:`ConvAutoencoder`.

    Attributes
    ----------
    code_size : int
        The code dimension k (the encoder's last ``Linear``; no nonlinearity on the code).
    upsampling : {"max_unpool", "repeat", "transposed"}
        How the decoder doubles the resolution (see the module docstring).
    input_shape : tuple of int
        ``(C, H, W)`` of one image; H and W divisible by 4 (two 2×2 poolings), e.g.
        ``(1, 28, 28)`` or ``(1, 32, 32)``.
    channels : tuple of int
        ``(c1, c2)``, the feature maps after the first and second convolution.
    kernel_size : int
        Odd size of every convolution kernel; padding ``kernel_size // 2`` keeps H and W.
    output_activation : str
        ``"sigmoid"`` for pixel values in [0, 1], or ``"identity"``.
    channels_last : bool
        Store the convolution weights channels-last (NHWC, ``torch.channels_last``), so that
        every feature map is computed in that layout. The numbers are the same (to float
        rounding); training on a CPU is about 1.2–1.4× faster (``benchmarks/``, one thread,
        images per CPU-second). Inputs need no conversion.
    chunk_size : int or None
        The most images :meth:`ConvAutoencoder.forward` runs through the network at once: a
        larger batch is cut into chunks of ``chunk_size`` images, each encoded and decoded on its
        own, and the reconstructions concatenated. The outputs are the same (every image is
        computed alone anyway) and the gradients, summed by autograd over the chunks, equal the
        whole batch's up to float rounding. It keeps each layer's feature maps small (at batch 512
        one 16×28×28 float32 map is 25.7 MB), which may help a CPU with a small cache. Issue 26
        first chunked by default; then found that the slowdown at batch 512 was glibc giving
        freed memory back to the kernel after each step (fixed by
        :func:`aelab.runtime.keep_freed_memory`), after which chunks of 128 trained 3–7 % *slower*
        than the whole batch (``benchmarks/RESULTS.md``).
        ``None`` (the default): the whole batch at once.
    """

    code_size: int = 32
    upsampling: str = "max_unpool"
    input_shape: tuple[int, int, int] = (1, 28, 28)
    channels: tuple[int, int] = (16, 32)
    kernel_size: int = 3
    output_activation: str = "sigmoid"
    channels_last: bool = True
    chunk_size: int | None = None

    def __post_init__(self):
        owner = _OWNER
        object.__setattr__(self, "code_size", check_size(self.code_size, "code_size", owner=owner))
        _validation.choice(self.upsampling, f"{owner}: upsampling", UPSAMPLING)
        shape = check_sizes(self.input_shape, "input_shape", owner=owner)
        if len(shape) != 3 or shape[1] % 4 or shape[2] % 4:
            raise ValueError(f"{owner}: input_shape must be (C, H, W) with H and W divisible by 4 (two 2×2 "
                             f"poolings), e.g. (1, 28, 28) or (1, 32, 32); got {shape}")
        object.__setattr__(self, "input_shape", shape)
        channels = check_sizes(self.channels, "channels", owner=owner)
        if len(channels) != 2:
            raise ValueError(f"{owner}: channels must be (c1, c2), two sizes, got {channels}")
        object.__setattr__(self, "channels", channels)
        k = check_size(self.kernel_size, "kernel_size", owner=owner)
        if k % 2 == 0:
            raise ValueError(f"{owner}: kernel_size must be odd (padding k // 2 keeps the size), got {k}")
        object.__setattr__(self, "kernel_size", k)
        make_activation(self.output_activation, argument="output_activation", owner=owner)
        object.__setattr__(self, "channels_last", _validation.flag(self.channels_last, f"{owner}: channels_last"))
        if self.chunk_size is not None:
            object.__setattr__(self, "chunk_size",
                               _validation.integer(self.chunk_size, f"{owner}: chunk_size", minimum=1))


class RepeatUpsample(nn.Module):
    """Nearest-neighbor upsampling by 2: every value repeated in a 2×2 block, ``(N, C, h, w) -> (N, C, 2h, 2w)``.

    Keras's ``UpSampling2D``; computed by ``F.interpolate(h, scale_factor=2, mode="nearest")``,
    whose CPU kernels keep a channels-last (NHWC) map channels-last. Issue 26 measured the
    alternatives on this model's maps (batch 128, two threads, forward + backward): a broadcast
    view reshaped to ``(N, C, 2h, 2w)`` took 8–9× as long — its reshape copies to NCHW and its
    backward is a strided sum over each 2×2 block — and made the "repeat" decoder the slowest of
    the three to train.
    """

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.interpolate(h, scale_factor=2, mode="nearest")


class ConvAutoencoder(Autoencoder):
    """A convolutional autoencoder with a mirrored decoder and configurable unpooling.

    Build it from a :class:`ConvAEConfig`, from keyword arguments, or both (keywords override
    the config's fields): ``ConvAutoencoder(code_size=32, upsampling="repeat")``.

    Shapes (MNIST, channels (16, 32), code 32)::

        encode: (N,1,28,28) -conv,relu,pool-> (N,16,14,14) -conv,relu,pool-> (N,32,7,7) -flatten,linear-> (N,32)
        decode: (N,32) -linear,relu-> (N,32,7,7) -up,deconv,relu-> (N,16,14,14) -up,deconv,sigmoid-> (N,1,28,28)

    Parameters
    ----------
    config : ConvAEConfig, optional
        The hyper-parameters; default ``ConvAEConfig()``.
    **overrides
        Fields of :class:`ConvAEConfig` to set or replace.

    Attributes
    ----------
    config : ConvAEConfig
    input_shape : tuple of int — ``config.input_shape``
    conv1, conv2 : nn.Conv2d — the encoder's convolutions (``conv1.weight``: ``(c1, C, k, k)``)
    pool : nn.MaxPool2d — 2×2, stride 2, ``return_indices=True``
    to_code, from_code : nn.Linear — ``c2·H/4·W/4 → k`` and back
    up2, up1 : nn.Module — the decoder's stages at H/4 → H/2 and H/2 → H

    Raises
    ------
    TypeError, ValueError
        On a bad hyper-parameter (:class:`ConvAEConfig` names it), or an unknown override.
    """

    def __init__(self, config: ConvAEConfig | None = None, **overrides):
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(ConvAEConfig)})
        if unknown:
            raise TypeError(f"{_OWNER}: unknown argument(s) {unknown}; the hyper-parameters are the fields of "
                            f"ConvAEConfig: {[f.name for f in dataclasses.fields(ConvAEConfig)]}")
        if config is not None and not isinstance(config, ConvAEConfig):
            raise TypeError(f"{_OWNER}: config must be a ConvAEConfig, got {type(config).__name__}")
        cfg = dataclasses.replace(config or ConvAEConfig(), **overrides) if overrides or config is None \
            else config
        super().__init__(code_size=cfg.code_size, input_shape=cfg.input_shape)
        self.config = cfg
        (c0, h, w), (c1, c2), k = cfg.input_shape, cfg.channels, cfg.kernel_size
        self._small = (c2, h // 4, w // 4)
        flat = c2 * (h // 4) * (w // 4)
        self.conv1 = nn.Conv2d(c0, c1, k, padding=k // 2)
        self.conv2 = nn.Conv2d(c1, c2, k, padding=k // 2)
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.to_code = nn.Linear(flat, cfg.code_size)      # linear code, no nonlinearity
        self.from_code = nn.Linear(cfg.code_size, flat)
        self.up2 = self._upsample(c2, c1, k, cfg.upsampling)
        self.up1 = self._upsample(c1, c0, k, cfg.upsampling)
        self.out_act = make_activation(cfg.output_activation)
        if cfg.channels_last:  # NHWC feature maps: faster convolutions on a CPU (see ConvAEConfig)
            self.to(memory_format=torch.channels_last)

    @staticmethod
    def _upsample(c_in: int, c_out: int, k: int, mode: str) -> nn.Module:
        """One decoder stage doubling H and W: ``(N, c_in, h, w) -> (N, c_out, 2h, 2w)``."""
        if mode == "transposed":
            # (h-1)·2 - 2·(k//2) + k + 1 = 2h for odd k
            return nn.ConvTranspose2d(c_in, c_out, k, stride=2, padding=k // 2, output_padding=1)
        deconv = nn.ConvTranspose2d(c_in, c_out, k, padding=k // 2)  # stride 1: keeps h, w
        if mode == "repeat":
            return nn.Sequential(RepeatUpsample(), deconv)
        return nn.ModuleDict({"unpool": nn.MaxUnpool2d(2), "deconv": deconv})

    @property
    def upsampling(self) -> str:
        """``"max_unpool"``, ``"repeat"`` or ``"transposed"``."""
        return self.config.upsampling

    def encode_with_switches(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``(N, C, H, W) -> (z, (idx1, idx2))``: the code and the two poolings' indices.

        ``idx1`` ``(N, c1, H/2, W/2)`` and ``idx2`` ``(N, c2, H/4, W/4)`` are int64 positions of
        each window's maximum in the flattened ``H×W`` (resp. ``H/2×W/2``) map, as returned by
        ``MaxPool2d(return_indices=True)``: the switches of Zeiler & Fergus (2014).

        Raises
        ------
        TypeError, ValueError
            On input of another dtype, shape or device than the model's (shared check).
        """
        self.check_input(x)
        h, idx1 = self.pool(torch.relu(self.conv1(x)))   # (N, c1, H/2, W/2)
        h, idx2 = self.pool(torch.relu(self.conv2(h)))   # (N, c2, H/4, W/4)
        z = self.to_code(h.flatten(1))                   # (N, k)
        return z, (idx1, idx2)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, code_size)``: the code (float32)."""
        return self.encode_with_switches(x)[0]

    def _check_switches(self, switches, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        what = f"{_OWNER}.decode"
        if switches is None:
            raise ValueError(
                f"{what}: a max-unpool decoder needs the switches (the encoder's pooling indices) of an input, "
                "and a code with no input behind it has none. Use z, switches = model.encode_with_switches(x) "
                "and model.decode(z, switches=switches); to decode codes with no image behind them (generation) "
                "build the model with upsampling='repeat' or 'transposed'.")
        c0, h, w = self.input_shape
        c1, c2 = self.config.channels
        expected = ((n, c1, h // 2, w // 2), (n, c2, h // 4, w // 4))
        if not isinstance(switches, (tuple, list)) or len(switches) != 2:
            raise TypeError(f"{what}: switches must be the pair (idx1, idx2) from encode_with_switches, "
                            f"got {type(switches).__name__}")
        for name, s, shape, size in zip(("idx1", "idx2"), switches, expected, ((h, w), (h // 2, w // 2))):
            if not isinstance(s, torch.Tensor) or s.dtype != torch.int64:
                raise TypeError(f"{what}: switches {name} must be an int64 tensor from encode_with_switches")
            if tuple(s.shape) != shape:
                raise ValueError(f"{what}: switches {name} must have shape {shape} (one per code), "
                                 f"got {tuple(s.shape)}")
            if s.device != self.from_code.weight.device:
                raise ValueError(f"{what}: switches {name} are on {s.device}, the model on {self.from_code.weight.device}")
            _check_switch_positions(s, size, f"{what}: switches {name}")
        return tuple(switches)

    def _stage(self, stage: nn.Module, h: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        if isinstance(stage, nn.ModuleDict):  # max-unpool, then deconvolution
            return stage["deconv"](stage["unpool"](h, idx))
        return stage(h)

    def decode(self, z: torch.Tensor, switches: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """``(N, code_size) -> (N, C, H, W)``: the reconstruction from a code.

        Parameters
        ----------
        z : torch.Tensor
            ``(N, code_size)`` float32 codes on the model's device.
        switches : (Tensor, Tensor), optional
            For ``upsampling="max_unpool"`` only, and required there: ``(idx1, idx2)`` from
            :meth:`encode_with_switches` of N images (they need not be the images ``z`` came
            from). Ignored by the other modes.

        Raises
        ------
        TypeError
            If ``z`` is not a float tensor of the model's dtype, or switches are not int64 tensors.
        ValueError
            If ``z`` is not ``(N, code_size)`` or on another device; for max-unpool, if
            ``switches`` is missing (a code with no input behind it), of the wrong shape, or a
            position is not inside its own 2×2 pooling window (forged or from another model).
        """
        self.check_code(z)
        if self.upsampling == "max_unpool":
            switches = self._check_switches(switches, z.shape[0])
        return self._decode(z, switches)

    def _decode(self, z: torch.Tensor, switches=None) -> torch.Tensor:
        """The decoder on a checked code (and checked switches for max-unpool)."""
        idx1, idx2 = switches if self.upsampling == "max_unpool" else (None, None)
        h = torch.relu(self.from_code(z)).unflatten(1, self._small)  # (N, c2, H/4, W/4)
        h = torch.relu(self._stage(self.up2, h, idx2))               # (N, c1, H/2, W/2)
        return self.out_act(self._stage(self.up1, h, idx1))          # (N, C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, H, W)``: encode, then decode (with this input's own switches).

        A batch larger than ``config.chunk_size`` runs in chunks of that many images (see
        :class:`ConvAEConfig`); the result is the same tensor up to float rounding.
        """
        chunk = self.config.chunk_size
        if chunk is None or not isinstance(x, torch.Tensor) or x.ndim == 0 or x.shape[0] <= chunk:
            return self._autoencode(x)
        self.check_input(x)  # once, with the whole batch's shape in the message
        return torch.cat([self._autoencode(part) for part in x.split(chunk)])

    def _autoencode(self, x: torch.Tensor) -> torch.Tensor:
        z, switches = self.encode_with_switches(x)  # (N, k), the model's own pooling indices
        return self._decode(z, switches)            # (N, C, H, W)


def _check_switch_positions(idx: torch.Tensor, size: tuple[int, int], what: str) -> None:
    """Raise ValueError unless every switch points inside its own 2×2 window of the ``size`` map.

    ``MaxPool2d(2, return_indices=True)`` gives, for output cell ``(i, j)``, the flat position
    ``r * W + c`` in the ``H×W`` input with ``r // 2 == i`` and ``c // 2 == j``. Anything else
    (a forged or edited index, switches of a larger image) would reach torch's ``max_unpool2d``,
    which raises "invalid max index" for positions outside the map and silently overwrites
    values for positions in another window.
    """
    height, width = size
    h, w = idx.shape[-2:]
    rows, cols = torch.div(idx, width, rounding_mode="floor"), idx % width
    own_row = torch.arange(h, device=idx.device).view(h, 1)
    own_col = torch.arange(w, device=idx.device).view(1, w)
    inside = (idx >= 0) & (idx < height * width) & (rows // 2 == own_row) & (cols // 2 == own_col)
    if not bool(inside.all()):
        bad = tuple(int(v) for v in (~inside).nonzero()[0])
        raise ValueError(f"{what}: position {int(idx[bad])} at {bad} is not inside its own 2×2 pooling window of the "
                         f"{height}×{width} map; pass the switches encode_with_switches returned, unchanged")
