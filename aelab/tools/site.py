"""The published course site: pages that work offline, a course index, a Reproductions page.

:mod:`aelab.tools.build` executes the notebooks; this module turns them into the site:

- **Offline math.** MathJax is served from the site itself (``_static/mathjax/``, copied from
  the ``jupyter-server-mathjax`` package, MathJax 2.7); no page loads anything from a CDN.
- **No RequireJS, no widget manager.** An executed notebook's widgets are rendered as static
  HTML from the widget state nbclient saved (:func:`static_widgets`): a tqdm progress bar as its
  final line of text, an explorer as its last image and slider values with a note that it is
  interactive in JupyterLab. Every explorer in the course has a static figure beside it.
- **Navigation.** Every page links to the index and to the previous and next notebook in
  course order (lecture NN, then lab NN, then lecture NN+1, …).
- **Index and Reproductions.** The index is the course map (title, one-line summary and build
  status of each lecture and lab) followed by the build report; ``reproductions.html`` lists
  every recorded number beside the paper's value, with source and protocol.
"""

from __future__ import annotations

import base64
import functools
import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["MATHJAX_DIR", "SiteError", "CourseEntry", "entry_from_name", "read_entry", "course_order", "page_nav", "static_widgets",
           "install_mathjax", "render_page"]

#: Where the site keeps its copy of MathJax, relative to the site's root.
MATHJAX_DIR = "_static/mathjax"
TEMPLATE_DIR = Path(__file__).with_name("templates")
PAGE_TEMPLATE = "page.html.j2"

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_KIND_ORDER = {"lectures": 0, "solutions": 1}


class SiteError(RuntimeError):
    """The site cannot be written offline (MathJax's files are missing)."""


# --------------------------------------------------------------------------- course order and titles


@dataclass(frozen=True)
class CourseEntry:
    """One notebook of the course: ``rel`` (``lectures/03_x.ipynb``), its number, kind, title, summary."""

    rel: str
    number: str
    kind: str  # "lecture" or "lab"
    title: str
    summary: str

    @property
    def html(self) -> str:
        return self.rel[: -len(".ipynb")] + ".html"


_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_MARK = re.compile(r"[*_`]")


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


def entry_from_name(rel: str) -> CourseEntry:
    """A course entry from the file name alone (``lectures/02_deep_autoencoders.ipynb`` -> "02 deep autoencoders")."""
    name = PurePosixPath(rel).name
    number = name[:2] if name[:2].isdigit() else ""
    kind = "lab" if rel.startswith("solutions/") else "lecture"
    return CourseEntry(rel, number, kind, name[: -len(".ipynb")].replace("_", " "), "")


def read_entry(path: Path, rel: str) -> CourseEntry:
    """Title and one-line summary of a notebook: its first ``#`` heading and the sentence after it.

    A notebook without a heading is titled by its file name; one that cannot be read gets an
    empty summary (the build reports the error on its own row).
    """
    import nbformat

    fallback = entry_from_name(rel)
    number, kind, title, summary = fallback.number, fallback.kind, fallback.title, ""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return fallback
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        heading = next((i for i, ln in enumerate(lines) if ln.startswith("# ")), None)
        if heading is None:
            continue
        title = _plain(lines[heading][2:])
        rest = [ln for ln in lines[heading + 1:] if ln.strip() and not ln.lstrip().startswith(("#", "|", "-", ">", "$$"))]
        summary = _first_sentence(_plain(" ".join(rest))) if rest else ""
        break
    return CourseEntry(rel, number, kind, title, summary)


def course_order(entries: list[CourseEntry]) -> list[CourseEntry]:
    """Lecture NN, then lab NN, then lecture NN+1, … (notebooks without a number last, by path)."""
    return sorted(entries, key=lambda e: (e.number == "", e.number, _KIND_ORDER.get(e.rel.split("/")[0], 9), e.rel))


def _href(from_rel: str, to_rel: str) -> str:
    """A relative link from the page of ``from_rel`` to the file ``to_rel`` (both site-relative)."""
    depth = len(PurePosixPath(from_rel).parts) - 1
    return "../" * depth + to_rel


def page_nav(order: list[CourseEntry]) -> dict[str, dict]:
    """For each notebook: links to the index, the previous and the next page in course order."""
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


def _widget_html(state: dict, model_id: str) -> str:
    """A static snapshot of an explorer: its last image(s) and its sliders' last values."""
    images, values = [], []
    for mid in _walk(state, model_id):
        model = state[mid]
        name, s = model.get("model_name", ""), model.get("state", {})
        if name == "ImageModel":
            src = _image_png(model)
            if src:
                images.append(f'<img src="{src}" alt="the widget\'s last image">')
        elif name.endswith("SliderModel") and "value" in s:
            label = html.escape(str(s.get("description") or "slider"))
            values.append(f"{label} = {html.escape(str(s['value']))}")
    parts = ['<div class="aelab-static-widget"><p><b>Interactive widget.</b> Run this notebook in JupyterLab to '
             'move its sliders; the static figure next to it shows what it explores.</p>']
    parts += images
    if values:
        parts.append("<p>Last slider values: " + ", ".join(values) + "</p>")
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


# --------------------------------------------------------------------------- MathJax and the page


def _mathjax_source() -> Path:
    try:
        import jupyter_server_mathjax
    except ImportError:
        raise SiteError("the site needs MathJax's files from the Python package jupyter-server-mathjax, which is not "
                        "installed: run `pip install jupyter-server-mathjax` (scripts/setup.sh installs it)") from None
    src = Path(jupyter_server_mathjax.__file__).with_name("static")
    if not (src / "MathJax.js").is_file():
        raise SiteError(f"jupyter-server-mathjax is installed but {src / 'MathJax.js'} is missing: reinstall it")
    return src


def install_mathjax(out: Path) -> Path:
    """Copy MathJax 2.7 into ``out/_static/mathjax`` (once: a copy of the same version is kept).

    Returns
    -------
    Path
        The folder holding ``MathJax.js``.

    Raises
    ------
    SiteError
        If the ``jupyter-server-mathjax`` package (which ships MathJax) is missing.
    """
    src = _mathjax_source()
    dest = Path(out) / MATHJAX_DIR
    stamp = dest / ".source"
    marker = f"{src}\n{(src / 'MathJax.js').stat().st_size}\n"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == marker and (dest / "MathJax.js").is_file():
        return dest
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("*.map", "unpacked", "test", "docs"))
    (tmp / ".source").write_text(marker, encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    return dest


@functools.lru_cache(maxsize=None)
def _exporter(depth: int):
    from nbconvert import HTMLExporter

    mathjax = "../" * depth + MATHJAX_DIR + "/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
    return HTMLExporter(template_name="lab", extra_template_paths=[str(TEMPLATE_DIR)],
                        template_file=PAGE_TEMPLATE, mathjax_url=mathjax)


def render_page(nb, rel: str, nav: dict | None = None) -> str:
    """The HTML page of an executed notebook: offline MathJax, static widgets, navigation links.

    ``nb`` is changed in place (:func:`static_widgets`). ``nav`` is this page's entry of
    :func:`page_nav` (links to the index, previous and next page); without it the page has
    only a link to the index.
    """
    static_widgets(nb)
    depth = len(PurePosixPath(rel).parts) - 1
    nav = nav or {"index": "../" * depth + "index.html", "reproductions": "../" * depth + "reproductions.html",
                  "prev": None, "next": None}
    body, _ = _exporter(depth).from_notebook_node(nb, resources={"aelab_nav": nav})
    return body
