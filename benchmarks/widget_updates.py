"""Update time of lecture 07's three explorers: one slider move = decode + draw + PNG.

``python -m benchmarks.widget_updates`` prints the median and 95th percentile per explorer and
their ratio to the 50 ms budget a slider needs to feel immediate. Models are untrained (the
decoder's cost does not depend on its weights) and of the lecture's sizes: a 784-400-20 VAE
(traversal), a 784-400-2 VAE (plane, with 1,000 scattered means) and a 784-400-20 AE beside the
20-D VAE (interpolation: two decodes per update). The browser's own drawing is not included.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

BUDGET_MS = 50.0
IMG = (1, 28, 28)


@dataclass
class WidgetTiming:
    widget: str
    median_ms: float
    p95_ms: float
    ratio_to_budget: float  # median / 50 ms
    updates: int

    def as_dict(self) -> dict:
        return asdict(self)


def _explorers(n_points: int = 1000):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from aelab.models import VAE, MLPAutoencoder
    from aelab.widgets import interpolation_explorer, latent_plane, latent_traversal

    torch.manual_seed(0)
    vae20, vae2 = VAE(784, 400, 20, input_shape=IMG), VAE(784, 400, 2, input_shape=IMG)
    ae = MLPAutoencoder((784, 400, 20), input_shape=IMG)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, *IMG, generator=g)
    return {
        "traversal (20-D VAE, 10 sliders)": (latent_traversal(vae20, dims=range(10)), 10, 3.0),
        "latent plane (2-D VAE, 1,000 points)": (latent_plane(vae2, torch.randn(n_points, 2, generator=g),
                                                              torch.randint(0, 10, (n_points,), generator=g)), 2, 3.0),
        "interpolation (AE + VAE)": (interpolation_explorer({"AE": ae, "VAE": vae20}, x[:1], x[1:]), 1, None),
    }


def widget_update_times(updates: int = 50, seed: int = 0, n_points: int = 1000) -> list[WidgetTiming]:
    """Median/p95 milliseconds of ``updates`` random programmatic slider moves per explorer."""
    rng = np.random.default_rng(seed)
    out = []
    for name, (ex, n, span) in _explorers(n_points).items():
        for _ in range(3):  # warm-up
            ex.set_values(list(rng.uniform(0, 1, n) if span is None else rng.uniform(-span, span, n)))
        times = []
        for _ in range(updates):
            vals = list(rng.uniform(0, 1, n) if span is None else rng.uniform(-span, span, n))
            t = time.perf_counter()
            ex.set_values(vals)
            times.append(time.perf_counter() - t)
        med = 1e3 * float(np.median(times))
        out.append(WidgetTiming(name, med, 1e3 * float(np.percentile(times, 95)), med / BUDGET_MS, updates))
    return out


def format_table(rows: list[WidgetTiming]) -> str:
    lines = [f"{'explorer':<40} {'median ms':>10} {'p95 ms':>8} {'median / 50 ms':>15}"]
    lines += [f"{r.widget:<40} {r.median_ms:>10.1f} {r.p95_ms:>8.1f} {r.ratio_to_budget:>15.2f}" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=50)
    args = ap.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}")
    print(format_table(widget_update_times(args.updates)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
