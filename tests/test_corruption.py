"""Corruption functions of aelab.data (lecture 03): masking, salt-and-pepper, Gaussian; PSNR; the circle toy."""

import math

import pytest
import torch

from aelab import data

CORRUPTIONS = [data.gaussian_noise, data.masking_noise, data.salt_and_pepper]


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
    out = data.masking_noise(x, p, generator=torch.Generator().manual_seed(0))
    changed = out != x
    frac = changed.double().mean().item()
    sd = math.sqrt(p * (1 - p) / x.numel())
    assert abs(frac - p) < 5 * sd  # within 5 standard errors of the binomial fraction
    assert (out[changed] == 0).all() and torch.equal(out[~changed], x[~changed])


@pytest.mark.parametrize("p", [0.1, 0.3, 0.6])
def test_salt_and_pepper_fraction_and_values(p):
    x = torch.full((200, 784), 0.5)
    out = data.salt_and_pepper(x, p, generator=torch.Generator().manual_seed(0))
    changed = out != x
    sd = math.sqrt(p * (1 - p) / x.numel())
    assert abs(changed.double().mean().item() - p) < 5 * sd
    vals = out[changed]
    assert ((vals == 0) | (vals == 1)).all()
    salt = (vals == 1).double().mean().item()
    assert abs(salt - 0.5) < 0.02  # a fair coin between 0 and 1


def test_gaussian_std_and_clipping():
    x = torch.full((40000,), 0.5)
    out = data.gaussian_noise(x, 0.1, generator=torch.Generator().manual_seed(0))
    assert abs((out - x).std().item() - 0.1) < 0.003
    assert abs((out - x).mean().item()) < 0.003
    edge = data.gaussian_noise(torch.zeros(10000), 0.5, generator=torch.Generator().manual_seed(0))
    assert edge.min() == 0 and abs((edge == 0).double().mean().item() - 0.5) < 0.03  # half clipped at 0


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
def test_p_zero_is_identity_and_one_corrupts_all(images, corrupt):
    assert torch.equal(corrupt(images, 0.0), images)
    if corrupt is data.masking_noise:
        assert (corrupt(images, 1.0) == 0).all()
    if corrupt is data.salt_and_pepper:
        full = corrupt(images, 1.0)
        assert ((full == 0) | (full == 1)).all()


@pytest.mark.parametrize("corrupt", CORRUPTIONS)
@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), float("inf")])
def test_p_outside_unit_interval_is_value_error(images, corrupt, p):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
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
    for kind, fn in [("gaussian", data.gaussian_noise), ("masking", data.masking_noise),
                     ("salt_pepper", data.salt_and_pepper)]:
        a = data.add_noise(images, kind, 0.3, generator=torch.Generator().manual_seed(2))
        b = fn(images, 0.3, generator=torch.Generator().manual_seed(2))
        assert torch.equal(a, b)


def test_psnr_known_values():
    x = torch.zeros(2, 1, 4, 4)
    x_hat = torch.stack([torch.full((1, 4, 4), 0.1), torch.full((1, 4, 4), 0.01)])
    got = data.psnr(x_hat, x)
    assert got.shape == (2,)
    assert torch.allclose(got, torch.tensor([20.0, 40.0]), atol=1e-4)  # MSE 1e-2 -> 20 dB, 1e-4 -> 40 dB
    assert torch.isinf(data.psnr(x, x)).all()
    with pytest.raises(ValueError, match="same shape"):
        data.psnr(x_hat, x[:1])


def test_circle_manifold():
    pts = data.circle_manifold(400, 0.0, radius=2.0, seed=1)
    assert pts.shape == (400, 2) and pts.dtype == torch.float32
    assert torch.allclose(pts.norm(dim=1), torch.full((400,), 2.0), atol=1e-5)
    assert torch.equal(pts, data.circle_manifold(400, 0.0, radius=2.0, seed=1))
    assert not torch.equal(pts, data.circle_manifold(400, 0.0, radius=2.0, seed=2))
    angles = torch.atan2(pts[:, 1], pts[:, 0])
    assert torch.histc(angles, bins=4, min=-math.pi, max=math.pi).min() > 70  # covers the whole circle
    noisy = data.circle_manifold(4000, 0.1, seed=0)
    assert abs((noisy.norm(dim=1) - 1).std().item() - 0.1) < 0.01
    for kwargs in ({"n": 1}, {"noise": -0.1}, {"radius": 0.0}):
        with pytest.raises(ValueError):
            data.circle_manifold(**kwargs)


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

@pytest.mark.parametrize("corrupt", [data.gaussian_noise, data.salt_and_pepper])
def test_values_outside_unit_interval_or_nan_are_rejected(images, corrupt):
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*max 3"):
        corrupt(images * 3, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        corrupt(torch.full((2, 3), float("nan")), 0.1)


def test_masking_accepts_codes_outside_unit_interval():
    # zeroing is meaningful for any values (the codes of a stacked denoising autoencoder)
    codes = torch.randn(50, 40, generator=torch.Generator().manual_seed(0)) * 3
    out = data.masking_noise(codes, 0.5, generator=torch.Generator().manual_seed(1))
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
    with pytest.raises(TypeError, match="level must be a number"):
        data.add_noise(x, "masking", "0.1")
    with pytest.raises(ValueError, match="level must be in"):
        data.add_noise(x, "masking", float("nan"))


def test_psnr_and_circle_bad_input():
    with pytest.raises(TypeError, match="floating-point"):
        data.psnr(torch.ones(2, 3, dtype=torch.uint8), torch.zeros(2, 3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="tensors"):
        data.psnr([[1.0]], torch.zeros(1, 1))
    with pytest.raises(ValueError, match="integer >= 2"):
        data.circle_manifold(2.5)
    with pytest.raises(TypeError, match="noise must be a number"):
        data.circle_manifold(5, "a")
    with pytest.raises(ValueError, match="finite"):
        data.circle_manifold(5, radius=float("inf"))
    with pytest.raises(TypeError, match="seed must be an int"):
        data.circle_manifold(5, seed=1.5)


def test_jitter_adds_unclipped_gaussian_noise_of_the_given_std():
    from aelab import data

    x = torch.zeros(20000, 2)
    y = data.jitter(x, 0.5, generator=torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.dtype == x.dtype and torch.equal(x, torch.zeros(20000, 2))
    assert abs(float(y.std()) - 0.5) < 0.01 and float(y.min()) < 0  # not clipped to [0, 1]
    again = data.jitter(x, 0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, again)
    with pytest.raises(ValueError, match="std"):
        data.jitter(x, -1.0)
    with pytest.raises(TypeError, match="floating-point"):
        data.jitter(torch.zeros(3, dtype=torch.long), 0.1)
