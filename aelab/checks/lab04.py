"""Lab 04's self-checks (convolutional autoencoders), re-exported by :mod:`aelab.checks`.

:func:`output_sizes`, :func:`max_unpool_by_hand`, :func:`transposed_conv1d`,
:func:`conv_autoencoder_shapes`. What a check does on success, a wrong answer or an unfinished
exercise is described in :mod:`aelab.checks._machinery`; the notebooks call them as
``aelab.checks.<name>(...)``. The output-size formulas are those of Dumoulin & Visin, "A guide to
convolution arithmetic for deep learning" (2016), and of PyTorch's ``Conv2d``/``ConvTranspose2d``
documentation; each check also compares with what the PyTorch layers produce.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._machinery import (_exercise, _fail, _finite, _forbidden, _gen, _global_rng, _praise, _shape, _student, _tensor,
                         _unchanged)

__all__ = ["output_sizes", "max_unpool_by_hand", "transposed_conv1d", "conv_autoencoder_shapes"]


def _conv_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _convt_size(n: int, k: int, s: int, p: int, op: int, d: int) -> int:
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def _as_int(ex, value, what: str, case: str) -> int:
    """A size as a Python int: ints, NumPy integers, 0-d arrays, one-element tensors and whole floats pass."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 or isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    whole = (isinstance(value, numbers.Integral)
             or isinstance(value, numbers.Real) and float(value).is_integer())
    if isinstance(value, (bool, np.bool_)) or not whole:
        extra = (" A size is a whole number: use floor division `//`, not `/`."
                 if isinstance(value, numbers.Real) and not isinstance(value, bool) else "")
        raise _fail(ex, f"{what} must return an int, got {value!r} on {case}.{extra}")
    return int(value)


@_exercise("04", 1, "conv_output_size, conv_transpose_output_size")
def output_sizes(conv_output_size: Callable, conv_transpose_output_size: Callable, *, seed: int = 0) -> None:
    """Check the output-size formulas of a convolution and of a transposed convolution.

    Expected: ``conv_output_size(n, kernel_size, stride, padding, dilation)`` returns
    ``⌊(n + 2p − d(k−1) − 1) / s⌋ + 1`` and ``conv_transpose_output_size(n, kernel_size, stride,
    padding, output_padding, dilation)`` returns ``(n−1)s − 2p + d(k−1) + output_padding + 1``
    (both called with keyword arguments; one spatial dimension).

    Inputs: the lecture's layers (28 → 14 → 7 and back), then random settings with
    ``k ∈ 1..7``, ``s ∈ 1..3``, ``p ∈ 0..3``, ``d ∈ 1..3`` and ``output_padding < max(s, d)``;
    every expected size is also confirmed by running ``nn.Conv1d``/``nn.ConvTranspose1d``.

    Raises
    ------
    CheckFailed
        On a wrong size, with a hint when dilation or ``output_padding`` was left out, or ``/``
        was used instead of ``//``.
    ExerciseNotDone
        If either function raises ``NotImplementedError``.
    """
    ex = output_sizes.exercise
    conv = _student(ex, conv_output_size, "conv_output_size")
    convt = _student(ex, conv_transpose_output_size, "conv_transpose_output_size")
    g = _gen(ex, seed)

    def r(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    cases = [(28, 3, 2, 1, 1, 1), (14, 3, 2, 1, 1, 1), (7, 3, 2, 1, 1, 1), (28, 3, 1, 1, 0, 1),
             (10, 3, 2, 0, 1, 2), (9, 3, 1, 2, 0, 2)]  # (n, k, s, p, output_padding, d)
    while len(cases) < 24:
        n, k, s, p, d = r(5, 40), r(1, 7), r(1, 3), r(0, 3), r(1, 3)
        op = r(0, max(s, d) - 1)
        if _conv_size(n, k, s, p, d) >= 1 and _convt_size(n, k, s, p, op, d) >= 1:
            cases.append((n, k, s, p, op, d))
    for n, k, s, p, op, d in cases:
        conv_ref, convt_ref = _conv_size(n, k, s, p, d), _convt_size(n, k, s, p, op, d)
        x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)  # no layer built: torch's global RNG is not touched
        assert F.conv1d(x, w, stride=s, padding=p, dilation=d).shape[-1] == conv_ref  # the formula is PyTorch's
        assert F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=op, dilation=d).shape[-1] == convt_ref
        case = f"n={n}, kernel_size={k}, stride={s}, padding={p}, dilation={d}"
        got = _as_int(ex, conv(n, kernel_size=k, stride=s, padding=p, dilation=d, case=case), "conv_output_size", case)
        if got != conv_ref:
            why = ""
            if d > 1 and got == _conv_size(n, k, s, p, 1):
                why = (" You left out the dilation: a kernel of size k with dilation d spans d·(k−1)+1 inputs, "
                       "so subtract d·(k−1), not k−1.")
            raise _fail(ex, f"conv_output_size is wrong for {case}: nn.Conv1d gives another size than your {got}.{why}")
        case_t = f"n={n}, kernel_size={k}, stride={s}, padding={p}, output_padding={op}, dilation={d}"
        got = _as_int(ex, convt(n, kernel_size=k, stride=s, padding=p, output_padding=op, dilation=d, case=case_t),
                      "conv_transpose_output_size", case_t)
        if got != convt_ref:
            why = ""
            if op and got == convt_ref - op:
                why = (" You left out output_padding: it adds that many rows/columns on one side, so that a "
                       "stride-2 layer can give an even size (7 → 14, not 13).")
            elif d > 1 and got == _convt_size(n, k, s, p, op, 1):
                why = " You left out the dilation: the kernel spans d·(k−1)+1 outputs, so add d·(k−1), not k−1."
            raise _fail(ex, f"conv_transpose_output_size is wrong for {case_t}: nn.ConvTranspose1d gives another "
                            f"size than your {got}.{why}")
    _praise(ex, "both formulas agree with nn.Conv1d and nn.ConvTranspose1d, dilation and output_padding "
                "included", len(cases))


_UNPOOL_SHORTCUTS = [(F, "max_unpool2d", "F.max_unpool2d"), (F, "max_unpool1d", "F.max_unpool1d"),
                     (nn.MaxUnpool2d, "forward", "nn.MaxUnpool2d")]
_TRANSPOSED_SHORTCUTS = [(F, name, f"F.{name}") for name in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")] + [
    (torch, name, f"torch.{name}") for name in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")] + [
    (nn.ConvTranspose1d, "forward", "nn.ConvTranspose1d"), (nn.ConvTranspose2d, "forward", "nn.ConvTranspose2d")]


def _repeat_max(values: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    up = values.repeat_interleave(2, -2).repeat_interleave(2, -1)
    h, w = out_hw
    full = torch.zeros(*values.shape[:-2], h, w, dtype=values.dtype)
    full[..., :up.shape[-2], :up.shape[-1]] = up[..., :h, :w]
    return full


@_exercise("04", 2, "max_unpool")
def max_unpool_by_hand(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``max_unpool(values, indices, output_size) -> (N, C, H, W)`` against ``nn.MaxUnpool2d``.

    Expected: ``values`` and ``indices`` ``(N, C, h, w)`` as returned by
    ``F.max_pool2d(x, 2, return_indices=True)`` (``indices`` int64: the position of each
    window's maximum in the flattened ``H×W`` map, ``row·W + col``); ``output_size`` ``(H, W)``.
    Returns zeros everywhere except ``values`` put back at ``indices`` (Zeiler & Fergus 2014's
    switches), exactly what ``F.max_unpool2d`` returns.

    Inputs: a 4×4 example small enough to check by hand, random 8×8 maps (N=2, C=3), a
    non-square 6×10 map, and a 5×7 map (odd sizes: the last row/column was never pooled).

    Raises
    ------
    CheckFailed
        On a wrong shape or value, with a hint when the maximum was copied to the whole window,
        or rows and columns were swapped (``idx % W`` taken as the row).
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = max_unpool_by_hand.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    hand = torch.tensor([[1., 2., 0., 0.], [4., 3., 0., 5.], [0., 0., 7., 1.], [6., 0., 1., 1.]]).reshape(1, 1, 4, 4)
    cases = [("the 4×4 map [[1, 2, 0, 0], [4, 3, 0, 5], [0, 0, 7, 1], [6, 0, 1, 1]]", hand),
             ("random maps with N=2, C=3, 8×8", torch.randn(2, 3, 8, 8, generator=g)),
             ("a non-square 6×10 map (H=6, W=10)", torch.randn(1, 2, 6, 10, generator=g)),
             ("an odd-sized 5×7 map", torch.randn(1, 1, 5, 7, generator=g))]
    for label, x in cases:
        values, indices = F.max_pool2d(x, 2, return_indices=True)
        hw = tuple(x.shape[-2:])
        ref = F.max_unpool2d(values, indices, 2, output_size=hw)
        v_in, i_in = values.clone(), indices.clone()
        with _forbidden(_UNPOOL_SHORTCUTS, "Place the values at their indices yourself (e.g. with Tensor.scatter "
                                           "on a flattened zero map)."):
            out = call(v_in, i_in, hw, case=label)
        out = _tensor(ex, out, "the unpooled map", label)
        _unchanged(ex, values, v_in, "values", label)
        _unchanged(ex, indices, i_in, "indices", label)
        _shape(ex, out, ref.shape, "the unpooled map", label,
               "It has the pooled map's N and C and the output_size (H, W) you are given.")
        _finite(ex, out, "the unpooled map", label)
        if torch.allclose(out.double(), ref.double(), atol=1e-6):
            continue
        if torch.allclose(out.double(), _repeat_max(values, hw).double(), atol=1e-6):
            raise _fail(ex, f"you copied each maximum to its whole 2×2 window on {label} — that is "
                            "nearest-neighbor upsampling (\"repeat the values\"). Max-unpooling puts the value only "
                            "where the maximum was (the index) and zeros in the other three places.")
        h, w = hw
        if h == w:
            if torch.allclose(out.double(), ref.transpose(-1, -2).double(), atol=1e-6):
                raise _fail(ex, f"rows and columns are swapped on {label}: an index i counts along the rows "
                                "of the flattened H×W map, i = row·W + col, so row = i // W and col = i % W.")
        raise _fail(ex, f"wrong values on {label}: the result should be zero except at the {values[0, 0].numel()} "
                        "positions per map named by `indices` (row = i // W, col = i % W), which hold `values`.")
    _praise(ex, "your unpooling equals F.max_unpool2d, odd and non-square sizes included", len(cases))


@_exercise("04", 3, "transposed_conv1d")
def transposed_conv1d(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``transposed_conv1d(x, kernel) -> y``: a stride-1 transposed convolution as a padded convolution.

    Expected: ``x`` ``(n,)`` and ``kernel`` ``(k,)`` float tensors; ``y`` ``(n + k − 1,)`` equal
    to ``F.conv_transpose1d`` (each input times the kernel, overlaps added), i.e. ``x`` padded with
    ``k − 1`` zeros on each side and cross-correlated (PyTorch's ``conv1d``) with the *flipped*
    kernel.

    Inputs: the lecture's 3 inputs and 3-tap kernel (5 outputs), random ``n=7, k=4`` (an even
    kernel), ``n=10, k=5``, a single input, and a 1-tap kernel. Tolerance ``1e-5``.

    Raises
    ------
    CheckFailed
        On a wrong length (with a hint for padding by k instead of k−1) or value (with a hint
        for a kernel that was not flipped).
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = transposed_conv1d.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = [("x = [1, 2, 3], kernel = [1, 0, -1] (the lecture's example)",
              torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, -1.0])),
             ("x of 7 values, kernel of 4 (even) taps", torch.randn(7, generator=g), torch.randn(4, generator=g)),
             ("x of 10 values, kernel of 5 taps", torch.randn(10, generator=g), torch.randn(5, generator=g)),
             ("a single input x = [2.0], kernel of 3 taps", torch.tensor([2.0]), torch.randn(3, generator=g)),
             ("x of 4 values, a 1-tap kernel [0.5]", torch.randn(4, generator=g), torch.tensor([0.5]))]
    for label, x, kernel in cases:
        n, k = len(x), len(kernel)
        ref = F.conv_transpose1d(x.double().view(1, 1, -1), kernel.double().view(1, 1, -1)).view(-1)
        x_in, k_in = x.clone(), kernel.clone()
        with _forbidden(_TRANSPOSED_SHORTCUTS, "Pad x with k − 1 zeros on each side (F.pad) and slide the flipped "
                                               "kernel over it with F.conv1d."):
            out = call(x_in, k_in, case=label)
        out = _tensor(ex, out, "y", label)
        _unchanged(ex, x, x_in, "x", label)
        _unchanged(ex, kernel, k_in, "kernel", label)
        if out.ndim == 1 and len(out) == n + k + 1:
            raise _fail(ex, f"y has {len(out)} values on {label}, 2 too many: you padded by k = {k} zeros; a full "
                            f"transposed convolution needs k − 1 = {k - 1} on each side, so y has n + k − 1 = {n + k - 1}.")
        _shape(ex, out, (n + k - 1,), "y", label, "A transposed convolution of n inputs with k taps has n + k − 1 "
                                                  "outputs: pad x with k − 1 zeros on each side.")
        if torch.allclose(out.double(), ref, atol=1e-5):
            continue
        unflipped = F.conv_transpose1d(x.double().view(1, 1, -1), kernel.double().flip(0).view(1, 1, -1)).view(-1)
        if torch.allclose(out.double(), unflipped, atol=1e-5):
            raise _fail(ex, f"wrong values on {label}: the kernel is not flipped. F.conv1d slides the kernel "
                            "without flipping it (cross-correlation); the transposed convolution equals that on the "
                            "padded input only with kernel.flip(0).")
        raise _fail(ex, f"wrong values on {label}: y[j] should be the sum over i of x[i]·kernel[j − i] (each input "
                        "times the kernel, placed at its position, overlaps added).")
    _praise(ex, "equals F.conv_transpose1d on every input, even kernels included", len(cases))


@_exercise("04", 4, "build_conv_autoencoder")
def conv_autoencoder_shapes(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``build_conv_autoencoder(code_size) -> (encoder, decoder)``: 28×28 in, 28×28 out.

    Expected: ``encoder`` maps ``(N, 1, 28, 28)`` to ``(N, code_size)`` with at least one
    ``nn.Conv2d``; ``decoder`` maps ``(N, code_size)`` to ``(N, 1, 28, 28)`` in ``[0, 1]`` with at
    least one stride-2 ``nn.ConvTranspose2d``; gradients reach every parameter.

    Inputs: ``code_size`` 16 and 2, batches of 5 and 1 (weights drawn from torch's global
    generator seeded for the check, then restored); the decoder gets the encoder's codes and as
    many random codes of scale 50, so an unbounded output (ReLU, no activation) is caught.

    Raises
    ------
    CheckFailed
        On a wrong shape (with an output_padding hint when the image is a few pixels off), a
        missing layer kind, values outside [0, 1] or a parameter without gradient.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = conv_autoencoder_shapes.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    for code_size, n in ((16, 5), (2, 1)):
        case = f"code_size={code_size} with a batch of {n} images (N, 1, 28, 28)"
        with _global_rng(ex, seed):
            out = call(code_size, case=case)
        if not isinstance(out, (tuple, list)) or len(out) != 2 or not all(isinstance(m, nn.Module) for m in out):
            raise _fail(ex, "return two nn.Modules, `return encoder, decoder`.")
        encoder, decoder = out
        if not any(isinstance(m, nn.Conv2d) for m in encoder.modules()):
            raise _fail(ex, "the encoder has no nn.Conv2d: this exercise is a convolutional encoder.")
        if not any(isinstance(m, nn.ConvTranspose2d) and m.stride[0] == 2 for m in decoder.modules()):
            raise _fail(ex, "the decoder has no stride-2 nn.ConvTranspose2d: upsample with transposed convolutions.")
        x = torch.rand(n, 1, 28, 28, generator=g)
        z = _tensor(ex, _student(ex, encoder, "encoder")(x, case=case), "the code", case)
        _shape(ex, z, (n, code_size), "the code", case, "Flatten the last feature maps and end with a Linear layer.")
        # Large codes as well as the encoder's: only an output bounded to [0, 1] (a final sigmoid) stays in range.
        codes = torch.cat([z.detach(), 50 * torch.randn(n, code_size, generator=g)])
        y = _tensor(ex, _student(ex, decoder, "decoder")(codes, case=case), "the decoder's output", case)
        if y.ndim == 4 and y.shape[:2] == (2 * n, 1) and y.shape[-2:] != (28, 28):
            if all(size in (25, 26, 27) for size in y.shape[-2:]):  # 7 → 13 → 25, 7 → 14 → 27, 7 → 13 → 26
                off = max(abs(y.shape[-1] - 28), abs(y.shape[-2] - 28))
                raise _fail(ex, f"the decoder's images are {y.shape[-2]}×{y.shape[-1]}, not 28×28 ({off} pixel"
                                f"{'s' if off > 1 else ''} off) on {case}. "
                                "A ConvTranspose2d's output is (in−1)·stride − 2·padding + kernel_size + "
                                "output_padding: with kernel 3, stride 2, padding 1 that is 2·in − 1, so 7 → 13; "
                                "add output_padding=1 to get 7 → 14 → 28.")
            raise _fail(ex, f"the decoder's images are {y.shape[-2]}×{y.shape[-1]}, not 28×28 on {case}. Follow "
                            "the sizes layer by layer with Exercise 1's formulas, starting from the shape your "
                            "Unflatten gives (it must match the Linear layer's output, e.g. 32·7·7 → (32, 7, 7)).")
        _shape(ex, y, (2 * n, 1, 28, 28), "the decoder's output", case,
               "The decoder must map (N, code_size) codes to (N, 1, 28, 28) images.")
        _finite(ex, y, "the decoder's output", case)
        if y.min() < 0 or y.max() > 1:
            raise _fail(ex, f"the decoder's output leaves [0, 1] on {case} (codes of the encoder and larger "
                            f"ones; got values in [{float(y.detach().min()):.3g}, {float(y.detach().max()):.3g}]): pixel intensities "
                            "are probabilities, so end the decoder with nn.Sigmoid().")
        loss = (decoder(encoder(x)) - x).pow(2).sum()
        loss.backward()
        missing = [name for name, p in itertools.chain(encoder.named_parameters(prefix="encoder"),
                                                       decoder.named_parameters(prefix="decoder"))
                   if p.grad is None or not torch.isfinite(p.grad).all()]
        if missing:
            raise _fail(ex, f"no gradient reaches {missing[:3]} on {case}: every layer must be used in forward.")
    n_params = sum(p.numel() for p in itertools.chain(encoder.parameters(), decoder.parameters()))
    _praise(ex, f"28×28 → code → 28×28 for both code sizes ({n_params:,} parameters at code_size=2)", 2)
