"""nbgrader's feedback HTML works offline: MathJax inside the page, no script or stylesheet from the network.

nbgrader 0.9.6's feedback template calls nbconvert's ``mathjax()`` macro without a URL, so every
feedback page loads MathJax 2.7 from cdnjs (``HTMLExporter.mathjax_url`` is ignored): the first
run below pins that defect down. With ``aelab.tools.feedback.offline_feedback(c)`` in
``nbgrader_config.py`` (as INSTRUCTORS.md says) the same submission's feedback carries MathJax 3
inline. A tiny assignment (one exercise, one check, a formula in markdown) keeps it to a few
nbgrader runs; the browser test opens the page from disk with every network request refused and
finds the formulas typeset.
"""

from __future__ import annotations

import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

from aelab.tools import feedback

ROOT = Path(__file__).resolve().parents[1]
NBGRADER = Path(sys.executable).parent / "nbgrader"
CHROMIUM = os.environ.get("AELAB_CHROMIUM", "/usr/bin/chromium")

BASE_CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "aelab"
c.Execute.timeout = 600
c.Execute.iopub_timeout = 60
"""
#: The two lines INSTRUCTORS.md adds to nbgrader_config.py.
OFFLINE_LINES = "from aelab.tools.feedback import offline_feedback\noffline_feedback(c)\n"


def _assignment() -> nbformat.NotebookNode:
    def meta(**kw):
        return {"nbgrader": {"schema_version": 3, "locked": False, "solution": False, "grade": False,
                             "task": False, **kw}}

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Squares\n\nWrite $f(x) = x^2$, so that\n$$\\sum_{i=1}^{3} f(i) = 14.$$"),
        nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x ** 2\n    ### END SOLUTION",
                                  metadata=meta(solution=True, grade_id="f")),
        nbformat.v4.new_code_cell("assert sum(f(i) for i in range(1, 4)) == 14",
                                  metadata=meta(grade=True, locked=True, points=1, grade_id="check_f")),
    ]
    return nb


def _nbgrader(course: Path, *args: str) -> str:
    import subprocess

    # nbgrader runs `alembic` from PATH, as after `source .venv/bin/activate`
    env = dict(os.environ, PATH=os.pathsep.join([str(NBGRADER.parent), os.environ.get("PATH", "")]))
    r = subprocess.run([str(NBGRADER), *args], cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, \
        f"nbgrader {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-4000:]}"
    return r.stdout + r.stderr


class _Resources(HTMLParser):
    """The URLs a page loads by itself: ``<script src>``, ``<link href>`` (stylesheets, icons), ``<img src>``."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.loaded.append(a["src"])
            else:
                self.inline_scripts += 1
        elif tag == "link" and a.get("href"):
            self.loaded.append(a["href"])
        elif tag in ("img", "iframe", "embed") and a.get("src"):
            self.loaded.append(a["src"])


def _loaded(html: str) -> _Resources:
    parser = _Resources()
    parser.feed(html)
    return parser


def _feedback(tmp: Path) -> tuple[str, str, Path]:
    """(feedback HTML without aelab's config, feedback HTML with it, its path) for one graded submission."""
    course = tmp / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    nbformat.write(_assignment(), course / "source" / "ps1" / "squares.ipynb")
    (course / "nbgrader_config.py").write_text(BASE_CONFIG)
    _nbgrader(course, "generate_assignment", "ps1")
    (course / "submitted" / "alice" / "ps1").mkdir(parents=True)
    sub = nbformat.read(course / "release" / "ps1" / "squares.ipynb", as_version=4)
    for cell in sub.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "def f(x):\n    return x * x"
    nbformat.write(sub, course / "submitted" / "alice" / "ps1" / "squares.ipynb")
    _nbgrader(course, "autograde", "ps1")
    page = course / "feedback" / "alice" / "ps1" / "squares.html"
    _nbgrader(course, "generate_feedback", "ps1")
    before = page.read_text(encoding="utf-8")
    (course / "nbgrader_config.py").write_text(BASE_CONFIG + OFFLINE_LINES)
    _nbgrader(course, "generate_feedback", "--force", "ps1")
    return before, page.read_text(encoding="utf-8"), page


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    if not NBGRADER.exists():
        pytest.skip(f"nbgrader is not installed next to {sys.executable} (it is a dependency of aelab)")
    return _feedback(tmp_path_factory.mktemp("feedback"))


def test_offline_feedback_configures_nbgraders_exporter():
    c = Config()
    c.HTMLExporter.filters = {"mine": "x.y"}
    feedback.offline_feedback(c)
    assert c.HTMLExporter.extra_template_basedirs[0] == str(feedback.TEMPLATE_BASEDIR)
    assert Path(c.HTMLExporter.extra_template_basedirs[1], "feedback", "index.html.j2").is_file()
    assert (feedback.TEMPLATE_BASEDIR / "feedback" / "mathjax.html.j2").is_file()
    assert c.HTMLExporter.filters == {"mine": "x.y", feedback.FILTER_NAME: "aelab.tools.feedback.inline_mathjax"}
    with pytest.raises(TypeError, match="get_config"):
        feedback.offline_feedback({})


def test_the_local_mathjax_exists_and_fits_in_a_page():
    path = feedback.mathjax_file()
    assert path.name == "tex-svg-full.js" and path.stat().st_size > 1_000_000
    markup = str(feedback.inline_mathjax("https://cdn.example/ignored.js"))
    assert "https://cdn.example" not in markup and "window.MathJax = " in markup
    assert _loaded(markup).loaded == [] and _loaded(markup).inline_scripts == 2
    assert markup.lower().count("</script") == 2  # nothing inside MathJax ends its script early


@pytest.mark.slow
def test_feedback_loads_nothing_from_the_network(pages):
    before, after, _ = pages
    # the defect this fixes: nbgrader's template loads MathJax 2.7 from cdnjs
    assert any("cdnjs.cloudflare.com/ajax/libs/mathjax" in u for u in _loaded(before).loaded), _loaded(before).loaded
    loaded = _loaded(after)
    remote = [u for u in loaded.loaded if re.match(r"(?i)(https?:)?//", u)]
    assert remote == [], remote
    assert "cdnjs" not in after and "mathjax@" not in after.lower().replace("mathjax@3/es5", "")
    assert "window.MathJax = " in after and loaded.inline_scripts >= 2
    assert feedback.mathjax_file().read_text(encoding="utf-8")[:2000] in after  # MathJax itself is in the page
    # still nbgrader's feedback page: score and the student's answer
    text = re.sub(r"<[^>]+>", "", after)
    assert "squares (Score: 1.0 / 1.0)" in text and "return x * x" in text


@pytest.mark.slow
@pytest.mark.browser
def test_feedback_typesets_math_offline_in_a_browser(pages):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"needs Debian's headless Chromium at {CHROMIUM} (sudo apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    _, _, page_path = pages
    refused = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.route("**/*", route)
            page.goto(page_path.as_uri())
            page.wait_for_function("() => document.querySelectorAll('mjx-container svg').length >= 2", timeout=60_000)
            inline = page.locator("mjx-container:not([display='true'])").count()
            display = page.locator("mjx-container[display='true']").count()
            raw = page.evaluate("() => document.body.innerText.includes('$f(x)')")
        finally:
            browser.close()
    assert refused == [], refused
    assert inline >= 1 and display >= 1 and not raw
