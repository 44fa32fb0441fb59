"""The step loop that lectures 08–09's models share (private): sample rows, step the optimizer, keep the loss.

``fit_sae``, ``fit_mae`` and ``fit_prior`` train for a number of optimizer steps on minibatches drawn with
replacement, not for epochs (``aelab.train.fit``, a layer above, cannot be imported by models). Each
builds its optimizer and schedule, and calls :func:`optimize_steps` with the rows of each step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch

__all__ = ["random_rows", "optimize_steps"]


def random_rows(n: int, batch_size: int, steps: int, generator: torch.Generator, device=None) -> Iterator[torch.Tensor]:
    """``steps`` minibatches of ``batch_size`` row indices in ``[0, n)``, drawn with replacement one step at a
    time (lazily, so a loss that also draws from ``generator`` keeps its place in the stream)."""
    for _ in range(steps):
        yield torch.randint(0, n, (batch_size,), generator=generator, device=device)


def optimize_steps(loss_of_rows: Callable[[torch.Tensor], torch.Tensor], rows: Iterable[torch.Tensor],
                   optimizer: torch.optim.Optimizer, *, schedule=None,
                   after_step: Callable[[], None] | None = None) -> list[float]:
    """One optimizer step per minibatch of ``rows``; returns each step's loss as a float.

    Parameters
    ----------
    loss_of_rows : callable
        ``loss_of_rows(idx) -> scalar tensor`` for the row indices ``idx`` of one minibatch.
    rows : iterable of torch.Tensor
        The minibatches' row indices (e.g. :func:`random_rows`).
    optimizer : torch.optim.Optimizer
    schedule : torch.optim.lr_scheduler.LRScheduler, optional
        Stepped after every optimizer step.
    after_step : callable, optional
        Called after every step (e.g. renormalizing an SAE's decoder columns).
    """
    history = []
    for idx in rows:
        loss = loss_of_rows(idx)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        if after_step is not None:
            after_step()
        history.append(loss.item())
    return history
