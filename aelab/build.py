"""``aelab build``: execute the course's notebooks and publish them as a static HTML site.

Every notebook under ``lectures/`` and ``solutions/`` is executed with nbclient (a fresh
kernel each), rendered with nbconvert's ``HTMLExporter`` into ``_build/``, and summarised in
``_build/index.html`` and ``_build/report.json``: status, run time, the claims each notebook
checked (held / failed / skipped) and the numbers it recorded with ``aelab.record``, beside
the papers' values where a paper gives one.
"""

from __future__ import annotations

import html
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .course import QUICK_ENV, REPORT_ENV

NOTEBOOK_DIRS = ("lectures", "solutions")


@dataclass
class NotebookResult:
    path: str
    status: str = "ok"  # "ok" or "failed"
    seconds: float = 0.0
    error: str = ""
    failed_cell: int | None = None
    claims: list[dict] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    html: str = ""


def find_notebooks(root: Path, dirs=NOTEBOOK_DIRS) -> list[Path]:
    """All ``*.ipynb`` under ``root/<dir>`` for each dir, sorted, skipping checkpoints."""
    found: list[Path] = []
    for d in dirs:
        found += sorted(p for p in (root / d).glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return found


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_report(path: Path) -> tuple[list[dict], list[dict]]:
    claims, records = [], []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            (claims if entry.get("kind") == "claim" else records).append(entry)
    return claims, records


def execute_notebook(path: Path, root: Path, out: Path, *, quick: bool, timeout: int) -> NotebookResult:
    """Execute one notebook in a fresh kernel, write its HTML, return its result."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError
    from nbconvert import HTMLExporter

    rel = path.relative_to(root).as_posix()
    result = NotebookResult(path=rel)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook: report it and go on with the others
        result.status = "failed"
        result.error = (f"{rel} is not a readable notebook ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                        "Fix: restore it from git or re-save it in JupyterLab")
        return result
    fd, report_file = tempfile.mkstemp(prefix="aelab-report-", suffix=".jsonl")
    os.close(fd)
    old_env = {k: os.environ.get(k) for k in (REPORT_ENV, QUICK_ENV)}
    os.environ[REPORT_ENV] = report_file  # the kernel inherits this environment
    os.environ[QUICK_ENV] = "1" if quick else "0"
    start = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    except Exception as exc:  # a cell error, a timeout, a dead kernel or a kernel that never started
        result.status = "failed"
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                result.failed_cell = i
                break
        if result.failed_cell is None and isinstance(exc, CellTimeoutError):
            result.error = f"timed out after {timeout} s: {str(exc).splitlines()[0] if str(exc) else ''}"
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        result.error = result.error or (lines[-1] if lines else type(exc).__name__)
    finally:
        result.seconds = time.perf_counter() - start
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        result.claims, result.records = _read_report(Path(report_file))
        os.unlink(report_file)
    body, _ = HTMLExporter().from_notebook_node(nb)
    html_rel = rel[:-len(".ipynb")] + ".html"
    atomic_write_text(out / html_rel, body)
    result.html = html_rel
    return result


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:#.4g}" if isinstance(v, float) else html.escape(str(v))


def render_index(results: list[NotebookResult], *, quick: bool, total_seconds: float) -> str:
    """The site's index page: one row per notebook, then the recorded numbers beside the papers'."""
    counts = {s: sum(c["status"] == s for r in results for c in r.claims) for s in ("held", "failed", "skipped")}
    rows = []
    for r in results:
        at = f" at cell {r.failed_cell}" if r.failed_cell is not None else ""
        status = "✔ ok" if r.status == "ok" else f"✘ failed{at}: {html.escape(r.error)}"
        held = sum(c["status"] == "held" for c in r.claims)
        link = f"<a href='{html.escape(r.html)}'>{html.escape(r.path)}</a>" if r.html else html.escape(r.path)
        rows.append(f"<tr class='{r.status}'><td>{link}</td>"
                    f"<td>{status}</td><td>{r.seconds:.1f} s</td><td>{held}/{len(r.claims)}</td></tr>")
    recs = []
    for r in results:
        for e in r.records:
            recs.append(f"<tr><td>{html.escape(r.path)}</td><td><code>{html.escape(e['name'])}</code></td>"
                        f"<td>{_fmt(e['value'])}</td><td>{_fmt(e.get('paper'))}</td>"
                        f"<td>{html.escape(e.get('unit') or '')}</td><td>{html.escape(e.get('note') or '')}</td></tr>")
    claim_rows = []
    for r in results:
        for c in r.claims:
            mark = {"held": "✔", "failed": "✘", "skipped": "↷"}[c["status"]]
            claim_rows.append(f"<tr class='{c['status']}'><td>{mark} {c['status']}</td><td>{html.escape(r.path)}</td>"
                              f"<td>{html.escape(c['text'])}</td><td>{html.escape(c.get('detail') or '')}</td></tr>")
    mode = "quick mode (AELAB_QUICK=1: sizes shrunk; claims needing full training skipped)" if quick else "full mode"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aelab — autoencoder course</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }}
tr.failed td {{ background: #fde8e8; }} tr.skipped td {{ color: #777; }}
</style></head><body>
<h1>aelab — autoencoder course</h1>
<p>Built in {mode} in {total_seconds:.0f} s. Claims: <b>{counts['held']} held</b>,
<b>{counts['failed']} failed</b>, <b>{counts['skipped']} skipped</b>.</p>
<h2>Notebooks</h2>
<table><tr><th>notebook</th><th>status</th><th>run time</th><th>claims held</th></tr>
{''.join(rows)}</table>
<h2>Key numbers beside the papers'</h2>
<table><tr><th>notebook</th><th>quantity</th><th>this build</th><th>paper</th><th>unit</th><th>protocol note</th></tr>
{''.join(recs)}</table>
<h2>Claims</h2>
<table><tr><th>status</th><th>notebook</th><th>claim</th><th>numbers</th></tr>
{''.join(claim_rows)}</table>
</body></html>
"""


def build(root: Path, out: Path, *, quick: bool, timeout: int = 1800, dirs=NOTEBOOK_DIRS,
          progress: bool = True) -> list[NotebookResult]:
    """Execute every notebook, write ``out/index.html``, ``out/report.json`` and one HTML per notebook.

    Returns the results; the caller decides the exit status.

    Raises
    ------
    FileNotFoundError
        If no notebook is found under ``root``'s ``dirs``.
    """
    from tqdm.auto import tqdm

    root, out = Path(root).resolve(), Path(out).resolve()
    notebooks = find_notebooks(root, dirs)
    if not notebooks:
        raise FileNotFoundError(f"no notebooks under {', '.join(str(root / d) for d in dirs)}")
    results: list[NotebookResult] = []
    start = time.perf_counter()
    bar = tqdm(notebooks, desc="aelab build", unit="notebook", disable=not progress, file=sys.stderr)
    for path in bar:
        rel = path.relative_to(root).as_posix()
        bar.set_postfix_str(rel)
        r = execute_notebook(path, root, out, quick=quick, timeout=timeout)
        results.append(r)
        held = sum(c["status"] == "held" for c in r.claims)
        at = f" at cell {r.failed_cell}" if r.failed_cell is not None else ""
        where = "" if r.status == "ok" else f"{at}: {r.error}"
        tqdm.write(f"{'✔' if r.status == 'ok' else '✘'} {rel}  {r.seconds:6.1f} s  claims held {held}/{len(r.claims)}{where}",
                   file=sys.stderr)
    total = time.perf_counter() - start
    report = {
        "quick": quick,
        "seconds": total,
        "notebooks": [asdict(r) for r in results],
        "claims": {s: sum(c["status"] == s for r in results for c in r.claims) for s in ("held", "failed", "skipped")},
    }
    atomic_write_text(out / "report.json", json.dumps(report, indent=2))
    atomic_write_text(out / "index.html", render_index(results, quick=quick, total_seconds=total))
    return results
