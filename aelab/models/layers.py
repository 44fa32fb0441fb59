"""What every model family shares: the layer-size check, the ``Linear → activation`` stack,
the activation table and the one input check of ``encode``/``decode``.

Public: :mod:`aelab.models`' families, :mod:`aelab.pretrain` and :mod:`aelab.widgets` import these
instead of writing their own (``aelab.models._layers`` is the old name of this module and still
works). No lecture teaches this module; it is the models' plumbing (``docs/architecture.md``).

- :func:`check_size` / :func:`check_sizes`: a layer size is a positive Python or NumPy int
  (never a bool or a float), returned as a Python ``int``;
- :func:`resolve_input_shape`: ``input_shape`` (default ``(n_features,)``) whose product is
  ``n_features``;
- :func:`linear_stack`: ``Linear(s0, s1) → act → … → Linear(s_{n-1}, s_n) → last``;
- :func:`make_activation`: a fresh activation module from its name (:data:`ACTIVATIONS`);
- :func:`check_input`: a tensor of the model's dtype and device, shaped ``(N, *shape)``, with
  an error that names the fix (``x.float()``, ``input_shape=(1, 28, 28)``, …).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .. import _validation

__all__ = ["ACTIVATIONS", "make_activation", "check_size", "check_sizes", "resolve_input_shape", "linear_stack",
           "check_input"]

#: Activation names accepted by the models, and the module each builds.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,  # Hinton & Salakhutdinov's logistic units
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "identity": nn.Identity,
}


def make_activation(name: str, *, argument: str = "activation", owner: str | None = None) -> nn.Module:
    """A new activation module from its name.

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATIONS` (``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"elu"``, ``"gelu"``,
        ``"identity"``).
    argument : str
        The constructor argument ``name`` came from, named in the error.
    owner : str, optional
        The class being built, named in the error.

    Raises
    ------
    ValueError
        If ``name`` is not a known activation (the message lists the known ones).
    """
    try:
        return ACTIVATIONS[name]()
    except (KeyError, TypeError):  # TypeError: an unhashable name
        where = f"{owner}: " if owner else ""
        raise ValueError(f"{where}{argument} must be one of {sorted(ACTIVATIONS)}, got {name!r}") from None


def check_size(value, name: str, *, owner: str) -> int:
    """Validate one layer size: a positive Python or NumPy integer, never a bool.

    Parameters
    ----------
    value : int or numpy.integer
        The size.
    name : str
        The argument it came from (``"n_features"``, ``"dims[2]"``), named in the error.
    owner : str
        The class checking it (``"MLPAutoencoder"``), named in the error.

    Returns
    -------
    int
        ``value`` as a Python ``int`` (so that ``repr`` of a model's sizes stays plain).

    Raises
    ------
    TypeError
        If ``value`` is a bool, a float, a string or anything else that is not an integer.
    ValueError
        If ``value < 1``.
    """
    return _validation.integer(value, f"{owner}: {name}", minimum=1)


def check_sizes(values, name: str, *, owner: str, min_len: int = 1) -> tuple[int, ...]:
    """Validate a sequence of layer sizes with :func:`check_size`; returns a tuple of Python ints.

    Raises
    ------
    TypeError
        If ``values`` is not a sequence (a string or a single number is not), or an entry is not
        an integer (the message names ``name[i]``).
    ValueError
        If it holds fewer than ``min_len`` sizes, or an entry is below 1.
    """
    if isinstance(values, (str, bytes, torch.Tensor)) or not isinstance(values, (Iterable, np.ndarray)):
        raise TypeError(f"{owner}: {name} must be a sequence of positive ints, got {values!r}")
    values = tuple(values)
    if len(values) < min_len:
        raise ValueError(f"{owner}: {name} must hold at least {min_len} size{'s' if min_len > 1 else ''}, got {values}")
    return tuple(check_size(v, f"{name}[{i}]", owner=owner) for i, v in enumerate(values))


def resolve_input_shape(input_shape: Sequence[int] | None, n_features: int, *, owner: str,
                        features_name: str = "n_features") -> tuple[int, ...]:
    """The shape of one example: ``input_shape``, or ``(n_features,)`` when it is None.

    Raises
    ------
    TypeError, ValueError
        As :func:`check_sizes` for the entries; ValueError if their product is not
        ``n_features`` (the message names both).
    """
    if input_shape is None:
        return (n_features,)
    shape = check_sizes(input_shape, "input_shape", owner=owner)
    if math.prod(shape) != n_features:
        raise ValueError(f"{owner}: input_shape {shape} holds {math.prod(shape)} values, "
                         f"not {features_name}={n_features}")
    return shape


def linear_stack(sizes: Sequence[int], activation: str, last_activation: str | None = None) -> list[nn.Module]:
    """``Linear(s0, s1), act, Linear(s1, s2), act, …, Linear(s_{n-1}, s_n), last`` as a list of modules.

    Every layer but the last is followed by ``activation``; the last by ``last_activation``, or
    by nothing when it is None (a linear code layer, as in Hinton & Salakhutdinov 2006).
    The ``Linear`` layers are created in order (so a seeded model's weights do not depend on
    this helper).

    Parameters
    ----------
    sizes : sequence of int
        ``(s0, …, s_n)``, at least two, already checked with :func:`check_sizes`.
    activation : str
        Name in :data:`ACTIVATIONS` for the hidden layers.
    last_activation : str or None
        Name for the last layer, or None for none.
    """
    layers: list[nn.Module] = []
    n = len(sizes) - 1
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        name = activation if i < n - 1 else last_activation
        if name is not None:
            layers.append(make_activation(name))
    return layers


def _shape_str(shape: Sequence[int]) -> str:
    return f"(N, {', '.join(map(str, shape))})"


def check_input(x, shape: tuple[int, ...], what: str, *, like: torch.Tensor | None,
                model_input: bool = True) -> None:
    """Check what a model's ``encode``/``decode`` is given, before torch sees it.

    Parameters
    ----------
    x : torch.Tensor
        Expected ``(N, *shape)``, of the dtype and on the device of ``like``.
    shape : tuple of int
        The shape of one example (``input_shape`` for ``encode``, ``(k,)`` for ``decode``).
    what : str
        The method, e.g. ``"MLPAutoencoder.encode"``, named in every message.
    like : torch.Tensor or None
        One of the model's parameters: ``x`` must share its dtype and device (None: a model
        without parameters; then ``x`` need only be floating point).
    model_input : bool
        True when ``x`` is the model's input (``encode``): mismatched shapes then suggest the
        fix (``input_shape=...`` for images into a flat model, a reshape for flat rows into an
        image model).

    Raises
    ------
    TypeError
        If ``x`` is not a tensor, not floating point (integer images: ``x.float() / 255``), or
        floating point of another dtype than the model's (float64, float16: ``x.float()``).
    ValueError
        If ``x`` is not ``(N, *shape)``, or is on another device than the model.
    """
    dtype = torch.float32 if like is None else like.dtype
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} expects a torch.Tensor of shape {_shape_str(shape)} and dtype {dtype}, "
                        f"got {type(x).__name__} (convert it with torch.as_tensor(x, dtype={dtype}))")
    if like is None:
        if not x.is_floating_point():
            raise TypeError(f"{what} expects a floating-point tensor, got {x.dtype}: convert it with x.float()")
    elif x.dtype != like.dtype:
        fix = "x.float()" if like.dtype == torch.float32 else f"x.to({like.dtype})"
        if not x.is_floating_point():
            hint = " / 255 if they are 0–255 pixel values" if x.dtype == torch.uint8 else ""
            raise TypeError(f"{what} expects a floating-point tensor of dtype {like.dtype} (the model's parameters' "
                            f"dtype), got {x.dtype}: convert it with {fix}{hint}")
        raise TypeError(f"{what} expects dtype {like.dtype} (the model's parameters' dtype), got {x.dtype}: "
                        f"convert it with {fix}")
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        got = tuple(x.shape)
        hint = ""
        if got == tuple(shape):
            hint = ": one example needs a batch dimension, x.unsqueeze(0)"
        elif model_input and x.ndim >= 2 and math.prod(got[1:]) == math.prod(shape):
            if len(shape) == 1:
                hint = (f": this model takes flat rows; to feed {_shape_str(got[1:])} inputs, "
                        f"build it with input_shape={got[1:]}")
            else:
                hint = f": reshape the input with x.reshape(-1, {', '.join(map(str, shape))})"
        raise ValueError(f"{what} expects shape {_shape_str(shape)}, got {got}{hint}")
    if like is not None and x.device != like.device:
        raise ValueError(f"{what} expects a tensor on {like.device} (where the model's parameters are), got one on "
                         f"{x.device}: move it with x.to(aelab.device_of(model))")
