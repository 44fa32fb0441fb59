"""The package's own exception types, at the bottom of the layers so that any module may raise them.

:class:`TrainingDiverged` is raised by :func:`aelab.train.fit`, :func:`aelab.pretrain.train_rbm` and
:meth:`aelab.models.RBM.cd_step` (lecture 05) when a loss or a weight becomes NaN or infinite;
:mod:`aelab.train` re-exports it (``aelab.train.TrainingDiverged``). It lives here because the
models may not import :mod:`aelab.train` (``docs/architecture.md``).
"""

from __future__ import annotations

__all__ = ["TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """A loss part (or a weight) became NaN or infinite during training.

    Attributes
    ----------
    epoch : int or None
        1-based epoch in which it happened (None where the caller has no epochs, e.g. one
        :meth:`aelab.models.RBM.cd_step`).
    step : int or None
        1-based mini-batch step of that epoch whose loss was first non-finite (None when the
        losses were finite but the weights, or the validation loss, were not).
    part : str or None
        The first non-finite part's name (``"total"``, ``"kl"``, …).
    value : float
        Its value (``nan``, ``inf`` or ``-inf``).
    """

    def __init__(self, message: str, *, epoch: int | None = None, step: int | None = None, part: str | None = None,
                 value: float = float("nan")):
        super().__init__(message)
        self.epoch, self.step, self.part, self.value = epoch, step, part, value
