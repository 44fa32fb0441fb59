"""One explicit training loop, ``fit``, and ``evaluate``.

MNIST-sized data fits in memory, so ``fit`` keeps it as one tensor on the training device and
slices mini-batches from one permuted copy per epoch. That is several times faster on a CPU
than a ``DataLoader`` over PIL images with ``ToTensor`` (see ``benchmarks/``). The loss is
accumulated on the device and read once per epoch, so there is no host sync per step, and
the optimizer uses torch's fused kernel (one pass over the parameters per step instead of
about ten; on a CPU that is most of the gap to the matrix multiplies' peak at batch 128).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from .course import pick_device
from .losses import squared_error_per_image

Data = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass
class History:
    """What ``fit`` measured: per-epoch mean losses (per image) and timing."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    images_seen: int = 0

    @property
    def images_per_second(self) -> float:
        return self.images_seen / self.seconds if self.seconds > 0 else float("nan")

    def __repr__(self) -> str:
        last = f"{self.train_loss[-1]:.4g}" if self.train_loss else "-"
        val = f", val {self.val_loss[-1]:.4g}" if self.val_loss else ""
        return (f"History({len(self.train_loss)} epochs, train {last}{val}, "
                f"{self.seconds:.1f} s, {self.images_per_second:,.0f} images/s)")


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


def _total(out) -> torch.Tensor:
    """A loss may return a scalar or a tuple whose first element is the total, e.g. (total, recon, kl)."""
    return out[0] if isinstance(out, (tuple, list)) else out


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


def fit(
    model: nn.Module,
    data: Data,
    *,
    epochs: int,
    loss: Callable = squared_error_per_image,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    val_data: Data | None = None,
    corrupt: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str | None = None,
) -> History:
    """Train ``model`` by mini-batch gradient descent on in-memory data.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(inputs_batch)``; moved to ``device`` (and left there).
    data : Tensor or (Tensor, Tensor)
        ``X`` for an autoencoder (the target is the input) or ``(inputs, targets)``; float32,
        first dimension N.
    epochs : int
        Passes over the data (>= 1).
    loss : callable
        ``loss(model(x), target)`` returning a scalar, or a tuple whose first element is the
        total to minimise. Default: :func:`aelab.losses.squared_error_per_image`.
    batch_size, lr : int, float
        Mini-batch size and learning rate.
    optimizer : {"adam", "sgd"}
        Adam (Kingma & Ba 2015) or SGD with momentum 0.9, built by :func:`make_optimizer`
        (torch's fused one-pass kernel where the device has it).
    weight_decay : float
        L2 penalty passed to the optimizer.
    val_data : same form as ``data``, optional
        Evaluated after each epoch with :func:`evaluate`.
    corrupt : callable, optional
        ``corrupt(x, generator) -> x_tilde``: corrupts each input batch (a denoising
        autoencoder); the target stays clean.
    device : str or torch.device, optional
        Default: cuda, then mps, then cpu.
    seed : int
        Seeds the batch order and the corruption noise: with the same initial weights, the
        same seed gives the same numbers.
    progress : bool
        Show a ``tqdm.auto`` bar (a widget in JupyterLab, text in CI).

    Returns
    -------
    History
        ``train_loss`` (mean per-image training loss of each epoch, measured during the
        epoch), ``val_loss`` (after each epoch), ``seconds``, ``images_per_second``.

    Raises
    ------
    ValueError, TypeError
        On bad data, epochs < 1, batch_size < 1, or an unknown optimizer.
    """
    from tqdm.auto import tqdm

    inputs, targets = _split_data(data, "data")
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    dev = pick_device(device)
    model.to(dev)
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, weight_decay=weight_decay)

    same = targets is inputs
    inputs = inputs.detach().to(dev)  # data, never part of a graph
    targets = inputs if same else targets.detach().to(dev)
    n = len(inputs)
    gen = torch.Generator().manual_seed(seed)  # CPU generator: the permutation is identical on any device
    noise_gen = torch.Generator(device=dev).manual_seed(seed + 1) if corrupt is not None else None
    history = History()
    start = time.perf_counter()
    # One permuted copy per epoch, written into buffers allocated once: a fresh 188 MB tensor
    # per epoch (full MNIST) costs page faults, ~4x the copy itself. Batches are views of these
    # buffers, so they are overwritten at the next epoch.
    x_epoch = torch.empty_like(inputs)
    t_epoch = x_epoch if same else torch.empty_like(targets)
    bar = tqdm(range(epochs), desc=desc or type(model).__name__, unit="epoch", disable=not progress, leave=True)
    for _ in bar:
        model.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        torch.index_select(inputs, 0, perm, out=x_epoch)
        if not same:
            torch.index_select(targets, 0, perm, out=t_epoch)
        running = torch.zeros((), device=dev)
        for i in range(0, n, batch_size):
            xb, tb = x_epoch[i:i + batch_size], t_epoch[i:i + batch_size]
            x_in = corrupt(xb, noise_gen) if corrupt is not None else xb
            total = _total(loss(model(x_in), tb))
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            running += total.detach() * len(xb)
        history.train_loss.append(running.item() / n)  # one host sync per epoch
        history.images_seen += n
        postfix = {"loss": f"{history.train_loss[-1]:.4g}"}
        if val_data is not None:
            history.val_loss.append(evaluate(model, val_data, loss=loss, device=dev))
            postfix["val"] = f"{history.val_loss[-1]:.4g}"
        bar.set_postfix(postfix)
    history.seconds = time.perf_counter() - start
    return history


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Data,
    *,
    loss: Callable = squared_error_per_image,
    batch_size: int = 2000,
    device: str | torch.device | None = None,
) -> float:
    """Mean per-image loss of ``model`` on ``data``, in eval mode, without gradients.

    With the default loss this is the squared error per image (sum over pixels, mean over
    images): the unit of Hinton & Salakhutdinov (2006). The weights are not changed.

    Parameters
    ----------
    model : nn.Module
    data : Tensor or (Tensor, Tensor)
        As in :func:`fit`.
    loss : callable
        As in :func:`fit`; must average over the batch.
    batch_size : int
        Images per forward pass (memory only; the result does not depend on it).
    device : optional
        Default: the device the model's parameters are on.

    Returns
    -------
    float

    Raises
    ------
    ValueError, TypeError
        On bad data or ``batch_size < 1``.
    """
    inputs, targets = _split_data(data, "data")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if device is None:
        first = next(model.parameters(), None)
        dev = first.device if first is not None else torch.device("cpu")
    else:
        dev = pick_device(device)
    was_training = model.training
    model.eval()
    total = torch.zeros((), device=dev, dtype=torch.float64)
    for i in range(0, len(inputs), batch_size):
        xb = inputs[i:i + batch_size].to(dev)
        tb = targets[i:i + batch_size].to(dev)
        total += _total(loss(model(xb), tb)).double() * len(xb)
    model.train(was_training)
    return total.item() / len(inputs)
