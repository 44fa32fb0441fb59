"""The deep fully connected autoencoder (lecture 02): Hinton & Salakhutdinov (2006)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import Autoencoder, dims_with_code
from .layers import linear_stack, make_activation, resolve_input_shape

__all__ = ["MLPAutoencoder"]


class MLPAutoencoder(Autoencoder):
    """A deep (fully connected) autoencoder with a mirrored decoder.

    ``dims=(784, 1000, 500, 250, 30)`` builds Hinton & Salakhutdinov's (2006) encoder
    784→1000→500→250→30 and the decoder 30→250→500→1000→784. Hidden layers use
    ``activation``; the code layer is linear (as in the paper); the output layer uses
    ``output_activation`` (``"sigmoid"`` for pixel values in [0, 1]).

    The model takes flat rows ``(N, dims[0])`` unless built with ``input_shape``: for the
    course's images ``(N, 1, 28, 28)`` pass ``input_shape=(1, 28, 28)``
    (``aelab.data.IMAGE_SHAPE``); feeding images to a flat model raises an error that says so.

    Parameters
    ----------
    dims : sequence of int
        Layer sizes from the input to the code, at least two, all positive (Python or NumPy ints):
        ``dims[-1]`` is the code size. With ``code_size=`` given, ``dims`` stop before the code:
        ``MLPAutoencoder((784, 1000, 500, 250), code_size=30)`` is
        ``MLPAutoencoder((784, 1000, 500, 250, 30))``.
    activation : str
        Hidden nonlinearity: ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"elu"``, ``"gelu"``.
    output_activation : str
        ``"sigmoid"`` (images in [0, 1]) or ``"identity"`` (unbounded data).
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(1, 28, 28)``; product must equal ``dims[0]``.
        Default ``(dims[0],)``.
    code_size : int, optional
        The code dimension k, appended to ``dims``.

    Attributes
    ----------
    encoder : nn.Sequential — ``Flatten, Linear, act, …, Linear`` (linear code layer)
    decoder : nn.Sequential — ``Linear, act, …, Linear, output act, Unflatten``
    dims : tuple of int — every layer size, input to code
    code_size : int — ``dims[-1]``

    Raises
    ------
    TypeError
        If ``dims`` is not a sequence or holds a non-integer (a bool, a float, a string).
    ValueError
        On fewer than two dims, a size below 1, an unknown activation or a mismatched
        ``input_shape``.
    """

    def __init__(self, dims: Sequence[int], activation: str = "relu", output_activation: str = "sigmoid",
                 input_shape: Sequence[int] | None = None, *, code_size: int | None = None):
        owner = type(self).__name__
        dims = dims_with_code(owner, dims, code_size)
        super().__init__(code_size=dims[-1],
                         input_shape=resolve_input_shape(input_shape, dims[0], owner=owner, features_name="dims[0]"))
        self.dims = dims
        make_activation(activation, owner=owner)  # check both names before building anything
        make_activation(output_activation, argument="output_activation", owner=owner)
        self.activation, self.output_activation = activation, output_activation
        self.encoder = nn.Sequential(nn.Flatten(), *linear_stack(dims, activation))  # linear code layer
        self.decoder = nn.Sequential(*linear_stack(dims[::-1], activation, output_activation),
                                     nn.Unflatten(1, self.input_shape))

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, dims[-1])``: the code."""
        return self.encoder(x)  # (N, code)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, dims[-1]) -> (N, *input_shape)``: the reconstruction from a code."""
        return self.decoder(z)  # (N, *input_shape)
