"""A deep autoencoder made of stacked one-layer pieces (lecture 05): unrolled RBMs or autoencoders.

Hinton & Salakhutdinov (Science 2006) pretrain a stack of RBMs, then *unroll* it: the encoder
uses each RBM's weights ``W`` and hidden biases, the decoder the transposes ``Wᵀ`` and the
visible biases, in reverse order; fine-tuning then trains all of them (untied) by
backpropagation. Bengio et al. (NeurIPS 2006) and Vincent et al. (JMLR 2010) do the same with
stacked (denoising) autoencoders, whose decoders give the decoder weights directly.

:class:`StackedAutoencoder` is that network: every layer ``Linear → activation`` (sigmoid by
default, code layer included, as the RBMs' hidden units are), with :meth:`StackedAutoencoder.from_layers`
copying the weights of pretrained pieces and :func:`initialize` for random starts (2006-style
small weights, Glorot, He) used by lecture 05's "does it learn the average?" experiment.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .. import _validation
from .base import Autoencoder, dims_with_code
from .layers import make_activation, resolve_input_shape

__all__ = ["StackedAutoencoder", "initialize", "layer_weights"]

INIT_SCHEMES = ("small", "glorot", "he", "default")


def layer_weights(layer) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The encoder and decoder weights of one pretrained piece, as fresh copies.

    Parameters
    ----------
    layer : aelab.models.RBM, aelab.models.ShallowAutoencoder or nn.Linear
        An RBM gives ``(W, b_hidden, Wᵀ, b_visible)``; a one-hidden-layer autoencoder gives its
        encoder's ``Linear`` and its decoder's ``Linear``; an ``nn.Linear`` gives its weight and bias
        and ``None`` for the decoder.

    Returns
    -------
    (W_enc, b_enc, W_dec, b_dec)
        ``W_enc`` ``(n_out, n_in)``, ``b_enc`` ``(n_out,)``, ``W_dec`` ``(n_in, n_out)`` or None,
        ``b_dec`` ``(n_in,)`` or None; detached clones (changing them never changes ``layer``).

    Raises
    ------
    TypeError
        For anything else.
    """
    from .rbm import RBM
    from .shallow import ShallowAutoencoder

    with torch.no_grad():
        if isinstance(layer, RBM):
            out = (layer.W, layer.b_hidden, layer.W.t(), layer.b_visible)
        elif isinstance(layer, ShallowAutoencoder):
            enc = layer.encoder[1]
            dec = next(m for m in layer.decoder if isinstance(m, nn.Linear))
            out = (enc.weight, enc.bias, dec.weight, dec.bias)
        elif isinstance(layer, nn.Linear):
            bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
            out = (layer.weight, bias, None, None)
        else:
            raise TypeError(f"layer_weights expects an RBM, a ShallowAutoencoder or an nn.Linear, "
                            f"got {type(layer).__name__}")
        return tuple(None if t is None else t.detach().clone().contiguous() for t in out)


def initialize(model: nn.Module, scheme: str, *, seed: int = 0, std: float = 0.01) -> nn.Module:
    """Re-draw every ``nn.Linear`` of ``model`` in place; biases set to zero (except ``"default"``).

    Parameters
    ----------
    model : nn.Module
    scheme : {"small", "glorot", "he", "default"}
        ``"small"``: ``N(0, std²)``, the 2006-era recipe (Hinton's RBM guide uses 0.01);
        ``"glorot"``: Glorot & Bengio (2010), uniform with variance ``2 / (fan_in + fan_out)``;
        ``"he"``: He et al. (2015), normal with variance ``2 / fan_in`` (for ReLU);
        ``"default"``: PyTorch's own ``reset_parameters`` (uniform ``±1/√fan_in``).
    seed : int
        Seeds the draw (the global RNG is left alone).
    std : float
        The standard deviation of ``"small"``.

    Returns
    -------
    nn.Module
        ``model`` itself.

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``, ``std`` not a number or ``seed`` not an integer.
    ValueError
        On an unknown scheme, a ``std`` that is not a positive finite number, or a negative seed.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"initialize expects a torch.nn.Module, got {type(model).__name__}")
    std = _validation.real(std, "initialize: std")  # a finite number
    if std <= 0:
        raise ValueError(f"initialize: std must be a positive finite number, got {std:g}")
    _validation.choice(scheme, "initialize: scheme", INIT_SCHEMES)
    g = torch.Generator().manual_seed(_validation.seed(seed, "initialize: seed"))
    with torch.no_grad():
        for m in model.modules():
            if not isinstance(m, nn.Linear):
                continue
            fan_out, fan_in = m.weight.shape
            if scheme == "default":
                bound = 1 / fan_in ** 0.5
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * bound)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * bound)
                continue
            if scheme == "small":
                w = std * torch.randn(m.weight.shape, generator=g)
            elif scheme == "glorot":
                w = (torch.rand(m.weight.shape, generator=g) * 2 - 1) * (6 / (fan_in + fan_out)) ** 0.5
            else:
                w = torch.randn(m.weight.shape, generator=g) * (2 / fan_in) ** 0.5
            m.weight.copy_(w)
            if m.bias is not None:
                m.bias.zero_()
    return model


class StackedAutoencoder(Autoencoder):
    """A deep autoencoder whose every layer, code included, is ``Linear → activation``.

    ``dims=(784, 256, 64)`` builds the encoder 784→256→64 and the decoder 64→256→784, all
    sigmoid by default (the units of the RBMs and one-layer autoencoders it is unrolled from).

    Parameters
    ----------
    dims : sequence of int
        Layer sizes from input to code, at least two (``dims[-1]`` is the code size); with
        ``code_size=`` given, ``dims`` stop before the code.
    activation : str
        Hidden and code nonlinearity (``"sigmoid"``, ``"relu"``, ...).
    output_activation : str
        ``"sigmoid"`` (pixels in [0, 1]) or ``"identity"``.
    input_shape : tuple of int, optional
        Shape of one example, e.g. ``(1, 28, 28)``; default ``(dims[0],)``.
    code_size : int, optional
        The code dimension k, appended to ``dims``.

    Attributes
    ----------
    encoder : nn.Sequential — ``Flatten, Linear, act, …, Linear, act``
    decoder : nn.Sequential — ``Linear, act, …, Linear, output act, Unflatten``
    code_size : int — ``dims[-1]``

    Raises
    ------
    TypeError, ValueError
        On bad sizes, an unknown activation or a mismatched ``input_shape``.
    """

    def __init__(self, dims: Sequence[int], activation: str = "sigmoid", output_activation: str = "sigmoid",
                 input_shape: Sequence[int] | None = None, *, code_size: int | None = None):
        owner = type(self).__name__
        dims = dims_with_code(owner, dims, code_size)
        super().__init__(code_size=dims[-1],
                         input_shape=resolve_input_shape(input_shape, dims[0], owner=owner, features_name="dims[0]"))
        self.dims = dims
        self.activation, self.output_activation = activation, output_activation
        enc: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(self.dims[:-1], self.dims[1:]):
            enc += [nn.Linear(a, b), make_activation(activation, owner=owner)]
        back = self.dims[::-1]
        dec: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(back[:-1], back[1:])):
            last = i == len(back) - 2
            dec += [nn.Linear(a, b), make_activation(output_activation if last else activation,
                                                     argument="output_activation" if last else "activation",
                                                     owner=owner)]
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec, nn.Unflatten(1, self.input_shape))

    def linear_layers(self) -> list[nn.Linear]:
        """The ``nn.Linear`` layers from input to output (encoder first), ``2 (len(dims) − 1)`` of them."""
        return [m for m in (*self.encoder, *self.decoder) if isinstance(m, nn.Linear)]

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, *input_shape) -> (N, dims[-1])``."""
        return self.encoder(x)  # (N, code)

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, dims[-1]) -> (N, *input_shape)``."""
        return self.decoder(z)  # (N, *input_shape)

    @classmethod
    def from_layers(cls, layers: Sequence, *, input_shape: Sequence[int] | None = None,
                    activation: str = "sigmoid") -> StackedAutoencoder:
        """Unroll pretrained pieces (RBMs or one-layer autoencoders) into one deep autoencoder.

        Layer ``i`` of the encoder gets piece ``i``'s encoder weights; the decoder gets the
        pieces' decoder weights in reverse order (an RBM's ``Wᵀ`` and visible biases), as in
        Hinton & Salakhutdinov (2006), Fig. 1. The weights are *copied*: training the result
        never changes the pieces, and encoder and decoder are untied.

        Parameters
        ----------
        layers : sequence of RBM / ShallowAutoencoder
            Piece ``i + 1``'s input size must equal piece ``i``'s code size.
        input_shape : tuple of int, optional
            Shape of one example of the first piece's input (e.g. ``(1, 28, 28)``).
        activation : str
            The units' nonlinearity (sigmoid for RBMs and the course's one-layer autoencoders).

        Raises
        ------
        ValueError
            If ``layers`` is empty or consecutive sizes do not match.
        TypeError
            If a piece has no decoder weights (an ``nn.Linear``).
        """
        weights = [layer_weights(layer) for layer in layers]
        if not weights:
            raise ValueError("StackedAutoencoder.from_layers needs at least one pretrained layer")
        if any(w[2] is None for w in weights):
            raise TypeError("StackedAutoencoder.from_layers needs pieces with a decoder (RBMs or autoencoders)")
        dims = [weights[0][0].shape[1]]
        for i, (w, *_rest) in enumerate(weights):
            if w.shape[1] != dims[-1]:
                raise ValueError(f"layer {i} takes {w.shape[1]} inputs but layer {i - 1} has {dims[-1]} units")
            dims.append(w.shape[0])
        model = cls(dims, activation=activation, input_shape=input_shape)
        enc = [m for m in model.encoder if isinstance(m, nn.Linear)]
        dec = [m for m in model.decoder if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for lin, (w, b, _, _) in zip(enc, weights):
                lin.weight.copy_(w)
                lin.bias.copy_(b)
            for lin, (_, _, w, b) in zip(dec, weights[::-1]):
                lin.weight.copy_(w)
                lin.bias.copy_(b)
        return model
