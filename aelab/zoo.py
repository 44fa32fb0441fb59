"""Load-or-train cache of trained models, so notebooks do not retrain what another already trained.

A trained model is stored under ``<data root>/zoo/<name>-<key>.pt`` where ``key`` is a hash of
everything that determines its weights: the architecture (the model's ``repr`` and its
parameters' names and shapes), the initial weights, the data (shape and a content fingerprint),
the training hyper-parameters and the seed. Change any of
them and the key changes, so a stale model is never loaded. Files are written to a temporary
name and renamed (never half-written) and loaded with ``torch.load(weights_only=True)``.

Set ``AELAB_ZOO=0`` to always train (the cache is still written).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .data import data_root
from .train import History

ZOO_ENV = "AELAB_ZOO"


def zoo_dir() -> Path:
    """Where cached models live: ``<data root>/zoo``."""
    return data_root() / "zoo"


def fingerprint(t: torch.Tensor) -> str:
    """A short content hash of a tensor (shape, dtype and every value), independent of device."""
    h = hashlib.sha256()
    h.update(f"{tuple(t.shape)}|{t.dtype}".encode())
    h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def cache_key(model: nn.Module, data: torch.Tensor, **hyper) -> str:
    """Hash of the architecture, the initial weights, the training data and the hyper-parameters.

    The architecture is the model's ``repr`` *and* the names and shapes of its parameters and
    buffers (a ``repr`` need not show them: ``LinearAutoencoder(784, 30)`` and
    ``LinearAutoencoder(784, 2)`` print alike); the initial weights are fingerprinted, so a model
    initialised under another seed gets another key even if the seed is not passed in ``hyper``.
    """
    state = model.state_dict()
    init = hashlib.sha256("".join(f"{k}:{fingerprint(v)}" for k, v in state.items()).encode()).hexdigest()[:16]
    payload = json.dumps({"arch": repr(model), "class": f"{type(model).__module__}.{type(model).__qualname__}",
                          "state": [[k, list(v.shape), str(v.dtype)] for k, v in state.items()],
                          "init": init, "data": fingerprint(data),
                          "hyper": {k: repr(v) for k, v in sorted(hyper.items())}}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def load_or_train(name: str, model: nn.Module, data: torch.Tensor, train_fn: Callable[[nn.Module], object],
                  **hyper) -> tuple[nn.Module, object | None]:
    """Return ``model`` with cached weights if this exact training was done before, else train and cache it.

    Parameters
    ----------
    name : str
        A readable prefix for the file name, e.g. ``"deep_ae_784-1000-500-250-30"``.
    model : nn.Module
        Freshly built (its initial weights are set by the caller's seed).
    data : torch.Tensor
        The training data (fingerprinted into the key).
    train_fn : callable
        ``train_fn(model) -> history``; called only on a cache miss.
    **hyper
        Everything else that determines the weights: epochs, lr, batch size, seed, ...

    Returns
    -------
    (model, history)
        ``history`` is what ``train_fn`` returned, or on a hit the stored :class:`~aelab.train.History`
        (losses and training seconds of the original run).

    Raises
    ------
    ValueError
        If ``name`` contains a path separator.
    """
    if not name or "/" in name or os.sep in name:
        raise ValueError(f"name must be a plain file-name prefix, got {name!r}")
    key = cache_key(model, data, **hyper)
    path = zoo_dir() / f"{name}-{key}.pt"
    use_cache = os.environ.get(ZOO_ENV, "1").strip().lower() not in ("0", "false", "no", "off")
    if use_cache and path.exists():
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(blob["state_dict"])
            print(f"zoo: loaded {path.name} (trained before with the same architecture, data and settings)")
            h = blob.get("history")
            history = History(train_loss=h["train_loss"], val_loss=h["val_loss"], seconds=h["seconds"]) if h else None
            return model, history
        except Exception as exc:  # a damaged cache entry is retrained, never used
            model.load_state_dict(initial)  # a failed load may have copied some tensors already
            print(f"zoo: {path} is unreadable ({exc}); retraining")
    history = train_fn(model)
    hist = None
    if history is not None and hasattr(history, "train_loss"):
        hist = {"train_loss": list(history.train_loss), "val_loss": list(history.val_loss),
                "seconds": float(history.seconds)}
    save(path, model, hist)
    return model, history


def save(path: Path, model: nn.Module, history: dict | None = None) -> None:
    """Atomically write ``{"state_dict", "history"}`` to ``path`` (tensors moved to the CPU)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        torch.save({"state_dict": state, "history": history}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
