"""``python -m benchmarks.allocator``: glibc's default allocator vs :func:`aelab.runtime.keep_freed_memory`.

Issue 26: lecture 04's convolutional autoencoders trained *slower* per image at batch 512 than at
128. The cause on Linux is glibc's malloc: its thresholds adapt to the largest block freed so
far, and once a training step frees tens of MB it gives the top of the heap back to the kernel
after every step; the next step page-faults the same memory back in, zero-filled. This script
measures it: each allocator in its own fresh process (the setting lasts for a process), for each
conv decoder, ABBA-interleaved one-epoch runs at batch 128, 512 (the whole batch at once) and
512 in chunks of 128 (``chunk_size=128``, issue 26's first fix), with the minor page faults per
training step (``getrusage``). Ratios are medians of the pairs with a 95 % bootstrap interval.

Usage: ``python -m benchmarks.allocator [--images 4096] [--pairs 16] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

MODELS = ("conv_ae_max_unpool_32", "conv_ae_transposed_32", "conv_ae_repeat_32")
#: (label, batch size, chunk_size): the baseline first
VARIANTS = (("batch 128", 128, None), ("batch 512", 512, None), ("batch 512, chunks of 128", 512, 128))


def measure(model_name: str, n_images: int, pairs: int, seed: int = 0) -> dict:
    """In this process: per variant, images/s of each one-epoch run and minor page faults per step.

    Returns ``{"model", "tuned", "variants": {label: {"runs", "faults_per_step", "ratio"}}}`` where
    ``ratio`` is ``(median, low, high)`` of the per-pair ratios to batch 128.
    """
    import torch

    from aelab.runtime import keep_freed_memory

    from .throughput import MODELS as FAMILIES
    from .throughput import _trainer, median_interval

    tuned = keep_freed_memory()  # a no-op returning False under AELAB_DEFAULT_MALLOC=1
    factory, loss = FAMILIES[model_name]
    torch.manual_seed(seed)
    images = torch.rand(n_images, 1, 28, 28)  # the conv models' cost does not depend on pixel values
    runs = {}
    for label, bs, chunks in VARIANTS:
        torch.manual_seed(seed)
        model = factory()
        model.config = dataclasses.replace(model.config, chunk_size=chunks)
        train, kw, data = _trainer(model, images, loss=loss, lr=1e-3, batch_size=bs, seed=seed)
        train(model, data, epochs=1, **kw)  # warm-up epoch
        runs[label] = (model, train, kw, data, -(-n_images // bs))
    rates = {label: [] for label in runs}
    faults = {label: [] for label in runs}
    order = list(runs)
    for i in range(pairs):
        for label in (order if i % 2 == 0 else order[::-1]):
            model, train, kw, data, steps = runs[label]
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            train(model, data, epochs=1, **kw)
            rates[label].append(n_images / (time.perf_counter() - t0))
            faults[label].append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / steps)
    base = rates[order[0]]
    out = {}
    for label in order:
        ratios = [r / b for r, b in zip(rates[label], base)]
        out[label] = {"runs": rates[label], "faults_per_step": sorted(faults[label])[len(faults[label]) // 2],
                      "ratio": median_interval(ratios)}
    return {"model": model_name, "tuned": tuned, "variants": out}


def _child(args) -> int:
    print(json.dumps(measure(args.child, args.images, args.pairs)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.allocator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=4096, help="images per epoch (default 4096)")
    parser.add_argument("--pairs", type=int, default=16, help="ABBA rounds (default 16)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.images < 512 or args.pairs < 2:
        parser.error("--images must be >= 512 (one batch of 512) and --pairs >= 2")
    if args.child:
        return _child(args)
    results = []
    for name in args.models:
        for default in (True, False):
            env = dict(os.environ, AELAB_DEFAULT_MALLOC="1" if default else "0")
            print(f"{name}: {'glibc default' if default else 'keep_freed_memory'} ...", file=sys.stderr, flush=True)
            proc = subprocess.run([sys.executable, "-m", "benchmarks.allocator", "--child", name,
                                   "--images", str(args.images), "--pairs", str(args.pairs)],
                                  env=env, capture_output=True, text=True, check=False,
                                  cwd=Path(__file__).resolve().parent.parent)
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                return proc.returncode
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"{'model':<24} {'allocator':<18} {'variant':<26} {'images/s':>9} {'faults/step':>11}  ratio to batch 128")
    for r in results:
        for label, v in r["variants"].items():
            med, low, high = v["ratio"]
            best = max(v["runs"])
            print(f"{r['model']:<24} {'keep_freed_memory' if r['tuned'] else 'glibc default':<18} {label:<26} "
                  f"{best:>9,.0f} {v['faults_per_step']:>11,.0f}  {med:.3f} [{low:.3f}, {high:.3f}]")
    if args.json:
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
