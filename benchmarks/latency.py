"""Decoder latency for the widgets: decode one code, and decode + redraw one frame.

Times :class:`aelab.widgets.LatentFrame`, the widget's own fast path: decode a ``(1, k)``
code, put it into the existing ``imshow``, redraw the Agg canvas and encode the PNG that the
``ipywidgets.Image`` receives. The browser's own drawing of a ~250 × 280 px PNG is not included.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from aelab.models import VAE, MLPAutoencoder

IMAGE_SHAPE = (1, 28, 28)

#: The explorers the course shows: lecture 07's 2-D VAE and lecture 02's deep AE with a 2-D code.
LATENCY_MODELS = {
    "vae_784-400-2": lambda: VAE(784, 400, 2, input_shape=IMAGE_SHAPE),
    "ae_784-1000-500-250-2": lambda: MLPAutoencoder((784, 1000, 500, 250, 2), input_shape=IMAGE_SHAPE),
}


@dataclass
class LatencyResult:
    model: str
    decode_ms: float  # median, one code -> (28, 28) array
    frame_ms: float  # median, decode + set_data + canvas draw + PNG
    frame_p95_ms: float
    calls: int

    def as_dict(self) -> dict:
        return asdict(self)


def decoder_latency(name: str, model: nn.Module, *, calls: int = 100, seed: int = 0) -> LatencyResult:
    """Median milliseconds to decode one random code, and to decode + draw one widget frame."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from aelab.models import code_size
    from aelab.widgets import LatentFrame, decode_image

    k = code_size(model)
    rng = np.random.default_rng(seed)
    codes = rng.standard_normal((calls + 5, k)).astype(np.float32)
    frame = LatentFrame(model)
    for z in codes[:5]:  # warm-up: first draw builds font caches etc.
        frame.update(z)
        frame.png()
    dec, fr = [], []
    for z in codes[5:]:
        t = time.perf_counter()
        decode_image(model, z)
        dec.append(time.perf_counter() - t)
        t = time.perf_counter()
        frame.update(z)
        frame.png()
        fr.append(time.perf_counter() - t)
    return LatencyResult(model=name, decode_ms=1e3 * float(np.median(dec)), frame_ms=1e3 * float(np.median(fr)),
                         frame_p95_ms=1e3 * float(np.percentile(fr, 95)), calls=calls)


def all_latencies(calls: int = 100, models=None) -> list[LatencyResult]:
    out = []
    for name, factory in (models or LATENCY_MODELS).items():
        torch.manual_seed(0)
        out.append(decoder_latency(name, factory(), calls=calls))
    return out
