"""aelab.losses: the course's units (per-image sums averaged over the batch), checked by hand and against torch."""

import math

import pytest
import torch
import torch.nn.functional as F

from aelab.losses import (VAELoss, bce_per_image, bernoulli_nll_per_image, range_checks, squared_error_per_image,
                          vae_loss)


def test_squared_error_per_image_by_hand():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]],  # image 0: 1 pixel off by 1 -> 1
                          [[[0.5, 0.5], [0.5, 0.5]]]])  # image 1: 4 pixels off by 0.5 -> 1
    assert squared_error_per_image(x_hat, x).item() == pytest.approx(1.0)
    x_hat[1] = 1.0  # image 1 -> 4
    assert squared_error_per_image(x_hat, x).item() == pytest.approx((1 + 4) / 2)


def test_squared_error_per_image_is_sum_over_pixels_mean_over_images():
    g = torch.Generator().manual_seed(0)
    x, x_hat = torch.rand(7, 1, 28, 28, generator=g), torch.rand(7, 1, 28, 28, generator=g)
    got = squared_error_per_image(x_hat, x)
    assert got.shape == ()
    assert got.item() == pytest.approx(784 * F.mse_loss(x_hat, x).item(), rel=1e-5)
    per_image = [((x_hat[i] - x[i]) ** 2).sum().item() for i in range(7)]
    assert got.item() == pytest.approx(sum(per_image) / 7, rel=1e-5)
    # the same number for flattened images: the unit does not depend on the layout
    assert squared_error_per_image(x_hat.flatten(1), x.flatten(1)).item() == pytest.approx(got.item(), rel=1e-6)


def test_squared_error_per_image_gradient():
    x = torch.rand(3, 4)
    x_hat = torch.rand(3, 4, requires_grad=True)
    squared_error_per_image(x_hat, x).backward()
    assert torch.allclose(x_hat.grad, 2 * (x_hat.detach() - x) / 3)


def test_bce_per_image_matches_torch():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 1, 28, 28, generator=g)
    p = torch.rand(5, 1, 28, 28, generator=g).clamp(0.01, 0.99)
    got = bce_per_image(p, x)
    assert got.item() == pytest.approx(784 * F.binary_cross_entropy(p, x).item(), rel=1e-5)
    by_hand = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1).mean()
    assert got.item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert got.item() > 0


def test_bce_per_image_known_value():
    x = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[0.5, 0.5]])
    assert bce_per_image(p, x).item() == pytest.approx(2 * torch.log(torch.tensor(2.0)).item())


@pytest.mark.parametrize("loss", [squared_error_per_image, bce_per_image])
def test_shape_mismatch_names_both_shapes(loss):
    with pytest.raises(ValueError, match=r"\(4, 784\).*\(4, 1, 28, 28\)"):
        loss(torch.rand(4, 784), torch.rand(4, 1, 28, 28))


@pytest.mark.parametrize("loss", [squared_error_per_image, bce_per_image])
def test_unbatched_input(loss):
    with pytest.raises(ValueError, match="batch"):
        loss(torch.rand(784), torch.rand(784))


@pytest.mark.parametrize("loss", [squared_error_per_image, bce_per_image])
def test_non_tensor_input(loss):
    with pytest.raises(TypeError):
        loss([[0.5]], torch.rand(1, 1))


def _vae_out(x_hat):
    return x_hat, torch.zeros(len(x_hat), 2), torch.zeros(len(x_hat), 2)


_PROBABILITY_LOSSES = {
    "bce_per_image": bce_per_image,
    "bernoulli_nll_per_image": bernoulli_nll_per_image,
    "vae_loss": lambda p, x: vae_loss(_vae_out(p), x),
}


@pytest.mark.parametrize("name", _PROBABILITY_LOSSES)
@pytest.mark.parametrize("bad_p", [-0.1, 1.5])
def test_probabilities_outside_0_1_are_an_error(name, bad_p):
    """A model without an output sigmoid: torch's own BCE raises too (it does not clamp silently)."""
    p = torch.full((2, 4), 0.5)
    p[1, 2] = bad_p
    with pytest.raises(ValueError, match=rf"{name}: .*probabilities in \[0, 1\].*sigmoid"):
        _PROBABILITY_LOSSES[name](p, torch.rand(2, 4))
    with pytest.raises(RuntimeError, match="between 0 and 1"):  # torch's own BCE refuses them too
        F.binary_cross_entropy(p, torch.rand(2, 4))


@pytest.mark.parametrize("name", _PROBABILITY_LOSSES)
def test_targets_of_0_to_255_are_an_error(name):
    x = torch.randint(0, 256, (2, 4)).float()
    x[0, 0], x[1, 1] = 255, 0
    with pytest.raises(ValueError, match=rf"{name}: the targets must lie in \[0, 1\].*got values in \[0, 255\]"):
        _PROBABILITY_LOSSES[name](torch.full((2, 4), 0.5), x)


@pytest.mark.parametrize("name", _PROBABILITY_LOSSES)
def test_boundary_values_and_nan_pass_the_range_check(name):
    loss = _PROBABILITY_LOSSES[name]
    p = torch.tensor([[0.0, 1.0, 0.5, 0.5]])
    x = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    out = loss(p, x)
    assert torch.isfinite(out[0] if isinstance(out, tuple) else out).all()
    p[0, 2] = float("nan")  # NaN is left to fit's divergence check, which names the step
    out = loss(p, x)
    assert torch.isnan(out[0] if isinstance(out, tuple) else out).any()


def test_range_checks_can_be_turned_off_and_are_restored():
    p, x = torch.full((1, 3), 2.0), torch.rand(1, 3)
    with range_checks(False):
        bce_per_image(p, x)  # no error: the caller (fit) checked another batch
        with range_checks(True):
            with pytest.raises(ValueError):
                bce_per_image(p, x)
        bce_per_image(p, x)
    with pytest.raises(ValueError):
        bce_per_image(p, x)


def test_vae_loss_returns_named_parts():
    x = torch.rand(3, 4)
    out = vae_loss(_vae_out(torch.full((3, 4), 0.5)), x, beta=2.0)
    assert isinstance(out, VAELoss) and isinstance(out, tuple) and out._fields == ("total", "recon", "kl")
    total, recon, kl = out
    assert out.total is total and out.kl.item() == 0.0
    assert recon.item() == pytest.approx(4 * torch.log(torch.tensor(2.0)).item(), rel=1e-6)


# --------------------------------------------------------------------------- lecture 07: Gaussian NLL, IWAE bound
import math  # noqa: E402

from aelab.losses import (gaussian_nll_per_image, iwae_bound, log_importance_weights,  # noqa: E402
                          log_likelihood)
from aelab.models import VAE  # noqa: E402


def test_gaussian_nll_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    x, mean = torch.rand(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g)
    logvar = torch.randn(1, 4, 4, generator=g)
    ref = -torch.distributions.Normal(mean, torch.exp(0.5 * logvar)).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(gaussian_nll_per_image(mean, logvar, x, reduction="none"), ref)
    torch.testing.assert_close(gaussian_nll_per_image(mean, logvar, x), ref.mean())
    with pytest.raises(ValueError, match="broadcast"):
        gaussian_nll_per_image(mean, torch.zeros(2, 3), x)


def test_iwae_bound_is_log_mean_exp_and_stable():
    log_w = torch.tensor([[0.0, -1000.0], [math.log(3.0), -1001.0]])
    expected = torch.tensor([math.log(2.0), -1000 + math.log((1 + math.exp(-1)) / 2)])
    torch.testing.assert_close(iwae_bound(log_w), expected)  # no underflow at -1000
    assert iwae_bound(log_w[:1]).tolist() == log_w[0].tolist()  # K = 1: the log-weight itself
    with pytest.raises(ValueError, match=r"\(K, N\)"):
        iwae_bound(torch.zeros(3))
    with pytest.raises(TypeError):
        iwae_bound(torch.zeros(2, 2, dtype=torch.long))


def _exact_model():
    """A 1-D linear-Gaussian model whose log p(x) is known: z ~ N(0,1), x|z ~ N(z, s2)."""

    class Lin(torch.nn.Module):
        likelihood = "gaussian"

        def __init__(self, s2=0.5):
            super().__init__()
            self.s2 = s2
            self.w = torch.nn.Parameter(torch.zeros(1))

        def encode(self, x):  # a deliberately imperfect q(z|x) = N(x/2, 0.6)
            return x / 2, torch.full_like(x, math.log(0.6))

        def decode(self, z):
            return z

        def decoder_logvar(self):
            return torch.tensor(math.log(self.s2))

    return Lin()


def test_importance_sampled_likelihood_converges_to_the_exact_one_and_tightens_with_k():
    m = _exact_model()
    x = torch.tensor([[0.3], [-1.2], [2.0]])
    exact = torch.distributions.Normal(0.0, math.sqrt(1 + m.s2)).log_prob(x)[:, 0]  # marginal of x
    g = torch.Generator().manual_seed(0)
    est = {k: torch.stack([iwae_bound(log_importance_weights(m, x, k, generator=g)) for _ in range(200)]).mean(0)
           for k in (1, 10, 1000)}
    assert (est[1] < est[10] - 0.05).all() and (est[10] < est[1000] + 0.02).all()  # up to Monte-Carlo noise
    torch.testing.assert_close(est[1000], exact, atol=2e-3, rtol=0)
    # K = 1 is the ELBO in expectation: E_q[log p(x|z) + log p(z) - log q(z|x)] in closed form
    mu, var, s2 = x[:, 0] / 2, 0.6, m.s2
    elbo = (-0.5 * (math.log(2 * math.pi * s2) + ((x[:, 0] - mu) ** 2 + var) / s2)
            - 0.5 * (mu ** 2 + var - 1 - math.log(var)))
    one_sample = log_importance_weights(m, x, 20000, generator=g).mean(0)  # the mean of K=1 bounds
    torch.testing.assert_close(one_sample, elbo, atol=0.03, rtol=0)
    assert (est[1000] <= exact + 1e-3).all()  # a lower bound


def test_log_likelihood_is_seeded_and_batched():
    torch.manual_seed(0)
    vae = VAE(784, 16, 3, input_shape=(1, 28, 28))
    x = (torch.rand(7, 1, 28, 28) > 0.5).float()
    a = log_likelihood(vae, x, k=20, batch_size=3, seed=1)
    b = log_likelihood(vae, x, k=20, batch_size=3, seed=1)
    assert a.shape == (7,) and torch.equal(a, b) and (a < 0).all()
    state = torch.get_rng_state()
    log_likelihood(vae, x, k=5, seed=2)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is not touched
    assert vae.training  # mode restored
    with pytest.raises(ValueError, match="k must"):
        log_likelihood(vae, x, k=0)
    with pytest.raises(ValueError, match="batch_size"):
        log_likelihood(vae, x, batch_size=0)


# --- torch's reduction= convention: every loss, one rule ------------------------------------

def _loss_calls():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(5, 1, 4, 4, generator=g)
    p = torch.rand(5, 1, 4, 4, generator=g).clamp(0.01, 0.99)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    counts = torch.randint(0, 4, (5, 7), generator=g).float()
    from aelab.losses import gaussian_kl_per_image, multinomial_nll_per_document
    return {
        "squared_error_per_image": (lambda r: squared_error_per_image(p, x, reduction=r), (p - x).pow(2).flatten(1).sum(1)),
        "bce_per_image": (lambda r: bce_per_image(p, x, reduction=r),
                          F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1)),
        "bernoulli_nll_per_image": (lambda r: bernoulli_nll_per_image(p, x, reduction=r),
                                    F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1)),
        "gaussian_kl_per_image": (lambda r: gaussian_kl_per_image(mu, logvar, reduction=r),
                                  torch.distributions.kl_divergence(
                                      torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
                                      torch.distributions.Normal(0.0, 1.0)).sum(1)),
        "multinomial_nll_per_document": (lambda r: multinomial_nll_per_document(torch.zeros(5, 7), counts, reduction=r),
                                         counts.sum(1) * math.log(7)),
    }


@pytest.mark.parametrize("name", list(_loss_calls()))
def test_every_loss_follows_torch_reduction_convention(name):
    call, per_image = _loss_calls()[name]
    torch.testing.assert_close(call("none"), per_image, rtol=1e-4, atol=1e-4)
    assert call("none").shape == (5,)
    torch.testing.assert_close(call("mean"), per_image.mean(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(call("sum"), per_image.sum(), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none'"):
        call("avg")


def test_default_reduction_is_the_batch_mean_everywhere():
    import inspect
    import aelab.losses as L
    for name in ("squared_error_per_image", "bce_per_image", "bernoulli_nll_per_image", "gaussian_kl_per_image",
                 "gaussian_nll_per_image", "recon_nll_per_image", "multinomial_nll_per_document", "vae_loss"):
        assert inspect.signature(getattr(L, name)).parameters["reduction"].default == "mean", name


def test_vae_loss_per_image_parts_add_up_and_beta_is_validated():
    import numpy as np
    x = torch.rand(4, 6)
    out = (torch.rand(4, 6).clamp(0.05, 0.95), torch.randn(4, 2), torch.randn(4, 2))
    total, recon, kl = vae_loss(out, x, beta=np.float32(2.0), reduction="none")
    assert total.shape == (4,)
    torch.testing.assert_close(total, recon + 2.0 * kl)
    torch.testing.assert_close(vae_loss(out, x).total, total.mean() - kl.mean())  # beta = 1
    with pytest.raises(ValueError, match="beta.*nan"):
        vae_loss(out, x, beta=float("nan"))
    with pytest.raises(TypeError, match="beta"):
        vae_loss(out, x, beta=True)


def test_iwae_bound_names_nan_log_weights():
    log_w = torch.zeros(3, 2)
    log_w[1, 0] = float("nan")
    with pytest.raises(ValueError, match="log_w holds NaN"):
        iwae_bound(log_w)
