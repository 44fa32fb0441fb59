"""Splitting a dataset: a stratified validation set held out of the training images.

Lecture 02 (choosing a model on a validation set) and lecture 05 (the few-label experiment)
use it.
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation import integer, seed as check_seed, tensor

__all__ = ["train_val_split"]


def train_val_split(images: torch.Tensor, labels: torch.Tensor, val_size: int, *, seed: int = 0):
    """Split off a stratified validation set (each class keeps its share), in the original order.

    Parameters
    ----------
    images : torch.Tensor, shape ``(N, ...)``
    labels : torch.Tensor, int64, shape ``(N,)``
    val_size : int
        Number of validation examples, ``0 < val_size < N``.
    seed : int
        Seed of the split (scikit-learn's ``train_test_split(random_state=seed)``).

    Returns
    -------
    (train_images, train_labels), (val_images, val_labels)
        Rows in their original order within each part.

    Raises
    ------
    TypeError
        If ``images`` / ``labels`` are not tensors, or ``val_size`` / ``seed`` not integers.
    ValueError
        If lengths differ, ``labels`` is not 1-D, or ``val_size`` is out of range.
    """
    from sklearn.model_selection import train_test_split

    tensor(images, "images", floating=False)
    tensor(labels, "labels", ndim=1, floating=False)
    n = len(images)
    if len(labels) != n:
        raise ValueError(f"images and labels differ in length: {n} vs {len(labels)}")
    val_size = integer(val_size, "val_size", minimum=1, maximum=n - 1)
    tr, va = train_test_split(np.arange(n), test_size=val_size, stratify=labels.numpy(),
                              random_state=check_seed(seed))
    tr, va = torch.from_numpy(np.sort(tr)), torch.from_numpy(np.sort(va))
    return (images[tr], labels[tr]), (images[va], labels[va])
