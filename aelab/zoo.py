"""A cache of trained models keyed by exactly what ``fit`` is given: :func:`fit_cached`.

``fit_cached(name, build_model, data, **fit_kwargs)`` builds a fresh model, and either loads
the weights a previous identical training produced or trains it with
``aelab.train.fit(model, data, **fit_kwargs)`` and stores the result under
``<data root>/zoo/<name>-<key>.pt``. The key is a hash of

- the architecture: the model's class, its ``repr`` and the names, shapes and dtypes of its
  parameters and buffers (a ``repr`` need not show them);
- the initial weights, fingerprinted by content;
- every argument ``fit`` receives, with fit's defaults filled in (so ``lr=1e-3`` and leaving
  ``lr`` out are the same training), each keyed by :func:`key_of`: tensors and arrays by
  content (recursively inside tuples, lists and dicts, so a validation set that differs in
  one value gets another key), functions by their qualified name and compiled code, partials
  by their function and arguments, dataclasses by their fields. ``loss=f`` and
  ``objective=loss_objective(f)`` are the same training and share a key. Only ``progress``,
  ``desc`` and ``device`` (how training is shown and where it runs, not what it computes) are
  left out.

Change any of them and the key changes, so a stale model is never loaded. Files are written
with :func:`aelab.files.atomic_write` (never half-written, readable by other users), stale
temporaries of killed writes are removed, and entries are loaded with
``torch.load(weights_only=True)``; a damaged entry, or one holding non-finite weights, is
retrained. Weights that are not finite are never stored (``fit`` raises
:class:`~aelab.train.TrainingDiverged` first).

Set ``AELAB_ZOO=0`` to always train (the cache is still written).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import json
import os
import types
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath

import numpy as np
import torch
from torch import nn

from . import train
from .objectives import resolve_objective
from .data import data_root
from .files import atomic_write, clean_stale_temporaries
from .runtime import ZOO_ENV, env_flag
from .train import History

__all__ = ["ZOO_ENV", "zoo_dir", "fingerprint", "key_of", "cache_key", "fit_cached", "save"]

#: Bumped whenever the key or the file layout changes: older entries are never matched.
FORMAT = 2

#: fit's parameters that do not change what is computed, left out of the key.
UNKEYED = ("progress", "desc", "device")

_FIT_SIGNATURE = inspect.signature(train.fit)  # taken once: a test spying on train.fit does not change keys


def zoo_dir() -> Path:
    """Where cached models live: ``<data root>/zoo``."""
    return data_root() / "zoo"


# --------------------------------------------------------------------------- keys
def fingerprint(t: torch.Tensor | np.ndarray) -> str:
    """A short content hash of a tensor or array: shape, dtype and every value, independent of device and layout.

    Raises
    ------
    TypeError
        For something else, a sparse tensor or an object array.
    """
    h = hashlib.sha256()
    if isinstance(t, torch.Tensor):
        if t.layout != torch.strided:
            raise TypeError(f"fingerprint: only dense tensors can be fingerprinted, got layout {t.layout}")
        h.update(f"{tuple(t.shape)}|{t.dtype}".encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(t, np.ndarray):
        if t.dtype.hasobject:
            raise TypeError("fingerprint: an array of Python objects has no content hash")
        h.update(f"{t.shape}|{t.dtype.str}".encode())
        h.update(np.ascontiguousarray(t).tobytes())
    else:
        raise TypeError(f"fingerprint expects a torch.Tensor or numpy array, got {type(t).__name__}")
    return h.hexdigest()[:16]


def _qualname(obj) -> str:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', type(obj).__qualname__))}"


def _code_key(code: types.CodeType, doc: str | None = None) -> str:
    """A hash of compiled code (instructions, constants, names), not of line numbers or the docstring."""
    consts = []
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            consts.append(_code_key(c))
        elif doc is not None and c is doc:
            consts.append("<doc>")
        else:
            consts.append(_key(c, "constant", set()))
    payload = json.dumps([code.co_code.hex(), consts, list(code.co_names), code.co_argcount,
                          code.co_kwonlyargcount, list(code.co_varnames)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def key_of(value, what: str = "value"):
    """A JSON-serializable description of ``value`` that is equal exactly when the training would be.

    - ``None``, bools, ints, floats, strings (and NumPy scalars) by value;
    - tensors and arrays by content (:func:`fingerprint`), recursively inside tuples, lists,
      dicts and sets;
    - functions by ``module.qualname``, compiled code (so an edited notebook function gets a
      new key), default arguments and closure values; ``functools.partial`` by its function and
      arguments; bound methods by their object and function; classes and builtins by
      ``module.qualname``; never by a ``repr`` holding a memory address;
    - dataclass instances by class and fields; enums by class and name; ``torch.dtype``,
      ``torch.device`` and paths by their string; other objects by class and attributes.

    Globals a function reads are not part of its key.

    Parameters
    ----------
    value : object
    what : str
        The name used in error messages (e.g. the argument's name).

    Raises
    ------
    TypeError
        For a value that cannot be keyed reliably, naming where it sits (e.g. ``loss`` or
        ``val_data[1]``): a lambda (every lambda is called ``<lambda>``; use ``def`` or
        ``functools.partial``), or an object with neither fields nor attributes.
    """
    return _key(value, what, set())


def _key(value, what: str, active: set):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return ["float", repr(float(value))]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, complex):
        return ["complex", repr(value)]
    if isinstance(value, bytes):
        return ["bytes", hashlib.sha256(value).hexdigest()[:16]]
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return ["tensor" if isinstance(value, torch.Tensor) else "ndarray", fingerprint(value)]
    if isinstance(value, (torch.dtype, torch.device, PurePath, range)) or value is Ellipsis:
        return ["str", type(value).__qualname__, str(value)]
    if isinstance(value, enum.Enum):
        return ["enum", _qualname(type(value)), value.name]
    if isinstance(value, type):
        return ["class", _qualname(value)]
    if id(value) in active:  # a container or closure that holds itself
        return ["cycle"]
    active.add(id(value))
    try:
        return _key_compound(value, what, active)
    finally:
        active.discard(id(value))


def _key_compound(value, what: str, active: set):
    if isinstance(value, (tuple, list)):
        kind = "list" if isinstance(value, list) else "tuple"
        return [kind, [_key(v, f"{what}[{i}]", active) for i, v in enumerate(value)]]
    if isinstance(value, Mapping):
        items = [[_key(k, f"{what} key", active), _key(v, f"{what}[{k!r}]", active)] for k, v in value.items()]
        return ["dict", sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))]
    if isinstance(value, (set, frozenset)):
        keys = [_key(v, f"{what} element", active) for v in value]
        return ["set", sorted(keys, key=lambda k: json.dumps(k, sort_keys=True))]
    if isinstance(value, functools.partial):
        return ["partial", _key(value.func, f"{what}.func", active), _key(value.args, f"{what}.args", active),
                _key(value.keywords, f"{what}.keywords", active)]
    if isinstance(value, types.FunctionType):
        if value.__name__ == "<lambda>":
            raise TypeError(f"{what} is a lambda, which the model cache cannot identify (every lambda is called "
                            f"'<lambda>'): define it with def, or use functools.partial")
        closure = [_cell(c, value) for c in (value.__closure__ or ())]
        return ["function", _qualname(value), _code_key(value.__code__, value.__doc__),
                _key(value.__defaults__, f"{what} defaults", active),
                _key(value.__kwdefaults__, f"{what} defaults", active),
                _key(closure, f"{what} closure", active)]
    if isinstance(value, types.MethodType):
        return ["method", _key(value.__self__, f"{what}.__self__", active),
                _key(value.__func__, f"{what}.__func__", active)]
    if isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType, types.WrapperDescriptorType,
                          types.MethodDescriptorType, np.ufunc)):
        return ["builtin", _qualname(value)]
    if dataclasses.is_dataclass(value):
        fields = {f.name: _key(getattr(value, f.name), f"{what}.{f.name}", active) for f in dataclasses.fields(value)}
        return ["dataclass", _qualname(type(value)), fields]
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict) and attrs:
        return ["object", _qualname(type(value)),
                {k: _key(v, f"{what}.{k}", active) for k, v in sorted(attrs.items())}]
    raise TypeError(f"{what}: the model cache cannot key a value of type {type(value).__qualname__}; pass tensors, "
                    f"numbers, strings, functions defined with def, functools.partial or dataclasses")


def _cell(cell, owner):
    try:
        contents = cell.cell_contents
    except ValueError:  # an empty cell (a variable not assigned yet)
        return "<empty>"
    return "<self>" if contents is owner else contents


def _fit_arguments(data, fit_kwargs: dict) -> dict:
    """fit's keyword arguments with its defaults filled in and the objective resolved (the keyed ones)."""
    if "model" in fit_kwargs or "data" in fit_kwargs:
        raise TypeError("give the model builder and the data as fit_cached's positional arguments, "
                        "not as keywords")
    try:
        bound = _FIT_SIGNATURE.bind(None, data, **fit_kwargs)
    except TypeError as exc:
        params = [p for p in _FIT_SIGNATURE.parameters if p not in ("model", "data")]
        raise TypeError(f"fit_cached passes its keyword arguments to aelab.train.fit: {exc} "
                        f"(fit takes {', '.join(params)}; epochs is required)") from None
    bound.apply_defaults()
    args = {k: v for k, v in bound.arguments.items() if k not in ("model", "data", *UNKEYED)}
    args["objective"] = resolve_objective(args.pop("objective"), args.pop("loss"))
    return args


def cache_key(model: nn.Module, data, **fit_kwargs) -> str:
    """Hash of the architecture, the initial weights, the data and every argument given to ``fit``.

    Parameters
    ----------
    model : nn.Module
        Freshly built: its ``repr``, parameter names/shapes/dtypes and values are keyed.
    data : Tensor or (Tensor, Tensor)
        Fingerprinted by content.
    **fit_kwargs
        ``fit``'s keyword arguments (``epochs`` required); defaults are filled in, and
        ``progress``, ``desc`` and ``device`` are left out (see the module docstring).

    Returns
    -------
    str
        16 hex digits.

    Raises
    ------
    TypeError
        If ``fit`` would not accept the arguments, or an argument cannot be keyed (a lambda:
        the message names the argument).
    """
    state = model.state_dict()
    init = hashlib.sha256("".join(f"{k}:{fingerprint(v)}" for k, v in state.items()).encode()).hexdigest()[:16]
    fit_args = _fit_arguments(data, fit_kwargs)
    payload = {"format": FORMAT, "arch": repr(model), "class": _qualname(type(model)),
               "state": [[k, list(v.shape), str(v.dtype)] for k, v in state.items()], "init": init,
               "data": key_of(data, "data"), "fit": {k: key_of(v, k) for k, v in fit_args.items()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- fit_cached
def _data_device(data) -> torch.device:
    first = data[0] if isinstance(data, (tuple, list)) and data else data
    return first.device if isinstance(first, torch.Tensor) else torch.device("cpu")


def _load(path: Path, model: nn.Module) -> History:
    """Load a cache entry into ``model``; raise ValueError on anything unexpected (nothing is kept then)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT or not isinstance(blob.get("state_dict"), dict):
        raise ValueError("not a cache entry of this version")
    bad = [k for k, v in blob["state_dict"].items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"non-finite weights in {bad[:3]}")
    history = History.from_dict(blob["history"])
    model.load_state_dict(blob["state_dict"])
    return history


def fit_cached(name: str, build_model: Callable[[], nn.Module], data, **fit_kwargs) -> tuple[nn.Module, History]:
    """Train ``build_model()`` with ``aelab.train.fit(model, data, **fit_kwargs)``, or load the result of that training.

    Parameters
    ----------
    name : str
        A readable prefix of the file name, e.g. ``"mnist_ae_784-1000-500-250-30"``; also the
        progress bar's label unless ``desc`` is given.
    build_model : callable
        ``build_model() -> nn.Module`` builds the fresh model. It is called with torch's global
        generator seeded with fit's ``seed`` (restored afterwards, see
        :func:`aelab.train.seeded_rng`), so the initial weights do not depend on what ran
        before; they are part of the key.
    data : Tensor or (Tensor, Tensor)
        The training data, as for ``fit``.
    **fit_kwargs
        Exactly ``fit``'s keyword arguments (``epochs`` required); all of them are keyed (see
        the module docstring).

    Returns
    -------
    (model, History)
        The trained model, on the device of ``data`` (fit's device rule), and the full history
        of the training (on a cache hit: the stored one, parts and images/s included).

    Raises
    ------
    TypeError
        If ``fit`` would not accept the arguments, an argument cannot be keyed (a lambda),
        or ``build_model`` does not return an ``nn.Module``.
    ValueError
        If ``name`` is not a plain file-name prefix.
    aelab.train.TrainingDiverged
        If training diverges (nothing is cached).
    aelab.runtime.EnvFlagError
        If ``AELAB_ZOO`` is not a boolean word.

    Warns
    -----
    UserWarning
        If the model cannot be stored (read-only or invalid data root): the trained model is
        returned anyway.
    """
    if not isinstance(name, str) or not name or "/" in name or os.sep in name or name.startswith("."):
        raise ValueError(f"name must be a plain file-name prefix, got {name!r}")
    if not callable(build_model) or isinstance(build_model, nn.Module):
        raise TypeError(f"build_model must be a function building the fresh model (e.g. "
                        f"lambda: MLPAutoencoder(dims)), got {type(build_model).__name__}")
    use_cache = env_flag(ZOO_ENV, True)
    fit_args = _fit_arguments(data, fit_kwargs)  # a TypeError here, before anything is built or trained
    with train.seeded_rng(fit_args["seed"]):
        model = build_model()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build_model must return an nn.Module, got {type(model).__name__}")
    key = cache_key(model, data, **fit_kwargs)
    path = zoo_dir() / f"{name}-{key}.pt"
    if use_cache and path.is_file():
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        try:
            history = _load(path, model)
        except Exception as exc:  # a damaged entry is retrained, never used
            model.load_state_dict(initial)  # a failed load may have copied some tensors already
            print(f"zoo: {path} is unusable ({str(exc)[:200]}); retraining")
        else:
            print(f"zoo: loaded {path.name} (trained before with the same architecture, data and fit arguments)")
            return model.to(_data_device(data)), history
    history = train.fit(model, data, **{"desc": name, **fit_kwargs})
    try:
        save(path, model, history)
    except OSError as exc:
        warnings.warn(f"zoo: could not store the trained model in {path.parent} ({exc}); it is returned but not "
                      f"cached. Set AELAB_DATA to a writable folder to keep trained models.", stacklevel=2)
    return model, history


def save(path: Path, model: nn.Module, history: History) -> None:
    """Store ``{"format", "state_dict", "history"}`` at ``path`` atomically (tensors moved to the CPU).

    Stale temporaries of killed writes (older than an hour) in the folder are removed first.

    Raises
    ------
    ValueError
        If a weight is NaN or infinite (such a model is never cached).
    OSError
        If the folder cannot be created or written.
    """
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"zoo: refusing to cache a model with non-finite weights ({', '.join(bad[:3])})")
    blob = {"format": FORMAT, "state_dict": state, "history": history.to_dict()}
    clean_stale_temporaries(path.parent)
    atomic_write(path, lambda tmp: torch.save(blob, tmp))
