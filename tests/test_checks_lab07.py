"""Lab 07's checks reject each wrong answer the issue lists, each with its own hint.

The right answers are tested in tests/test_checks.py (the solution cells under many seeds); here each
plausible mistake is written out and must be rejected with the hint meant for it.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from aelab import checks
from aelab.checks import CheckFailed, ExerciseNotDone


def reject(check, fn, match):
    with pytest.raises(CheckFailed, match=match) as info:
        check(fn)
    assert not isinstance(info.value, ExerciseNotDone)
    return str(info.value)


def _kl(mu, logvar):
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)


# ---------------------------------------------------------------- exercise 1: reparameterize
def test_reparameterize_accepts_equivalent_answers(capsys):
    checks.reparameterize(lambda mu, logvar: mu + torch.exp(logvar / 2) * torch.randn(mu.shape))
    checks.reparameterize(lambda mu, logvar: mu + logvar.mul(0.5).exp() * torch.randn_like(mu, dtype=torch.float64))
    checks.reparameterize(lambda mu, logvar: mu + torch.sqrt(logvar.exp()) * torch.randn_like(mu))
    assert capsys.readouterr().out.count("✔") == 3


def test_reparameterize_rejects_the_variance_as_standard_deviation():
    reject(checks.reparameterize, lambda mu, logvar: mu + torch.exp(logvar) * torch.randn_like(mu),
           match=r"exp\(logvar\), which is the variance")


def test_reparameterize_rejects_torch_normal_and_detached_samples():
    reject(checks.reparameterize, lambda mu, logvar: torch.normal(mu, torch.exp(0.5 * logvar)),
           match="torch.normal passes back zeros")
    reject(checks.reparameterize, lambda mu, logvar: (mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)).detach(),
           match="blocks it")


def test_reparameterize_rejects_fixed_noise_and_wrong_shape():
    reject(checks.reparameterize, lambda mu, logvar: mu + 0 * logvar, match="standard normal noise")
    fixed = torch.randn(2000, 3, generator=torch.Generator().manual_seed(0))
    reject(checks.reparameterize, lambda mu, logvar: mu + torch.exp(0.5 * logvar) * fixed, match="two calls")
    reject(checks.reparameterize, lambda mu, logvar: mu[:, 0] + torch.randn(len(mu)), match="shape")


# ---------------------------------------------------------------- exercise 2: KL
def test_kl_rejects_a_missing_half():
    reject(checks.kl_per_image, lambda mu, logvar: -(1 + logvar - mu ** 2 - logvar.exp()).sum(1),
           match="factor 1/2")


def test_kl_rejects_a_sum_or_mean_over_the_batch():
    reject(checks.kl_per_image, lambda mu, logvar: _kl(mu, logvar).sum(), match="one number for the whole batch")
    reject(checks.kl_per_image, lambda mu, logvar: _kl(mu, logvar).mean(), match="one number for the whole batch")


def test_kl_rejects_the_wrong_axis_and_sign():
    reject(checks.kl_per_image, lambda mu, logvar: -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(0),
           match="should have shape")
    reject(checks.kl_per_image, lambda mu, logvar: -_kl(mu, logvar), match="wrong sign")


def test_kl_accepts_torch_distributions(capsys):
    def kl(mu, logvar):
        q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
        return torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)

    checks.kl_per_image(kl)
    assert "✔" in capsys.readouterr().out


# ---------------------------------------------------------------- exercise 3: negative ELBO
def test_negative_elbo_rejects_a_mean_over_pixels():
    reject(checks.negative_elbo, lambda p, x, mu, logvar: F.binary_cross_entropy(p, x) + _kl(mu, logvar).mean(),
           match="SUMMED over the 784 pixels")
    reject(checks.negative_elbo,
           lambda p, x, mu, logvar: (F.binary_cross_entropy(p, x, reduction="none").flatten(1).mean(1)
                                     + _kl(mu, logvar)).mean(),
           match="SUMMED over the 784 pixels")


def test_negative_elbo_rejects_the_wrong_sign():
    reject(checks.negative_elbo,
           lambda p, x, mu, logvar: -(F.binary_cross_entropy(p, x, reduction="sum") / len(x) + _kl(mu, logvar).mean()),
           match="NEGATIVE ELBO")


def test_negative_elbo_rejects_per_image_values_and_accepts_sum_over_n(capsys):
    reject(checks.negative_elbo,
           lambda p, x, mu, logvar: F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1) + _kl(mu, logvar),
           match="one number")
    checks.negative_elbo(lambda p, x, mu, logvar: (F.binary_cross_entropy(p, x, reduction="sum")
                                                   + _kl(mu, logvar).sum()) / len(x))
    assert "✔" in capsys.readouterr().out


# ---------------------------------------------------------------- exercise 4: IWAE bound
def test_bound_rejects_the_mean_of_log_weights():
    reject(checks.importance_weighted_bound, lambda log_w: log_w.mean(0), match="averaged the log-weights")


def test_bound_rejects_exponentiating_without_logsumexp():
    reject(checks.importance_weighted_bound, lambda log_w: torch.log(torch.exp(log_w).mean(0)),
           match="underflows.*logsumexp")


def test_bound_rejects_a_missing_log_k_and_accepts_a_hand_made_stable_version(capsys):
    reject(checks.importance_weighted_bound, lambda log_w: torch.logsumexp(log_w, 0), match=r"−log K")

    def by_hand(log_w):
        m = log_w.max(0).values
        return m + torch.log(torch.exp(log_w - m).mean(0))

    checks.importance_weighted_bound(by_hand)
    assert "✔" in capsys.readouterr().out


# ---------------------------------------------------------------- exercise 5: quantile grid
def test_grid_rejects_a_uniform_grid_in_z():
    reject(checks.quantile_grid, lambda n: torch.cartesian_prod(torch.linspace(-2, 2, n), torch.linspace(-2, 2, n)),
           match="evenly spaced in z")


def test_grid_rejects_quantiles_at_0_and_1_and_missing_pairs():
    normal = torch.distributions.Normal(0.0, 1.0)
    reject(checks.quantile_grid, lambda n: torch.cartesian_prod(*[normal.icdf(torch.linspace(0, 1, n))] * 2),
           match="infinite")
    q = lambda n: normal.icdf((torch.arange(n) + 0.5) / n)  # noqa: E731
    reject(checks.quantile_grid, lambda n: torch.stack([q(n), q(n)], 1).repeat(n, 1), match="every pair")


def test_grid_accepts_any_order(capsys):
    def grid(n):
        q = torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(n, dtype=torch.float64) + 0.5) / n)
        g = torch.stack(torch.meshgrid(q, q.flip(0), indexing="xy"), -1).reshape(-1, 2)
        return g[torch.randperm(len(g), generator=torch.Generator().manual_seed(n))]

    checks.quantile_grid(grid)
    assert "✔" in capsys.readouterr().out


def test_checks_leave_the_global_rng_alone():
    state = torch.get_rng_state()
    checks.reparameterize(lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn_like(mu))
    assert torch.equal(state, torch.get_rng_state())
    assert math.isfinite(1.0)


# ---------------------------------------------------------------- more right answers, written differently
def test_reparameterize_accepts_rsample_addcmul_and_float64(capsys):
    checks.reparameterize(lambda mu, logvar: torch.distributions.Normal(mu, (0.5 * logvar).exp()).rsample())
    checks.reparameterize(lambda mu, logvar: torch.addcmul(mu, torch.exp(0.5 * logvar), torch.randn_like(mu)))
    checks.reparameterize(lambda mu, logvar: mu.double() + torch.exp(logvar.double() / 2)
                          * torch.randn(mu.shape, dtype=torch.float64))
    checks.reparameterize(lambda mu, logvar: mu + logvar.exp() ** 0.5
                          * torch.normal(torch.zeros_like(mu), torch.ones_like(mu)))
    assert capsys.readouterr().out.count("✔") == 4


def test_kl_accepts_other_correct_forms(capsys):
    checks.kl_per_image(lambda mu, logvar: 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1))
    checks.kl_per_image(lambda mu, logvar: -0.5 * torch.sum(1 + logvar.double() - mu.double() ** 2
                                                             - logvar.double().exp(), dim=1))
    # written with the standard deviation sigma = exp(logvar / 2): -log sigma + (sigma^2 + mu^2) / 2 - 1/2
    checks.kl_per_image(lambda mu, logvar: (-torch.log((0.5 * logvar).exp()) + ((0.5 * logvar).exp() ** 2 + mu ** 2) / 2
                                            - 0.5).sum(1))
    checks.kl_per_image(lambda mu, logvar: torch.stack([
        -0.5 * sum(1 + logvar[n, j] - mu[n, j] ** 2 - torch.exp(logvar[n, j]) for j in range(mu.shape[1]))
        for n in range(len(mu))]))
    assert capsys.readouterr().out.count("✔") == 4


def test_negative_elbo_accepts_other_correct_forms(capsys):
    def bernoulli_log_prob(p, x, mu, logvar):
        log_px = torch.distributions.Bernoulli(probs=p).log_prob(x).sum((1, 2, 3))
        return -log_px.mean() - (0.5 * (1 + logvar - mu ** 2 - logvar.exp())).sum() / len(x)

    def mean_times_pixels(p, x, mu, logvar):  # mean over all entries x 784 = sum over pixels / N
        return F.binary_cross_entropy(p.double(), x.double()) * 784 + _kl(mu, logvar).mean()

    def hand_written(p, x, mu, logvar):
        recon = -(x * torch.log(p) + (1 - x) * torch.log1p(-p)).view(len(x), -1).sum(-1)
        return (recon + 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(-1)).mean()

    for fn in (bernoulli_log_prob, mean_times_pixels, hand_written):
        for seed in (0, 1, 2):
            checks.negative_elbo(fn, seed=seed)
    assert capsys.readouterr().out.count("✔") == 9


def test_bound_accepts_other_correct_forms(capsys):
    checks.importance_weighted_bound(lambda lw: torch.logsumexp(lw - math.log(len(lw)), dim=0))
    checks.importance_weighted_bound(lambda lw: lw.logsumexp(0) - torch.log(torch.tensor(float(lw.shape[0]))))
    checks.importance_weighted_bound(lambda lw: (torch.logsumexp(lw, 0, keepdim=True) - math.log(len(lw))).squeeze(0))
    checks.importance_weighted_bound(lambda lw: torch.logsumexp(lw.float(), 0) - math.log(len(lw)))
    assert capsys.readouterr().out.count("✔") == 4


def test_grid_accepts_erfinv_linspace_and_float64(capsys):
    def erfinv_grid(n):
        p = (torch.arange(n) + 0.5) / n
        q = math.sqrt(2) * torch.erfinv(2 * p - 1)
        return torch.cartesian_prod(q, q)

    def linspace_grid(n):
        q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.5 / n, 1 - 0.5 / n, n))
        a, b = torch.meshgrid(q, q, indexing="ij")
        return torch.stack([a.flatten(), b.flatten()], 1).double()

    checks.quantile_grid(erfinv_grid)
    checks.quantile_grid(linspace_grid)
    assert capsys.readouterr().out.count("✔") == 2


# ---------------------------------------------------------------- lecture 07's package pieces: bad input, clear errors
def test_iwae_pieces_reject_bad_input_clearly():
    from aelab import data, losses, models

    vae = models.VAE(784, 16, 2, input_shape=data.IMAGE_SHAPE)
    ae = models.MLPAutoencoder((784, 16, 2), input_shape=data.IMAGE_SHAPE)
    x = torch.rand(3, 1, 28, 28)
    with pytest.raises(ValueError, match=r"shape \(K, N\)"):
        losses.iwae_bound(torch.zeros(5))
    with pytest.raises(TypeError, match="float tensor"):
        losses.iwae_bound(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"returns \(mu, logvar\)"):
        losses.log_likelihood(ae, x, k=2)
    with pytest.raises(TypeError, match="seed must be an int"):
        losses.log_likelihood(vae, x, k=2, seed=None)
    with pytest.raises(ValueError, match="no images"):
        losses.log_likelihood(vae, x[:0], k=2)
    with pytest.raises(ValueError, match="k must be an int"):
        losses.log_likelihood(vae, x, k=0)


def test_widget_figures_reject_bad_input_clearly():
    import matplotlib

    matplotlib.use("Agg")
    from aelab import data, models, widgets

    vae2 = models.VAE(784, 16, 2, input_shape=data.IMAGE_SHAPE)
    codes = torch.randn(20, 2)
    with pytest.raises(ValueError, match="outside the slider range"):
        widgets.plane_figure(vae2, codes, z=(10.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        widgets.plane_figure(vae2, torch.full((4, 2), float("nan")))
    with pytest.raises(ValueError, match="non-empty sequence of finite numbers"):
        widgets.traversal_grid(vae2, values=[])
