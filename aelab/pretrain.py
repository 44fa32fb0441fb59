"""Greedy layer-wise pretraining (lecture 05): freezing, encoding a dataset through a frozen
stack, and training an RBM with contrastive divergence.

Bengio et al. (NeurIPS 2006) and Hinton & Salakhutdinov (Science 2006): train layer 1 on the
data, freeze it, encode the data, train layer 2 on those codes, and so on; then stack and
fine-tune everything with backpropagation. The RBM itself (energy, CD-k statistics) is
:class:`aelab.models.RBM`; autoencoder layers train with :func:`aelab.train.fit`.
"""

from __future__ import annotations

import torch
from torch import nn

from .runtime import device_of

__all__ = ["freeze", "unfreeze", "trainable_parameters", "encode_dataset", "train_rbm"]


def _check_module(module, name: str) -> None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} expects a torch.nn.Module, got {type(module).__name__}")


def freeze(module: nn.Module) -> nn.Module:
    """Stop training ``module``: ``requires_grad=False`` on every parameter, and eval mode.

    Setting ``module.requires_grad = False`` does nothing to the parameters (it only adds an
    attribute); the flag lives on each parameter. An optimizer built before freezing still
    holds the parameters: build it from :func:`trainable_parameters` afterwards.

    Returns
    -------
    nn.Module
        ``module`` itself.

    Raises
    ------
    TypeError
        If ``module`` is not an ``nn.Module``.
    """
    _check_module(module, "freeze")
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo :func:`freeze`: ``requires_grad=True`` on every parameter, and training mode."""
    _check_module(module, "unfreeze")
    for p in module.parameters():
        p.requires_grad_(True)
    return module.train()


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``module`` that require gradients (what an optimizer should get)."""
    _check_module(module, "trainable_parameters")
    return [p for p in module.parameters() if p.requires_grad]


@torch.no_grad()
def encode_dataset(encoder, data: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Encode ``data`` through ``encoder`` in batches, with no gradients and in eval mode.

    The encoder's training/eval mode is restored afterwards (dropout must be off while
    encoding, and a frozen stack must not record an autograd graph of the whole dataset).

    Parameters
    ----------
    encoder : nn.Module or callable
        ``encoder(x) -> codes``; a module with an ``encode`` method is called through it.
    data : torch.Tensor, ``(N, ...)``
    batch_size : int
        Rows per batch, >= 1.

    Returns
    -------
    torch.Tensor
        ``(N, ...)`` codes on ``data``'s device, without ``grad_fn``.

    Raises
    ------
    TypeError
        If ``data`` is not a tensor or ``encoder`` is not callable.
    ValueError
        If ``batch_size < 1``.
    """
    if not isinstance(data, torch.Tensor):
        raise TypeError(f"encode_dataset expects a torch.Tensor of data, got {type(data).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    fn = getattr(encoder, "encode", encoder)
    if not callable(fn):
        raise TypeError(f"encoder must be callable, got {type(encoder).__name__}")
    module = encoder if isinstance(encoder, nn.Module) else None
    was_training = module.training if module is not None else False
    device = device_of(module) if module is not None and any(True for _ in module.parameters()) else data.device
    if module is not None:
        module.eval()
    try:
        out = [fn(data[i:i + batch_size].to(device)).to(data.device) for i in range(0, len(data), batch_size)]
    finally:
        if module is not None:
            module.train(was_training)
    return torch.cat(out) if out else data[:0]


def train_rbm(rbm, data: torch.Tensor, *, epochs: int, batch_size: int = 100, lr: float = 0.05, k: int = 1,
              seed: int = 0, progress: bool = True, desc: str = "RBM (CD)") -> list[float]:
    """Train an RBM with CD-k on mini-batches (Hinton & Salakhutdinov 2006; Hinton's guide 2010).

    Parameters
    ----------
    rbm : aelab.models.RBM
    data : torch.Tensor, ``(N, n_visible)``, values in [0, 1]
    epochs : int
        Passes over the data, >= 1.
    batch_size, lr, k : int, float, int
        Mini-batch size (>= 1), learning rate of ``θ ← θ + lr·Δθ`` (> 0), Gibbs steps (>= 1).
    seed : int
        Seeds the batch order and the Gibbs samples (the global RNG is left alone).
    progress : bool
        Show a tqdm bar over epochs.

    Returns
    -------
    list of float
        Per epoch, the mean squared reconstruction error per image of the Gibbs chain's last step.

    Raises
    ------
    ValueError
        On ``epochs``/``batch_size`` < 1, or as :meth:`aelab.models.RBM.cd_step`.
    """
    from tqdm.auto import tqdm

    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"train_rbm: {name} must be an integer >= 1, got {value!r}")
    if not isinstance(data, torch.Tensor) or data.ndim != 2:
        raise ValueError(f"train_rbm expects data of shape (N, n_visible), got "
                         f"{tuple(data.shape) if isinstance(data, torch.Tensor) else type(data).__name__}")
    device = device_of(rbm)
    g = torch.Generator(device=device).manual_seed(int(seed))
    order = torch.Generator().manual_seed(int(seed))
    errors = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        perm = torch.randperm(len(data), generator=order)
        total = 0.0
        for i in range(0, len(data), batch_size):
            batch = data[perm[i:i + batch_size]].to(device)
            total += rbm.cd_step(batch, lr=lr, k=k, generator=g) * len(batch)
        errors.append(total / len(data))
        bar.set_postfix(error=f"{errors[-1]:.2f}")
    return errors
