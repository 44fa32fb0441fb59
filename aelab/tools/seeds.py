"""``aelab seeds``: re-run the course's claims under several seeds and count, per claim, where it holds.

Every notebook runs at one session seed, so a claim can hold at seed 0 by luck. ``aelab seeds``
runs ``aelab build --quick --seed N`` (each kernel gets ``AELAB_SEED=N``) once per seed, each build
into its own folder ``OUT/seed-N``, then reads the builds' ``report.json`` files and writes one
table, ``OUT/seeds.md`` (and ``OUT/seeds.json``): per claim, at how many seeds it held, and at
which it failed or was skipped, with the notebooks that did not finish at some seed.

It is slow (one whole build per seed), so it is not part of CI::

    .venv/bin/aelab seeds --seeds 0 1 2 3 4              # quick builds into _seeds/seed-N
    .venv/bin/aelab seeds --seeds 0 1 2 --dirs lectures  # lectures only

A claim is identified by its notebook and its position among that notebook's claims (claim
sentences may carry numbers that change with the seed); the text shown is the first seed's. A
notebook that stops early (a failed cell) leaves its later claims "not run" at that seed.

Only what the notebooks draw through ``aelab.setup`` / ``aelab.train.fit`` / ``aelab.zoo`` changes
with ``AELAB_SEED``: a seed typed into a notebook (``torch.Generator().manual_seed(0)``) stays.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ClaimRow", "tabulate", "render_table", "sweep", "add_seeds_parser"]


@dataclass
class ClaimRow:
    """One claim across seeds.

    Attributes
    ----------
    notebook : str
        The notebook's path relative to the course root.
    index : int
        The claim's position among the notebook's claims (0-based).
    text : str
        The claim's sentence (at the first seed that reached it).
    status : dict of int to str
        ``seed -> "held" | "failed" | "skipped" | "not run"``.
    """

    notebook: str
    index: int
    text: str
    status: dict[int, str] = field(default_factory=dict)

    def seeds_with(self, status: str) -> list[int]:
        """The seeds at which the claim had ``status``, ascending."""
        return sorted(s for s, v in self.status.items() if v == status)


def tabulate(reports: dict[int, dict]) -> tuple[list[ClaimRow], dict[int, list[str]]]:
    """Claims across seeds from the builds' ``report.json`` contents.

    Parameters
    ----------
    reports : dict of int to dict
        ``seed -> report.json`` (as :meth:`aelab.tools.build.BuildReport.to_json` writes it).

    Returns
    -------
    rows : list of ClaimRow
        Every claim seen at any seed, in notebook order then claim order; a seed whose build did
        not reach a claim gives it ``"not run"``.
    unfinished : dict of int to list of str
        ``seed -> notebooks`` that did not end "ok" at that seed (with their status and error).
    """
    seeds = sorted(reports)
    rows: dict[tuple[str, int], ClaimRow] = {}
    order: list[str] = []
    unfinished: dict[int, list[str]] = {}
    for seed in seeds:
        for nb in reports[seed].get("notebooks", []):
            path = nb.get("path", "?")
            if path not in order:
                order.append(path)
            if nb.get("status") != "ok":
                unfinished.setdefault(seed, []).append(f"{path}: {nb.get('status')} ({nb.get('error', '')})")
            for i, c in enumerate(nb.get("claims", [])):
                row = rows.setdefault((path, i), ClaimRow(path, i, str(c.get("text", ""))))
                row.status[seed] = str(c.get("status", "?"))
        for path in reports[seed].get("not_run", []):
            if path not in order:
                order.append(path)
            unfinished.setdefault(seed, []).append(f"{path}: not run")
    for row in rows.values():
        for seed in seeds:
            row.status.setdefault(seed, "not run")
    ranked = sorted(rows.values(), key=lambda r: (order.index(r.notebook), r.index))
    return ranked, unfinished


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(rows: list[ClaimRow], unfinished: dict[int, list[str]], seeds: list[int]) -> str:
    """The Markdown table ``aelab seeds`` writes: one row per claim, then the notebooks that did not finish."""
    n = len(seeds)
    lines = [f"# Claims across seeds {', '.join(map(str, seeds))} (quick builds)", "",
             f"{sum(len(r.seeds_with('held')) == n for r in rows)} of {len(rows)} claims hold at every seed.", "",
             "| notebook | # | claim | held | failed at | skipped at | not run at |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        held = len(r.seeds_with("held"))
        lines.append(f"| {r.notebook} | {r.index + 1} | {_cell(r.text)} | {held}/{n} | "
                     f"{', '.join(map(str, r.seeds_with('failed')))} | {', '.join(map(str, r.seeds_with('skipped')))} | "
                     f"{', '.join(map(str, r.seeds_with('not run')))} |")
    if unfinished:
        lines += ["", "Notebooks that did not finish:", ""]
        for seed in seeds:
            for item in unfinished.get(seed, []):
                lines.append(f"- seed {seed}: {_cell(item)}")
    return "\n".join(lines) + "\n"


def sweep(root: str | Path, out: str | Path, seeds, *, dirs=("lectures", "solutions"), quick: bool = True,
          timeout: int = 1800, python: str | None = None) -> tuple[list[ClaimRow], dict[int, list[str]]]:
    """Build the course once per seed (``aelab build --seed N``) and tabulate its claims.

    Parameters
    ----------
    root : path
        The course root.
    out : path
        A folder; build N goes to ``out/seed-N``, the table to ``out/seeds.md`` and ``out/seeds.json``.
    seeds : sequence of int
        Seeds >= 0, each run once (duplicates dropped).
    dirs : sequence of str
        Notebook folders under ``root``.
    quick : bool
        Quick builds (``--quick``), as CI runs them.
    timeout : int
        Seconds allowed per cell.
    python : str, optional
        The interpreter that runs ``aelab`` (default: this one).

    Returns
    -------
    rows, unfinished
        As :func:`tabulate`.

    Raises
    ------
    ValueError
        For no seeds, a negative seed, or a build that wrote no ``report.json`` (it could not
        start: its one-line error is in the message).
    """
    from .._validation import seed as check_seed

    seeds = sorted({check_seed(s, "seed") for s in seeds})
    if not seeds:
        raise ValueError("give at least one seed, e.g. --seeds 0 1 2 3 4")
    root, out = Path(root), Path(out)
    reports: dict[int, dict] = {}
    for s in seeds:
        site = out / f"seed-{s}"
        cmd = [python or sys.executable, "-m", "aelab.tools.cli", "build", "--root", str(root), "--out", str(site),
               "--seed", str(s), "--timeout", str(timeout), "--dirs", *dirs] + (["--quick"] if quick else [])
        print(f"aelab seeds: building at seed {s} into {site}", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        report = site / "report.json"
        if not report.is_file():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ValueError(f"the build at seed {s} wrote no report ({last})")
        reports[s] = json.loads(report.read_text(encoding="utf-8"))
    rows, unfinished = tabulate(reports)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seeds.md").write_text(render_table(rows, unfinished, seeds), encoding="utf-8")
    (out / "seeds.json").write_text(json.dumps({"seeds": seeds, "claims": [vars(r) for r in rows],
                                                "unfinished": unfinished}, indent=2), encoding="utf-8")
    return rows, unfinished


def _cmd_seeds(args: argparse.Namespace) -> int:
    rows, unfinished = sweep(args.root, args.out, args.seeds, dirs=tuple(args.dirs), quick=not args.full,
                             timeout=args.timeout)
    seeds = sorted(set(args.seeds))
    print(render_table(rows, unfinished, seeds), end="")
    print(f"table: {Path(args.out) / 'seeds.md'}")
    return 0 if all(len(r.seeds_with("held")) + len(r.seeds_with("skipped")) == len(seeds) for r in rows) else 1


def add_seeds_parser(sub, seed_type, seconds_type) -> argparse.ArgumentParser:
    """Add ``seeds [--seeds N ...] [--out OUT] [--root ROOT] [--dirs DIR ...] [--full]`` to ``aelab``'s subparsers."""
    p = sub.add_parser("seeds", help="build the course at several seeds; per claim, at how many it holds (slow)",
                       description="Run `aelab build --seed N` for each seed into OUT/seed-N and write OUT/seeds.md: "
                                   "per claim, the seeds it held, failed or was skipped at. Exit 1 if a claim failed "
                                   "or did not run at some seed.")
    p.add_argument("--seeds", type=seed_type, nargs="+", default=[0, 1, 2, 3, 4], help="seeds (default: 0 1 2 3 4)")
    p.add_argument("--out", default="_seeds", help="folder for the builds and the table (default: _seeds)")
    p.add_argument("--root", default=".", help="course root (default: .)")
    p.add_argument("--dirs", nargs="+", default=["lectures", "solutions"], help="notebook folders inside ROOT")
    p.add_argument("--timeout", type=seconds_type, default=1800, help="seconds allowed per cell (default 1800)")
    p.add_argument("--full", action="store_true", help="full builds instead of quick ones (much slower)")
    p.set_defaults(func=_cmd_seeds)
    return p
