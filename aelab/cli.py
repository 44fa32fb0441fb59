"""The ``aelab`` command.

``aelab build [--quick]``
    Execute every notebook under lectures/ and solutions/ and write the HTML site,
    ``_build/index.html`` and ``_build/report.json``. Exit 1 naming each failing notebook and
    cell, or when a claim failed.
``aelab release [--check]``
    Generate labs/ from solutions/ with nbgrader's preprocessors (``--check``: verify only).
``aelab doctor``
    Print what this machine has: versions, device, data sources, quick mode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_build(args: argparse.Namespace) -> int:
    from .build import build

    from .course import is_quick

    root = Path(args.root)
    args.quick = args.quick or is_quick()  # AELAB_QUICK=1 in the environment also selects quick mode
    try:
        results = build(root, Path(args.out) if args.out else root / "_build", quick=args.quick,
                        timeout=args.timeout, dirs=tuple(args.dirs))
    except FileNotFoundError as exc:
        print(f"aelab build: {exc}", file=sys.stderr)
        return 2
    failed = [r for r in results if r.status != "ok"]
    # a claim can fail without failing its notebook (e.g. caught in a cell): the build still fails
    bad_claims = [(r, c) for r in results if r.status == "ok" for c in r.claims if c.get("status") == "failed"]
    out = Path(args.out) if args.out else root / "_build"
    print(f"site: {out / 'index.html'}  report: {out / 'report.json'}")
    for r in failed:
        where = f" at cell {r.failed_cell}" if r.failed_cell is not None else ""
        print(f"aelab build: FAILED {r.path}{where}: {r.error}", file=sys.stderr)
    for r, c in bad_claims:
        print(f"aelab build: FAILED claim in {r.path}: {c.get('text')}", file=sys.stderr)
    return 1 if failed or bad_claims else 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    import platform

    import torch

    from . import __version__
    from .course import is_quick, pick_device
    from .data import DEBIAN_FASHION_DIR, data_root, is_online

    print(f"aelab {__version__}, Python {platform.python_version()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    try:
        import torchvision

        print(f"torchvision {torchvision.__version__}")
    except Exception as exc:  # the classic mismatch: operator torchvision::nms does not exist
        print(f"torchvision: BROKEN ({exc}). Reinstall torch and torchvision together from PyPI.")
    print(f"device: {pick_device()}; quick mode: {is_quick()}")
    root = data_root()
    print(f"data root: {root}  (set AELAB_DATA to change)")
    print(f"full MNIST on disk: {(root / 'MNIST' / 'raw' / 'train-images-idx3-ubyte').exists()}")
    print(f"Fashion-MNIST (Debian package): {(DEBIAN_FASHION_DIR / 'train-images-idx3-ubyte.gz').exists()}")
    print(f"network for downloads: {is_online()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aelab", description="The autoencoder course kit.")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="execute all notebooks and write the HTML site to _build/")
    b.add_argument("--quick", action="store_true", help="shrink sizes (AELAB_QUICK=1), as CI does")
    b.add_argument("--root", default=".", help="course root holding lectures/ and solutions/ (default: .)")
    b.add_argument("--out", default=None, help="output folder (default: ROOT/_build)")
    b.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default 1800)")
    b.add_argument("--dirs", nargs="+", default=["lectures", "solutions"], help="notebook folders under ROOT")
    b.set_defaults(func=_cmd_build)

    d = sub.add_parser("doctor", help="print versions, device and data sources")
    d.set_defaults(func=_cmd_doctor)

    from .release import add_release_parser

    add_release_parser(sub)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
