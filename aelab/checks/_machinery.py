"""The machinery the labs' checks are built from (private); the checks are in ``aelab/checks/labNN.py``.

A check is a function registered with ``@_exercise(lab, number, function)`` that runs the
student's function on several inputs (random ones and edge cases), compares the result with a
reference computed in float64, and

- on success prints one line of praise with a measured value (:func:`_praise`) and returns ``None``;
- on a wrong answer raises :class:`CheckFailed` (an ``AssertionError``, made by :func:`_fail`)
  whose message says which input broke it, the expected shape and which property failed (e.g.
  "your components are not orthonormal"). It never prints the reference answer;
- on a function that still raises ``NotImplementedError`` raises :class:`ExerciseNotDone`
  with "Exercise N ... is not done yet" (the wrapper :func:`_student` does this).

In a notebook both exceptions show as their message alone (IPython's ``_render_traceback_``
hook), not as a traceback through this package: every frame in a file under the package's
folder ``aelab/checks/`` is hidden (:func:`_is_ours`). When the student's own code raises, the
check re-raises :class:`CheckFailed` naming the input, and the notebook shows the student's frames.

Every check takes ``seed`` (default 0): :func:`_gen` turns the exercise and the seed into a
generator whose seed is derived by SHA-256 from ``"<lab>/<number>/<seed>"`` (stable across
Python runs and machines, unlike ``hash()``), so each exercise draws its own inputs and another
seed draws other ones, which is what the hidden tests of the solutions use. A check whose
student function draws from torch's global RNG itself (building layers draws their initial
weights) runs it under :func:`_global_rng`, seeded for the exercise and seed inside
``torch.random.fork_rng``: the verdict never depends on the student's RNG state, and the state
is left as it was. Inputs are handed to the student as copies, and a function that modifies its
input in place is rejected (:func:`_unchanged`; it would corrupt the lab's data).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["CheckFailed", "ExerciseNotDone", "Exercise", "EXERCISES"]

#: The folder of the ``aelab.checks`` package: frames of files under it are the checks' own.
_PACKAGE_DIR = os.path.normcase(os.path.dirname(os.path.abspath(__file__)))


def _is_ours(filename: str) -> bool:
    """Whether a traceback frame's file lies in the ``aelab/checks/`` package folder (or below it).

    Parameters
    ----------
    filename : str
        A frame's file name as in ``traceback.FrameSummary.filename`` (a path, or a pseudo-name
        such as ``"<ipython-input-3-...>"`` that is never ours).

    Returns
    -------
    bool
        True for ``_machinery.py``, ``__init__.py`` and every ``labNN.py`` of the package.
    """
    path = os.path.normcase(os.path.abspath(filename))
    return os.path.dirname(path) == _PACKAGE_DIR or path.startswith(_PACKAGE_DIR + os.sep)


class CheckFailed(AssertionError):
    """A self-check found a wrong answer; the message says which input and which property.

    In IPython/Jupyter it is shown as its message alone; if it was raised because the student's
    code raised, the student's own frames are shown above it (not this module's).
    """

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom tracebacks
        lines: list[str] = []
        cause = self.__cause__
        if cause is not None:
            frames = [f for f in traceback.extract_tb(cause.__traceback__) if not _is_ours(f.filename)]
            if frames:
                lines.append("Traceback of the error in your code (most recent call last):")
                lines.extend(s.rstrip("\n") for s in traceback.format_list(frames))
            lines.extend(s.rstrip("\n") for s in traceback.format_exception_only(type(cause), cause))
            lines.append("")
        lines.append(f"{type(self).__name__}: {self}")
        return lines


class ExerciseNotDone(CheckFailed):
    """The student's function still raises ``NotImplementedError``: the exercise is not done."""


@dataclass(frozen=True)
class Exercise:
    """Which exercise a check belongs to: lab number, exercise number, the function(s) to write."""

    lab: str
    number: int
    function: str

    def __str__(self) -> str:
        return f"Exercise {self.number} of lab {self.lab} (`{self.function}`)"


#: Check name -> the exercise it checks, in lab order.
EXERCISES: dict[str, Exercise] = {}


def _exercise(lab: str, number: int, function: str):
    """Decorator registering a check in :data:`EXERCISES` as exercise ``number`` of ``lab``.

    Parameters
    ----------
    lab : str
        Two digits, the lab's number as in its file names (``"01"``); it must match the module
        ``aelab/checks/lab<lab>.py`` the check is defined in.
    number : int
        The exercise's number in the lab, from 1; unique within the lab.
    function : str
        The name(s) of the function(s) the student writes, e.g. ``"encode, decode"``.

    Raises
    ------
    ValueError
        If ``lab`` is not two digits, ``number`` not a positive int, or another check already
        has this lab and number.
    """
    if not (isinstance(lab, str) and len(lab) == 2 and lab.isdigit()):
        raise ValueError(f"lab must be two digits such as '01', got {lab!r}")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ValueError(f"the exercise number must be a positive int, got {number!r}")

    def register(check):
        ex = Exercise(lab, number, function)
        taken = [name for name, other in EXERCISES.items()
                 if (other.lab, other.number) == (lab, number) and name != check.__name__]
        if taken:
            raise ValueError(f"exercise {number} of lab {lab} is already checked by {taken[0]!r}; "
                             f"cannot register {check.__name__!r} for it too")
        EXERCISES[check.__name__] = check.exercise = ex
        return check
    return register


def _fail(ex: Exercise, message: str) -> CheckFailed:
    return CheckFailed(f"{ex}: {message}")


def _student(ex: Exercise, fn: Any, what: str = "") -> Callable:
    """Wrap the student's function: NotImplementedError -> ExerciseNotDone, other errors -> CheckFailed."""
    name = what or ex.function
    if not callable(fn):
        raise _fail(ex, f"pass your function itself, e.g. `aelab.checks.<check>({name})` — got "
                        f"a {type(fn).__name__}, not a function") from None

    def call(*args, case: str, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _ShortcutUsed as exc:
            raise _fail(ex, f"{exc} (on {case})") from None
        except NotImplementedError:
            raise ExerciseNotDone(f"{ex} is not done yet — replace `raise NotImplementedError()` in "
                                  f"`{name}` with your code, then run its cell and this one again.") from None
        except CheckFailed:
            raise
        except Exception as exc:
            raise _fail(ex, f"`{name}` raised {type(exc).__name__} on {case}. Read the error above "
                            "and fix your function.") from exc
    return call


class _ShortcutUsed(Exception):
    """Raised inside a student's function by a library or package function the exercise forbids."""


@contextlib.contextmanager
def _forbidden(targets: list[tuple[Any, str, str]], reason: str) -> Iterator[None]:
    """Make library shortcuts raise while the student's function runs ("by hand" exercises).

    docs/architecture.md, "Lab checks": a "by hand" exercise detects the library call it asks students not to use,
    and an exercise whose answer the package already has forbids the package's version. Each
    target ``(owner, attribute, label)`` (e.g. ``(torch.nn.functional, "max_unpool2d",
    "F.max_unpool2d")``) is replaced by a function that raises :class:`_ShortcutUsed`, which
    :func:`_student`'s wrapper turns into a :class:`CheckFailed` naming ``label`` and ``reason``.
    The originals are restored on exit, also when the student's code raises. Wrap only the
    student's call: the check's own reference may use the same functions.
    """
    saved = []
    try:
        for owner, attribute, label in targets:
            original = getattr(owner, attribute)
            saved.append((owner, attribute, original))

            def shortcut(*args, _label=label, **kwargs):
                raise _ShortcutUsed(f"this exercise asks you to write it yourself, but your function calls "
                                    f"{_label}. {reason}")
            setattr(owner, attribute, shortcut)
        yield
    finally:
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)


def _fmt(t: torch.Tensor) -> str:
    """A tensor as a short string: its values when small, else its shape."""
    if t.numel() <= 12:
        vals = t.detach().double().cpu().numpy().round(4).tolist()
        return f"{vals} (shape {tuple(t.shape)})"
    return f"a tensor of shape {tuple(t.shape)}"


def _tensor(ex: Exercise, out: Any, what: str, case: str) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        if not out.is_floating_point():
            return out.double() if out.dtype != torch.bool else out
        return out
    kind = type(out).__name__
    extra = " (use torch functions, or torch.as_tensor(...) at the end)" if kind == "ndarray" else ""
    raise _fail(ex, f"{what} must be a torch.Tensor, got {kind}{extra} — on {case}")


def _shape(ex: Exercise, t: torch.Tensor, shape: tuple, what: str, case: str, hint: str = "") -> None:
    if tuple(t.shape) != tuple(shape):
        raise _fail(ex, f"{what} should have shape {tuple(shape)}, yours has {tuple(t.shape)} — on {case}."
                        + (f" {hint}" if hint else ""))


def _finite(ex: Exercise, t: torch.Tensor, what: str, case: str, hint: str = "") -> None:
    if not torch.isfinite(t).all():
        raise _fail(ex, f"{what} contains NaN or inf on {case}." + (f" {hint}" if hint else ""))


def _unchanged(ex: Exercise, before: torch.Tensor, after: torch.Tensor, what: str, case: str) -> None:
    if before.shape != after.shape or not torch.equal(before, after):
        raise _fail(ex, f"your function changed its input {what} in place on {case} (e.g. `X -= mean`). "
                        "That would also change the lab's data: compute a new tensor instead (`X - mean`).")


def _praise(ex: Exercise, detail: str, n_inputs: int) -> None:
    print(f"✔ Exercise {ex.number} (`{ex.function}`) passed on {n_inputs} inputs: {detail}")


def _derived_seed(ex: Exercise, seed: int) -> int:
    """The 63-bit seed of an exercise's random inputs: SHA-256 of ``"<lab>/<number>/<seed>"``.

    Parameters
    ----------
    ex : Exercise
        The exercise whose check draws the inputs.
    seed : int
        The check's ``seed`` argument, a non-negative int (``bool`` is rejected).

    Returns
    -------
    int
        In ``[0, 2**63)``; the same on every run, Python version and machine (``hash()`` is not).

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative int.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    digest = hashlib.sha256(f"{ex.lab}/{ex.number}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _gen(ex: Exercise, seed: int) -> torch.Generator:
    """A fresh CPU generator for ``ex``'s inputs, seeded by :func:`_derived_seed` (never torch's global RNG)."""
    return torch.Generator().manual_seed(_derived_seed(ex, seed))


@contextlib.contextmanager
def _global_rng(ex: Exercise, seed: int) -> Iterator[None]:
    """Run the student's code with torch's global CPU RNG seeded for ``ex`` and ``seed``, then restore it.

    For checks whose student function draws from the global RNG (``nn.Linear``'s initial weights,
    ``torch.randperm`` without a generator): the verdict must not depend on the student's RNG
    state, and running a check must not change what the notebook's next cells draw.

    Parameters
    ----------
    ex : Exercise
        The exercise being checked.
    seed : int
        The check's ``seed``; the global RNG gets ``_derived_seed(ex, seed) + 1`` (the inputs'
        generator has ``_derived_seed(ex, seed)``: two different streams).

    Raises
    ------
    ValueError
        If ``seed`` is not a non-negative int.
    """
    derived = _derived_seed(ex, seed) + 1  # < 2**63: a valid torch seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derived)
        yield


def _orthonormal(rows: int, cols: int, g: torch.Generator, *, orth_to_ones: bool = False) -> torch.Tensor:
    """(rows, cols) with orthonormal columns (and columns orthogonal to the ones vector if asked)."""
    a = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    if orth_to_ones:
        a = a - a.mean(0)
    q, _ = torch.linalg.qr(a)
    return q


def _data_with_spectrum(n: int, d: int, sv: list[float], offset: float, g: torch.Generator,
                        noise: float = 0.0) -> torch.Tensor:
    """(n, d) float32 data whose centred version has exactly the singular values ``sv`` (+ noise)."""
    r = len(sv)
    u = _orthonormal(n, r, g, orth_to_ones=True)  # columns orthogonal to 1: the mean stays put
    v = _orthonormal(d, r, g)
    mean = offset * (1 + torch.rand(d, generator=g, dtype=torch.float64))
    x = (u * torch.tensor(sv, dtype=torch.float64)) @ v.T + mean
    if noise:
        x = x + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x.float()


def _pca(x: torch.Tensor, k: int, centre: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.double()
    mean = x.mean(0) if centre else torch.zeros(x.shape[1], dtype=torch.float64)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:k]


def _max_angle_deg(a_rows: torch.Tensor, b_rows: torch.Tensor) -> float:
    """Largest principal angle (degrees) between the row spaces of a and b (any bases)."""
    qa, _ = torch.linalg.qr(a_rows.double().T)
    qb, _ = torch.linalg.qr(b_rows.double().T)
    s = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return math.degrees(math.acos(s.min().item())) if len(s) else 0.0
