"""One explicit training loop, ``fit``, with one extension point (the *objective*), and ``evaluate``.

Lecture 02 (``lectures/02_deep_autoencoders.ipynb``) introduces it, after lecture 01 wrote the
same loop inline; every later lecture trains with it (usually through :func:`aelab.zoo.fit_cached`).

MNIST-sized data fits in memory, so ``fit`` keeps it as one tensor on the training device and
slices mini-batches from one permuted copy per epoch. That is several times faster on a CPU
than a ``DataLoader`` over PIL images with ``ToTensor`` (see ``benchmarks/``). Each step's loss
parts are written into a small tensor on the device and read once per epoch, so there is no
host sync per step, and the optimizer uses torch's fused kernel (one pass over the parameters
per step instead of about ten; on a CPU that is most of the gap to the matrix multiplies' peak
at batch 128).

Objectives
----------
What ``fit`` minimises is an *objective* ``objective(model, inputs, targets)`` returning a total
or named parts (:mod:`aelab.objectives`: the default ``loss(model(x), target)``, denoising,
KL warm-up); ``fit`` records every part per epoch in :class:`History`. The objective helpers
are re-exported here (``aelab.train.denoising`` is ``aelab.objectives.denoising``).

Rules
-----
- Device: ``fit`` trains on ``device`` (default cuda, then mps, then cpu) and returns the model
  on the device of the data it was given, so a notebook holding CPU tensors can call it;
  ``evaluate`` runs on the model's device and moves each batch there.
- Randomness: ``seed`` governs all randomness inside ``fit`` (batch order, corruption noise, a
  VAE's sampling noise): the loop runs with torch's global generators seeded with ``seed`` and
  restores them afterwards, so the global random state after ``fit`` is the one before it.
- Divergence: a loss part that becomes NaN or infinite stops ``fit`` at the end of that epoch
  with :class:`TrainingDiverged`, naming the epoch, the step and the part (and the data row
  when the data hold NaN); the weights are also checked once per epoch. A loss that is not
  finite at the very first step (before any update) is not blamed on the learning rate.
- Arguments are checked before anything runs (:func:`check_fit_arguments`, with the package's
  one vocabulary :mod:`aelab._validation`): NumPy scalars are accepted, ``bool`` and ``2.0`` are
  not integers, a NaN parameter of the objective (``functools.partial(vae_loss, beta=nan)``) is
  named. Value ranges: the whole training tensor's range is taken once before training; if it
  leaves [0, 1], the objective is run once on the offending rows with its range checks on, so a
  Bernoulli loss on 0–255 rows fails before training whatever batch they fall in.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Union

import torch
from torch import nn

from .errors import TrainingDiverged
from . import _validation as check
from .losses import range_checks, squared_error_per_image
from .objectives import (TOTAL, Denoising, KLWarmup, LossObjective, Objective, Parts, as_parts, denoising,
                         loss_objective, resolve_objective, split_parts)
from .runtime import device_of, keep_freed_memory, pick_device, seed_offset, seeded_rng

__all__ = ["WHOLE_COPY_LIMIT", "History", "TrainingDiverged", "FitArguments", "check_fit_arguments", "make_optimizer", "fit",
           "evaluate", "evaluate_parts",
           # re-exported from aelab.runtime (its former home) and aelab.objectives
           "seeded_rng", "TOTAL", "Parts", "Objective", "as_parts", "LossObjective", "loss_objective", "Denoising",
           "denoising", "KLWarmup"]

Data = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]


# --------------------------------------------------------------------------- history
@dataclass
class History:
    """What :func:`fit` measured, per epoch, in the objective's units (e.g. nats per image).

    Attributes
    ----------
    train_loss, val_loss : list of float
        The total of each epoch: training (mean over the epoch's mini-batches, weighted by
        their sizes, measured while training) and validation (after the epoch; empty without
        ``val_data``). The same numbers as ``parts["total"]`` and ``val_parts["total"]``.
    parts, val_parts : dict of str to list of float
        Every named part of the objective per epoch, ``"total"`` included, e.g.
        ``parts["recon"]`` and ``parts["kl"]`` for :func:`aelab.losses.vae_loss`.
    seconds : float
        Wall-clock seconds of the whole loop (validation included).
    images_seen : int
        Training images processed (epochs × N).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)
    val_parts: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    images_seen: int = 0

    @property
    def images_per_second(self) -> float:
        """Training throughput, ``images_seen / seconds`` (NaN before any training)."""
        return self.images_seen / self.seconds if self.seconds > 0 else float("nan")

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict:
        """Plain lists, dicts, floats and ints (JSON- and ``torch.load(weights_only=True)``-safe)."""
        return {"train_loss": [float(v) for v in self.train_loss], "val_loss": [float(v) for v in self.val_loss],
                "parts": {k: [float(v) for v in vs] for k, vs in self.parts.items()},
                "val_parts": {k: [float(v) for v in vs] for k, vs in self.val_parts.items()},
                "seconds": float(self.seconds), "images_seen": int(self.images_seen)}

    @classmethod
    def from_dict(cls, d: Mapping) -> History:
        """The inverse of :meth:`to_dict`.

        Raises
        ------
        TypeError
            If ``d`` is not a mapping.
        ValueError
            If a key is missing or unknown, or a value has the wrong type.
        """
        if not isinstance(d, Mapping):
            raise TypeError(f"History.from_dict expects a dict, got {type(d).__name__}")
        expected = {"train_loss", "val_loss", "parts", "val_parts", "seconds", "images_seen"}
        if set(d) != expected:
            raise ValueError(f"History.from_dict: expected the keys {sorted(expected)}, got {sorted(d)}")
        try:
            return cls(train_loss=[float(v) for v in d["train_loss"]], val_loss=[float(v) for v in d["val_loss"]],
                       parts={str(k): [float(v) for v in vs] for k, vs in d["parts"].items()},
                       val_parts={str(k): [float(v) for v in vs] for k, vs in d["val_parts"].items()},
                       seconds=float(d["seconds"]), images_seen=int(d["images_seen"]))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"History.from_dict: a value has the wrong type ({exc})") from exc

    def __repr__(self) -> str:
        last = f"{self.train_loss[-1]:.4g}" if self.train_loss else "-"
        val = f", val {self.val_loss[-1]:.4g}" if self.val_loss else ""
        others = [k for k in self.parts if k != TOTAL]
        named = f", parts {others}" if others else ""
        return (f"History({len(self.train_loss)} epochs, train {last}{val}{named}, "
                f"{self.seconds:.1f} s, {self.images_per_second:,.0f} images/s)")


# TrainingDiverged lives in aelab.errors (models raise it too and may not import train); re-exported here.


# --------------------------------------------------------------------------- arguments
def _split_data(data: Data, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(data, torch.Tensor):
        inputs, targets = data, data
    elif isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        inputs, targets = data
    else:
        raise TypeError(f"{what} must be a tensor X (targets = X, an autoencoder) or a pair (inputs, targets) "
                        f"of tensors, got {type(data).__name__}")
    if len(inputs) != len(targets):
        raise ValueError(f"{what}: inputs and targets differ in length ({len(inputs)} vs {len(targets)})")
    if len(inputs) == 0:
        raise ValueError(f"{what} is empty")
    if not inputs.is_floating_point():
        raise TypeError(f"{what} must be floating point (float32), got {inputs.dtype}")
    return inputs, targets


def _parameters(value, path: str, depth: int = 0, seen: set | None = None) -> Iterator[tuple[str, float]]:
    """``(path, value)`` of every number inside an objective's configuration (partials, dataclasses, closures, ...)."""
    seen = set() if seen is None else seen
    if isinstance(value, bool) or depth > 5:
        return
    if isinstance(value, numbers.Real):
        yield path, float(value)
        return
    if isinstance(value, torch.Tensor):
        if value.numel() == 1 and value.is_floating_point():
            yield path, float(value)
        return
    if isinstance(value, (str, bytes, type, nn.Module)) or id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, functools.partial):
        children = [(f"{path}.args[{i}]", v) for i, v in enumerate(value.args)]
        children += [(f"{path}.keywords[{k!r}]", v) for k, v in value.keywords.items()]
        children.append((f"{path}.func", value.func))
    elif isinstance(value, types.FunctionType):
        cells = zip(value.__code__.co_freevars, value.__closure__ or ())
        children = [(f"{path} (closure variable {n!r})", _cell_contents(c)) for n, c in cells]
        children += [(f"{path} (default {n!r})", v) for n, v in (value.__kwdefaults__ or {}).items()]
    elif dataclasses.is_dataclass(value):
        children = [(f"{path}.{f.name}", getattr(value, f.name, None)) for f in dataclasses.fields(value)]
    elif isinstance(value, (tuple, list)):
        children = [(f"{path}[{i}]", v) for i, v in enumerate(value[:100])]
    elif isinstance(value, Mapping):
        children = [(f"{path}[{k!r}]", v) for k, v in list(value.items())[:100]]
    else:
        attrs = getattr(value, "__dict__", None)
        children = [(f"{path}.{k}", v) for k, v in attrs.items()] if isinstance(attrs, dict) else []
    for child_path, child in children:
        yield from _parameters(child, child_path, depth + 1, seen)


def _cell_contents(cell):
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _objective_root(objective: Objective) -> tuple[object, str]:
    """What to search for parameters, and its name as the user wrote it (``loss`` for ``fit(loss=f)``)."""
    if isinstance(objective, LossObjective):
        return objective.loss, "loss"
    return objective, "objective"


def _check_objective_parameters(objective: Objective) -> None:
    """ValueError naming a NaN among the objective's parameters (``beta=nan`` makes every loss NaN)."""
    root, name = _objective_root(objective)
    for path, value in _parameters(root, name):
        if math.isnan(value):
            raise ValueError(f"{path} is nan: every loss computed with it would be NaN (not a learning-rate "
                             f"problem); give it a number")


@dataclass(frozen=True)
class FitArguments:
    """:func:`fit`'s arguments after :func:`check_fit_arguments`: checked, normalised, the objective resolved.

    ``inputs``/``targets`` (and ``val``, a pair or None) are the data as given (same device, not
    copied); ``epochs``, ``batch_size`` and ``seed`` are Python ints, ``lr`` and ``weight_decay``
    floats, ``device`` the training device.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    val: tuple[torch.Tensor, torch.Tensor] | None
    epochs: int
    objective: Objective
    batch_size: int
    lr: float
    optimizer: str
    weight_decay: float
    device: torch.device
    seed: int
    progress: bool
    desc: str | None


def check_fit_arguments(data: Data, *, epochs: int, objective: Objective | None = None,
                        loss: Callable = squared_error_per_image, batch_size: int = 128, lr: float = 1e-3,
                        optimizer: str = "adam", weight_decay: float = 0.0, val_data: Data | None = None,
                        device: str | torch.device | None = None, seed: int = 0, progress: bool = True,
                        desc: str | None = None) -> FitArguments:
    """Check every argument of :func:`fit` (except the model) before anything is built or trained.

    :func:`fit` calls it first; :func:`aelab.zoo.fit_cached` calls it before building the model, so a
    mistake costs no training. The rules are :mod:`aelab._validation`'s: NumPy scalars are accepted,
    ``bool`` is refused, ``2.0`` is not an integer; a wrong type is a ``TypeError``, a wrong value a
    ``ValueError`` naming the range.

    Parameters
    ----------
    data, epochs, objective, loss, batch_size, lr, optimizer, weight_decay, val_data, device, seed, progress, desc
        As :func:`fit`.

    Returns
    -------
    FitArguments

    Raises
    ------
    TypeError
        On data that are not a float tensor or a pair of tensors, a non-integer ``epochs``,
        ``batch_size`` or ``seed``, a non-number ``lr``/``weight_decay``, a non-bool ``progress``, a
        non-str ``desc``, or both ``objective`` and ``loss`` given.
    ValueError
        On empty data or inputs and targets of different lengths, ``epochs``/``batch_size`` < 1,
        ``lr`` < 0 or not finite, ``weight_decay`` < 0, an unknown optimizer, a negative seed, an
        unavailable device, or a NaN parameter of the objective (``functools.partial(vae_loss,
        beta=nan)``: the message names it).
    """
    inputs, targets = _split_data(data, "data")
    val = _split_data(val_data, "val_data") if val_data is not None else None
    if desc is not None and not isinstance(desc, str):
        raise TypeError(f"desc must be a string (the progress bar's label) or None, got {type(desc).__name__}")
    objective = resolve_objective(objective, loss)
    _check_objective_parameters(objective)
    return FitArguments(
        inputs=inputs, targets=targets, val=val,
        epochs=check.integer(epochs, "epochs", minimum=1), objective=objective,
        batch_size=check.integer(batch_size, "batch_size", minimum=1),
        lr=check.real(lr, "lr", low=0.0),
        optimizer=check.choice(optimizer, "optimizer", ("adam", "sgd")),
        weight_decay=check.real(weight_decay, "weight_decay", low=0.0),
        device=pick_device(device), seed=check.seed(seed) + seed_offset(), progress=check.flag(progress, "progress"), desc=desc)


#: Optimizer implementation: "fused" (one kernel per step over all parameters, where torch has
#: it: CPU, CUDA, MPS), "foreach" or "single" (one tensor at a time, torch's CPU default).
OPTIMIZER_IMPL = "fused"


def make_optimizer(name: str, params, *, lr: float, weight_decay: float = 0.0,
                   impl: str | None = None) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba 2015) or SGD with momentum 0.9, with the fastest implementation available.

    torch's default Adam on a CPU updates one parameter tensor at a time in about ten
    elementwise passes over memory; the fused kernel does one pass. On the deep 784-1000-500-
    250-30 autoencoder that step is a large share of the time at batch 128 (see ``benchmarks/``).
    Falls back to torch's default where the fused kernel is not available.

    Parameters
    ----------
    name : {"adam", "sgd"}
    params : iterable of parameters (those with ``requires_grad`` are optimised)
    lr, weight_decay : float
        Learning rate and L2 penalty (both finite, >= 0).
    impl : {"fused", "foreach", "single"}, optional
        Default :data:`OPTIMIZER_IMPL`.

    Raises
    ------
    ValueError
        On an unknown optimizer or implementation name, or a learning rate or weight decay out of range.
    TypeError
        If ``lr`` or ``weight_decay`` is not a number.
    """
    impl = check.choice(impl or OPTIMIZER_IMPL, "impl", ("fused", "foreach", "single"))
    name = check.choice(name, "optimizer", ("adam", "sgd"))
    lr = check.real(lr, "lr", low=0.0)
    weight_decay = check.real(weight_decay, "weight_decay", low=0.0)
    cls, kw = (torch.optim.Adam, {}) if name == "adam" else (torch.optim.SGD, {"momentum": 0.9})
    params = [p for p in params if p.requires_grad]
    if impl == "fused":
        try:
            return cls(params, lr=lr, weight_decay=weight_decay, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device/dtype/torch
            impl = "single"
    return cls(params, lr=lr, weight_decay=weight_decay, foreach=(impl == "foreach"), **kw)


# --------------------------------------------------------------------------- data checks
def _outside_unit_rows(t: torch.Tensor) -> torch.Tensor:
    """Boolean ``(N,)``: the rows of ``t`` holding a value outside [0, 1]."""
    return ((t < 0) | (t > 1)).flatten(1).any(1) if t.dim() > 1 else (t < 0) | (t > 1)


def _check_value_range(model: nn.Module, objective: Objective, inputs: torch.Tensor, targets: torch.Tensor,
                       batch_size: int, seed: int) -> None:
    """The whole training tensor's range, once; rows outside [0, 1] are shown to the objective's range checks.

    One fused min/max pass over the data. Only when it leaves [0, 1] (e.g. 10 rows of 0-255 among
    4,000) is the objective run once, in eval mode, without gradients, under its own seeded and
    restored generators, on up to ``batch_size`` of the offending rows with the losses' range checks
    on: a loss that needs [0, 1] (a Bernoulli likelihood) raises before training, whichever batch
    those rows would fall in; a loss that does not (squared error on toy data) runs on.
    """
    tensors = [inputs] + ([targets] if targets is not inputs and targets.is_floating_point() else [])
    ranges = [torch.aminmax(t.detach()) for t in tensors]
    lo, hi = min(float(r[0]) for r in ranges), max(float(r[1]) for r in ranges)
    if not (lo < 0 or hi > 1):  # also False for NaN, which the divergence check names
        return
    bad = _outside_unit_rows(inputs)
    if len(tensors) > 1:
        bad = bad | _outside_unit_rows(targets).to(bad.device)
    rows = bad.nonzero().flatten()
    was_training = model.training
    model.eval()
    try:
        with seeded_rng(seed), torch.no_grad(), range_checks(True):
            objective(model, inputs[rows[:batch_size]], targets[rows[:batch_size].to(targets.device)])
    except ValueError as exc:
        shown = ", ".join(str(int(r)) for r in rows[:5]) + (", …" if len(rows) > 5 else "")
        raise ValueError(f"the training data hold values in [{lo:.4g}, {hi:.4g}]: {len(rows)} of {len(inputs)} "
                         f"rows leave [0, 1] (rows {shown}), and the objective needs values in [0, 1] "
                         f"(divide 0-255 images by 255). The objective said: {exc}") from exc
    finally:
        model.train(was_training)


def _nonfinite_rows(inputs: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor | None = None) -> list[int]:
    """Indices (into the data) of the rows among ``rows`` (default all) whose input or target is not finite."""
    idx = torch.arange(len(inputs)) if rows is None else rows.cpu()
    dev_idx = idx.to(inputs.device)
    bad = ~torch.isfinite(inputs[dev_idx].flatten(1)).all(1)
    if targets is not inputs and targets.is_floating_point():
        bad |= ~torch.isfinite(targets[idx.to(targets.device)].flatten(1)).all(1).to(bad.device)
    return idx[bad.cpu()].tolist()


def _data_hint(bad_rows: list[int], what: str, *, first_step: bool = False, objective: Objective | None = None) -> str:
    if bad_rows:
        shown = ", ".join(map(str, bad_rows[:5])) + (", …" if len(bad_rows) > 5 else "")
        return (f"The {what} hold NaN or infinite values (row{'s' if len(bad_rows) > 1 else ''} {shown}): "
                f"clean them first (e.g. drop those rows or use torch.nan_to_num).")
    infinite = []
    if objective is not None:
        root, name = _objective_root(objective)
        infinite = [f"{p} = {v}" for p, v in _parameters(root, name) if math.isinf(v)]
    named = f" The objective has infinite parameters: {'; '.join(infinite[:3])}." if infinite else ""
    if first_step:
        return ("The data of that step are finite and no update had been made yet, so the learning rate is not "
                "the cause: check the objective's arguments and the model's initial weights (log(0), division "
                f"by zero, exp of a large number).{named}")
    return ("The data of that step are finite, so the optimisation itself overflowed: lower the learning rate, "
            f"or check the objective for log(0), division by zero or exp of a large number.{named}")


# --------------------------------------------------------------------------- the loop's pieces
#: Data larger than this (bytes, inputs and targets together) is gathered batch by batch instead of being
#: copied whole in each epoch's order: lecture 06's 72,711 × 2,000 float32 word counts (580 MB) would
#: otherwise be held twice. Both ways give the same batches, bit for bit.
WHOLE_COPY_LIMIT = 256 * 2**20


class _Batches:
    """Mini-batches in a fresh random order each epoch.

    Data up to :data:`WHOLE_COPY_LIMIT` bytes: one permuted copy per epoch, in buffers allocated once
    (a fresh 188 MB tensor per epoch, full MNIST, costs page faults, ~4x the copy itself); batches are
    views of the buffers, and the next epoch overwrites them. Larger data: each batch is gathered when it
    is reached, so memory grows by one batch, not by the data set. The permutation comes from a CPU
    generator, so it is identical on every device.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, seed: int):
        self.inputs, self.targets, self.batch_size = inputs, targets, batch_size
        self.same = targets is inputs
        self.n = len(inputs)
        self.starts = range(0, self.n, batch_size)
        self.sizes = torch.tensor([min(batch_size, self.n - i) for i in self.starts], dtype=torch.float64)
        self.generator = torch.Generator().manual_seed(seed)
        nbytes = inputs.element_size() * inputs.nelement()
        if not self.same:
            nbytes += targets.element_size() * targets.nelement()
        self.whole = nbytes <= WHOLE_COPY_LIMIT
        if self.whole:
            self.x = torch.empty_like(inputs)
            self.t = self.x if self.same else torch.empty_like(targets)
        self.perm = torch.arange(self.n)

    def epoch(self):
        """Draw this epoch's order; return (or, for large data, yield) its mini-batches ``(inputs, targets)``."""
        self.perm = torch.randperm(self.n, generator=self.generator)
        perm = self.perm.to(self.inputs.device)
        if not self.whole:
            return self._gathered(perm)
        torch.index_select(self.inputs, 0, perm, out=self.x)
        if not self.same:
            torch.index_select(self.targets, 0, perm, out=self.t)
        return [(self.x[i:i + self.batch_size], self.t[i:i + self.batch_size]) for i in self.starts]

    def _gathered(self, perm: torch.Tensor):
        for i in self.starts:
            rows = perm[i:i + self.batch_size]
            x = torch.index_select(self.inputs, 0, rows)
            yield x, (x if self.same else torch.index_select(self.targets, 0, rows))

    def rows(self, step: int) -> torch.Tensor:
        """The data rows of mini-batch ``step`` of the current epoch."""
        return self.perm[step * self.batch_size:(step + 1) * self.batch_size]


class _EpochLog:
    """Each step's loss parts, kept on the device and read once per epoch; the divergence checks; the history."""

    def __init__(self, model: nn.Module, args: FitArguments, batches: _Batches, history: History):
        self.params = list(model.parameters())
        self.args, self.batches, self.history = args, batches, history
        self.names: tuple[str, ...] | None = None
        self.record: torch.Tensor | None = None  # (n_steps, n_parts) on the device

    def step(self, step: int, out: Parts) -> torch.Tensor:
        """Record one step's parts (no host sync) and return the total to minimise."""
        names, values = split_parts(out)
        if names != self.names:
            if self.names is not None:
                raise ValueError(f"the objective's parts changed from {list(self.names)} to {list(names)}; "
                                 f"return the same parts every step")
            self.names = names
            self.record = torch.empty(len(self.batches.starts), len(names), device=self.args.device)
        self.record[step] = torch.stack(_scalars(names, values, self.args.device))
        return values[0]

    def end_epoch(self, epoch: int) -> None:
        """One host sync: every step's parts and whether every weight is finite; then the history."""
        weights_ok = torch.stack([torch.isfinite(p).all() for p in self.params]).all()
        host = torch.cat([self.record.flatten(), weights_ok.to(self.record.dtype).reshape(1)]).cpu().double()
        per_step = host[:-1].reshape(len(self.batches.starts), len(self.names))
        if not torch.isfinite(per_step).all():
            self._diverged(epoch, per_step)
        if host[-1] != 1:
            raise TrainingDiverged(
                f"training diverged in epoch {epoch + 1}: a weight became NaN or infinite while every loss "
                f"was finite (the last update overflowed): lower the learning rate (lr={self.args.lr!r}).",
                epoch=epoch + 1)
        means = (per_step * self.batches.sizes[:, None]).sum(0) / self.batches.n
        _append(self.history.parts, dict(zip(self.names, means.tolist())))
        self.history.train_loss.append(self.history.parts[TOTAL][-1])
        self.history.images_seen += self.batches.n

    def _diverged(self, epoch: int, per_step: torch.Tensor) -> None:
        step = int((~torch.isfinite(per_step)).any(1).nonzero()[0])
        col = int((~torch.isfinite(per_step[step])).nonzero()[0])
        value = float(per_step[step, col])
        bad_rows = _nonfinite_rows(self.batches.inputs, self.batches.targets, self.batches.rows(step))
        raise TrainingDiverged(
            f"training diverged in epoch {epoch + 1}, step {step + 1} of {len(self.batches.starts)}: the "
            f"objective's part {self.names[col]!r} is {value} (the first non-finite value of the epoch; the "
            f"model's weights are no longer usable). "
            + _data_hint(bad_rows, "training data", first_step=(epoch == 0 and step == 0),
                         objective=self.args.objective),
            epoch=epoch + 1, step=step + 1, part=self.names[col], value=value)

    def validate(self, model: nn.Module, epoch: int) -> None:
        """Evaluate ``val_data`` after the epoch (same objective) and record it."""
        val_means = _evaluate(model, *self.args.val, self.args.objective, 2000)
        bad = [k for k, v in val_means.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                f"the validation loss after epoch {epoch + 1} is not finite (part {bad[0]!r} is "
                f"{val_means[bad[0]]}) although training was. "
                + _data_hint(_nonfinite_rows(*self.args.val), "validation data"),
                epoch=epoch + 1, part=bad[0], value=val_means[bad[0]])
        _append(self.history.val_parts, val_means)
        self.history.val_loss.append(val_means[TOTAL])

    def postfix(self) -> dict[str, str]:
        shown = {"loss": f"{self.history.train_loss[-1]:.4g}"}
        if self.history.val_loss:
            shown["val"] = f"{self.history.val_loss[-1]:.4g}"
        return shown


def _scalars(names: tuple[str, ...], values: list, dev: torch.device) -> list[torch.Tensor]:
    """Detached 0-d tensors on ``dev``; ValueError naming a part that is not a scalar."""
    out = []
    for name, v in zip(names, values):
        if isinstance(v, torch.Tensor):
            if v.dim() != 0:
                raise ValueError(f"objective part {name!r} must be a scalar (averaged over the batch), "
                                 f"got shape {tuple(v.shape)}")
            out.append(v.detach().to(dev))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(torch.tensor(float(v), device=dev))
        else:
            raise TypeError(f"objective part {name!r} must be a scalar tensor or a number, got {type(v).__name__}")
    return out


def _append(into: dict[str, list[float]], values: Mapping[str, float]) -> None:
    for k, v in values.items():
        into.setdefault(k, []).append(v)


# --------------------------------------------------------------------------- fit
def fit(
    model: nn.Module,
    data: Data,
    *,
    epochs: int,
    objective: Objective | None = None,
    loss: Callable = squared_error_per_image,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    val_data: Data | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str | None = None,
) -> History:
    """Train ``model`` by mini-batch gradient descent on in-memory data, minimising ``objective``.

    Parameters
    ----------
    model : nn.Module
        Trained in place on ``device``, then moved to the device of ``data`` (see the module
        docstring's rules).
    data : Tensor or (Tensor, Tensor)
        ``X`` for an autoencoder (the target is the input) or ``(inputs, targets)``; float,
        first dimension N.
    epochs : int
        Passes over the data (>= 1).
    objective : callable, optional
        ``objective(model, inputs_batch, targets_batch)`` returning the total to minimise or
        named parts (see the module docstring). If it has a method ``set_epoch(epoch)``, that is
        called at the start of each epoch (0-based), e.g. :class:`KLWarmup`. Give either
        ``objective`` or ``loss``.
    loss : callable
        ``loss(model(x), target)``: shorthand for ``objective=loss_objective(loss)``. Default
        :func:`aelab.losses.squared_error_per_image`.
    batch_size, lr : int, float
        Mini-batch size and learning rate.
    optimizer : {"adam", "sgd"}
        Adam (Kingma & Ba 2015) or SGD with momentum 0.9, built by :func:`make_optimizer`
        (torch's fused one-pass kernel where the device has it).
    weight_decay : float
        L2 penalty passed to the optimizer.
    val_data : same form as ``data``, optional
        Evaluated with the same objective after each epoch (:func:`evaluate_parts`).
    device : str or torch.device, optional
        Where to train. Default: cuda, then mps, then cpu.
    seed : int
        Governs all randomness inside ``fit``: the batch order (a CPU generator, identical on
        every device) and torch's global generators, seeded for the loop and restored after it
        (see :func:`seeded_rng`). With the same initial weights, the same seed gives the same
        numbers, whatever ran before.
    progress : bool
        Show a ``tqdm.auto`` bar (a widget in JupyterLab, text in CI).
    desc : str, optional
        The bar's label (default: the model's class name).

    Returns
    -------
    History
        Per epoch: every part of the objective on the training data (mean per image,
        measured during the epoch) and on ``val_data`` (after the epoch); ``seconds``,
        ``images_seen``, ``images_per_second``.

    Raises
    ------
    TrainingDiverged
        (a ``RuntimeError``) If a part of the objective becomes NaN or infinite (checked once
        per epoch: the error names the epoch, the first bad step and part, and the data rows
        holding NaN if any), if a weight does, or if the validation loss does. The model's
        weights are then unusable.
    ValueError, TypeError
        On bad arguments, before anything runs (see :func:`check_fit_arguments`: e.g. ``epochs=2.0``
        or ``True`` is a ``TypeError``, ``epochs=0`` or ``lr=inf`` a ``ValueError``, a NaN parameter of
        the objective is named), or an objective returning something other than scalar parts.
        ``ValueError`` naming the data's range when training rows leave [0, 1] and the objective
        needs [0, 1] (a Bernoulli loss on 0-255 rows: the whole tensor is checked once before
        training); the model's outputs are checked on each epoch's first batch and in validation.
    """
    from tqdm.auto import tqdm

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    args = check_fit_arguments(data, epochs=epochs, objective=objective, loss=loss, batch_size=batch_size, lr=lr,
                               optimizer=optimizer, weight_decay=weight_decay, val_data=val_data, device=device,
                               seed=seed, progress=progress, desc=desc)
    objective, set_epoch = args.objective, getattr(args.objective, "set_epoch", None)
    home = args.inputs.device  # the model goes back here afterwards
    history, bar = History(), None
    keep_freed_memory()  # freed batch memory is reused, not page-faulted back in each step (issue 26)
    model.to(args.device)
    try:
        opt = make_optimizer(args.optimizer, model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
        inputs = args.inputs.detach().to(args.device)  # data, never part of a graph
        targets = inputs if args.targets is args.inputs else args.targets.detach().to(args.device)
        _check_value_range(model, objective, inputs, targets, args.batch_size, args.seed)
        batches = _Batches(inputs, targets, args.batch_size, args.seed)
        log = _EpochLog(model, args, batches, history)
        start = time.perf_counter()
        bar = tqdm(range(args.epochs), desc=args.desc or type(model).__name__, unit="epoch",
                   disable=not args.progress, leave=True)
        with seeded_rng(args.seed):
            for epoch in bar:
                if set_epoch is not None:
                    set_epoch(epoch)
                model.train()
                for step, (xb, tb) in enumerate(batches.epoch()):
                    with range_checks(step == 0):  # the model's outputs: a host sync, so first batch only
                        total = log.step(step, objective(model, xb, tb))
                    opt.zero_grad(set_to_none=True)
                    total.backward()
                    opt.step()
                log.end_epoch(epoch)  # one host sync; TrainingDiverged names the step, part and rows
                if args.val is not None:
                    log.validate(model, epoch)
                bar.set_postfix(log.postfix())
        history.seconds = time.perf_counter() - start
    finally:
        if bar is not None:
            bar.close()
        model.to(home)
    return history


# --------------------------------------------------------------------------- evaluate
def _evaluate(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, objective: Objective,
              batch_size: int) -> dict[str, float]:
    dev = device_of(model)
    was_training = model.training
    model.eval()
    names, rows, sizes = None, [], []
    try:
        with torch.no_grad():
            for i in range(0, len(inputs), batch_size):
                xb = inputs[i:i + batch_size].to(dev)
                tb = xb if targets is inputs else targets[i:i + batch_size].to(dev)
                step_names, values = split_parts(objective(model, xb, tb))
                if names is not None and step_names != names:
                    raise ValueError(f"the objective's parts changed from {list(names)} to {list(step_names)}")
                names = step_names
                rows.append(torch.stack(_scalars(names, values, dev)))
                sizes.append(len(xb))
    finally:
        model.train(was_training)
    host = torch.stack(rows).cpu().double()  # one host sync
    means = (host * torch.tensor(sizes, dtype=torch.float64)[:, None]).sum(0) / len(inputs)
    return dict(zip(names, means.tolist()))


def evaluate_parts(
    model: nn.Module,
    data: Data,
    *,
    objective: Objective | None = None,
    loss: Callable = squared_error_per_image,
    batch_size: int = 2000,
) -> dict[str, float]:
    """Every part of the objective, mean per image over ``data``, in eval mode, without gradients.

    Runs on the model's device (:func:`aelab.runtime.device_of`), moving each batch there. The
    weights are not changed and the train/eval mode is restored. An objective that draws random
    numbers (a VAE samples ``z``) draws them from torch's global generator.

    Parameters
    ----------
    model : nn.Module
    data : Tensor or (Tensor, Tensor)
        As in :func:`fit`.
    objective, loss : callable
        As in :func:`fit` (give one); parts must be averaged over the batch.
    batch_size : int
        Images per forward pass (memory only; the result does not depend on it).

    Returns
    -------
    dict of str to float
        ``{"total": ..., **other parts}``.

    Raises
    ------
    ValueError, TypeError
        On bad data, ``batch_size`` not an integer >= 1, or both ``objective`` and ``loss`` given.
    """
    inputs, targets = _split_data(data, "data")
    batch_size = check.integer(batch_size, "batch_size", minimum=1)
    return _evaluate(model, inputs, targets, resolve_objective(objective, loss), batch_size)


def evaluate(
    model: nn.Module,
    data: Data,
    *,
    objective: Objective | None = None,
    loss: Callable = squared_error_per_image,
    batch_size: int = 2000,
) -> float:
    """Mean per-image total of the objective on ``data`` (see :func:`evaluate_parts`).

    With the default loss this is the squared error per image (sum over pixels, mean over
    images): the unit of Hinton & Salakhutdinov (2006). Runs on the model's device.

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        On bad data, ``batch_size < 1``, or both ``objective`` and ``loss`` given.
    """
    return evaluate_parts(model, data, objective=objective, loss=loss, batch_size=batch_size)[TOTAL]
