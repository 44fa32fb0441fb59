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
