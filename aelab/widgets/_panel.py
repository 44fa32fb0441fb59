"""What lecture 07's explorers share: sliders that redraw on release and refuse codes outside their range.

Every explorer here is a :class:`SliderPanel`: a few ``ipywidgets.FloatSlider`` with
``continuous_update=False`` (the kernel decodes once when the slider is released, instead of
receiving a queue of values while it is dragged: at ~10–30 ms per frame a drag sends values
faster than they can be drawn, and the image would lag behind the hand), one or more PNG
images, and a label with the last update's time. Setting values programmatically
(:meth:`SliderPanel.set_values`) checks them against the sliders' ranges: a value outside is a
``ValueError`` that names the slider and its range (ipywidgets itself would silently clip it).

ipywidgets is imported lazily.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

__all__ = ["SliderPanel", "check_in_range"]


def check_in_range(values: Sequence[float], ranges: Sequence[tuple[float, float]], names: Sequence[str],
                   what: str = "code") -> list[float]:
    """``values`` as floats if each lies in its ``(low, high)`` range, else a ``ValueError`` naming it.

    Raises
    ------
    ValueError
        On a count mismatch, a non-finite value, or a value outside its range.
    TypeError
        If a value is not a number.
    """
    if len(values) != len(ranges):
        raise ValueError(f"the {what} needs {len(ranges)} values ({', '.join(names)}), got {len(values)}")
    out = []
    for v, (lo, hi), name in zip(values, ranges, names):
        try:
            v = float(v)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a number, got {v!r}") from exc
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
        if not lo - 1e-9 <= v <= hi + 1e-9:
            raise ValueError(f"{name} = {v:g} is outside the slider range [{lo:g}, {hi:g}]: the explorer only "
                             f"shows codes inside it (build it with a wider span/range to go further)")
        out.append(v)
    return out


class SliderPanel:
    """Sliders (redrawn on release), PNG images, a timing label; subclasses implement :meth:`draw`.

    Parameters
    ----------
    names : list of str
        Slider descriptions.
    ranges : list of (low, high)
    values : list of float
        Starting values (inside the ranges).
    n_images : int
        Number of ``ipywidgets.Image`` outputs; :meth:`draw` returns that many PNGs.
    width_px : int
        Width of each image.
    continuous_update : bool
        False (default): redraw once when a slider is released.

    Attributes
    ----------
    widget : ipywidgets.HBox or VBox
    sliders : list of ipywidgets.FloatSlider
    images : list of ipywidgets.Image
    timing : ipywidgets.Label
    last_seconds : float — seconds the last redraw took (decode + draw + PNG)
    """

    def __init__(self, names: Sequence[str], ranges: Sequence[tuple[float, float]], values: Sequence[float], *,
                 n_images: int = 1, width_px: int | Sequence[int] = 260, continuous_update: bool = False,
                 steps: int = 200):
        import ipywidgets as W

        self.names, self.ranges = list(names), [(float(a), float(b)) for a, b in ranges]
        for name, (lo, hi) in zip(self.names, self.ranges):
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"the range of {name} must be finite with low < high, got ({lo}, {hi})")
        values = check_in_range(values, self.ranges, self.names, "starting point")
        self.sliders = [W.FloatSlider(value=v, min=lo, max=hi, step=(hi - lo) / steps, description=name,
                                      continuous_update=continuous_update, readout_format=".2f",
                                      layout=W.Layout(width="300px"))
                        for name, (lo, hi), v in zip(self.names, self.ranges, values)]
        widths = [width_px] * n_images if isinstance(width_px, int) else list(width_px)
        self.images = [W.Image(format="png", layout=W.Layout(width=f"{w}px")) for w in widths]
        self.timing = W.Label(value="")
        self.last_seconds = float("nan")
        self._muted = False
        for s in self.sliders:
            s.observe(self._on_change, names="value")
        self.widget = W.VBox([W.HBox(self.images), W.HBox([W.VBox(self.sliders), self.timing])])

    def values(self) -> list[float]:
        """The sliders' current values."""
        return [s.value for s in self.sliders]

    def draw(self, values: list[float]) -> list[bytes]:  # pragma: no cover - abstract
        """Update the figures for ``values`` and return one PNG per image."""
        raise NotImplementedError

    def redraw(self) -> float:
        """Draw the current values into the images; returns (and shows) the seconds it took."""
        t = time.perf_counter()
        for img, png in zip(self.images, self.draw(self.values())):
            img.value = png
        self.last_seconds = time.perf_counter() - t
        self.timing.value = f"update: {self.last_seconds * 1e3:.0f} ms"
        return self.last_seconds

    def set_values(self, values: Sequence[float]) -> float:
        """Move all sliders at once (one redraw); returns the redraw's seconds.

        Raises
        ------
        ValueError
            If a value lies outside its slider's range or is not finite (nothing is changed).
        """
        values = check_in_range(values, self.ranges, self.names)
        self._muted = True
        try:
            for s, v in zip(self.sliders, values):
                s.value = v
        finally:
            self._muted = False
        return self.redraw()

    def _on_change(self, change) -> None:
        if not self._muted:
            self.redraw()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


