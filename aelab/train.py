"""One explicit training loop, ``fit``, with one extension point (the *objective*), and ``evaluate``.

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
  when the data hold NaN); the weights are also checked once per epoch.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Union

import torch
from torch import nn

from .losses import range_checks, squared_error_per_image
from .objectives import (TOTAL, Denoising, KLWarmup, LossObjective, Objective, Parts, as_parts, denoising,
                         loss_objective, resolve_objective, split_parts)
from .runtime import device_of, pick_device

__all__ = ["History", "TrainingDiverged", "seeded_rng", "make_optimizer", "fit", "evaluate", "evaluate_parts",
           # re-exported from aelab.objectives
           "TOTAL", "Parts", "Objective", "as_parts", "LossObjective", "loss_objective", "Denoising", "denoising",
           "KLWarmup"]

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


class TrainingDiverged(RuntimeError):
    """A loss part (or a weight) became NaN or infinite during :func:`fit`.

    Attributes
    ----------
    epoch : int
        1-based epoch in which it happened.
    step : int or None
        1-based mini-batch step of that epoch whose loss was first non-finite (None when the
        losses were finite but the weights, or the validation loss, were not).
    part : str or None
        The first non-finite part's name (``"total"``, ``"kl"``, …).
    value : float
        Its value (``nan``, ``inf`` or ``-inf``).
    """

    def __init__(self, message: str, *, epoch: int, step: int | None = None, part: str | None = None,
                 value: float = float("nan")):
        super().__init__(message)
        self.epoch, self.step, self.part, self.value = epoch, step, part, value


# --------------------------------------------------------------------------- helpers
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


def _append(into: dict[str, list[float]], values: Mapping[str, float]) -> None:
    for k, v in values.items():
        into.setdefault(k, []).append(v)


def _check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Run a block with torch's global generators seeded with ``seed``; restore them afterwards.

    Forks the CPU generator and, where present, every CUDA device's (``torch.random.fork_rng``)
    and the MPS generator, then calls ``torch.manual_seed(seed)``. Whatever the block draws
    (dropout, a VAE's sampling noise, corruption noise) is the same for the same seed, and the
    state after the block is the state before it.

    Raises
    ------
    ValueError
        If ``seed`` is not an integer >= 0.
    """
    _check_seed(seed)
    cuda = torch.cuda.is_available()
    mps = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    fork = (torch.random.fork_rng(devices=range(torch.cuda.device_count()), device_type="cuda") if cuda
            else torch.random.fork_rng(devices=[]))
    with fork:
        mps_state = torch.mps.get_rng_state() if mps else None
        try:
            torch.manual_seed(seed)
            yield
        finally:
            if mps_state is not None:
                torch.mps.set_rng_state(mps_state)


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
    impl : {"fused", "foreach", "single"}, optional
        Default :data:`OPTIMIZER_IMPL`.

    Raises
    ------
    ValueError
        On an unknown optimizer or implementation name.
    """
    impl = impl or OPTIMIZER_IMPL
    if impl not in ("fused", "foreach", "single"):
        raise ValueError(f"impl must be 'fused', 'foreach' or 'single', got {impl!r}")
    if name == "adam":
        cls, kw = torch.optim.Adam, {}
    elif name == "sgd":
        cls, kw = torch.optim.SGD, {"momentum": 0.9}
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")
    params = [p for p in params if p.requires_grad]
    if impl == "fused":
        try:
            return cls(params, lr=lr, weight_decay=weight_decay, fused=True, **kw)
        except (RuntimeError, TypeError, ValueError):  # no fused kernel for this device/dtype/torch
            impl = "single"
    return cls(params, lr=lr, weight_decay=weight_decay, foreach=(impl == "foreach"), **kw)


def _nonfinite_rows(inputs: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor | None = None) -> list[int]:
    """Indices (into the data) of the rows among ``rows`` (default all) whose input or target is not finite."""
    idx = torch.arange(len(inputs)) if rows is None else rows.cpu()
    dev_idx = idx.to(inputs.device)
    bad = ~torch.isfinite(inputs[dev_idx].flatten(1)).all(1)
    if targets is not inputs and targets.is_floating_point():
        bad |= ~torch.isfinite(targets[idx.to(targets.device)].flatten(1)).all(1).to(bad.device)
    return idx[bad.cpu()].tolist()


def _data_hint(bad_rows: list[int], what: str) -> str:
    if bad_rows:
        shown = ", ".join(map(str, bad_rows[:5])) + (", …" if len(bad_rows) > 5 else "")
        return (f"The {what} hold NaN or infinite values (row{'s' if len(bad_rows) > 1 else ''} {shown}): "
                f"clean them first (e.g. drop those rows or use torch.nan_to_num).")
    return ("The data of that step are finite, so the optimisation itself overflowed: lower the learning rate, "
            "or check the objective for log(0), division by zero or exp of a large number.")


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
        On bad data, epochs < 1, batch_size < 1, an unknown optimizer, a bad seed, both
        ``objective`` and ``loss`` given, or an objective returning something other than
        scalar parts; ``ValueError`` from :mod:`aelab.losses` when probabilities or targets
        leave [0, 1] (checked on each epoch's first batch and in validation).
    """
    from tqdm.auto import tqdm

    inputs, targets = _split_data(data, "data")
    val = _split_data(val_data, "val_data") if val_data is not None else None
    _check_positive_int(epochs, "epochs")
    _check_positive_int(batch_size, "batch_size")
    epochs, batch_size = int(epochs), int(batch_size)
    objective = resolve_objective(objective, loss)
    _check_seed(seed)
    dev = pick_device(device)
    home = inputs.device  # the model goes back here afterwards
    set_epoch = getattr(objective, "set_epoch", None)

    same = targets is inputs
    n = len(inputs)
    n_steps = math.ceil(n / batch_size)
    batch_sizes = torch.tensor([min(batch_size, n - i) for i in range(0, n, batch_size)], dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)  # CPU generator: the permutation is identical on any device
    history = History()
    bar = None
    model.to(dev)
    try:
        opt = make_optimizer(optimizer, model.parameters(), lr=lr, weight_decay=weight_decay)
        params = [p for p in model.parameters()]
        inputs = inputs.detach().to(dev)  # data, never part of a graph
        targets = inputs if same else targets.detach().to(dev)
        # One permuted copy per epoch, written into buffers allocated once: a fresh 188 MB tensor
        # per epoch (full MNIST) costs page faults, ~4x the copy itself. Batches are views of these
        # buffers, so they are overwritten at the next epoch.
        x_epoch = torch.empty_like(inputs)
        t_epoch = x_epoch if same else torch.empty_like(targets)
        names: tuple[str, ...] | None = None
        record: torch.Tensor | None = None  # (n_steps, n_parts) on the device: each step's parts
        start = time.perf_counter()
        bar = tqdm(range(epochs), desc=desc or type(model).__name__, unit="epoch", disable=not progress, leave=True)
        with seeded_rng(seed):
            for epoch in bar:
                if set_epoch is not None:
                    set_epoch(epoch)
                model.train()
                perm = torch.randperm(n, generator=gen)
                perm_dev = perm.to(dev)
                torch.index_select(inputs, 0, perm_dev, out=x_epoch)
                if not same:
                    torch.index_select(targets, 0, perm_dev, out=t_epoch)
                for step, i in enumerate(range(0, n, batch_size)):
                    xb, tb = x_epoch[i:i + batch_size], t_epoch[i:i + batch_size]
                    with range_checks(step == 0):  # value-range checks cost a host sync: first batch only
                        step_names, values = split_parts(objective(model, xb, tb))
                    if step_names != names:
                        if names is not None:
                            raise ValueError(f"the objective's parts changed from {list(names)} to "
                                             f"{list(step_names)}; return the same parts every step")
                        names = step_names
                        record = torch.empty(n_steps, len(names), device=dev)
                    opt.zero_grad(set_to_none=True)
                    values[0].backward()
                    opt.step()
                    record[step] = torch.stack(_scalars(names, values, dev))
                # One host sync per epoch: every step's parts and whether every weight is finite.
                weights_ok = torch.stack([torch.isfinite(p).all() for p in params]).all()
                host = torch.cat([record.flatten(), weights_ok.to(record.dtype).reshape(1)]).cpu().double()
                per_step = host[:-1].reshape(n_steps, len(names))
                if not torch.isfinite(per_step).all():
                    bad_step = int((~torch.isfinite(per_step)).any(1).nonzero()[0])
                    col = int((~torch.isfinite(per_step[bad_step])).nonzero()[0])
                    rows = perm[bad_step * batch_size:(bad_step + 1) * batch_size]
                    value = float(per_step[bad_step, col])
                    raise TrainingDiverged(
                        f"training diverged in epoch {epoch + 1}, step {bad_step + 1} of {n_steps}: the objective's "
                        f"part {names[col]!r} is {value} (the first non-finite value of the epoch; the model's "
                        f"weights are no longer usable). "
                        + _data_hint(_nonfinite_rows(inputs, targets, rows), "training data"),
                        epoch=epoch + 1, step=bad_step + 1, part=names[col], value=value)
                if host[-1] != 1:
                    raise TrainingDiverged(
                        f"training diverged in epoch {epoch + 1}: a weight became NaN or infinite while every loss "
                        f"was finite (the last update overflowed): lower the learning rate (lr={lr!r}).",
                        epoch=epoch + 1)
                means = (per_step * batch_sizes[:, None]).sum(0) / n
                _append(history.parts, dict(zip(names, means.tolist())))
                history.train_loss.append(history.parts[TOTAL][-1])
                history.images_seen += n
                postfix = {"loss": f"{history.train_loss[-1]:.4g}"}
                if val is not None:
                    val_means = _evaluate(model, val[0], val[1], objective, 2000)
                    bad = [k for k, v in val_means.items() if not math.isfinite(v)]
                    if bad:
                        raise TrainingDiverged(
                            f"the validation loss after epoch {epoch + 1} is not finite (part {bad[0]!r} is "
                            f"{val_means[bad[0]]}) although training was. "
                            + _data_hint(_nonfinite_rows(*val), "validation data"),
                            epoch=epoch + 1, part=bad[0], value=val_means[bad[0]])
                    _append(history.val_parts, val_means)
                    history.val_loss.append(val_means[TOTAL])
                    postfix["val"] = f"{history.val_loss[-1]:.4g}"
                bar.set_postfix(postfix)
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
        On bad data, ``batch_size < 1``, or both ``objective`` and ``loss`` given.
    """
    inputs, targets = _split_data(data, "data")
    _check_positive_int(batch_size, "batch_size")
    return _evaluate(model, inputs, targets, resolve_objective(objective, loss), int(batch_size))


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
