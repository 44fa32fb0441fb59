"""``aelab check-site``: open a built site in headless Chromium, served from this machine only, and check it.

The site folder is served by a local HTTP server (``127.0.0.1``, a free port) and every page
(the index, Reproductions, the Build report, each lecture, lab and solution) is loaded in
Debian's Chromium (``/usr/bin/chromium``, driven by Playwright; no browser is ever downloaded).
Any request to another host is blocked and reported. Each page must show:

- a title (not empty, not a placeholder such as "Notebook");
- no request that leaves the machine, and no request that fails (404 included: a missing
  MathJax font is caught here);
- rendered math: MathJax (the site's own copy; version 3, or 2 for older sites) typeset every
  formula: no TeX left as text, no MathJax error;
- every image loaded (``naturalWidth > 0``);
- no blank widget area: no widget output left for a widget manager that is not there;
- no horizontal overflow on a phone: at 390 px wide the page is no wider than the screen.

The search page must return a result for ``ELBO`` (when a page mentions it). A page that never
loads, or fails in any other way, is one line in its own :class:`PageCheck`; the other pages are
still checked. Full-page screenshots at 1280 px and 390 px go to the screenshot folder.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CHROMIUM", "WIDE", "PHONE", "SEARCH_TERM", "PageCheck", "SiteCheckError", "find_chromium",
           "site_pages", "check_site"]

#: Debian's Chromium (package ``chromium``).
CHROMIUM = "/usr/bin/chromium"
#: The two widths every page is looked at, in CSS pixels: a laptop and a phone.
WIDE, PHONE = 1280, 390
#: A word the course site's search must find offline.
SEARCH_TERM = "ELBO"
_GENERIC_TITLES = {"", "notebook", "untitled", "index"}
_SKIP = {"genindex.html", "search.html", "py-modindex.html"}


class SiteCheckError(RuntimeError):
    """Chromium or Playwright is missing or does not start, or the site or screenshot folder is unusable."""


@dataclass
class PageCheck:
    """What one page showed: counts and the problems found (empty when the page is fine).

    ``math`` counts typeset formulas, ``images`` images, ``widgets`` static widget snapshots;
    ``title`` is the page's title; ``screenshot`` (1280 px) and ``phone_screenshot`` (390 px)
    are the PNG files written.
    """

    page: str
    title: str = ""
    math: int = 0
    images: int = 0
    widgets: int = 0
    screenshot: str = ""
    phone_screenshot: str = ""
    problems: list[str] = field(default_factory=list)


def find_chromium() -> str:
    """The path of a Chromium to drive: ``$AELAB_CHROMIUM``, else Debian's, else one on the PATH.

    Raises
    ------
    SiteCheckError
        If ``AELAB_CHROMIUM`` is set but is not an executable file (naming it), or no Chromium
        is found (naming the Debian package to install).
    """
    chosen = os.environ.get("AELAB_CHROMIUM")
    if chosen:
        if not (Path(chosen).is_file() and os.access(chosen, os.X_OK)):
            raise SiteCheckError(f"AELAB_CHROMIUM={chosen} is not an executable file: point it at a Chromium binary "
                                 f"(Debian's is {CHROMIUM}) or unset it")
        return chosen
    for candidate in (CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise SiteCheckError("no Chromium found: install Debian's package `chromium` (sudo apt-get install chromium; "
                         "scripts/setup.sh does it) or set AELAB_CHROMIUM to a Chromium binary")


_JS_PAGE_FACTS = """() => {
  const imgs = [...document.images];
  const texts = [...document.querySelectorAll(
      '.bd-article p, .bd-article li, .bd-article td, .bd-article th, .bd-article h1, .bd-article h2, ' +
      '.bd-article h3, .jp-RenderedMarkdown, .jp-RenderedHTMLCommon, .summary')]
    .filter(e => !e.closest('pre, code, .highlight, .MathJax, .MathJax_Display, .MathJax_Preview, mjx-container'))
    .map(e => e.innerText).join('\\n');
  const rawTex = (texts.match(/\\$[^$\\n]{1,200}\\$|\\\\\\([^\\n]{1,200}?\\\\\\)/g) || []);
  return {
    title: document.title.trim(),
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.alt || i.src).slice(0, 80)),
    math: document.querySelectorAll('.MathJax_CHTML, .MathJax, .MathJax_SVG, mjx-container').length,
    mathSource: document.querySelectorAll('script[type^="math/tex"], span.math, div.math').length,
    mathErrors: document.querySelectorAll('.MathJax .merror, merror, .MathJax_Error, mjx-merror, [data-mjx-error]').length,
    rawTex: rawTex.slice(0, 3),
    widgets: document.querySelectorAll('.aelab-static-widget').length,
    widgetLeft: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.widget-view+json"]').length,
    viewport: !!document.querySelector('meta[name="viewport"]'),
  };
}"""

_JS_OVERFLOW = """() => {
  const w = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    if (r.right <= w + 1 || r.width === 0) return false;
    for (let p = e.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX)) return false;
    }
    return true;
  });
  return {scroll: document.documentElement.scrollWidth, width: w,
          culprit: wide.length ? (wide[0].tagName.toLowerCase() + (wide[0].className ? '.' +
                     String(wide[0].className).split(' ')[0] : '')) : ''};
}"""

# MathJax 3: its startup promise resolves once the page is typeset; MathJax 2: its queue is empty
_JS_MATH_DONE = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; return true; }
  if (window.MathJax && MathJax.Hub) { return MathJax.Hub.queue.pending === 0 && !MathJax.Hub.queue.running; }
  return true;
}"""


def site_pages(out: Path) -> list[Path]:
    """The pages to check: index, Reproductions, Build report, then every other page (Sphinx's own
    ``genindex``/``search`` and the theme's assets aside)."""
    out = Path(out)
    first = [out / n for n in ("index.html", "reproductions.html", "build-report.html") if (out / n).is_file()]
    rest = sorted(p for p in out.rglob("*.html")
                  if not {"_static", "_sources", "_images", "_screenshots", "_aelab_sphinx"} & set(p.relative_to(out).parts)
                  and p not in first and p.relative_to(out).as_posix() not in _SKIP)
    return first + rest


class _Handler(http.server.SimpleHTTPRequestHandler):
    failures: list[str]

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def send_error(self, code, message=None, explain=None):
        self.failures.append(f"{code} {self.path}")
        super().send_error(code, message, explain)


@contextmanager
def _serve(out: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``out`` on 127.0.0.1 (a free port); yields the base URL and the list of failed requests."""
    failures: list[str] = []
    handler = functools.partial(type("H", (_Handler,), {"failures": failures}), directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", failures
    finally:
        server.shutdown()
        server.server_close()


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not set(ln.strip()) <= set("=-")]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _shot_name(rel: str, suffix: str = "") -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", rel[: -len(".html")]) + suffix + ".png"


def _check_page(context, base: str, rel: str, shots: Path, failures: list[str], timeout_ms: int) -> PageCheck:
    check = PageCheck(page=rel)
    remote: list[str] = []
    failed: list[str] = []
    start = len(failures)
    page = context.new_page()
    try:
        page.on("response", lambda r: failed.append(f"{r.status} {r.url.removeprefix(base)}") if r.status >= 400 else None)
        page.on("requestfailed", lambda r: None if r.url.startswith(("about:", "data:", "blob:")) else
                remote.append(r.url) if not r.url.startswith(base) else failed.append(f"failed {r.url.removeprefix(base)}"))
        try:
            page.set_viewport_size({"width": WIDE, "height": 900})
            page.goto(base + rel, wait_until="load", timeout=timeout_ms)
        except Exception as exc:
            check.problems.append(f"did not load within {timeout_ms / 1000:.0f} s ({_one_line(exc)})")
            return check
        try:
            page.wait_for_function(_JS_MATH_DONE, timeout=timeout_ms)
            page.wait_for_timeout(200)  # fonts requested while typesetting
        except Exception:
            check.problems.append(f"MathJax did not finish typesetting within {timeout_ms / 1000:.0f} s")
        facts = page.evaluate(_JS_PAGE_FACTS)
        check.title = facts["title"]
        check.math, check.images, check.widgets = facts["math"], facts["images"], facts["widgets"]
        page.set_viewport_size({"width": PHONE, "height": 844})
        page.wait_for_timeout(300)
        over = page.evaluate(_JS_OVERFLOW)
        if check.title.lower() in _GENERIC_TITLES:
            check.problems.append(f"no real title (<title>{check.title}</title>)")
        if not facts["viewport"]:
            check.problems.append("no viewport meta tag: tiny text on a phone")
        if over["scroll"] > over["width"] + 1:
            culprit = f", widest: {over['culprit']}" if over["culprit"] else ""
            check.problems.append(f"wider than a {PHONE}-px phone ({over['scroll']} px{culprit})")
        if remote:
            check.problems.append(f"{len(remote)} request(s) to the network, e.g. {remote[0]}")
        missing = sorted(set(failed) | set(failures[start:]))
        if missing:
            check.problems.append(f"{len(missing)} failed request(s), e.g. {missing[0]}")
        if facts["broken"]:
            check.problems.append(f"{len(facts['broken'])} image(s) not shown, e.g. {facts['broken'][0]}")
        if facts["rawTex"]:
            check.problems.append(f"math left as TeX text, e.g. {facts['rawTex'][0]!r}")
        if facts["mathSource"] and not facts["math"]:
            check.problems.append("math found but MathJax rendered none of it")
        if facts["mathErrors"]:
            check.problems.append(f"{facts['mathErrors']} formula(s) MathJax could not typeset")
        if facts["widgetLeft"]:
            check.problems.append(f"{facts['widgetLeft']} blank widget area(s)")
        for width, suffix, attr in ((PHONE, f"-{PHONE}px", "phone_screenshot"), (WIDE, "", "screenshot")):
            shot = shots / _shot_name(rel, suffix)
            try:
                page.set_viewport_size({"width": width, "height": 900 if width == WIDE else 844})
                page.screenshot(path=str(shot), full_page=True, timeout=timeout_ms)
                setattr(check, attr, str(shot))
            except Exception as exc:
                check.problems.append(f"no {width}-px screenshot ({_one_line(exc)})")
    except Exception as exc:  # anything else about this page: its problem, the others are still checked
        check.problems.append(f"could not be checked ({_one_line(exc)})")
    finally:
        try:
            page.close()
        except Exception:
            pass
    return check


def _check_search(context, base: str, out: Path, term: str, timeout_ms: int) -> PageCheck | None:
    """Search the site for ``term`` on ``search.html``; ``None`` when the site has no search page or no
    page mentions the term."""
    if not (out / "search.html").is_file():
        return None
    mentioned = any(term.lower() in p.read_text(encoding="utf-8", errors="replace").lower()
                    for p in site_pages(out))
    if not mentioned:
        return None
    check = PageCheck(page=f"search.html?q={term}")
    page = context.new_page()
    try:
        page.goto(f"{base}search.html?q={term}", wait_until="load", timeout=timeout_ms)
        page.wait_for_function("() => document.querySelectorAll('#search-results li, ul.search li').length > 0 || "
                               "/(did not match|no results|Search finished)/i.test("
                               "(document.querySelector('#search-results') || {}).innerText || '')",
                               timeout=timeout_ms)
        check.title = page.title()
        hits = page.evaluate("() => document.querySelectorAll('#search-results li, ul.search li').length")
        if not hits:
            check.problems.append(f"search found nothing for {term!r}, which the site's pages mention")
        check.images = 0
    except Exception as exc:
        check.problems.append(f"search for {term!r} gave no result ({_one_line(exc)})")
    finally:
        try:
            page.close()
        except Exception:
            pass
    return check


def check_site(out: str | Path, screenshots: str | Path | None = None, *, timeout_ms: int = 60_000,
               search: str = SEARCH_TERM) -> list[PageCheck]:
    """Serve the site at ``out`` locally, load every page in headless Chromium and check it.

    Parameters
    ----------
    out : path
        A folder written by ``aelab build`` (holding ``index.html``).
    screenshots : path, optional
        A folder for two full-page PNGs per page, at 1280 and 390 px (default ``out/_screenshots``).
    timeout_ms : int
        How long a page may take to load and typeset its math.
    search : str
        The word the site's search must find (checked when a page mentions it).

    Returns
    -------
    list of PageCheck
        One per page, in the order index, Reproductions, Build report, the other pages, then
        the search; a page is fine when its ``problems`` list is empty.

    Raises
    ------
    SiteCheckError
        One line, if ``out`` has no ``index.html``, ``screenshots`` is a file, Playwright is not
        installed, or Chromium is not found or does not start.
    """
    out = Path(out).resolve()
    if not (out / "index.html").is_file():
        raise SiteCheckError(f"{out} has no index.html: run `aelab build` first (or pass its --out folder)")
    shots = Path(screenshots) if screenshots else out / "_screenshots"
    if shots.exists() and not shots.is_dir():
        raise SiteCheckError(f"--screenshots {shots} is a file: pass a folder (it is created if missing)")
    try:
        shots.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SiteCheckError(f"cannot write screenshots to {shots} ({exc.strerror or exc}): pass another "
                             "--screenshots folder") from None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SiteCheckError("the site check needs the Python package playwright: pip install playwright "
                             "(never `playwright install`: it drives Debian's chromium)") from None
    chromium = find_chromium()
    results = []
    with _serve(out) as (base, failures), sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"],
                                         timeout=60_000)
        except Exception as exc:
            raise SiteCheckError(f"Chromium at {chromium} did not start ({_one_line(exc)}): install Debian's "
                                 "package `chromium` or point AELAB_CHROMIUM at a working one") from None
        try:
            context = browser.new_context(viewport={"width": WIDE, "height": 900}, service_workers="block")

            def route(r, request):  # only this machine's server; anything else is blocked (and reported)
                if request.url.startswith(base):
                    r.continue_()
                else:
                    r.abort("internetdisconnected")

            context.route("**/*", route)
            for path in site_pages(out):
                rel = path.relative_to(out).as_posix()
                results.append(_check_page(context, base, rel, shots, failures, timeout_ms))
            found = _check_search(context, base, out, search, timeout_ms)
            if found is not None:
                results.append(found)
        finally:
            browser.close()
    return results
