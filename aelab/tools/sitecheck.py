"""``aelab check-site``: open a built site in headless Chromium with the network off and check it.

Every page of ``_build/`` (the index, ``reproductions.html`` and each notebook's page) is loaded
from the disk in Debian's Chromium (``/usr/bin/chromium``, driven by Playwright; no browser is
ever downloaded) with the browser context offline, and must show:

- no request to the network (any attempt is recorded and reported);
- rendered math: MathJax typeset every ``$…$`` of the page (no TeX left as text) with the
  site's own copy of MathJax;
- every image loaded (``naturalWidth > 0``);
- no blank widget area: no widget output left for a widget manager that is not there.

A full-page screenshot of each page is written to the screenshot folder.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CHROMIUM", "PageCheck", "SiteCheckError", "find_chromium", "check_site"]

#: Debian's Chromium (package ``chromium``).
CHROMIUM = "/usr/bin/chromium"


class SiteCheckError(RuntimeError):
    """Chromium or Playwright is missing, or the site folder has no index."""


@dataclass
class PageCheck:
    """What one page showed: counts and the problems found (empty when the page is fine)."""

    page: str
    math: int = 0
    images: int = 0
    widgets: int = 0
    screenshot: str = ""
    problems: list[str] = field(default_factory=list)


def find_chromium() -> str:
    """The path of a Chromium to drive: ``$AELAB_CHROMIUM``, else Debian's, else one on the PATH.

    Raises
    ------
    SiteCheckError
        Naming the Debian package to install, if there is none.
    """
    import os

    for candidate in (os.environ.get("AELAB_CHROMIUM"), CHROMIUM, shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SiteCheckError("no Chromium found: install Debian's package `chromium` (sudo apt-get install chromium; "
                         "scripts/setup.sh does it) or set AELAB_CHROMIUM to a Chromium binary")


_JS_PAGE_FACTS = """() => {
  const imgs = [...document.images];
  const md = [...document.querySelectorAll('.jp-RenderedMarkdown, .jp-RenderedHTMLCommon, .summary')];
  const rawTex = md.map(e => e.innerText).join('\\n').match(/\\$[^$\\n]{1,200}\\$/g) || [];
  return {
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.alt || i.src).slice(0, 60)),
    math: document.querySelectorAll('.MathJax_CHTML, .MathJax, mjx-container').length,
    mathSource: document.querySelectorAll('script[type^="math/tex"]').length,
    rawTex: rawTex.slice(0, 3),
    widgets: document.querySelectorAll('.aelab-static-widget').length,
    widgetLeft: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.widget-view+json"]').length,
  };
}"""


def _pages(out: Path) -> list[Path]:
    pages = [out / "index.html"]
    if (out / "reproductions.html").is_file():
        pages.append(out / "reproductions.html")
    pages += sorted(p for p in out.rglob("*.html") if "_static" not in p.parts and p.parent != out)
    return pages


def check_site(out: str | Path, screenshots: str | Path | None = None, *, timeout_ms: int = 20_000) -> list[PageCheck]:
    """Load every page of the site at ``out`` offline in headless Chromium and check it.

    Parameters
    ----------
    out : path
        A folder written by ``aelab build`` (holding ``index.html``).
    screenshots : path, optional
        Where to write one full-page PNG per page (default ``out/_screenshots``).
    timeout_ms : int
        How long a page may take to load and typeset its math.

    Returns
    -------
    list of PageCheck
        One per page, in the order index, reproductions, notebook pages; a page is fine when
        its ``problems`` list is empty.

    Raises
    ------
    SiteCheckError
        If ``out`` has no ``index.html``, Playwright is not installed, or no Chromium is found.
    """
    out = Path(out).resolve()
    if not (out / "index.html").is_file():
        raise SiteCheckError(f"{out} has no index.html: run `aelab build` first (or pass its --out folder)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SiteCheckError("the site check needs the Python package playwright: pip install playwright "
                             "(never `playwright install`: it drives Debian's chromium)") from None
    chromium = find_chromium()
    shots = Path(screenshots) if screenshots else out / "_screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
            for path in _pages(out):
                rel = path.relative_to(out).as_posix()
                check = PageCheck(page=rel)
                remote: list[str] = []
                page = context.new_page()
                page.on("request", lambda req, remote=remote: remote.append(req.url)
                        if not req.url.startswith(("file:", "data:", "about:", "blob:")) else None)
                page.goto(path.as_uri(), wait_until="load", timeout=timeout_ms)
                if page.evaluate("() => !!window.MathJax"):
                    page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                                           "&& !MathJax.Hub.queue.running", timeout=timeout_ms)
                facts = page.evaluate(_JS_PAGE_FACTS)
                check.math, check.images, check.widgets = facts["math"], facts["images"], facts["widgets"]
                if remote:
                    check.problems.append(f"{len(remote)} request(s) to the network, e.g. {remote[0]}")
                if facts["broken"]:
                    check.problems.append(f"{len(facts['broken'])} image(s) not shown, e.g. {facts['broken'][0]}")
                if facts["rawTex"]:
                    check.problems.append(f"math left as TeX text, e.g. {facts['rawTex'][0]!r}")
                if facts["mathSource"] and not facts["math"]:
                    check.problems.append("math found but MathJax rendered none of it")
                if facts["widgetLeft"]:
                    check.problems.append(f"{facts['widgetLeft']} blank widget area(s)")
                shot = shots / (re.sub(r"[^A-Za-z0-9_.-]+", "_", rel[: -len(".html")]) + ".png")
                page.screenshot(path=str(shot), full_page=True)
                check.screenshot = str(shot)
                page.close()
                results.append(check)
        finally:
            browser.close()
    return results
