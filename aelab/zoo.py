"""A cache of trained models keyed by exactly what ``fit`` is given: :func:`fit_cached`.

Lecture 02 (``lectures/02_deep_autoencoders.ipynb``) introduces it; every later lecture trains
through it. ``fit_cached(name, build_model, data, **fit_kwargs)`` builds a fresh model, and either
loads the weights a previous identical training produced or trains it with
``aelab.train.fit(model, data, **fit_kwargs)`` and stores the result under
``<data root>/zoo/<name>-<key>.pt``; ``cache=False`` trains without reading or writing the cache
(:func:`aelab.pretrain.train_autoencoder_stack` uses it). The key is a hash of

- the architecture: the model's class, its ``repr`` and the names, shapes and dtypes of its
  parameters and buffers (a ``repr`` need not show them);
- the model's *code*: the compiled code (instructions, constants, names; not line numbers or
  docstrings) of every method, property and class attribute of every class in the model
  (its submodules' too) and their base classes outside the installed libraries, so editing
  ``forward()`` of a class defined in a notebook (where ``inspect.getsource`` fails) gives a new
  key; functions stored on a module instance are keyed too;
- the initial weights, fingerprinted by content;
- every argument ``fit`` receives, with fit's defaults filled in (so ``lr=1e-3`` and leaving
  ``lr`` out are the same training), each keyed by :func:`key_of`: tensors and arrays by
  content (recursively inside tuples, lists and dicts, so a validation set that differs in
  one value gets another key), functions by their qualified name, compiled code, defaults,
  closure values and the globals they read (below), partials by their function and arguments,
  dataclasses and other objects by their class's code and their fields. ``loss=f`` and
  ``objective=loss_objective(f)`` are the same training and share a key. Only ``progress``,
  ``desc`` and ``device`` (how training is shown and where it runs, not what it computes) are
  left out.

What the key sees and does not see
----------------------------------
Code is followed where it can change between runs: in notebooks (``__main__``), in ``aelab`` and
in your own modules (anything not installed under ``site-packages``). For such a function or
method, every global name its code loads (``LOAD_GLOBAL``, nested functions included) is keyed:
numbers, strings, tensors, arrays, tuples, lists, dicts, sets, dataclasses and enums by value,
functions and classes by their code, recursively. **Not seen** (editing them keeps the key, so
the old model is loaded; restart with ``AELAB_ZOO=0`` or pass the value as an argument, e.g.
with ``functools.partial``):

1. library code (torch, NumPy, ...) and its version: keyed by name only;
2. a global holding any other object (a model instance, an optimizer, a ``ContextVar``, ...):
   keyed by its type only; objects passed as *arguments* are keyed by their fields;
3. values reached through a module attribute (``config.BETA`` after ``import config``),
   ``getattr``/``globals()``/``eval`` look-ups and hooks registered on modules: a module global is
   keyed by its name only;
4. closures are seen (their cell values are keyed like arguments); a closure holding something
   that cannot be keyed is refused with a ``TypeError`` naming it.

Change anything seen and the key changes, so a stale model is never loaded. Files are written
with :func:`aelab.files.atomic_write` (never half-written, readable by other users), stale
temporaries of killed writes are removed, and entries are loaded with
``torch.load(weights_only=True)``; a damaged entry, or one holding non-finite weights, is
retrained. Weights that are not finite are never stored (``fit`` raises
:class:`~aelab.train.TrainingDiverged` first). A name the filesystem would refuse (a NUL
byte, too long) is refused before training; whatever fails while *saving* (a full disk:
``torch.save``'s ``RuntimeError``; a read-only folder) is a warning, and the trained model is
returned.

Set ``AELAB_ZOO=0`` to always train (the cache is still written).
"""

from __future__ import annotations

import dataclasses
import dis
import enum
import functools
import hashlib
import inspect
import json
import sys
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
from . import _validation as check
from .files import atomic_write, check_file_name, clean_stale_temporaries
from .runtime import ZOO_ENV, env_flag
from .train import History

__all__ = ["ZOO_ENV", "FORMAT", "UNKEYED", "zoo_dir", "fingerprint", "key_of", "model_code_key", "cache_key", "fit_cached",
           "save"]

#: Bumped whenever the key or the file layout changes: older entries are never matched.
FORMAT = 3

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
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())   # a view: no copy of the data
    elif isinstance(t, np.ndarray):
        if t.dtype.hasobject:
            raise TypeError("fingerprint: an array of Python objects has no content hash")
        h.update(f"{t.shape}|{t.dtype.str}".encode())
        h.update(np.ascontiguousarray(t))   # hashed in place (a copy only if not contiguous)
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
        return _function_key(value, what, active)
    if isinstance(value, types.MethodType):
        return ["method", _key(value.__self__, f"{what}.__self__", active),
                _key(value.__func__, f"{what}.__func__", active)]
    if isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType, types.WrapperDescriptorType,
                          types.MethodDescriptorType, np.ufunc)):
        return ["builtin", _qualname(value)]
    if dataclasses.is_dataclass(value):
        fields = {f.name: _key(getattr(value, f.name), f"{what}.{f.name}", active) for f in dataclasses.fields(value)}
        return ["dataclass", _qualname(type(value)), fields, _class_key(type(value), active)]
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict) and attrs:
        return ["object", _qualname(type(value)),
                {k: _key(v, f"{what}.{k}", active) for k, v in sorted(attrs.items())}, _class_key(type(value), active)]
    raise TypeError(f"{what}: the model cache cannot key a value of type {type(value).__qualname__}; pass tensors, "
                    f"numbers, strings, functions defined with def, functools.partial or dataclasses")


# --------------------------------------------------------------------------- code: functions, classes, globals
def _followed(obj) -> bool:
    """Whether the code of ``obj`` can change between runs: a notebook's, aelab's or the user's own modules."""
    module = getattr(obj, "__module__", None) or ""
    top = module.split(".")[0]
    if top in ("__main__", "aelab"):
        return True
    if not top or top in sys.builtin_module_names or top in sys.stdlib_module_names:
        return False
    path = getattr(sys.modules.get(module), "__file__", None)
    if path is None:
        return False
    parts = PurePath(path).parts
    return "site-packages" not in parts and "dist-packages" not in parts


@functools.lru_cache(maxsize=8192)
def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """The global names ``code`` (and the functions nested in it) loads."""
    names = {ins.argval for ins in dis.get_instructions(code) if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME")}
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names.update(_global_names(c))
    return tuple(sorted(names))


def _function_key(value: types.FunctionType, what: str, active: set) -> list:
    closure = [_cell(c, value) for c in (value.__closure__ or ())]
    key = ["function", _qualname(value), _code_key(value.__code__, value.__doc__),
           _key(value.__defaults__, f"{what} defaults", active),
           _key(value.__kwdefaults__, f"{what} defaults", active),
           _key(closure, f"{what} closure", active)]
    if _followed(value):
        scope = value.__globals__
        key.append([[n, _global_key(scope[n], f"{what} (global {n!r})", active)]
                    for n in _global_names(value.__code__) if n in scope])
    return key


#: Class attributes that are not code or values a method reads.
_CLASS_BOOKKEEPING = frozenset({"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__annotations__",
                                "__dataclass_fields__", "__dataclass_params__", "__match_args__", "__slots__",
                                "__orig_bases__", "__parameters__", "__abstractmethods__", "_abc_impl",
                                "__static_attributes__", "__firstlineno__"})


def _class_key(cls: type, active: set) -> list:
    """The code of every method (and the value of every class attribute) of ``cls`` and its bases outside libraries."""
    out = []
    for klass in cls.__mro__:
        if klass is object or not _followed(klass):
            continue
        if id(klass) in active:
            out.append(["cycle", _qualname(klass)])
            continue
        active.add(id(klass))
        try:
            members = []
            for name, attr in sorted(vars(klass).items()):
                if name in _CLASS_BOOKKEEPING:
                    continue
                where = f"{_qualname(klass)}.{name}"
                if isinstance(attr, (staticmethod, classmethod)):
                    attr = attr.__func__
                if isinstance(attr, property):
                    members.append([name, "property", *[_global_key(f, where, active)
                                                        for f in (attr.fget, attr.fset, attr.fdel)]])
                else:
                    members.append([name, _global_key(attr, where, active)])
            out.append([_qualname(klass), members])
        finally:
            active.discard(id(klass))
    return out


_DATA = (type(None), bool, int, float, complex, str, bytes, np.generic, torch.Tensor, np.ndarray, torch.dtype,
         torch.device, PurePath, range, enum.Enum, functools.partial)


def _global_key(value, what: str, active: set):
    """A value a followed function reads as a global (or a class attribute): see the module docstring."""
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    if isinstance(value, types.FunctionType):  # a global lambda has a name: keyed by its code like any function
        if id(value) in active:
            return ["cycle"]
        active.add(id(value))
        try:
            return _function_key(value, what, active)
        finally:
            active.discard(id(value))
    if isinstance(value, type):
        return ["class", _qualname(value), _class_key(value, active)]
    if isinstance(value, (tuple, list, set, frozenset, Mapping)):
        if id(value) in active:
            return ["cycle"]
        active.add(id(value))
        try:
            if isinstance(value, Mapping):
                items = [[_global_key(k, what, active), _global_key(v, f"{what}[{k!r}]", active)]
                         for k, v in value.items()]
                return ["dict", sorted(items, key=lambda kv: json.dumps(kv[0], sort_keys=True))]
            elements = [_global_key(v, f"{what}[{i}]", active) for i, v in enumerate(value)]
            if isinstance(value, (set, frozenset)):
                elements.sort(key=lambda k: json.dumps(k, sort_keys=True))
            return [type(value).__name__, elements]
        finally:
            active.discard(id(value))
    if isinstance(value, _DATA) or dataclasses.is_dataclass(value) or callable(getattr(value, "__func__", None)):
        try:
            return _key(value, what, active)
        except TypeError:
            pass
    return ["unseen", _qualname(type(value))]


def model_code_key(model: nn.Module) -> list:
    """The code of every class in ``model`` (submodules included) and the functions stored on its modules.

    Part of :func:`cache_key` (issue 22: editing ``forward()`` of a notebook-defined class must give a new
    key). Classes and their bases from installed libraries (``torch.nn.Linear``) are keyed by name only;
    see the module docstring for what else is not seen.

    Returns
    -------
    list
        A JSON-serializable description, equal for two models exactly when their code is.
    """
    classes, seen, active = [], set(), set()
    instance_functions = []
    for name, module in model.named_modules():
        if type(module) not in seen:
            seen.add(type(module))
            classes.append([_qualname(type(module)), _class_key(type(module), active)])
        for attr, value in sorted(vars(module).items()):
            if isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
                instance_functions.append([name, attr, _global_key(value, f"model.{name}.{attr}".replace("..", "."),
                                                                   active)])
    return [classes, instance_functions]


def _cell(cell, owner):
    try:
        contents = cell.cell_contents
    except ValueError:  # an empty cell (a variable not assigned yet)
        return "<empty>"
    return "<self>" if contents is owner else contents


def _fit_arguments(data, fit_kwargs: dict) -> dict:
    """fit's keyword arguments, checked (:func:`aelab.train.check_fit_arguments`), with its defaults filled in
    and the objective resolved: the keyed ones. Bound once per :func:`fit_cached` call."""
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
    train.check_fit_arguments(**{k: v for k, v in bound.arguments.items() if k != "model"})
    args = {k: v for k, v in bound.arguments.items() if k not in ("model", "data", *UNKEYED)}
    args["objective"] = resolve_objective(args.pop("objective"), args.pop("loss"))
    return args


def _key_of_training(model: nn.Module, data, fit_args: dict) -> str:
    state = model.state_dict()
    init = hashlib.sha256("".join(f"{k}:{fingerprint(v)}" for k, v in state.items()).encode()).hexdigest()[:16]
    payload = {"format": FORMAT, "arch": repr(model), "class": _qualname(type(model)), "code": model_code_key(model),
               "state": [[k, list(v.shape), str(v.dtype)] for k, v in state.items()], "init": init,
               "data": key_of(data, "data"), "fit": {k: key_of(v, k) for k, v in fit_args.items()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def cache_key(model: nn.Module, data, **fit_kwargs) -> str:
    """Hash of the architecture, the model's code, the initial weights, the data and every argument given to ``fit``.

    Parameters
    ----------
    model : nn.Module
        Freshly built: its ``repr``, classes' code (see the module docstring), parameter
        names/shapes/dtypes and values are keyed.
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
        If ``fit`` would not accept the arguments (their type), or an argument cannot be keyed (a
        lambda: the message names the argument).
    ValueError
        If ``fit`` would refuse an argument's value (see :func:`aelab.train.check_fit_arguments`).
    """
    return _key_of_training(model, data, _fit_arguments(data, fit_kwargs))


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


def fit_cached(name: str, build_model: Callable[[], nn.Module], data, *, cache: bool = True,
               **fit_kwargs) -> tuple[nn.Module, History]:
    """Train ``build_model()`` with ``aelab.train.fit(model, data, **fit_kwargs)``, or load the result of that training.

    Seed, build, fit: the one place that does it (notebooks and :mod:`aelab.pretrain` call it).

    Parameters
    ----------
    name : str
        A readable prefix of the file name, e.g. ``"mnist_ae_784-1000-500-250-30"``; also the
        progress bar's label unless ``desc`` is given. With ``cache=True`` it must be a name the
        filesystem accepts (checked before anything is built or trained).
    build_model : callable
        ``build_model() -> nn.Module`` builds the fresh model. It is called with torch's global
        generator seeded with fit's ``seed`` (restored afterwards, see
        :func:`aelab.runtime.seeded_rng`), so the initial weights do not depend on what ran
        before; they are part of the key.
    data : Tensor or (Tensor, Tensor)
        The training data, as for ``fit``.
    cache : bool
        False: train without reading or writing the cache (nothing is keyed, so arguments that
        cannot be keyed, such as lambdas, are fine).
    **fit_kwargs
        Exactly ``fit``'s keyword arguments (``epochs`` required); all of them are checked before
        the model is built and keyed (see the module docstring).

    Returns
    -------
    (model, History)
        The trained model, on the device of ``data`` (fit's device rule), and the full history
        of the training (on a cache hit: the stored one, parts and images/s included).

    Raises
    ------
    TypeError
        If ``fit`` would not accept the arguments, an argument cannot be keyed (a lambda),
        ``name`` is not a string, ``cache`` is not a bool, or ``build_model`` does not return an ``nn.Module``.
    ValueError
        If ``name`` is not a plain file-name prefix the filesystem accepts (a NUL byte, a ``/``,
        too many bytes), or fit would refuse an argument's value.
    aelab.train.TrainingDiverged
        If training diverges (nothing is cached).
    aelab.runtime.EnvFlagError
        If ``AELAB_ZOO`` is not a boolean word.

    Warns
    -----
    UserWarning
        If the trained model cannot be stored, whatever the reason (read-only or invalid data
        root, a full disk: ``torch.save`` raises ``RuntimeError``): the trained model is returned anyway.
    """
    cache = check.flag(cache, "cache")
    if not isinstance(name, str):
        raise TypeError(f"name must be a string (a plain file-name prefix), got {type(name).__name__}")
    if not name:
        raise ValueError("name must be a non-empty string (a plain file-name prefix)")
    if not callable(build_model) or isinstance(build_model, nn.Module):
        raise TypeError(f"build_model must be a function building the fresh model (e.g. "
                        f"lambda: MLPAutoencoder(dims)), got {type(build_model).__name__}")
    fit_args = _fit_arguments(data, fit_kwargs)  # checked once, before anything is built or trained
    if cache:
        folder = zoo_dir()
        check_file_name(name, "name", folder=folder, extra=len("-") + 16 + len(".pt"))
        load = env_flag(ZOO_ENV, True)
    with train.seeded_rng(fit_args["seed"]):
        model = build_model()
    if not isinstance(model, nn.Module):
        raise TypeError(f"build_model must return an nn.Module, got {type(model).__name__}")
    if not cache:
        return model, train.fit(model, data, **{"desc": name, **fit_kwargs})
    path = folder / f"{name}-{_key_of_training(model, data, fit_args)}.pt"
    if load and path.is_file():
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        try:
            history = _load(path, model)
        except Exception as exc:  # a damaged entry is retrained, never used
            model.load_state_dict(initial)  # a failed load may have copied some tensors already
            print(f"zoo: {path} is unusable ({str(exc)[:200]}); retraining")
        else:
            print(f"zoo: loaded {path.name} (trained before with the same architecture, code, data and fit "
                  f"arguments)")
            return model.to(_data_device(data)), history
    history = train.fit(model, data, **{"desc": name, **fit_kwargs})
    try:
        save(path, model, history)
    except Exception as exc:  # noqa: BLE001 -- whatever fails while saving must not lose the trained model
        warnings.warn(f"zoo: could not store the trained model in {path.parent} ({type(exc).__name__}: "
                      f"{str(exc)[:300]}); it is returned but not cached. Free some disk space, or set AELAB_DATA "
                      f"to a writable folder, to keep trained models.", stacklevel=2)
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
    RuntimeError
        From ``torch.save`` (e.g. "enforce fail at inline_container.cc" on a full disk).
    """
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"zoo: refusing to cache a model with non-finite weights ({', '.join(bad[:3])})")
    blob = {"format": FORMAT, "state_dict": state, "history": history.to_dict()}
    clean_stale_temporaries(path.parent)
    atomic_write(path, lambda tmp: torch.save(blob, tmp))
