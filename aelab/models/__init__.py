"""Autoencoder models, one file per family: ``encode(x) -> z``, ``decode(z) -> x_hat``, ``forward(x)``.

Every autoencoder inherits :class:`Autoencoder` (:mod:`.base`; its docstring is the contract) and
every VAE :class:`VariationalAutoencoder`: ``code_size`` (the code dimension, also the one
constructor keyword for it), ``input_shape``, and ``encode``/``decode`` that check what they
receive (a tensor of the model's dtype and device, of the right shape, or a ``TypeError`` /
``ValueError`` that names the fix). Inputs are ``(N, *input_shape)``; images are
``(N, 1, 28, 28)`` float32 (pass ``input_shape=aelab.data.IMAGE_SHAPE``). The flattening to
``(N, n_features)`` is an explicit ``nn.Flatten`` layer, and the decoder's last layer an explicit
``nn.Unflatten``.

Families, with the lecture that teaches each:

- :mod:`.linear` — :class:`LinearAutoencoder` (lecture 01, PCA's subspace);
- :mod:`.mlp` — :class:`MLPAutoencoder` (lecture 02, Hinton & Salakhutdinov 2006);
- :mod:`.shallow` — :class:`ShallowAutoencoder` (lecture 03: one sigmoid hidden layer as the code, for the
  sparse, denoising and contractive autoencoders; optional dropout);
- :mod:`.conv` — :class:`ConvAutoencoder` and its :class:`ConvAEConfig` (lecture 04: max-unpool,
  repeat or transposed-convolution decoders);
- :mod:`.rbm` — :class:`RBM` (lecture 05: Bernoulli RBM, free energy, CD-k statistics; an energy
  model, not an :class:`Autoencoder`; its training loop and the freezing/encoding helpers of greedy
  pretraining are in :mod:`aelab.pretrain`);
- :mod:`.stacked` — :class:`StackedAutoencoder` (lecture 05: sigmoid layers; ``from_layers`` unrolls
  pretrained RBMs or one-layer autoencoders; ``initialize`` draws small, Glorot or He weights);
- :mod:`.document` — :class:`DocumentAutoencoder` (lecture 06: word counts in, softmax logits out);
- :mod:`.vae` — :class:`VAE` (lecture 07, Kingma & Welling 2014) and :mod:`.conv_vae` —
  :class:`ConvVAE` (lecture 07), both :class:`VariationalAutoencoder`.
- :mod:`.mae` — :class:`MaskedAutoencoder` (lecture 09, He et al. 2021: patches, random masking,
  a ViT encoder on the visible patches, the loss on the masked ones).
- :mod:`.vqvae` — :class:`VQVAE` (lecture 09, van den Oord et al. 2017: a 7 × 7 grid of codebook entries,
  the straight-through gradient, dead-code restarts; :class:`~.vqvae.CodePrior`, a causal transformer over
  the code grid).

A new family is a new file here whose class inherits :class:`Autoencoder`, plus one import line and
one ``__all__`` entry below (``docs/architecture.md``). :mod:`.layers` holds what the families share:
the layer-size check (:func:`~.layers.check_size`), the ``Linear → activation`` stack
(:func:`~.layers.linear_stack`), the activation table and the input check
(:func:`~.layers.check_input`).
"""

from __future__ import annotations

import numpy as np

from .base import Autoencoder, VariationalAutoencoder
from .conv import ConvAEConfig, ConvAutoencoder
from .conv_vae import ConvVAE
from .document import DocumentAutoencoder
from .linear import LinearAutoencoder
from .mae import MaskedAutoencoder
from .mlp import MLPAutoencoder
from .rbm import RBM
from .sae import SparseAutoencoder
from .shallow import ShallowAutoencoder
from .stacked import StackedAutoencoder
from .vae import VAE
from .vqvae import VQVAE, vector_quantize, vq_losses

__all__ = ["Autoencoder", "VariationalAutoencoder", "LinearAutoencoder", "MLPAutoencoder", "ShallowAutoencoder",
           "ConvAEConfig", "ConvAutoencoder", "RBM", "StackedAutoencoder", "DocumentAutoencoder", "VAE", "ConvVAE",
           "SparseAutoencoder", "MaskedAutoencoder", "VQVAE", "vector_quantize", "vq_losses",
           "code_size"]


def code_size(model) -> int:
    """The code dimension k of an autoencoder: its ``code_size`` attribute.

    The one way to ask a model for its code size (widgets, plots and checks use it). Every
    :class:`Autoencoder` (and the :class:`RBM`) exposes ``code_size``; a hand-built model can set one.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with a ``code_size`` attribute or property.

    Returns
    -------
    int
        k >= 1.

    Raises
    ------
    TypeError
        If ``model`` has no ``code_size``, or it is not a positive integer.

    Examples
    --------
    >>> code_size(MLPAutoencoder((784, 64, 2)))
    2
    """
    k = getattr(model, "code_size", None)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise TypeError(f"cannot tell the code size of {type(model).__name__}: it has no positive integer "
                        f"`code_size` attribute (got {k!r}); give it one, or pass code_size=... explicitly")
    return int(k)
