"""The document autoencoder (lecture 06): word counts in, a softmax over the vocabulary out.

Hinton & Salakhutdinov (2006, Fig. 3–4) and Salakhutdinov & Hinton (2009, "Semantic hashing")
encode each document's bag of words (counts of the V most frequent words) into a short code and
reconstruct the word distribution with a softmax. Retrieval by the cosine similarity of the codes
then finds documents on the same topic better than latent semantic analysis (LSA) with codes of
the same size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import Autoencoder, dims_with_code
from .layers import linear_stack, make_activation

__all__ = ["DocumentAutoencoder"]


class DocumentAutoencoder(Autoencoder):
    """A deep autoencoder for bag-of-words count vectors.

    ``encode`` takes word counts ``(N, V)`` and feeds ``log(1 + counts)`` (which tames long
    documents and repeated words) through ``V → … → k`` fully connected layers with a linear code
    layer; ``decode`` maps a code through the mirrored layers to ``V`` **logits**: the softmax of
    a row is the reconstructed word distribution. Train with
    :func:`aelab.losses.multinomial_nll_per_document` against the counts themselves, so that the
    data is one tensor (the input is its own target).

    Parameters
    ----------
    dims : sequence of int
        ``(V, hidden…, k)``, e.g. ``(2000, 250, 10)``; at least two, all positive. With
        ``code_size=`` given, ``dims`` stop before the code: ``(V, hidden…)``.
    activation : str
        Hidden nonlinearity (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"elu"``, ``"gelu"``).
    code_size : int, optional
        The code dimension k, appended to ``dims``.

    Attributes
    ----------
    encoder : nn.Sequential — ``Linear, act, …, Linear`` (linear code layer)
    decoder : nn.Sequential — ``Linear, act, …, Linear`` (logits, no activation)
    code_size : int — ``dims[-1]``

    Raises
    ------
    TypeError, ValueError
        On bad ``dims`` (fewer than two, a non-integer or a size below 1) or an unknown activation.
    """

    def __init__(self, dims: Sequence[int], activation: str = "relu", *, code_size: int | None = None):
        owner = type(self).__name__
        dims = dims_with_code(owner, dims, code_size)
        super().__init__(code_size=dims[-1], input_shape=dims[:1])
        self.dims = dims
        make_activation(activation, owner=owner)
        self.activation = activation
        self.encoder = nn.Sequential(*linear_stack(self.dims, activation))          # linear code layer
        self.decoder = nn.Sequential(*linear_stack(self.dims[::-1], activation))    # logits

    @property
    def vocabulary_size(self) -> int:
        """V (``dims[0]``)."""
        return self.dims[0]

    def check_input(self, counts, what: str | None = None) -> None:
        """Word counts: ``(N, V)`` of the model's dtype and device, every count >= 0.

        Raises
        ------
        TypeError, ValueError
            On input of another dtype, shape or device than the model's (see
            :meth:`aelab.models.Autoencoder.check_input`); ValueError on a negative count.
        """
        super().check_input(counts, what)
        if counts.numel() and bool(counts.detach().min() < 0):        # log(1 + count) needs count > -1
            raise ValueError(f"{what or 'DocumentAutoencoder.encode'}: counts must be word counts >= 0, "
                             "got a negative value")

    def _encode(self, counts: torch.Tensor) -> torch.Tensor:
        """``(N, V)`` word counts (float, >= 0) ``-> (N, k)`` codes of ``log(1 + counts)``."""
        return self.encoder(torch.log1p(counts))  # (N, k)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, V)`` logits; ``softmax(dim=1)`` gives each document's word distribution."""
        return self.decoder(z)  # (N, V) logits
