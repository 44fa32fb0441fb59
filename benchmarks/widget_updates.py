"""Update time of lecture 07's three explorers, and what a drag costs the kernel.

``python -m benchmarks.widget_updates`` prints

1. the median and 95th percentile of one slider move (decode + draw + caption + PNG) per explorer
   and their ratio to the 50 ms budget a slider needs to feel immediate;
2. a simulated drag (:func:`drag_burst`): slider events arrive on an asyncio event loop (as in
   the kernel) every 10 ms for half a second, and the explorer either coalesces them (what
   :class:`aelab.widgets.SliderPanel` does: a burst costs one frame, of the newest value) or draws
   every event (the counterfactual): frames drawn, and the lag from the last event to the frame
   that shows it. Drawing every event queues stale frames, so its lag grows with the drag.

Models are untrained (the decoder's cost does not depend on its weights) and of the lecture's
sizes: a 784-400-20 VAE (traversal), a 784-400-2 VAE (plane, with 1,000 scattered means) and a
784-400-20 AE beside the 20-D VAE (interpolation: two decodes per update). The browser's own
drawing and the messages between browser and kernel are not included (tests/test_browser.py
measures frames per second and lag in JupyterLab).
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


@dataclass
class DragTiming:
    widget: str
    mode: str  # "coalesced" or "every event"
    events: int
    frames: int
    lag_ms: float  # the hand's last move (its scheduled time) -> end of the frame that shows it
    newest_drawn: bool

    def as_dict(self) -> dict:
        return asdict(self)


def drag_burst(ex, values: list[list[float]], interval_s: float = 0.01, coalesce: bool = True) -> DragTiming:
    """Feed ``values`` to ``ex``'s sliders as events ``interval_s`` apart on an asyncio loop; time the frames.

    With ``coalesce=False`` every event draws at once (the panel's coalescing switched off).
    """
    import asyncio

    draws0 = ex.draws
    original = ex.request_redraw
    if not coalesce:
        ex.request_redraw = ex.redraw
    frame_end: list[float] = []
    redraw = ex.redraw

    def timed_redraw():
        out = redraw()
        frame_end.append(time.perf_counter())
        return out

    ex.redraw = timed_redraw
    if not coalesce:
        ex.request_redraw = timed_redraw

    async def run():
        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        for i, vals in enumerate(values):
            delay = start + i * interval_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # an event arrives (later, if a frame kept the loop busy)
            for s, v in zip(ex.sliders, vals):
                s.value = v
        await asyncio.sleep(0.3 + 2 * ex.coalesce_s)
        return start + (len(values) - 1) * interval_s, loop  # when the hand made its last move

    try:
        last_event, _ = asyncio.run(run())
    finally:
        ex.redraw, ex.request_redraw = redraw, original
        if "redraw" in vars(ex):
            del ex.redraw
        if "request_redraw" in vars(ex):
            del ex.request_redraw
    newest = [round(v, 6) for v in ex.drawn] == [round(v, 6) for v in ex.values()]
    lag = 1e3 * (frame_end[-1] - last_event) if frame_end else float("inf")
    return DragTiming("", "coalesced" if coalesce else "every event", len(values), ex.draws - draws0,
                      max(lag, 0.0), newest)


def drag_times(events: int = 50, interval_s: float = 0.01, seed: int = 0, n_points: int = 1000) -> list[DragTiming]:
    """:func:`drag_burst` for each explorer, coalesced and drawing every event (same values)."""
    rng = np.random.default_rng(seed)
    out = []
    for name, (ex, n, span) in _explorers(n_points).items():
        lo, hi = ex.ranges[0]
        path = np.linspace(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo), events)
        start = [round(float(v), 2) for v in rng.uniform(lo, hi, n)] if span is not None else [0.0]
        values = [[round(float(v), 2)] + start[1:] for v in path]  # the first slider dragged, the others still
        for coalesce in (True, False):
            ex.set_values(start)
            row = drag_burst(ex, values, interval_s, coalesce)
            row.widget = name
            out.append(row)
    return out


def format_drag_table(rows: list[DragTiming]) -> str:
    lines = [f"{'explorer':<40} {'mode':<12} {'events':>6} {'frames':>6} {'lag ms':>8} {'newest drawn':>13}"]
    lines += [f"{r.widget:<40} {r.mode:<12} {r.events:>6} {r.frames:>6} {r.lag_ms:>8.0f} {str(r.newest_drawn):>13}"
              for r in rows]
    return "\n".join(lines)


def format_table(rows: list[WidgetTiming]) -> str:
    lines = [f"{'explorer':<40} {'median ms':>10} {'p95 ms':>8} {'median / 50 ms':>15}"]
    lines += [f"{r.widget:<40} {r.median_ms:>10.1f} {r.p95_ms:>8.1f} {r.ratio_to_budget:>15.2f}" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=50)
    ap.add_argument("--events", type=int, default=50, help="slider events in the simulated drag")
    args = ap.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}")
    print(format_table(widget_update_times(args.updates)))
    print(f"\nA drag: {args.events} slider events 10 ms apart on an asyncio loop (as in the kernel)")
    print(format_drag_table(drag_times(args.events)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
