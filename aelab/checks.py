"""Self-checks for the labs: ``aelab.checks.<exercise>(student_fn)``, the entry point the notebooks call.

Each check runs the student's function on several inputs and compares the result with a float64
reference: it prints one line of praise on success, raises :class:`CheckFailed` (an
``AssertionError`` naming the input and the property that failed, never the answer) on a wrong
answer, and :class:`ExerciseNotDone` while the function still raises ``NotImplementedError``.
Every check takes ``seed`` (default 0) to draw other random inputs.

This module only re-exports. Lab 01 (PCA as a linear autoencoder, :mod:`aelab.checks_lab01`):
:func:`pca_svd`, :func:`tied_autoencoder`, :func:`principal_angles`, :func:`train_linear_ae`,
:func:`ae_to_pca`. Lab 02 (deep autoencoders, :mod:`aelab.checks_lab02`):
:func:`mirrored_autoencoder`, :func:`squared_error_per_image`, :func:`precision_at_k`,
:func:`interpolate_codes`, :func:`nearest_distance`. The machinery they share, and
:data:`EXERCISES` (check name -> exercise, in lab order), are in :mod:`aelab.checking`.
"""

from __future__ import annotations

from aelab.checking import EXERCISES, CheckFailed, ExerciseNotDone
from aelab.checks_lab01 import ae_to_pca, pca_svd, principal_angles, tied_autoencoder, train_linear_ae
from aelab.checks_lab02 import (interpolate_codes, mirrored_autoencoder, nearest_distance, precision_at_k,
                                squared_error_per_image)

__all__ = ["CheckFailed", "ExerciseNotDone", "EXERCISES", "pca_svd", "tied_autoencoder", "principal_angles",
           "train_linear_ae", "ae_to_pca", "mirrored_autoencoder", "squared_error_per_image", "precision_at_k",
           "interpolate_codes", "nearest_distance"]
