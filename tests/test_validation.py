"""The one vocabulary of argument checks (aelab._validation): every rule, both ways."""

import numpy as np
import pytest
import torch

from aelab import _validation as v


def test_integer_accepts_python_and_numpy_integers():
    assert v.integer(3, "epochs", minimum=1) == 3
    assert v.integer(np.int64(3), "epochs", minimum=1) == 3
    assert type(v.integer(np.int32(2), "n")) is int


@pytest.mark.parametrize("bad", [True, 2.0, 2.5, "3", None, np.float64(2.0)])
def test_integer_refuses_bools_floats_and_strings(bad):
    with pytest.raises(TypeError, match="epochs must be an integer"):
        v.integer(bad, "epochs")


def test_integer_names_the_range():
    with pytest.raises(ValueError, match="at least 1, got 0"):
        v.integer(0, "epochs", minimum=1)
    with pytest.raises(ValueError, match="between 1 and 5, got 9"):
        v.integer(9, "k", minimum=1, maximum=5)


def test_real_accepts_numpy_scalars_arrays_and_tensors():
    assert v.real(np.float32(4), "beta", low=0) == 4.0
    assert v.real(np.array(0.5), "p") == 0.5
    assert v.real(torch.tensor(0.25), "p") == 0.25
    assert v.real(3, "lr") == 3.0


@pytest.mark.parametrize("bad", [True, "0.1", None, [0.1]])
def test_real_refuses_non_numbers(bad):
    with pytest.raises(TypeError, match="lr must be a real number"):
        v.real(bad, "lr")


def test_real_refuses_nan_inf_and_out_of_range():
    with pytest.raises(ValueError, match="nan"):
        v.real(float("nan"), "beta")
    with pytest.raises(ValueError, match="finite"):
        v.real(float("inf"), "lr")
    assert v.real(float("inf"), "x", allow_inf=True) == float("inf")
    with pytest.raises(ValueError, match=r"lr must be in \(0, inf\]"):
        v.real(0.0, "lr", low=0, low_open=True)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        v.probability(1.0, "p")
    assert v.probability(1.0, "p", allow_one=True) == 1.0


def test_seed_flag_choice():
    assert v.seed(np.uint8(7)) == 7
    with pytest.raises(ValueError):
        v.seed(-1)
    with pytest.raises(TypeError):
        v.flag(1, "tied")
    assert v.flag(np.bool_(True), "tied") is True
    with pytest.raises(ValueError, match="'mean', 'sum', 'none'"):
        v.choice("avg", "reduction", ("mean", "sum", "none"))


def test_images_and_codes():
    x = torch.rand(4, 1, 28, 28)
    assert v.images(x, unit_range=True) is x
    with pytest.raises(ValueError, match=r"\[0, 1\].*255"):
        v.images(x * 255, unit_range=True)
    with pytest.raises(TypeError, match="floating-point"):
        v.images(torch.zeros(2, 784, dtype=torch.uint8))
    with pytest.raises(ValueError, match="dimensions"):
        v.images(torch.zeros(784))
    with pytest.raises(ValueError, match="NaN"):
        v.images(torch.full((2, 784), float("nan")))
    with pytest.raises(ValueError, match=r"\(N, 30\)"):
        v.codes(torch.zeros(2, 20), size=30)
    with pytest.raises(ValueError, match="empty"):
        v.codes(torch.zeros(0, 30))


@pytest.mark.parametrize("values, expected", [
    ([1.0, -2.0, 0.5], True),
    ([1.0, float("nan")], False),
    ([float("inf"), 1.0], False),
    ([float("inf"), -float("inf")], False),  # the sum is NaN, not inf
    ([3e38] * 10, True),                      # finite values whose sum overflows: the exact check decides
    ([3e38, float("inf")], False),
    ([], True),
])
def test_all_finite_is_exact(values, expected):
    from aelab._validation import all_finite

    t = torch.tensor(values, dtype=torch.float32)
    assert all_finite(t) is expected and expected == bool(torch.isfinite(t).all())
