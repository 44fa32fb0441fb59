"""aelab.noise (lecture 03): masking, salt-and-pepper and Gaussian corruption, add_noise, jitter; the
denoising objective's input/target; the names re-exported by aelab.noise."""

import math

import pytest
import torch

from aelab import data, noise

CORRUPTIONS = [noise.gaussian_noise, noise.masking_noise, noise.salt_and_pepper]


@pytest.fixture
def images():
    return torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shape_dtype_range_and_input_untouched(images, corrupt, dtype):
    x = images.to(dtype)
    before = x.clone()
    out = corrupt(x, 0.4, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == dtype
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(x, before)
    assert out.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_seeded_determinism_and_global_rng_untouched(images, corrupt):
    state = torch.random.get_rng_state()
    a = corrupt(images, 0.3, generator=torch.Generator().manual_seed(5))
    b = corrupt(images, 0.3, generator=torch.Generator().manual_seed(5))
    c = corrupt(images, 0.3, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.random.get_rng_state())
    torch.manual_seed(3)  # without a generator: torch's global one
    d = corrupt(images, 0.3)
    torch.manual_seed(3)
    assert torch.equal(d, corrupt(images, 0.3))


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.9])
def test_masking_fraction_and_zeros(p):
    x = torch.full((200, 784), 0.7)  # no zeros: every corrupted value changes
    out = noise.masking_noise(x, p, generator=torch.Generator().manual_seed(0))
    changed = out != x
    frac = changed.double().mean().item()
    sd = math.sqrt(p * (1 - p) / x.numel())
    assert abs(frac - p) < 5 * sd  # within 5 standard errors of the binomial fraction
    assert (out[changed] == 0).all() and torch.equal(out[~changed], x[~changed])


@pytest.mark.parametrize("p", [0.1, 0.3, 0.6])
def test_salt_and_pepper_fraction_and_values(p):
    x = torch.full((200, 784), 0.5)
    out = noise.salt_and_pepper(x, p, generator=torch.Generator().manual_seed(0))
    changed = out != x
    sd = math.sqrt(p * (1 - p) / x.numel())
    assert abs(changed.double().mean().item() - p) < 5 * sd
    vals = out[changed]
    assert ((vals == 0) | (vals == 1)).all()
    salt = (vals == 1).double().mean().item()
    assert abs(salt - 0.5) < 0.02  # a fair coin between 0 and 1


def test_gaussian_std_and_clipping():
    x = torch.full((40000,), 0.5)
    out = noise.gaussian_noise(x, 0.1, generator=torch.Generator().manual_seed(0))
    assert abs((out - x).std().item() - 0.1) < 0.003
    assert abs((out - x).mean().item()) < 0.003
    edge = noise.gaussian_noise(torch.zeros(10000), 0.5, generator=torch.Generator().manual_seed(0))
    assert edge.min() == 0 and abs((edge == 0).double().mean().item() - 0.5) < 0.03  # half clipped at 0


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_p_zero_is_identity_and_one_corrupts_all(images, corrupt):
    assert torch.equal(corrupt(images, 0.0), images)
    if corrupt is noise.masking_noise:
        assert (corrupt(images, 1.0) == 0).all()
    if corrupt is noise.salt_and_pepper:
        full = corrupt(images, 1.0)
        assert ((full == 0) | (full == 1)).all()


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf")])
def test_p_outside_unit_interval_is_value_error(images, corrupt, p):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]|must be a number, got nan|must be finite"):
        corrupt(images, p)


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_bad_types(images, corrupt):
    with pytest.raises(TypeError, match="floating-point"):
        corrupt((images * 255).to(torch.uint8), 0.2)
    with pytest.raises(TypeError):
        corrupt(images, "0.2")
    with pytest.raises(TypeError):
        corrupt(images.numpy(), 0.2)


def test_add_noise_dispatches_to_the_named_functions(images):
    for kind, fn in [("gaussian", noise.gaussian_noise), ("masking", noise.masking_noise),
                     ("salt_pepper", noise.salt_and_pepper)]:
        a = noise.add_noise(images, kind, 0.3, generator=torch.Generator().manual_seed(2))
        b = fn(images, 0.3, generator=torch.Generator().manual_seed(2))
        assert torch.equal(a, b)


# --- the denoising objective: corrupted input, clean target (the classic bug, both ways) ------------

class _Recorder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(6, 6)
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return torch.sigmoid(self.lin(x))


def _assert_denoising_objective(objective):
    """The model must see corrupt(x) and be scored against the clean x (squared error per image)."""
    torch.manual_seed(0)
    model = _Recorder()
    x = torch.rand(5, 6, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    mask = (torch.rand(5, 6, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    got = objective(model, x, x)
    x_tilde = x * mask
    assert torch.equal(model.seen[0], x_tilde), "the model was not fed the corrupted input"
    with torch.no_grad():
        expected = (torch.sigmoid(model.lin(x_tilde)) - x).pow(2).sum(1).mean()
    assert torch.allclose(got, expected), "the loss does not compare with the clean target"
    return mask


def _fixed_mask(seed=1):
    def corrupt(x):
        return x * (torch.rand(x.shape, generator=torch.Generator().manual_seed(seed)) > 0.5).float()
    return corrupt


def test_denoising_objective_feeds_corrupted_input_and_scores_clean_target():
    from aelab import train

    _assert_denoising_objective(train.denoising(_fixed_mask()))


def test_the_denoising_test_catches_both_classic_bugs():
    from aelab.losses import squared_error_per_image

    corrupt = _fixed_mask()

    def clean_input(model, inputs, targets):  # bug 1: the model never sees the corruption
        return squared_error_per_image(model(inputs), targets)

    def noisy_target(model, inputs, targets):  # bug 2: the target is the corrupted image
        noisy = corrupt(inputs)
        return squared_error_per_image(model(noisy), noisy)

    with pytest.raises(AssertionError, match="corrupted input"):
        _assert_denoising_objective(clean_input)
    with pytest.raises(AssertionError, match="clean target"):
        _assert_denoising_objective(noisy_target)


# --- bad input gets an error that names what was expected (review r03) ------------------------------

@pytest.mark.parametrize("corrupt", [noise.gaussian_noise, noise.salt_and_pepper])
def test_values_outside_unit_interval_or_nan_are_rejected(images, corrupt):
    with pytest.raises(ValueError, match=r"pixel values in \[0, 1\].*got values in \[.*, 3"):
        corrupt(images * 3, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        corrupt(torch.full((2, 3), float("nan")), 0.1)


def test_masking_accepts_codes_outside_unit_interval():
    # zeroing is meaningful for any values (the codes of a stacked denoising autoencoder)
    codes = torch.randn(50, 40, generator=torch.Generator().manual_seed(0)) * 3
    out = noise.masking_noise(codes, 0.5, generator=torch.Generator().manual_seed(1))
    assert ((out == 0) | (out == codes)).all() and (out == 0).any()


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_generator_must_be_a_torch_generator_and_numpy_p_is_fine(images, corrupt):
    import numpy as np

    with pytest.raises(TypeError, match="torch.Generator"):
        corrupt(images, 0.1, generator=0)
    a = corrupt(images, np.float32(0.25), generator=torch.Generator().manual_seed(3))
    b = corrupt(images, 0.25, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_add_noise_level_errors():
    x = torch.rand(3, 4)
    with pytest.raises(TypeError, match="level must be a real number"):
        noise.add_noise(x, "masking", "0.1")
    with pytest.raises(ValueError, match="level must be a number, got nan"):
        noise.add_noise(x, "masking", float("nan"))
    with pytest.raises(ValueError, match="level must be in"):
        noise.add_noise(x, "masking", 1.5)


def test_jitter_adds_unclipped_gaussian_noise_of_the_given_std():
    from aelab import data, noise

    x = torch.zeros(20000, 2)
    y = noise.jitter(x, 0.5, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype and torch.equal(x, torch.zeros(20000, 2))
    assert abs(float(y.std()) - 0.5) < 0.01 and float(y.min()) < 0  # not clipped to [0, 1]
    again = noise.jitter(x, 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, again)
    with pytest.raises(ValueError, match="std"):
        noise.jitter(x, -1.0)
    with pytest.raises(TypeError, match="floating-point"):
        noise.jitter(torch.zeros(3, dtype=torch.long), 0.1)


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_pepper"])
def test_add_noise_kinds(images, kind):
    before = images.clone()
    g = torch.Generator().manual_seed(0)
    noisy = noise.add_noise(images, kind, 0.3, generator=g)
    assert noisy.shape == images.shape and noisy.dtype == images.dtype
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert torch.equal(images, before)  # input untouched
    assert not torch.equal(noisy, images)
    again = noise.add_noise(images, kind, 0.3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)
    assert torch.equal(noise.add_noise(images, kind, 0.0), images)
    changed = (noisy != images).float().mean().item()
    if kind == "masking":
        assert 0.25 < changed < 0.35 and (noisy[noisy != images] == 0).all()
    if kind == "salt_pepper":
        assert 0.25 < changed < 0.35 and ((noisy[noisy != images] == 0) | (noisy[noisy != images] == 1)).all()


def test_add_noise_gaussian_level_is_std():
    x = torch.full((20000,), 0.5)
    noisy = noise.add_noise(x, "gaussian", 0.1, generator=torch.Generator().manual_seed(0))
    assert abs((noisy - x).std().item() - 0.1) < 0.005


@pytest.mark.parametrize("kind, level", [("poisson", 0.3), ("gaussian", -0.1), ("masking", 1.5),
                                         ("salt_pepper", float("nan"))])
def test_add_noise_bad_args(images, kind, level):
    with pytest.raises(ValueError):
        noise.add_noise(images, kind, level)


def test_salt_and_pepper_is_independent_bernoulli_not_a_fixed_count():
    """Issue 19 item 22: the docstring says which form is implemented; the counts show it.

    Vincent et al.'s fixed-count form corrupts exactly round(p·D) values of every image; the
    Bernoulli form gives Binomial(D, p) counts, whose spread across images is sqrt(D p (1 - p)).
    """
    x = torch.full((2000, 784), 0.5)
    for corrupt in (noise.salt_and_pepper, noise.masking_noise):
        counts = (corrupt(x, 0.3, generator=torch.Generator().manual_seed(0)) != x).sum(1).double()
        assert abs(counts.mean().item() - 0.3 * 784) < 1.0
        assert abs(counts.std().item() / math.sqrt(784 * 0.3 * 0.7) - 1) < 0.1  # not 0, as a fixed count would give
        assert "independent" in corrupt.__doc__ and "Binomial(D" in corrupt.__doc__


def test_aelab_data_reexports_the_corruptions():
    for name in ("gaussian_noise", "masking_noise", "salt_and_pepper", "add_noise", "jitter"):
        assert getattr(data, name) is getattr(noise, name)
    assert sorted(noise.__all__) == sorted(
        ["CORRUPTIONS", "add_noise", "gaussian_noise", "masking_noise", "salt_and_pepper", "jitter"])
