"""Lectures 08–09's models: training throughput beside the machine's peak, and the MAE's encoder saving.

Three families train with their own loops (not ``aelab.train.fit``), so there is no textbook loop to
compare with; what is measured instead, each as a ratio taken within one run:

1. **Fraction of peak**: training FLOP/s of one step (forward, loss, backward, Adam) over the peak of
   a 2048 × 2048 float32 matrix product measured between the runs (:func:`throughput.peak_matmul_flops`).
   FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one real step, in training mode
   (``nn.TransformerEncoderLayer``'s inference fast path hides its FLOPs from the counter).
   - ``sae_topk_32-512``: lecture 08's TopK sparse autoencoder (256 features in 32 dimensions, 512
     latents, k = 8) on :func:`aelab.data.superposition` vectors, batch 1,024;
   - ``mae_7x7_75``: lecture 09's masked autoencoder (16 patches of 7×7, 75 % masked), batch 128;
   - ``vqvae_k64``: lecture 09's VQ-VAE (7×7 grid, K = 64 codes), batch 128.
2. **The MAE's asymmetric encoder** (He et al. 2021, §3): the encoder's forward + backward on the 25 %
   visible patches against the same encoder on all 16 patches (what an encoder that also processed mask
   tokens would cost), wall-clock ratio and FLOP ratio side by side. The FLOP ratio is 4 by
   construction for the linear layers; the wall ratio shows how much of it a CPU turns into time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from .throughput import _median, peak_matmul_flops

IMAGE_SHAPE = (1, 28, 28)


@dataclass
class ModernResult:
    """One family's training throughput: best run and the median fraction of peak over the repeats."""

    model: str
    params: int
    batch_size: int
    train_mflop_per_item: float
    items_per_s: float           # best of the repeats (images, or vectors for the SAE)
    runs: list[float]
    peak_gflops: float
    fraction_of_peak: float      # best run's FLOP/s over the best peak
    median_fraction_of_peak: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class EncoderSaving:
    """The MAE encoder on the visible patches vs on all patches: wall-clock and FLOP ratios."""

    mask_ratio: float
    flop_ratio: float            # all patches / visible patches
    wall_ratio: float            # median over repeats of (time all patches / time visible patches)
    wall_runs: list[float]

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- the three families
def _sae():
    from aelab.data import superposition
    from aelab.models.sae import SparseAutoencoder, sae_loss

    x, _, _ = superposition(256, 32, 0.97, 8192, seed=0)
    model = SparseAutoencoder(32, 512, activation="topk", k=8)

    def step_loss(m, batch):
        return sae_loss(m, batch)

    return model, x, step_loss, 1024


def _mae():
    from aelab.models.mae import MaskedAutoencoder

    torch.manual_seed(0)
    images = torch.rand(2048, *IMAGE_SHAPE)
    model = MaskedAutoencoder(mask_ratio=0.75, seed=0)
    gen = torch.Generator().manual_seed(0)

    def step_loss(m, batch):
        return m.forward_loss(batch, generator=gen)[0]

    return model, images, step_loss, 128


def _vqvae():
    from aelab.models.vqvae import VQVAE

    torch.manual_seed(0)
    images = (torch.rand(2048, *IMAGE_SHAPE) > 0.8).float()
    model = VQVAE(num_codes=64)

    def step_loss(m, batch):
        return m.forward_loss(batch)[0]

    return model, images, step_loss, 128


#: name -> factory returning (model, data, loss of one batch, batch size)
FAMILIES: dict[str, Callable] = {"sae_topk_32-512": _sae, "mae_7x7_75": _mae, "vqvae_k64": _vqvae}


def step_flops(model: torch.nn.Module, loss_fn: Callable, batch: torch.Tensor) -> int:
    """FLOPs of one training step's forward and backward, counted by ``FlopCounterMode`` in training mode."""
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    with FlopCounterMode(display=False) as counter:
        loss_fn(model, batch).backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def items_per_second(model: torch.nn.Module, data: torch.Tensor, loss_fn: Callable, batch_size: int, steps: int,
                     *, clock: Callable[[], float] = time.perf_counter) -> float:
    """Training items per second over ``steps`` Adam steps on consecutive batches (after one warm-up step)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    def one(i):
        lo = (i * batch_size) % (len(data) - batch_size + 1)
        opt.zero_grad(set_to_none=True)
        loss_fn(model, data[lo:lo + batch_size]).backward()
        opt.step()

    one(0)
    t0 = clock()
    for i in range(1, steps + 1):
        one(i)
    return steps * batch_size / max(clock() - t0, 1e-9)


def measure(name: str, *, steps: int = 30, repeats: int = 3, peak_n: int = 2048,
            clock: Callable[[], float] = time.perf_counter,
            log: Callable[[str], None] = lambda s: None) -> ModernResult:
    """Throughput of one family of :data:`FAMILIES`, interleaved with the peak matmul, ``repeats`` times.

    Raises
    ------
    KeyError
        If ``name`` is not a family of :data:`FAMILIES`.
    """
    model, data, loss_fn, batch = FAMILIES[name]()
    flops = step_flops(model, loss_fn, data[:batch]) / batch   # forward + backward (Adam is elementwise: not counted)
    runs, peaks = [], []
    for r in range(repeats):
        peaks.append(peak_matmul_flops(peak_n, clock=clock))
        fresh, data, loss_fn, batch = FAMILIES[name]()
        runs.append(items_per_second(fresh, data, loss_fn, batch, steps, clock=clock))
        log(f"  {name} {r + 1}/{repeats}: {runs[-1]:,.0f} items/s; peak {peaks[-1] / 1e9:.0f} GFLOP/s")
    return ModernResult(model=name, params=sum(p.numel() for p in model.parameters()), batch_size=batch,
                        train_mflop_per_item=flops / 1e6, items_per_s=max(runs), runs=runs,
                        peak_gflops=max(peaks) / 1e9, fraction_of_peak=max(runs) * flops / max(peaks),
                        median_fraction_of_peak=_median([r * flops / p for r, p in zip(runs, peaks)]))


def encoder_saving(mask_ratio: float = 0.75, *, batch: int = 256, calls: int = 20, repeats: int = 3,
                   clock: Callable[[], float] = time.perf_counter) -> EncoderSaving:
    """The MAE encoder's forward + backward on the visible patches vs on all of them (He et al. 2021, §3)."""
    from aelab.models.mae import MaskedAutoencoder, encoder_flops

    torch.manual_seed(0)
    images = torch.rand(batch, *IMAGE_SHAPE)
    model = MaskedAutoencoder(mask_ratio=mask_ratio, seed=0).train()
    gen = torch.Generator().manual_seed(0)

    def timed(ratio):
        t0 = clock()
        for _ in range(calls):
            out = model.forward_encoder(images, ratio, generator=gen)
            (out[0] if isinstance(out, tuple) else out).sum().backward()
        model.zero_grad(set_to_none=True)
        return clock() - t0

    timed(mask_ratio), timed(0.0)   # warm-up
    ratios = [timed(0.0) / timed(mask_ratio) for _ in range(repeats)]
    flop_ratio = encoder_flops(model, images, 0.0) / encoder_flops(model, images, mask_ratio)
    return EncoderSaving(mask_ratio=mask_ratio, flop_ratio=flop_ratio, wall_ratio=_median(ratios), wall_runs=ratios)


def run_all(*, steps: int = 30, repeats: int = 3, clock: Callable[[], float] = time.perf_counter,
            log: Callable[[str], None] = lambda s: None) -> dict:
    """Every family's :func:`measure` and the MAE's :func:`encoder_saving`, as JSON-ready dicts."""
    out = {"throughput": [], "mae_encoder": None}
    for name in FAMILIES:
        log(f"modern: {name}")
        out["throughput"].append(measure(name, steps=steps, repeats=repeats, clock=clock, log=log).as_dict())
    out["mae_encoder"] = encoder_saving(repeats=repeats, clock=clock).as_dict()
    return out
