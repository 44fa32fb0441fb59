"""Alt text for the static figures the explorers draw beside them (lectures 02 and 07).

A notebook shows a matplotlib figure as a bare PNG: JupyterLab, nbconvert and the course site
give it no ``alt`` attribute, so a screen reader announces "image" and nothing else. The static
figures of :mod:`aelab.widgets` (:func:`~aelab.widgets.render_frame`,
:func:`~aelab.widgets.traversal_grid`, :func:`~aelab.widgets.plane_figure`,
:func:`~aelab.widgets.interpolation_figure`) carry a sentence of what they show
(:func:`with_alt`, read back with :func:`alt_text`). Inside IPython, a ``text/html`` formatter
for matplotlib figures is registered once: a figure with alt text is displayed (by ``plt.show()``
or as a cell's value) as ``<img src="data:image/png;base64,…" alt="…">`` beside the usual PNG;
every other figure is left alone (the formatter returns None for it).
"""

from __future__ import annotations

import base64
import html

__all__ = ["with_alt", "alt_text", "figure_html"]

_ATTR = "_aelab_alt"
_registered = False


def with_alt(fig, text: str):
    """Attach alt text ``text`` to the matplotlib figure ``fig`` and return ``fig``.

    Raises
    ------
    TypeError
        If ``text`` is not a non-empty str.
    """
    if not isinstance(text, str) or not text.strip():
        raise TypeError(f"alt text must be a non-empty str, got {text!r}")
    setattr(fig, _ATTR, " ".join(text.split()))
    _register_formatter()
    return fig


def alt_text(fig) -> str | None:
    """The alt text :func:`with_alt` attached to ``fig``, or None."""
    return getattr(fig, _ATTR, None)


def figure_html(fig) -> str | None:
    """``<img>`` HTML of ``fig`` (PNG as data URL, tight bounding box) with its alt text; None without one.

    This is the ``text/html`` representation IPython shows for a figure that has alt text.
    """
    text = alt_text(fig)
    if text is None:
        return None
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", facecolor="white")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(text, quote=True)}">'


def _register_formatter() -> None:
    """Register :func:`figure_html` as IPython's text/html formatter for figures (once; no-op outside IPython)."""
    global _registered
    if _registered:
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of ipywidgets
        return
    ip = get_ipython()
    if ip is None:
        return
    from matplotlib.figure import Figure

    ip.display_formatter.formatters["text/html"].for_type(Figure, figure_html)
    _registered = True
