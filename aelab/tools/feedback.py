"""nbgrader's feedback HTML that works offline: MathJax 3 inside the page instead of from a CDN.

``nbgrader generate_feedback`` renders each autograded notebook with nbconvert's ``HTMLExporter``
and nbgrader's ``feedback`` template. That template calls nbconvert's ``mathjax()`` macro
*without* a URL (nbgrader 0.9.6, ``server_extensions/formgrader/templates/feedback/index.html.j2``),
so ``HTMLExporter.mathjax_url`` is ignored and every feedback page loads MathJax 2.7 from
``cdnjs.cloudflare.com``: offline, its formulas stay raw TeX. A separate MathJax file next to the
HTML would not help either: ``nbgrader release_feedback`` hands students only the ``*.html`` files.

:func:`offline_feedback` (two lines in ``nbgrader_config.py``, see INSTRUCTORS.md) puts
``templates/feedback/mathjax.html.j2`` of this package in front of nbgrader's template folder.
nbconvert looks templates up by name along that path, so nbgrader's ``feedback/index.html.j2``
is used unchanged and only the ``mathjax`` macro it imports is ours: it inlines MathJax 3's
TeX-to-SVG bundle (``tex-svg-full.js``, the same file the course site serves, from the PyPI
package ``django-static-mathjax``) with a configuration equivalent to nbconvert's (``$…$`` and
``\\(…\\)`` inline, ``$$…$$`` and ``\\[…\\]`` displayed, AMS equation numbers). SVG output draws
glyphs from paths inside the script, so no font file is requested. The template folder keeps
the name ``feedback``, so the formgrader's "generate feedback" button (which sets
``HTMLExporter.template_name = 'feedback'`` itself, on top of ``nbgrader_config.py``) should get
it too (read in nbgrader 0.9.6's ``apps/api.py``; not tested). Each feedback page grows by about
2.3 MB.

Nothing here is imported by notebooks.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import markupsafe

__all__ = ["TEMPLATE_BASEDIR", "FILTER_NAME", "MATHJAX_CONFIG", "nbgrader_template_basedir", "mathjax_file",
           "inline_mathjax", "offline_feedback"]

#: The folder holding this package's ``feedback/mathjax.html.j2`` (an nbconvert template base directory).
TEMPLATE_BASEDIR = Path(__file__).resolve().parent / "templates"
#: The Jinja filter the macro calls (registered by :func:`offline_feedback` through ``HTMLExporter.filters``).
FILTER_NAME = "aelab_inline_mathjax"
#: MathJax 3's configuration, nbconvert's MathJax 2 settings translated (``tex2jax`` -> ``tex``).
MATHJAX_CONFIG = {
    "tex": {"inlineMath": [["$", "$"], ["\\(", "\\)"]], "displayMath": [["$$", "$$"], ["\\[", "\\]"]],
            "processEscapes": True, "processEnvironments": True, "tags": "ams"},
    "svg": {"fontCache": "global"},
}


def nbgrader_template_basedir() -> Path:
    """nbgrader's own template folder (holding ``feedback/index.html.j2``), as nbgrader computes it.

    Raises
    ------
    FileNotFoundError
        If nbgrader is not installed or its feedback template is missing.
    """
    import importlib.util

    spec = importlib.util.find_spec("nbgrader")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("nbgrader is not installed: run `bash scripts/setup.sh` (it is a dependency of aelab)")
    base = Path(list(spec.submodule_search_locations)[0]) / "server_extensions" / "formgrader" / "templates"
    if not (base / "feedback" / "index.html.j2").is_file():
        raise FileNotFoundError(f"nbgrader's feedback template is missing under {base}: reinstall nbgrader")
    return base


def mathjax_file() -> Path:
    """MathJax 3's ``tex-svg-full.js`` from ``django-static-mathjax`` (the file the course site serves).

    Raises
    ------
    FileNotFoundError
        If the package or the file is missing.
    """
    from .site import MATHJAX_FILE, SiteError, _mathjax_source

    try:
        return _mathjax_source() / MATHJAX_FILE
    except SiteError as exc:
        raise FileNotFoundError(str(exc)) from None


@functools.lru_cache(maxsize=1)
def _inline_script() -> str:
    code = mathjax_file().read_text(encoding="utf-8")
    if "</script" in code.lower():  # would end the inline <script> early
        raise ValueError(f"{mathjax_file()} contains '</script': it cannot be put inside a page")
    config = json.dumps(MATHJAX_CONFIG)
    return (f'<!-- MathJax 3 (TeX in, SVG out), inside the page by aelab: no request leaves the machine -->\n'
            f'<script>window.MathJax = {config};</script>\n<script>\n{code}\n</script>\n')


def inline_mathjax(url=None) -> markupsafe.Markup:
    """The ``<script>`` elements that configure and contain MathJax 3, for an offline page.

    Parameters
    ----------
    url : str or None
        The URL nbconvert's ``mathjax(url)`` macro was called with; ignored (present so the
        function can be the Jinja filter ``{{ url | aelab_inline_mathjax }}``).

    Returns
    -------
    markupsafe.Markup
        A configuration script and one inline script with ``tex-svg-full.js`` (about 2.3 MB);
        no ``src`` attribute, so the page asks nothing of the network.

    Raises
    ------
    FileNotFoundError
        If ``django-static-mathjax`` is not installed.
    """
    return markupsafe.Markup(_inline_script())  # noqa: S704 - our own file, checked for '</script'


def offline_feedback(c) -> None:
    """Configure nbgrader (its config object ``c``) so ``generate_feedback`` writes pages that work offline.

    Use it in ``nbgrader_config.py``::

        from aelab.tools.feedback import offline_feedback
        offline_feedback(c)

    Parameters
    ----------
    c : traitlets.config.Config
        The object ``get_config()`` returns in ``nbgrader_config.py``.

    Sets ``HTMLExporter.extra_template_basedirs`` to this package's template folder followed by
    nbgrader's (what nbgrader sets when it is not configured) and registers the filter the
    macro calls in ``HTMLExporter.filters`` (other filters there are kept).

    Raises
    ------
    TypeError
        If ``c`` is not a traitlets ``Config``.
    FileNotFoundError
        If nbgrader or ``django-static-mathjax`` is missing (checked now, not at grading time).
    """
    from traitlets.config import Config

    if not isinstance(c, Config):
        raise TypeError(f"offline_feedback: expected nbgrader's config object (c = get_config()), got "
                        f"{type(c).__name__}")
    mathjax_file()  # fail in the instructor's config, clearly, rather than with a broken page
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATE_BASEDIR), str(nbgrader_template_basedir())]
    filters = dict(c.HTMLExporter.filters) if "filters" in c.HTMLExporter else {}
    filters[FILTER_NAME] = f"{__name__}.inline_mathjax"
    c.HTMLExporter.filters = filters
