"""Tests of the VAE model and its loss (Kingma & Welling 2014)."""

import functools

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from aelab.losses import gaussian_kl_per_image, vae_loss
from aelab.models import VAE
from aelab.train import evaluate, fit

IMG = (1, 28, 28)


def test_shapes():
    torch.manual_seed(0)
    vae = VAE(784, 400, 20, input_shape=IMG)
    x = torch.rand(5, *IMG)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 20)
    z = vae.reparameterize(mu, logvar)
    assert z.shape == (5, 20)
    x_hat = vae.decode(z)
    assert x_hat.shape == (5, *IMG)
    assert 0 <= x_hat.min() and x_hat.max() <= 1
    out = vae(x)
    assert len(out) == 3 and out[0].shape == x.shape and out[1].shape == (5, 20)
    assert vae.code_size == 20


def test_flat_input_and_deeper_hidden():
    vae = VAE(12, (8, 6), 3)
    x_hat, mu, logvar = vae(torch.rand(4, 12))
    assert x_hat.shape == (4, 12) and mu.shape == (4, 3)
    linears = [m for m in vae.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(12, 8), (8, 6), (6, 3), (6, 3), (3, 6), (6, 8), (8, 12)]


def test_reparameterize_is_differentiable_and_seeded():
    vae = VAE(4, 3, 2)
    mu = torch.zeros(1000, 2, requires_grad=True)
    logvar = torch.full((1000, 2), 2 * torch.log(torch.tensor(3.0)).item(), requires_grad=True)
    z = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert abs(z.std().item() - 3.0) < 0.2  # sigma = exp(logvar / 2) = 3
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None
    z1 = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(7))
    z2 = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(7))
    assert torch.equal(z1, z2)


def test_closed_form_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    ours = gaussian_kl_per_image(mu, logvar, reduction="none")
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    ref = kl_divergence(q, p).sum(1)
    torch.testing.assert_close(ours, ref)
    assert (ours >= 0).all()
    assert gaussian_kl_per_image(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max() < 1e-7  # q = prior


def test_vae_loss_parts_and_units():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, *IMG, generator=g)
    x_hat = torch.rand(4, *IMG, generator=g).clamp(0.01, 0.99)
    mu, logvar = torch.randn(4, 20, generator=g), torch.randn(4, 20, generator=g)
    total, recon, kl = vae_loss((x_hat, mu, logvar), x)
    bce = -(x * x_hat.log() + (1 - x) * (1 - x_hat).log()).flatten(1).sum(1).mean()  # nats per image
    torch.testing.assert_close(recon, bce)
    torch.testing.assert_close(kl, gaussian_kl_per_image(mu, logvar).mean())
    torch.testing.assert_close(total, recon + kl)
    total4, _, _ = vae_loss((x_hat, mu, logvar), x, beta=4.0)
    torch.testing.assert_close(total4, recon + 4 * kl)


def test_fit_minimises_the_negative_elbo():
    torch.manual_seed(0)
    x = (torch.rand(256, *IMG) > 0.7).float()
    vae = VAE(784, 64, 4, input_shape=IMG)
    before = evaluate(vae, x, loss=vae_loss)
    history = fit(vae, x, epochs=3, loss=vae_loss, batch_size=64, lr=3e-3, progress=False, device="cpu")
    assert len(history.train_loss) == 3
    assert history.train_loss[-1] < history.train_loss[0]
    assert evaluate(vae, x, loss=vae_loss) < before
    fit(vae, x, epochs=1, loss=functools.partial(vae_loss, beta=0.5), progress=False, device="cpu")


@pytest.mark.parametrize("kwargs, match", [(dict(n_features=0), "n_features"), (dict(latent=0), "latent"),
                                           (dict(hidden=(400, -1)), r"hidden\[1\]"), (dict(hidden=()), "hidden"),
                                           (dict(input_shape=(1, 28, 27)), "input_shape")])
def test_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VAE(**kwargs)


@pytest.mark.parametrize("kwargs, match", [(dict(latent=True), "latent"), (dict(hidden=400.0), "hidden"),
                                           (dict(n_features="784"), "n_features"), (dict(hidden=(400, False)),
                                                                                    r"hidden\[1\]")])
def test_non_integer_sizes_are_type_errors(kwargs, match):
    with pytest.raises(TypeError, match=match):
        VAE(**kwargs)


def test_bad_input():
    vae = VAE(784, 16, 2, input_shape=IMG)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        vae(torch.rand(3, 784))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        vae.decode(torch.rand(3, 3))
    with pytest.raises(TypeError):
        vae.encode(torch.zeros(3, 1, 28, 28, dtype=torch.long))
    with pytest.raises(ValueError, match="logvar"):
        vae.reparameterize(torch.zeros(3, 2), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="logvar"):
        vae.reparameterize(torch.zeros(3, 2), [[0.0, 0.0]] * 3)
    with pytest.raises(TypeError, match="float32"):
        vae.encode(torch.rand(3, 1, 28, 28, dtype=torch.float64))
    with pytest.raises(TypeError, match="float32"):
        vae.reparameterize(torch.zeros(3, 2, dtype=torch.float64), torch.zeros(3, 2, dtype=torch.float64))


def test_reparameterize_generator_ignores_the_global_rng():
    vae = VAE(4, 3, 2)
    mu, logvar = torch.zeros(5, 2), torch.zeros(5, 2)
    torch.manual_seed(1)
    a = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(2)
    torch.rand(10)  # other cells draw from the global generator
    b = vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, vae.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(4)))


def test_vae_loss_bad_input():
    x = torch.rand(3, 784)
    x_hat = torch.rand(3, 784)
    mu = torch.zeros(3, 2)
    with pytest.raises(TypeError, match="x_hat, mu, logvar"):
        vae_loss(x_hat, x)
    with pytest.raises(ValueError, match="shape"):
        vae_loss((torch.rand(3, 10), mu, mu), x)
    with pytest.raises(ValueError, match="same shape"):
        vae_loss((x_hat, mu, torch.zeros(3, 3)), x)
    with pytest.raises(ValueError, match="batch size"):
        vae_loss((x_hat, torch.zeros(2, 2), torch.zeros(2, 2)), x)
    with pytest.raises(ValueError, match="beta"):
        vae_loss((x_hat, mu, mu), x, beta=-1)


def test_fast_bernoulli_nll_matches_torch_bce():
    import torch.nn.functional as F

    from aelab.losses import bernoulli_nll_per_image

    g = torch.Generator().manual_seed(2)
    x = torch.rand(8, 1, 28, 28, generator=g)
    logits = (4 * torch.randn(8, 1, 28, 28, generator=g)).requires_grad_()
    ours = bernoulli_nll_per_image(torch.sigmoid(logits), x, reduction="none")
    ours.sum().backward()
    g_ours, logits.grad = logits.grad.clone(), None
    ref = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1)
    ref.sum().backward()
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(g_ours, logits.grad)
    # saturated probabilities (sigmoid rounds to exactly 0 or 1): finite loss and gradients
    sat = torch.tensor([[-200.0, 200.0, 30.0]], requires_grad=True)
    loss = bernoulli_nll_per_image(torch.sigmoid(sat), torch.tensor([[1.0, 0.0, 1.0]]), reduction="none")
    loss.sum().backward()
    assert torch.isfinite(loss).all() and torch.isfinite(sat.grad).all()


# --------------------------------------------------------------------------- lecture 07: decoders, conv VAE, ELBO objective
import math  # noqa: E402

from aelab.losses import gaussian_nll_per_image  # noqa: E402
from aelab.models import ConvVAE  # noqa: E402
from aelab.objectives import ELBO  # noqa: E402


def test_zero_initialized_vae_has_the_known_reconstruction_loss():
    """All weights zero: p = sigmoid(0) = 1/2 per pixel, so -log p(x|z) = 784 log 2 for any binary x."""
    vae = VAE(784, 8, 2, input_shape=IMG)
    for p in vae.parameters():
        torch.nn.init.zeros_(p)
    x = (torch.rand(5, *IMG) > 0.5).float()
    parts = ELBO()(vae, x, x)
    torch.testing.assert_close(parts["recon"], torch.tensor(784 * math.log(2)))
    torch.testing.assert_close(parts["kl"], torch.tensor(0.0))  # mu = 0, logvar = 0: q is the prior


def test_gaussian_decoder_has_a_floored_learned_variance():
    vae = VAE(784, 16, 2, input_shape=IMG, decoder="gaussian", min_var=1e-2)
    assert vae.likelihood == "gaussian" and vae.decoder_logvar().shape == IMG
    torch.testing.assert_close(vae.decoder_logvar(), torch.full(IMG, math.log(0.1)))
    with torch.no_grad():
        vae.log_var_pixels.fill_(-50.0)
    assert torch.allclose(vae.decoder_logvar(), torch.full(IMG, math.log(1e-2)))
    x = torch.rand(4, *IMG)
    parts = ELBO()(vae, x, x)
    x_hat = vae.decode(vae.encode(x)[0])  # shapes agree; the objective uses the Gaussian NLL
    assert x_hat.shape == x.shape and parts["recon"].ndim == 0
    assert "gaussian" in str(pytest.raises(ValueError, VAE, decoder="poisson").value)
    with pytest.raises(AttributeError, match="Bernoulli"):
        VAE(784, 16, 2).decoder_logvar()
    with pytest.raises(ValueError, match="min_var"):
        VAE(784, 16, 2, decoder="gaussian", min_var=0)


def test_gaussian_elbo_uses_the_models_variance():
    torch.manual_seed(0)
    vae = VAE(784, 16, 2, input_shape=IMG, decoder="gaussian")
    x = torch.rand(3, *IMG)
    torch.manual_seed(1)
    parts = ELBO()(vae, x, x)
    torch.manual_seed(1)
    x_hat, mu, logvar = vae(x)
    torch.testing.assert_close(parts["recon"], gaussian_nll_per_image(x_hat, vae.decoder_logvar(), x).mean())
    torch.testing.assert_close(parts["total"], parts["recon"] + parts["kl"])


def test_elbo_objective_options():
    torch.manual_seed(0)
    vae = VAE(784, 16, 2, input_shape=IMG)
    x = torch.rand(6, *IMG)
    torch.manual_seed(3)
    summed = ELBO()(vae, x, x)
    torch.manual_seed(3)
    averaged = ELBO(recon_reduction="pixel_mean")(vae, x, x)
    torch.testing.assert_close(averaged["recon"] * 784, summed["recon"])  # the sum-vs-mean confusion
    torch.testing.assert_close(averaged["kl"], summed["kl"])
    warm = ELBO(beta=4.0, warmup_epochs=4)
    assert warm.current_beta == 0.0
    warm.set_epoch(2)
    assert warm.current_beta == 2.0
    warm.set_epoch(9)
    assert warm.current_beta == 4.0
    torch.manual_seed(3)  # dynamic binarization: the model sees and is scored on a binary image
    seen = []
    vae.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    ELBO(binarize=True)(vae, x, x)
    assert set(seen[0].unique().tolist()) <= {0.0, 1.0}
    for bad in (dict(beta=-1), dict(warmup_epochs=-1), dict(recon_reduction="mean")):
        with pytest.raises(ValueError):
            ELBO(**bad)


def test_fit_with_dynamic_binarization_records_parts():
    torch.manual_seed(0)
    x = torch.rand(128, *IMG) * 0.6
    vae = VAE(784, 32, 2, input_shape=IMG)
    h = fit(vae, x, epochs=2, objective=ELBO(binarize=True), progress=False, device="cpu", batch_size=32)
    assert set(h.parts) == {"total", "recon", "kl"} and len(h.parts["kl"]) == 2


def test_conv_vae_shapes_reparameterization_and_bad_input():
    torch.manual_seed(0)
    vae = ConvVAE(latent=5, channels=(4, 8))
    x = torch.rand(3, *IMG)
    x_hat, mu, logvar = vae(x)
    assert x_hat.shape == x.shape and mu.shape == logvar.shape == (3, 5) and vae.code_size == 5
    assert 0 <= x_hat.min() and x_hat.max() <= 1
    z = vae.reparameterize(torch.zeros(2000, 5), torch.full((2000, 5), math.log(4.0)),
                           generator=torch.Generator().manual_seed(0))
    assert abs(z.std().item() - 2.0) < 0.1
    before = [p.clone() for p in vae.parameters()]
    fit(vae, (torch.rand(32, *IMG) > 0.5).float(), epochs=1, loss=vae_loss, progress=False, device="cpu")
    assert any(not torch.equal(a, b) for a, b in zip(before, vae.parameters()))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        vae.encode(torch.rand(2, 784))
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        vae.decode(torch.rand(2, 4))
    with pytest.raises(ValueError, match="channels"):
        ConvVAE(channels=(4,))
    with pytest.raises(ValueError, match="latent"):
        ConvVAE(latent=0)
