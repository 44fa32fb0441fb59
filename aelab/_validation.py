"""One vocabulary of argument checks, so that every error in the package reads alike.

Every public function of :mod:`aelab` checks its arguments with these helpers (as scikit-learn
declares its parameter constraints once) instead of writing ``isinstance`` tests by hand. The rules:

- **Integers** (counts, sizes, epochs, seeds): Python ``int`` and NumPy integers are accepted; ``bool``
  is refused (``True`` is not a count); floats are refused even when integral (``2.0`` epochs is a
  mistake, not a number of epochs). Out-of-range values are named with the range. Wrong *type* →
  ``TypeError``; right type, wrong value → ``ValueError``.
- **Reals** (rates, probabilities, strengths): Python numbers, NumPy scalars, 0-d arrays and one-element
  tensors are accepted and returned as a Python ``float``; ``bool``, NaN and (unless allowed) infinity are
  refused.
- **Image batches**: float tensors of shape (N, 1, 28, 28) or (N, D), optionally in [0, 1].

No lecture teaches this module; it is the package's plumbing (see ``docs/architecture.md``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = ["integer", "real", "probability", "seed", "flag", "choice", "tensor", "images", "codes", "all_finite"]


def _describe(value) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def integer(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is a whole number (``int`` or NumPy integer, not ``bool``, not float).

    Parameters
    ----------
    value : object
        The argument to check.
    name : str
        The argument's name, used in the error message.
    minimum, maximum : int, optional
        Inclusive bounds.

    Returns
    -------
    int
        ``value`` as a Python ``int``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` and floats such as ``2.0`` included).
    ValueError
        If ``value`` is outside ``[minimum, maximum]``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    if maximum is not None and value > maximum:
        bound = f"between {minimum} and {maximum}" if minimum is not None else f"at most {maximum}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def real(value, name: str, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False, allow_inf: bool = False) -> float:
    """Check that ``value`` is a real number in a range and return it as a ``float``.

    Parameters
    ----------
    value : object
        A Python or NumPy number, a 0-d array or a one-element tensor (``bool`` refused).
    name : str
        The argument's name, used in the error message.
    low, high : float, optional
        Bounds; inclusive unless ``low_open`` / ``high_open``.
    allow_inf : bool
        Whether ±infinity is acceptable (NaN never is).

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If ``value`` is not a real number.
    ValueError
        If it is NaN, infinite (unless allowed) or out of range; the message gives the range.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.dtype == torch.bool:
        value = value.item()
    elif isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan")
    if math.isinf(value) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}{right}, got {value:g}")
    return value


def probability(value, name: str, *, allow_one: bool = False) -> float:
    """A probability in [0, 1) (or [0, 1] with ``allow_one``); see :func:`real`."""
    return real(value, name, low=0.0, high=1.0, high_open=not allow_one)


def seed(value, name: str = "seed") -> int:
    """A random seed: a non-negative integer below 2**63 (NumPy integers accepted, ``bool`` refused).

    Raises
    ------
    TypeError, ValueError
        As :func:`integer`.
    """
    return integer(value, name, minimum=0, maximum=2**63 - 1)


def flag(value, name: str) -> bool:
    """A ``bool`` (or ``numpy.bool_``); anything else, ``1`` and ``"yes"`` included, is a ``TypeError``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def choice(value, name: str, options) -> str:
    """One of a fixed set of strings; ``ValueError`` naming the options otherwise."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")
    return value


def all_finite(t: torch.Tensor) -> bool:
    """Whether every element of a floating tensor is finite (no NaN, no ±inf).

    One sum first — a NaN or infinity anywhere makes the sum NaN or infinite, so a finite sum
    proves every element finite at the cost of one read; only a non-finite sum (a bad element,
    or finite values whose sum overflows) pays for the element-wise ``torch.isfinite`` check.
    """
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def tensor(x, name: str, *, ndim: int | tuple[int, ...] | None = None, floating: bool = True,
           finite: bool = False) -> torch.Tensor:
    """Check that ``x`` is a ``torch.Tensor`` (of a floating dtype, with ``ndim`` dimensions).

    Raises
    ------
    TypeError
        If ``x`` is not a tensor, or not floating-point where one is required.
    ValueError
        If it has the wrong number of dimensions, is empty, or holds NaN/inf with ``finite=True``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor (e.g. float32), got {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or infinite values")
    return x


def images(x, name: str = "x", *, unit_range: bool = False, flat_ok: bool = True) -> torch.Tensor:
    """Check an image batch: a float tensor of shape (N, C, H, W), or (N, D) when ``flat_ok``.

    Parameters
    ----------
    x : torch.Tensor
        The batch.
    name : str
        The argument's name, used in the error message.
    unit_range : bool
        Require every value in [0, 1] (the course's pixel convention; Bernoulli likelihoods need it).
    flat_ok : bool
        Accept flattened (N, D) batches too.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    ValueError
        If its shape is wrong, it is empty, holds NaN/inf, or (with ``unit_range``) leaves [0, 1]; the
        message gives the observed range.
    """
    tensor(x, name, ndim=(2, 4) if flat_ok else 4, finite=True)
    if unit_range:
        lo, hi = torch.aminmax(x.detach())
        if lo < 0 or hi > 1:
            raise ValueError(f"{name} must hold pixel values in [0, 1] (divide 0-255 images by 255), "
                             f"got values in [{float(lo):.4g}, {float(hi):.4g}]")
    return x


def codes(z, name: str = "z", *, size: int | None = None) -> torch.Tensor:
    """Check a batch of codes: a finite float tensor of shape (N, code_size).

    Raises
    ------
    TypeError
        If ``z`` is not a floating-point tensor.
    ValueError
        If it is not 2-D, its width is not ``size``, it is empty or not finite.
    """
    tensor(z, name, ndim=2, finite=True)
    if size is not None and z.shape[1] != size:
        raise ValueError(f"{name} must have shape (N, {size}) (one code of size {size} per row), "
                         f"got {tuple(z.shape)}")
    return z
