"""What every explorer shares: sliders that redraw while dragged, newest value only, and refuse bad codes alike.

Every explorer (lecture 02's :func:`~aelab.widgets.latent_explorer`, lecture 07's
:func:`~aelab.widgets.latent_traversal`, :func:`~aelab.widgets.latent_plane`,
:func:`~aelab.widgets.interpolation_explorer`) is a :class:`SliderPanel`: a few
``ipywidgets.FloatSlider`` with ``continuous_update=True`` (the image follows the hand while a
slider is dragged, or moved with the arrow keys), one or more PNG images, and a status line with
what the last frame drew and how long it took.

**Only the newest value is drawn.** A drag sends values faster than frames can be drawn (a frame
takes ~5–30 ms). ipywidgets' front end already keeps at most one message per slider in flight;
in the kernel a slider event only records that a redraw is wanted and schedules one
:meth:`~SliderPanel.flush` on the kernel's event loop ``coalesce_s`` later (5 ms). Events that
arrive before it runs are folded into it, so a burst of events costs one frame, which draws the
sliders' values at that moment: the kernel never draws a stale value, and the image settles on
the last value one frame after the last move. Outside a running event loop (a script, a test) a
change draws at once.

Setting values programmatically (:meth:`SliderPanel.set_values`) draws at once and checks them
with :mod:`aelab._validation` against the sliders' ranges: a string, a bool or a value outside a
range is refused (``TypeError`` / ``ValueError`` naming the slider and its range), where
ipywidgets itself would silently clip it. Slider steps are round numbers (1, 2 or 5 × 10^k) and
values are rounded to the readout's decimals, so no 16-digit float reaches a notebook's output.

ipywidgets is imported lazily.
"""

from __future__ import annotations

import asyncio
import html
import math
import time
from collections.abc import Sequence

from aelab import _validation as check

from .frame import code_caption

__all__ = ["COALESCE_S", "SliderPanel", "check_in_range", "nice_step", "decimals"]

_SR_ONLY = "position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap"

#: Seconds a slider event waits for newer ones before the one redraw that serves them all.
COALESCE_S = 0.005


def nice_step(raw: float) -> float:
    """The round step (1, 2 or 5 × 10^k) at or below ``raw`` (> 0): e.g. 0.03 -> 0.02, 0.06 -> 0.05."""
    raw = check.real(raw, "step", low=0, low_open=True)
    exp = math.floor(math.log10(raw))
    for m in (5, 2, 1):
        if m * 10.0 ** exp <= raw * (1 + 1e-9):
            return round(m * 10.0 ** exp, max(0, -exp))
    return 10.0 ** exp  # pragma: no cover


def decimals(step: float) -> int:
    """Decimals that show a multiple of ``step`` exactly (0.02 -> 2, 0.5 -> 1, 5 -> 0); at most 6."""
    for d in range(7):
        if abs(round(step, d) - step) <= 1e-9 * max(1.0, abs(step)):
            return d
    return 6


def check_in_range(values: Sequence, ranges: Sequence[tuple[float, float]], names: Sequence[str],
                   what: str = "code") -> list[float]:
    """``values`` as floats if each is a real number inside its ``(low, high)`` range.

    Parameters
    ----------
    values : sequence
        One value per slider (NumPy scalars and 0-d arrays accepted).
    ranges : sequence of (low, high)
    names : sequence of str
        The sliders' names, used in messages.
    what : str
        What the values are (``"code"``, ``"starting point"``), used in messages.

    Raises
    ------
    TypeError
        If a value is not a real number (a string such as ``"0.5"`` or a bool is refused,
        as everywhere in :mod:`aelab._validation`).
    ValueError
        On a count mismatch, a NaN or infinite value, or a value outside its range (the message
        names the slider and its range).
    """
    if isinstance(values, (str, bytes)) or len(values) != len(ranges):
        n = "a string" if isinstance(values, (str, bytes)) else len(values)
        raise ValueError(f"the {what} needs {len(ranges)} values ({', '.join(names)}), got {n}")
    out = []
    for v, (lo, hi), name in zip(values, ranges, names):
        v = check.real(v, name)
        if not lo - 1e-9 <= v <= hi + 1e-9:
            raise ValueError(f"{name} = {v:g} is outside the slider range [{lo:g}, {hi:g}]: the explorer only "
                             f"shows codes inside it (build it with a wider span/range to go further)")
        out.append(v)
    return out


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class SliderPanel:
    """Sliders (redrawn while dragged, newest value only), PNG images, a status line; subclasses implement :meth:`draw`.

    Parameters
    ----------
    names : list of str
        Slider descriptions (the code units they move, e.g. ``"z[3]"``, ``"t"``).
    ranges : list of (low, high)
    values : list of float
        Starting values (inside the ranges; refused otherwise).
    n_images : int
        Number of ``ipywidgets.Image`` outputs; :meth:`draw` returns that many PNGs.
    width_px : int or list of int
        Width of each image (its figure's width at 100 dpi, so captions keep their measured fit).
    continuous_update : bool
        True (default): redraw while a slider is dragged; False: once, on release.
    steps : int
        About this many steps per range (the step is rounded down to 1, 2 or 5 × 10^k).
    step : float, optional
        Explicit step instead.
    alts : list of str, optional
        Description of each image, in the widget as text for screen readers only (``alts``,
        ``description``).
    beside : bool
        Images to the right of the sliders (default: above them).
    extra : list of widgets
        Placed after the status line (e.g. a reset button).
    coalesce_s : float
        Seconds a slider event waits for newer ones (default :data:`COALESCE_S`).

    Attributes
    ----------
    widget : ipywidgets.HBox or VBox
    sliders : list of ipywidgets.FloatSlider
    images : list of ipywidgets.Image
    status : ipywidgets.Label — what the last frame drew and its time
    timing : the same label (older name)
    last_seconds : float — seconds the last redraw took (decode + draw + PNG)
    drawn : list of float — slider values of the last frame
    requests, draws : int — slider events received, frames drawn (``requests - draws`` were folded)

    Raises
    ------
    TypeError, ValueError
        On a starting value that is not a number or lies outside its range, or a range that is
        not finite with low < high.
    """

    def __init__(self, names: Sequence[str], ranges: Sequence[tuple[float, float]], values: Sequence[float], *,
                 n_images: int = 1, width_px: int | Sequence[int] = 260, continuous_update: bool = True,
                 steps: int = 200, step: float | None = None, alts: Sequence[str] | None = None,
                 beside: bool = False, extra: Sequence = (), coalesce_s: float = COALESCE_S):
        import ipywidgets as W

        self.names = list(names)
        self.ranges = [(check.real(a, f"low end of {n}'s range"), check.real(b, f"high end of {n}'s range"))
                       for n, (a, b) in zip(self.names, ranges)]
        for name, (lo, hi) in zip(self.names, self.ranges):
            if not lo < hi:
                raise ValueError(f"the range of {name} must have low < high, got ({lo}, {hi})")
        continuous_update = check.flag(continuous_update, "continuous_update")
        self.coalesce_s = check.real(coalesce_s, "coalesce_s", low=0, high=1)
        values = check_in_range(values, self.ranges, self.names, "starting point")
        steps = check.integer(steps, "steps", minimum=2)
        self.sliders = []
        for name, (lo, hi), v in zip(self.names, self.ranges, values):
            st = nice_step((hi - lo) / steps) if step is None else check.real(step, "step", low=0, low_open=True)
            d = decimals(st)
            self.sliders.append(W.FloatSlider(
                value=self._snap(v, lo, hi, d), min=lo, max=hi, step=st, description=name,
                continuous_update=continuous_update, readout_format=f".{d}f",
                tooltip=f"{name}: drag, or focus the handle and use the arrow keys",
                layout=W.Layout(width="320px")))
        widths = [width_px] * n_images if isinstance(width_px, int) else list(width_px)
        self.images = [W.Image(format="png", layout=W.Layout(width=f"{w}px")) for w in widths]
        # ipywidgets' Image has no alt attribute (and its tooltip breaks the view: DOMWidgetView.updateTooltip
        # reads a `description` that Image lacks), so the images' description is text for screen readers only
        self.alts = [str(a) for a in alts] if alts is not None else []
        self.description = W.HTML(value="".join(f'<span style="{_SR_ONLY}">{html.escape(a)}.</span>' for a in self.alts))
        self.description.add_class("aelab-alt")
        self.status = self.timing = W.Label(value="")
        self.status.add_class("aelab-status")
        self.last_seconds = float("nan")
        self.drawn: list[float] = []
        self.requests = self.draws = 0
        self._muted = False
        self._scheduled_at: float | None = None
        self._moved = 0
        for s in self.sliders:
            s.observe(self._on_change, names="value")
        controls = W.VBox([*self.sliders, W.HBox([*extra, self.status]), self.description])
        self.widget = W.HBox([controls, *self.images]) if beside else W.VBox([W.HBox(self.images), controls])

    @staticmethod
    def _snap(v: float, lo: float, hi: float, d: int) -> float:
        """``v`` rounded to ``d`` decimals (kept inside [lo, hi]): what the readout shows."""
        return min(hi, max(lo, round(v, d)))

    def values(self) -> list[float]:
        """The sliders' current values."""
        return [s.value for s in self.sliders]

    def draw(self, values: list[float]) -> list[bytes]:  # pragma: no cover - abstract
        """Update the figures for ``values`` and return one PNG per image."""
        raise NotImplementedError

    def describe(self, values: list[float]) -> str:
        """The status line's account of what was drawn (default: the last moved slider's value)."""
        i = min(self._moved, len(values) - 1)
        return code_caption([values[i]], [self.names[i]])

    def redraw(self) -> float:
        """Draw the sliders' current values into the images now; returns (and shows) the seconds it took."""
        self._scheduled_at = None
        t = time.perf_counter()
        values = self.values()
        for img, png in zip(self.images, self.draw(values)):
            img.value = png
        self.last_seconds = time.perf_counter() - t
        self.drawn = values
        self.draws += 1
        self.status.value = f"drawn: {self.describe(values)} ({self.last_seconds * 1e3:.0f} ms)"
        return self.last_seconds

    def request_redraw(self) -> None:
        """Ask for a frame of the newest values: at once outside an event loop, else once, ``coalesce_s`` later.

        Requests made while one is pending are folded into it. If a pending request has waited
        more than 0.25 s (an event loop that does not run callbacks), it is drawn at once.
        """
        self.requests += 1
        loop = _running_loop()
        if loop is None:
            self.redraw()
            return
        now = time.monotonic()
        if self._scheduled_at is not None:
            if now - self._scheduled_at > 0.25:
                self.flush()
            return
        self._scheduled_at = now
        loop.call_later(self.coalesce_s, self.flush)

    def flush(self) -> None:
        """Draw if a redraw is pending (the event loop's callback); an error is shown in the status line."""
        if self._scheduled_at is None:
            return
        try:
            self.redraw()
        except Exception as exc:  # a callback on the event loop: show it where the student looks
            self._scheduled_at = None
            self.status.value = f"error: {type(exc).__name__}: {exc}"

    def set_values(self, values: Sequence[float]) -> float:
        """Move all sliders at once and draw once, now; returns the redraw's seconds.

        Raises
        ------
        TypeError
            If a value is not a real number (``"0.5"`` and ``True`` included).
        ValueError
            If a value lies outside its slider's range or is not finite (nothing is changed).
        """
        values = check_in_range(values, self.ranges, self.names)
        self._muted = True
        try:
            for s, v in zip(self.sliders, values):
                s.value = self._snap(v, s.min, s.max, decimals(s.step))
        finally:
            self._muted = False
        self._moved = 0
        return self.redraw()

    def _on_change(self, change) -> None:
        if self._muted:
            return
        owner = change.get("owner") if isinstance(change, dict) else getattr(change, "owner", None)
        if owner in self.sliders:
            self._moved = self.sliders.index(owner)
        self.request_redraw()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
