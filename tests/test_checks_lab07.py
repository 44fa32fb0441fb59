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
    reject(checks.reparameterize, lambda mu, logvar: mu + torch.exp(0.5 * logvar)
           * torch.randn(mu.shape, generator=torch.Generator().manual_seed(0)), match="two calls")
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
    reject(checks.importance_weighted_bound, lambda log_w: torch.logsumexp(log_w, 0), match=r"log K too high")

    def by_hand(log_w):
        m = log_w.max(0).values
        return m + torch.log(torch.exp(log_w - m).mean(0))

    checks.importance_weighted_bound(by_hand)
    assert "✔" in capsys.readouterr().out


# ---------------------------------------------------------------- issue 21.9: the noise's distribution
def _sigma(logvar):
    return torch.exp(0.5 * logvar)


@pytest.mark.parametrize("noise, match", [
    # right mean and variance, wrong distribution: the Kolmogorov-Smirnov test rejects them
    (lambda mu: (torch.rand_like(mu) - 0.5) * math.sqrt(12), "not standard normal"),                  # uniform
    (lambda mu: torch.randint(0, 2, mu.shape).to(mu.dtype) * 2 - 1, "not standard normal"),           # ±1 signs
    (lambda mu: torch.randn_like(mu).clamp(-2, 2), "not standard normal"),                            # clipped
    (lambda mu: torch.distributions.Laplace(0.0, 1 / math.sqrt(2)).sample(mu.shape), "not standard normal"),
    (lambda mu: torch.distributions.StudentT(4.0).sample(mu.shape) / math.sqrt(2), "not standard normal"),
    (lambda mu: torch.randn_like(mu).abs() * (torch.rand_like(mu) < 0.6).to(mu.dtype).mul(2).sub(1),
     "should be standard normal noise"),                                                   # skewed: mean 0.16
    (lambda mu: torch.where(torch.rand_like(mu) < 0.5, torch.randn_like(mu) * 0.5,
                            torch.randn_like(mu) * math.sqrt(1.75)), "not standard normal"),        # scale mixture
    # noise shared across images or code units
    (lambda mu: torch.randn(mu.shape[1]).expand_as(mu), "neighbouring images"),
    (lambda mu: torch.randn(len(mu), 1).expand_as(mu), "neighbouring code units"),
    (lambda mu: torch.randn(len(mu) // 2 + 1, mu.shape[1]).repeat_interleave(2, 0)[:len(mu)],
     "neighbouring images"),                                                                            # pairs share
    (lambda mu: torch.cumsum(torch.randn_like(mu), 0) / torch.arange(1, len(mu) + 1)[:, None].sqrt(),
     "neighbouring images"),                                                                            # a random walk
    (lambda mu: torch.randn_like(mu).sort(dim=1).values, "is correlated"),                             # sorted per image
])
def test_reparameterize_rejects_noise_of_the_wrong_distribution(noise, match):
    reject(checks.reparameterize, lambda mu, logvar: mu + _sigma(logvar) * noise(mu), match=match)


def test_reparameterize_accepts_standard_normal_noise_drawn_many_ways(capsys):
    for fn in (lambda mu, logvar: mu + _sigma(logvar) * torch.distributions.Normal(0.0, 1.0).sample(mu.shape),
               lambda mu, logvar: torch.distributions.Normal(mu.double(), _sigma(logvar.double())).rsample(),
               lambda mu, logvar: mu + _sigma(logvar) * torch.randn(mu.shape[::-1]).T,
               lambda mu, logvar: mu + _sigma(logvar) * torch.randn(mu.numel()).view_as(mu),
               lambda mu, logvar: mu + _sigma(logvar) * (torch.erfinv(2 * torch.rand_like(mu).clamp(1e-7, 1 - 1e-7) - 1)
                                                         * math.sqrt(2))):
        for seed in (0, 3):
            checks.reparameterize(fn, seed=seed)
    assert capsys.readouterr().out.count("✔") == 10


def test_reparameterize_passes_the_reference_under_many_seeds(capsys):
    for seed in range(25):
        checks.reparameterize(lambda mu, logvar: mu + _sigma(logvar) * torch.randn_like(mu), seed=seed)
    assert capsys.readouterr().out.count("✔") == 25


# ---------------------------------------------------------------- issue 21.8: the batch-sum ELBO hint
def _bce_sum(p, x):
    return F.binary_cross_entropy(p, x, reduction="none").flatten(1).sum(1)


@pytest.mark.parametrize("fn, match", [
    (lambda p, x, mu, logvar: F.binary_cross_entropy(p, x, reduction="sum") + _kl(mu, logvar).sum(), "N = 8 times"),
    (lambda p, x, mu, logvar: (_bce_sum(p, x) + _kl(mu, logvar)).sum(), "summed over the batch"),
    (lambda p, x, mu, logvar: -(_bce_sum(p, x) + _kl(mu, logvar)).sum(), "summed over the batch"),
    (lambda p, x, mu, logvar: (_bce_sum(p, x) - _kl(mu, logvar)).mean(), "wrong loss"),
    (lambda p, x, mu, logvar: _bce_sum(p, x).mean(), "wrong loss"),
    (lambda p, x, mu, logvar: (_bce_sum(p, x) + 0.5 * _kl(mu, logvar)).mean(), "wrong loss"),
    (lambda p, x, mu, logvar: (_bce_sum(x, p.round()) if False else _bce_sum(p, x) + _kl(mu, logvar)).median(),
     "wrong loss"),
    (lambda p, x, mu, logvar: (_bce_sum(p, x) + _kl(mu, logvar).mean()).mean() + _kl(mu, logvar).mean(), "wrong loss"),
    (lambda p, x, mu, logvar: F.binary_cross_entropy(p, x, reduction="sum") / x.numel() + _kl(mu, logvar).mean(),
     "SUMMED over the 784 pixels"),
    (lambda p, x, mu, logvar: (_bce_sum(p, x) + _kl(mu, logvar)).mean(0, keepdim=True).expand(2),
     "one number"),
])
def test_negative_elbo_rejects_more_wrong_answers(fn, match):
    reject(checks.negative_elbo, fn, match=match)


def test_negative_elbo_accepts_more_right_answers(capsys):
    def dist(p, x, mu, logvar):
        q = torch.distributions.Normal(mu, _sigma(logvar))
        kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
        return (-torch.distributions.Bernoulli(probs=p).log_prob(x).flatten(1).sum(1) + kl).mean()

    def logits(p, x, mu, logvar):
        return (F.binary_cross_entropy_with_logits(torch.logit(p), x, reduction="none").sum((1, 2, 3))
                + _kl(mu, logvar)).mean()

    fns = (dist, logits,
           lambda p, x, mu, logvar: ((_bce_sum(p.double(), x.double()) + _kl(mu.double(), logvar.double())).sum()
                                     / len(x)),
           lambda p, x, mu, logvar: torch.mean(_bce_sum(p, x)) + torch.mean(_kl(mu, logvar)),
           lambda p, x, mu, logvar: (_bce_sum(p, x) + _kl(mu, logvar)).mean().reshape(1))
    for fn in fns:
        checks.negative_elbo(fn)
    assert capsys.readouterr().out.count("✔") == 5


# ---------------------------------------------------------------- issue 21.8: one maximum per image
def _global_max(log_w):
    m = log_w.max()
    return m + torch.log(torch.exp(log_w - m).mean(0))


@pytest.mark.parametrize("fn, match", [
    (_global_max, "ONE maximum for the whole batch"),
    (lambda lw: lw.max() + torch.log(torch.exp(lw - lw.max()).sum(0)) - math.log(len(lw)),
     "ONE maximum for the whole batch"),
    (lambda lw: lw.max(0).values, "max is not logsumexp"),
    (lambda lw: lw.max(0).values - math.log(len(lw)), "max is not logsumexp"),
    (lambda lw: torch.logsumexp(lw, 0).sub(math.log(len(lw))).sum(), "one number for the whole batch"),
    (lambda lw: torch.logsumexp(lw, 0).sub(math.log(len(lw))).mean(), "one number for the whole batch"),
    (lambda lw: lw.mean(0) - math.log(len(lw)), "wrong bound"),
    (lambda lw: torch.logsumexp(lw, 1)[: lw.shape[1]] if lw.shape[0] >= lw.shape[1] else torch.logsumexp(lw, 0) * 2,
     "wrong bound|should have shape"),
    (lambda lw: torch.logsumexp(lw, 0) / len(lw), "wrong bound|log K too high"),
    (lambda lw: torch.log(torch.exp(lw.double()).mean(0)), "underflows"),
    (lambda lw: torch.logsumexp(lw, 0) - math.log(len(lw)) + 1e-2 * lw.std(0).nan_to_num(), "wrong bound"),
    (lambda lw: torch.logsumexp(lw.T, 0), "should have shape"),
])
def test_bound_rejects_more_wrong_answers(fn, match):
    reject(checks.importance_weighted_bound, fn, match=match)


def test_bound_accepts_more_right_answers(capsys):
    def per_image_max(lw):
        m = lw.max(dim=0, keepdim=True).values
        return (m + (lw - m).exp().mean(0, keepdim=True).log()).squeeze(0)

    def loop(lw):
        return torch.stack([torch.logsumexp(lw[:, n], 0) for n in range(lw.shape[1])]) - math.log(lw.shape[0])

    def numpy_scipy(lw):
        from scipy.special import logsumexp

        return torch.as_tensor(logsumexp(lw.numpy(), axis=0) - math.log(len(lw)))

    def distribution(lw):  # log of the mean of a categorical mixture's weights
        return torch.distributions.Categorical(logits=lw.T.double()).logits.exp().mul(0) + torch.logsumexp(
            lw.double(), 0)[:, None] - math.log(len(lw))

    fns = (per_image_max, loop, numpy_scipy, lambda lw: torch.logsumexp(lw.double(), 0) - math.log(len(lw)),
           lambda lw: torch.special.logsumexp(lw, 0) - torch.tensor(len(lw), dtype=lw.dtype).log())
    for fn in fns:
        for seed in (0, 1, 2):
            checks.importance_weighted_bound(fn, seed=seed)
    assert capsys.readouterr().out.count("✔") == 15
    del distribution


# ---------------------------------------------------------------- issue 21.10: the log importance weights
LOG_2PI = math.log(2 * math.pi)


def _log_px(x, p):
    return (x * p.log() + (1 - x) * (1 - p).log()).flatten(2).sum(2)


def _log_pz(z):
    return -0.5 * (LOG_2PI + z ** 2).sum(-1)


def _log_qz(z, mu, logvar):
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)


def reference_log_weights(x, p, z, mu, logvar):
    return _log_px(x, p) + _log_pz(z) - _log_qz(z, mu, logvar)


def test_log_weights_passes_the_reference_under_many_seeds(capsys):
    for seed in range(30):
        checks.log_weights(reference_log_weights, seed=seed)
    assert capsys.readouterr().out.count("✔") == 30


@pytest.mark.parametrize("fn, match", [
    (lambda x, p, z, mu, lv: _log_px(x, p) + _log_pz(z) + _log_qz(z, mu, lv), "sign of log q"),
    (lambda x, p, z, mu, lv: _log_px(x, p) - _log_qz(z, mu, lv), "log p\(z\) is missing"),
    (lambda x, p, z, mu, lv: _log_px(x, p) / 784 + _log_pz(z) - _log_qz(z, mu, lv), "averaged over the pixels"),
    (lambda x, p, z, mu, lv: _log_px(x, p) + _log_pz(mu.expand_as(z)) - _log_qz(mu.expand_as(z), mu, lv),
     "mean mu instead of at the sample z"),
    (lambda x, p, z, mu, lv: _log_px(x, p) + _log_pz(mu.expand_as(z)) - _log_qz(z, mu, lv),
     "mean mu instead of at the sample z"),
    (lambda x, p, z, mu, lv: -reference_log_weights(x, p, z, mu, lv), "NEGATIVE log-weights"),
    (lambda x, p, z, mu, lv: _log_px(x, p) + _log_pz(z), "log q\(z\|x\) is missing"),
    (lambda x, p, z, mu, lv: -_log_px(x, p) + _log_pz(z) - _log_qz(z, mu, lv), "sign of log p\(x\|z\)"),
    (lambda x, p, z, mu, lv: _log_px(x, p) - 0.5 * (z ** 2).sum(-1) - _log_qz(z, mu, lv), "−½ log 2π"),
    (lambda x, p, z, mu, lv: reference_log_weights(x, p, z, mu, lv).T, "\(sample j, image n\)"),
    (lambda x, p, z, mu, lv: _log_px(x, p) + _log_pz(z)
     + 0.5 * (LOG_2PI + lv + (z - mu) ** 2 / lv.exp().sqrt()).sum(-1), "wrong log-weights"),      # σ for σ²
    (lambda x, p, z, mu, lv: reference_log_weights(x, p, z, mu, lv).sum(0), "should have shape"),
    (lambda x, p, z, mu, lv: _log_px(x, p)[..., None] - 0.5 * (LOG_2PI + z ** 2)
     + 0.5 * (LOG_2PI + lv + (z - mu) ** 2 / lv.exp()), "should have shape"),                     # not summed over units
])
def test_log_weights_rejects_each_wrong_answer_with_its_hint(fn, match):
    reject(checks.log_weights, fn, match=match)


def test_log_weights_forbids_the_package_functions():
    from aelab import losses

    def with_package(x, p, z, mu, lv):
        return -losses.bernoulli_nll_per_image(p.flatten(0, 1), x.expand_as(p).flatten(0, 1), reduction="none").view(
            z.shape[:2]) + _log_pz(z) - _log_qz(z, mu, lv)

    reject(checks.log_weights, with_package, match="aelab.losses.bernoulli_nll_per_image")


def test_log_weights_accepts_other_correct_forms(capsys):
    D = torch.distributions

    def dists(x, p, z, mu, lv):
        log_px = D.Bernoulli(probs=p).log_prob(x.expand_as(p)).flatten(2).sum(-1)
        return log_px + D.Normal(0.0, 1.0).log_prob(z).sum(-1) - D.Normal(mu, (0.5 * lv).exp()).log_prob(z).sum(-1)

    def independent(x, p, z, mu, lv):
        prior = D.Independent(D.Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
        q = D.Independent(D.Normal(mu, lv.mul(0.5).exp()), 1)
        return D.Independent(D.Bernoulli(probs=p), 3).log_prob(x) + prior.log_prob(z) - q.log_prob(z)

    def no_constants(x, p, z, mu, lv):  # -½ log 2π cancels between log p(z) and log q(z|x)
        return (-F.binary_cross_entropy(p, x.expand_as(p), reduction="none").flatten(2).sum(2)
                - 0.5 * (z ** 2).sum(-1) + 0.5 * (lv + (z - mu) ** 2 * torch.exp(-lv)).sum(-1))

    def float64(x, p, z, mu, lv):
        return reference_log_weights(x.double(), p.double(), z.double(), mu.double(), lv.double())

    def with_eps(x, p, z, mu, lv):  # log q written with eps = (z − mu) / σ
        eps = (z - mu) / torch.exp(0.5 * lv)
        return _log_px(x, p) + _log_pz(z) + 0.5 * (LOG_2PI + lv + eps ** 2).sum(-1)

    for fn in (dists, independent, no_constants, float64, with_eps):
        for seed in (0, 1):
            checks.log_weights(fn, seed=seed)
    assert capsys.readouterr().out.count("✔") == 10


# ---------------------------------------------------------------- exercise 6: quantile grid
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
    with pytest.raises(ValueError, match="k must be"):
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
