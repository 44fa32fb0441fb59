"""Lab 04's checks, hardened (issue 19 items 17–20): each wrong answer that passed before is rejected
with its own hint, and correct answers in other styles pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from aelab import checks
from aelab.checks import CheckFailed, ExerciseNotDone


def reject(check, *fns, match):
    with pytest.raises(CheckFailed, match=match) as info:
        check(*fns)
    assert not isinstance(info.value, ExerciseNotDone)
    return str(info.value)


def _conv(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def _convt(n, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    return (n - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


# --- item 17: NumPy integers are numbers -----------------------------------------------------

@pytest.mark.parametrize("wrap", [np.int64, np.int32, np.array, torch.tensor, float],
                         ids=["np.int64", "np.int32", "0-d array", "0-d tensor", "whole float"])
def test_output_sizes_accepts_every_integer_style(wrap):
    for seed in range(3):
        checks.output_sizes(lambda *a, **k: wrap(_conv(*a, **k)), lambda *a, **k: wrap(_convt(*a, **k)), seed=seed)


def test_output_sizes_accepts_numpy_floor_division():
    def conv(n, kernel_size, stride=1, padding=0, dilation=1):
        return np.floor_divide(n + 2 * padding - dilation * (kernel_size - 1) - 1, stride) + 1
    checks.output_sizes(conv, _convt)


def test_output_sizes_still_refuses_bools_and_fractions():
    reject(checks.output_sizes, lambda *a, **k: True, _convt, match="must return an int")
    reject(checks.output_sizes, lambda n, kernel_size, stride=1, padding=0, dilation=1:
           (n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1, _convt, match="floor division")


# --- item 19: "by hand" exercises detect the library shortcut -------------------------------

def _unpool_library(values, indices, output_size):
    return F.max_unpool2d(values, indices, 2, output_size=output_size)


def _unpool_module(values, indices, output_size):
    return nn.MaxUnpool2d(2)(values, indices, output_size=output_size)


@pytest.mark.parametrize("student", [_unpool_library, _unpool_module], ids=["F.max_unpool2d", "nn.MaxUnpool2d"])
def test_max_unpool_by_hand_detects_the_library_call(student):
    reject(checks.max_unpool_by_hand, student, match="write it yourself.*max_unpool2d|write it yourself.*MaxUnpool2d")


def test_shortcuts_are_restored_after_the_check():
    original = F.max_unpool2d
    with pytest.raises(CheckFailed):
        checks.max_unpool_by_hand(_unpool_library)
    assert F.max_unpool2d is original
    values, indices = F.max_pool2d(torch.randn(1, 1, 4, 4), 2, return_indices=True)
    F.max_unpool2d(values, indices, 2)  # works again


def _tconv_library(x, kernel):
    return F.conv_transpose1d(x.view(1, 1, -1), kernel.view(1, 1, -1)).view(-1)


def _tconv_torch(x, kernel):
    return torch.conv_transpose1d(x.view(1, 1, -1), kernel.view(1, 1, -1)).view(-1)


def _tconv_module(x, kernel):
    layer = nn.ConvTranspose1d(1, 1, len(kernel), bias=False)
    with torch.no_grad():
        layer.weight.copy_(kernel.view(1, 1, -1))
    return layer(x.view(1, 1, -1)).view(-1).detach()


@pytest.mark.parametrize("student", [_tconv_library, _tconv_torch, _tconv_module],
                         ids=["F.conv_transpose1d", "torch.conv_transpose1d", "nn.ConvTranspose1d"])
def test_transposed_conv1d_detects_the_library_call(student):
    reject(checks.transposed_conv1d, student, match="write it yourself.*(conv_transpose1d|ConvTranspose1d)")


def test_by_hand_answers_in_other_styles_pass():
    def unpool_index_put(values, indices, output_size):
        n, c = values.shape[:2]
        h, w = output_size
        out = values.new_zeros(n, c, h, w)
        rows, cols = indices // w, indices % w
        nn_, cc = torch.meshgrid(torch.arange(n), torch.arange(c), indexing="ij")
        out[nn_[..., None, None].expand_as(indices), cc[..., None, None].expand_as(indices), rows, cols] = values
        return out

    def tconv_loops(x, kernel):
        y = torch.zeros(len(x) + len(kernel) - 1, dtype=x.dtype)
        for i, xi in enumerate(x):
            y[i:i + len(kernel)] += xi * kernel
        return y
    for seed in range(4):
        checks.max_unpool_by_hand(unpool_index_put, seed=seed)
        checks.transposed_conv1d(tconv_loops, seed=seed)


# --- item 18: the decoder's output must be a probability image ------------------------------

def _conv_ae(code_size, last=nn.Sigmoid, unflatten=(32, 7, 7), linear_out=32 * 7 * 7):
    encoder = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
                            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                            nn.Flatten(), nn.Linear(32 * 7 * 7, code_size))
    decoder = nn.Sequential(nn.Linear(code_size, linear_out), nn.ReLU(), nn.Unflatten(1, unflatten),
                            nn.ConvTranspose2d(unflatten[0], 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
                            *([last()] if last else []))
    return encoder, decoder


@pytest.mark.parametrize("last", [nn.ReLU, nn.Hardtanh, None], ids=["ReLU output", "Hardtanh output", "no activation"])
def test_conv_autoencoder_shapes_rejects_unbounded_outputs(last):
    reject(checks.conv_autoencoder_shapes, lambda k: _conv_ae(k, last=last), match=r"leaves \[0, 1\].*nn.Sigmoid")


def test_conv_autoencoder_shapes_accepts_hardsigmoid_and_clamped_outputs():
    class Clamp(nn.Module):
        def forward(self, x):
            return x.clamp(0, 1)
    checks.conv_autoencoder_shapes(lambda k: _conv_ae(k, last=nn.Hardsigmoid))
    checks.conv_autoencoder_shapes(lambda k: _conv_ae(k, last=Clamp))


# --- item 20: the output_padding hint fires only for the mistake it describes ----------------

def test_wrong_unflatten_gets_the_unflatten_hint_not_output_padding():
    message = reject(checks.conv_autoencoder_shapes,
                     lambda k: _conv_ae(k, unflatten=(8, 14, 14), linear_out=8 * 14 * 14), match="Unflatten")
    assert "output_padding" not in message
