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

from ._layers import check_input, check_sizes, linear_stack, make_activation


class DocumentAutoencoder(nn.Module):
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
        ``(V, hidden…, k)``, e.g. ``(2000, 250, 10)``; at least two, all positive.
    activation : str
        Hidden nonlinearity (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"elu"``, ``"gelu"``).

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

    def __init__(self, dims: Sequence[int], activation: str = "relu"):
        super().__init__()
        owner = type(self).__name__
        self.dims = check_sizes(dims, "dims", owner=owner, min_len=2)
        make_activation(activation, owner=owner)
        self.activation = activation
        self.encoder = nn.Sequential(*linear_stack(self.dims, activation))          # linear code layer
        self.decoder = nn.Sequential(*linear_stack(self.dims[::-1], activation))    # logits

    @property
    def code_size(self) -> int:
        """The code dimension k (``dims[-1]``)."""
        return self.dims[-1]

    @property
    def vocabulary_size(self) -> int:
        """V (``dims[0]``)."""
        return self.dims[0]

    def encode(self, counts: torch.Tensor) -> torch.Tensor:
        """``(N, V)`` word counts (float, >= 0) ``-> (N, k)`` codes of ``log(1 + counts)``.

        Raises
        ------
        TypeError, ValueError
            On input of another dtype, shape or device than the model's; ValueError on a negative count.
        """
        check_input(counts, (self.vocabulary_size,), "DocumentAutoencoder.encode", like=self.encoder[0].weight)
        if counts.numel() and bool(counts.detach().min() < 0):        # log(1 + count) needs count > -1
            raise ValueError("DocumentAutoencoder.encode: counts must be word counts >= 0, got a negative value")
        return self.encoder(torch.log1p(counts))  # (N, k)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, k) -> (N, V)`` logits; ``softmax(dim=1)`` gives each document's word distribution.

        Raises
        ------
        TypeError, ValueError
            If ``z`` is not ``(N, k)`` of the model's dtype and device.
        """
        check_input(z, (self.code_size,), "DocumentAutoencoder.decode", like=self.decoder[0].weight,
                    model_input=False)
        return self.decoder(z)  # (N, V) logits

    def forward(self, counts: torch.Tensor) -> torch.Tensor:
        """``(N, V)`` counts ``-> (N, V)`` logits."""
        return self.decode(self.encode(counts))
