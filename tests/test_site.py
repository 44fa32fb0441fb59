"""The built site offline in headless Chromium: math rendered, images shown, widgets static, no network.

Uses Debian's Chromium through Playwright (never a browser download); without either the tests
skip with a message naming the package to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from aelab.tools.sitecheck import SiteCheckError, check_site, find_chromium

CELLS = [
    new_markdown_cell("# Lecture 01: math, a figure, a bar and a widget\n\n"
                      "The ELBO $\\log p(x) \\ge \\mathbb{E}_q[\\log p(x\\mid z)] - \\mathrm{KL}(q\\,\\|\\,p)$.\n\n"
                      "$$\\|J\\|_F^2 = \\sum_{ij} J_{ij}^2$$"),
    new_code_cell("import aelab\nsession = aelab.setup(seed=0)\nimport matplotlib.pyplot as plt\n"
                  "plt.plot([1, 2, 3]); plt.xlabel('x'); plt.show()"),
    new_code_cell("from tqdm.auto import tqdm\nfor i in tqdm(range(3), desc='train'): pass"),
    new_code_cell("import ipywidgets as w\nw.VBox([w.FloatSlider(value=1.5, description='z1')])"),
]


def _need_browser():
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the site check needs the pip package `playwright` (pip install -e '.[test]')")
    try:
        find_chromium()
    except SiteCheckError:
        pytest.skip("the site check needs Debian's package `chromium` (sudo apt-get install chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
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
                           "--dirs", "lectures"], capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return root / "_build"


@pytest.mark.slow
def test_every_page_works_offline(site, tmp_path):
    _need_browser()
    results = check_site(site, tmp_path / "shots")
    assert [r.page for r in results] == ["index.html", "reproductions.html", "lectures/01_demo.html"]
    for r in results:
        assert r.problems == [], (r.page, r.problems)
        assert Path(r.screenshot).stat().st_size > 5000
    page = results[-1]
    assert page.math >= 2 and page.images >= 1 and page.widgets == 1


@pytest.mark.slow
def test_the_check_catches_a_cdn_script_and_unrendered_math(site, tmp_path):
    _need_browser()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "index.html").write_text(
        '<html><head><script src="https://cdn.example.org/require.min.js"></script></head><body>'
        '<div class="jp-RenderedMarkdown"><p>The loss $\\|x - \\hat x\\|^2$ per image.</p></div>'
        '<img src="missing.png" alt="a lost figure">'
        '<div data-mime-type="application/vnd.jupyter.widget-view+json"></div></body></html>', encoding="utf-8")
    (result,) = check_site(bad, tmp_path / "shots")
    text = "; ".join(result.problems)
    assert "request(s) to the network" in text and "cdn.example.org" in text
    assert "math left as TeX text" in text
    assert "image(s) not shown" in text and "a lost figure" in text
    assert "blank widget area" in text


def test_a_folder_without_a_site_is_a_clear_error(tmp_path):
    with pytest.raises(SiteCheckError, match="no index.html: run `aelab build` first"):
        check_site(tmp_path)
