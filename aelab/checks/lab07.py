"""Lab 07's self-checks (variational autoencoders), re-exported by :mod:`aelab.checks`.

:func:`reparameterize`, :func:`kl_per_image`, :func:`negative_elbo`, :func:`log_weights`,
:func:`importance_weighted_bound`, :func:`quantile_grid`. What a check does on success, a wrong
answer or an unfinished exercise is described in :mod:`aelab.checks._machinery`. The formulas are
Kingma & Welling (2014), eq. 10 and Appendix B, and Burda, Grosse & Salakhutdinov (2016), eq. 8.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ._machinery import (_exercise, _fail, _finite, _forbidden, _gen, _global_rng, _praise, _shape, _student, _tensor,
                         _unchanged)

__all__ = ["reparameterize", "kl_per_image", "negative_elbo", "log_weights", "importance_weighted_bound", "quantile_grid"]


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-4) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol)


#: The noise the distribution tests of :func:`reparameterize` draw: 20,000 images × 5 code units.
_NOISE_SHAPE = (20000, 5)
#: Kolmogorov's asymptotic tail ``P(√n D > t) ≈ 2 exp(−2 t²)``: ``t`` for a false alarm of 1e-6.
_KS_T = math.sqrt(math.log(2 / 1e-6) / 2)
#: |correlation| allowed between independent noise values, in standard errors ``1/√n`` (two-sided ~2e-9).
_CORRELATION_SE = 6.0


def _ks_distance(sample: torch.Tensor) -> float:
    """Kolmogorov–Smirnov distance ``sup_x |F_n(x) − Φ(x)|`` of a sample from the standard normal."""
    x, _ = torch.sort(sample.flatten().double())
    n = len(x)
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return max((i / n - cdf).max().item(), (cdf - (i - 1) / n).max().item())


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two equally long samples (NaN when one is constant)."""
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.norm() * b.norm()).item()
    return (a @ b).item() / denominator if denominator > 0 else math.nan


@_exercise("07", 1, "reparameterize")
def reparameterize(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``reparameterize(mu, logvar) -> z``: one sample of ``N(mu, diag(exp(logvar)))``, differentiable.

    Expected: ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` of ``mu``'s shape (e.g.
    ``torch.randn_like(mu)``), so that ``dz/dmu = 1`` and ``dz/dlogvar = (z - mu) / 2``.

    Inputs: ``mu`` and ``logvar`` ``(2000, 3)`` random, with ``requires_grad``, and ``(20000, 5)``
    random ones for the noise's distribution; torch's global RNG is seeded for the calls (and restored
    after). The check reads the gradients of ``z.sum()``; that the noise ``eps = (z - mu) /
    exp(logvar / 2)`` of neighbouring images and of neighbouring code units is uncorrelated (|r| below
    6 standard errors ``1/√n``); its mean 0 and standard deviation 1; that its 100,000 values follow
    N(0, 1) (Kolmogorov–Smirnov distance below the 1e-6 critical value, about 0.0085: uniform, ±1 or
    clipped noise with the right mean and variance is rejected); and that two calls give different
    samples.

    Raises
    ------
    CheckFailed
        On a wrong shape, a blocked gradient (a ``torch.normal`` sample, a detached tensor), a standard
        deviation of ``exp(logvar)``, noise shared across images or code units, noise that is not
        standard normal, a sample that is not random, or an input changed in place.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = reparameterize.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    case = "mu, logvar of shape (2000, 3)"
    mu0 = torch.randn(2000, 3, generator=g)
    logvar0 = 2 * torch.rand(2000, 3, generator=g) - 1.5  # sigma between 0.47 and 1.28: std ≠ var
    mu, logvar = mu0.clone().requires_grad_(), logvar0.clone().requires_grad_()
    big_case = f"mu, logvar of shape {_NOISE_SHAPE}"
    mu_big = torch.randn(*_NOISE_SHAPE, generator=g)
    logvar_big = 2 * torch.rand(*_NOISE_SHAPE, generator=g) - 1.5
    with _global_rng(ex, seed):
        z = _tensor(ex, call(mu, logvar, case=case), "z", case)
        z2 = call(mu0, logvar0, case=case)
        z_big = call(mu_big.clone(), logvar_big.clone(), case=big_case)
    _shape(ex, z, mu.shape, "z", case, "One sample per entry of mu: eps has mu's shape (torch.randn_like(mu)).")
    _unchanged(ex, mu0, mu.detach(), "mu", case)
    _unchanged(ex, logvar0, logvar.detach(), "logvar", case)
    _finite(ex, z, "z", case)
    blocked = ("no gradient reaches mu and logvar: the sample was drawn in a way that blocks it (torch.normal "
               "passes back zeros; .detach() or torch.no_grad() cut the graph). That is what the "
               "reparameterization trick avoids: draw eps = torch.randn_like(mu) and return mu + sigma * eps.")
    if not z.requires_grad:
        raise _fail(ex, blocked)
    z.sum().backward()
    if mu.grad is None or logvar.grad is None or (not mu.grad.any() and not logvar.grad.any()):
        raise _fail(ex, blocked)
    if not torch.allclose(mu.grad.double(), torch.ones_like(mu, dtype=torch.float64), atol=1e-5):
        raise _fail(ex, f"dz/dmu should be 1 for every entry ({case}): z = mu + sigma * eps moves one-for-one "
                        "with mu.")
    diff, grad_lv = (z - mu).detach().double(), logvar.grad.double()
    if torch.allclose(grad_lv, diff, rtol=1e-4, atol=1e-5) and not torch.allclose(diff, 0.5 * diff):
        raise _fail(ex, "your standard deviation is exp(logvar), which is the variance σ². The standard "
                        "deviation is σ = exp(logvar / 2) (logvar = log σ²).")
    z_big = _tensor(ex, z_big, "z", big_case)
    _shape(ex, z_big, mu_big.shape, "z", big_case, "One sample per entry of mu: eps has mu's shape.")
    _finite(ex, z_big, "z", big_case)
    noise = (z_big.detach().double() - mu_big.double()) / torch.exp(0.5 * logvar_big.double())   # (N, k)
    for axis, what, fix in ((0, "neighbouring images", "every image needs its own eps, not one vector of k values "
                             "broadcast over the batch (torch.randn(k))"),
                            (1, "neighbouring code units", "every code unit needs its own eps, not one value per "
                             "image broadcast over the units (torch.randn(N, 1))")):
        a, b = (noise[:-1], noise[1:]) if axis == 0 else (noise[:, :-1], noise[:, 1:])
        r = _correlation(a, b)
        if abs(r) > _CORRELATION_SE / math.sqrt(a.numel()):   # NaN (constant noise) is left to the next test
            raise _fail(ex, f"the noise of {what} is correlated on {big_case} (correlation {r:.3f}; independent "
                            f"draws stay within ±{_CORRELATION_SE / math.sqrt(a.numel()):.3f}): {fix}. Draw one "
                            "eps per entry of mu: torch.randn_like(mu).")
    eps = diff / torch.exp(0.5 * logvar0.double())
    if not (abs(eps.mean().item()) < 0.08 and abs(eps.std().item() - 1) < 0.08):
        raise _fail(ex, f"(z - mu) / exp(logvar / 2) should be standard normal noise (mean 0, std 1); yours has "
                        f"mean {eps.mean().item():.3f} and std {eps.std().item():.3f} on {case}. Use "
                        "σ = exp(logvar / 2) and eps ~ N(0, 1).")
    if not torch.allclose(grad_lv, 0.5 * diff, rtol=1e-3, atol=1e-5):
        raise _fail(ex, "dz/dlogvar should be (z - mu) / 2 = σ·eps / 2: write z = mu + exp(logvar / 2) * eps.")
    distance, critical = _ks_distance(noise), _KS_T / math.sqrt(noise.numel())
    if not distance < critical:
        raise _fail(ex, f"the noise eps = (z - mu) / exp(logvar / 2) is not standard normal on {big_case}: its "
                        f"Kolmogorov–Smirnov distance from N(0, 1) is {distance:.4f}, while {noise.numel():,} draws of "
                        f"N(0, 1) stay below {critical:.4f} (except about once in a million). A mean of 0 and a "
                        "variance of 1 are not enough: uniform noise (torch.rand), ±1 signs or clipped noise have "
                        "them too. Draw eps = torch.randn_like(mu).")
    if isinstance(z2, torch.Tensor) and z2.shape == z.shape and torch.allclose(z2.detach(), z.detach()):
        raise _fail(ex, "two calls gave the same z: eps must be drawn afresh on every call (torch.randn_like(mu)), "
                        "not fixed or zero.")
    _praise(ex, f"z = mu + exp(logvar / 2) · eps: standard normal noise (Kolmogorov–Smirnov distance {distance:.4f}), "
                "independent across images and units, and the gradients reach mu and logvar", 3)


def _kl_ref(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    mu, logvar = mu.double(), logvar.double()
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)


@_exercise("07", 2, "kl_per_image")
def kl_per_image(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``kl_per_image(mu, logvar) -> (N,)``: ``KL(N(mu, diag(exp(logvar))) || N(0, I))`` per image.

    Expected: ``-1/2 * sum_j (1 + logvar_j - mu_j**2 - exp(logvar_j))`` summed over the code units
    ``j`` (dim 1), one value per image, in nats (Kingma & Welling 2014, Appendix B).

    Inputs: ``mu = logvar = 0`` (KL 0), one image with ``k = 1``, random ``(6, 5)`` and ``(40, 20)``.
    Tolerance ``1e-4``; float32 or float64 results accepted.

    Raises
    ------
    CheckFailed
        On a wrong shape (with a hint when the batch was summed or averaged) or value (with a hint when
        the factor 1/2 is missing or the sign is flipped).
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = kl_per_image.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = [("mu = logvar = 0, shape (3, 4) (q is the prior)", torch.zeros(3, 4), torch.zeros(3, 4)),
             ("one image, k = 1: mu = [[1.0]], logvar = [[0.5]]", torch.tensor([[1.0]]), torch.tensor([[0.5]])),
             ("random mu, logvar of shape (6, 5)", torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)),
             ("random mu, logvar of shape (40, 20)", 2 * torch.randn(40, 20, generator=g),
              torch.randn(40, 20, generator=g))]
    for label, mu, logvar in cases:
        ref = _kl_ref(mu, logvar)
        m_in, l_in = mu.clone(), logvar.clone()
        out = _tensor(ex, call(m_in, l_in, case=label), "the KL", label)
        _unchanged(ex, mu, m_in, "mu", label)
        _unchanged(ex, logvar, l_in, "logvar", label)
        if out.numel() == 1 and len(ref) > 1 and (_close(out.reshape(()), ref.sum()) or _close(out.reshape(()),
                                                                                                 ref.mean())):
            raise _fail(ex, f"you returned one number for the whole batch on {label}; return one KL per image, "
                            f"shape (N,) = {tuple(ref.shape)}: sum over the code units (dim=1) only, not over the batch.")
        _shape(ex, out, ref.shape, "the KL", label, "One KL per image: sum over the code units (dim=1).")
        _finite(ex, out, "the KL", label)
        if _close(out, ref):
            continue
        if _close(out, 2 * ref):
            raise _fail(ex, f"your KL is twice the right value on {label}: the formula has a factor 1/2 in front, "
                            "-1/2 · Σ (1 + logvar − mu² − exp(logvar)).")
        if _close(out, -ref):
            raise _fail(ex, f"your KL has the wrong sign on {label}: a KL divergence is never negative.")
        raise _fail(ex, f"wrong KL on {label}: check each term of -1/2 · Σ_j (1 + logvar_j − mu_j² − exp(logvar_j)).")
    _praise(ex, "the closed-form KL per image, zero when q is the prior", len(cases))


def _bce_sum(p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    p, x = p.double(), x.double()
    return -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1)


@_exercise("07", 3, "negative_elbo")
def negative_elbo(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``negative_elbo(x_probs, x, mu, logvar) -> scalar``: the VAE loss in nats per image.

    Expected: ``mean over images of [ -log p(x|z) + KL(q(z|x) || N(0, I)) ]`` where ``-log p(x|z)``
    is the Bernoulli negative log-likelihood (binary cross-entropy) **summed over the pixels** of
    each image and the KL is summed over the code units: a positive number to minimize.

    Inputs: binary ``x`` ``(8, 1, 28, 28)`` and ``(3, 1, 28, 28)``, probabilities ``x_probs`` in
    (0.02, 0.98), ``mu``, ``logvar`` ``(N, 20)`` and ``(N, 2)``. Tolerance ``1e-4`` relative.

    Raises
    ------
    CheckFailed
        On a non-scalar result or a wrong value, with a hint when the reconstruction was averaged over
        pixels, the sign is flipped (the ELBO instead of its negative), or the loss was summed over the batch
        (N times the value per image).
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = negative_elbo.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = []
    for n, k in ((8, 20), (3, 2)):
        x = (torch.rand(n, 1, 28, 28, generator=g) < 0.3).float()
        p = 0.02 + 0.96 * torch.rand(n, 1, 28, 28, generator=g)
        cases.append((f"N={n} binary images, k={k}", p, x, torch.randn(n, k, generator=g),
                      torch.randn(n, k, generator=g) - 1))
    for label, p, x, mu, logvar in cases:
        recon, kl = _bce_sum(p, x), _kl_ref(mu, logvar)
        ref = (recon + kl).mean()
        inputs = [t.clone() for t in (p, x, mu, logvar)]
        out = _tensor(ex, call(*inputs, case=label), "the loss", label)
        for name, a, b in zip(("x_probs", "x", "mu", "logvar"), (p, x, mu, logvar), inputs):
            _unchanged(ex, a, b, name, label)
        if out.numel() != 1:
            raise _fail(ex, f"the loss should be one number (a scalar), yours has shape {tuple(out.shape)} on "
                            f"{label}: average the per-image losses over the batch.")
        out = out.reshape(())
        _finite(ex, out, "the loss", label)
        if _close(out, ref):
            continue
        if _close(out, -ref):
            raise _fail(ex, f"your value is negative on {label}: that is the ELBO itself. The loss to minimize is "
                            "the NEGATIVE ELBO, reconstruction NLL + KL, a positive number of nats.")
        n_images = len(x)
        if _close(out, n_images * ref) or _close(out, -n_images * ref):
            raise _fail(ex, f"your loss is N = {n_images} times the right value on {label}: you summed over the "
                            "batch. The unit is nats PER IMAGE: sum over pixels and code units, then take the MEAN "
                            "over images (e.g. F.binary_cross_entropy(..., reduction='sum') / N).")
        per_pixel = (recon / x[0].numel() + kl).mean()
        if _close(out, per_pixel) or _close(out, -per_pixel) or out.abs() < 0.2 * ref.abs():
            raise _fail(ex, f"your loss is far too small on {label}: the reconstruction term must be SUMMED over "
                            "the 784 pixels (nats per image), not averaged (F.binary_cross_entropy's default "
                            "reduction='mean' averages; use reduction='sum' / N or sum over dims 1..3). Averaging "
                            "weighs the KL 784 times more: a β = 784 VAE.")
        raise _fail(ex, f"wrong loss on {label}: per image, binary cross-entropy summed over pixels plus the KL "
                        "summed over code units; then the mean over images.")
    _praise(ex, "the negative ELBO in nats per image: summed over pixels and units, averaged over images", len(cases))


_LOG_2PI = math.log(2 * math.pi)


def _log_weight_parts(x, probs, z, mu, logvar):
    """The three terms of a log-weight in float64, ``(K, N)`` each: log p(x|z), log p(z), log q(z|x)."""
    x, probs, z, mu, logvar = (t.double() for t in (x, probs, z, mu, logvar))
    log_px = (x * probs.log() + (1 - x) * (1 - probs).log()).flatten(2).sum(2)               # (K, N)
    log_pz = -0.5 * (_LOG_2PI + z ** 2).sum(-1)                                              # (K, N)
    log_qz = -0.5 * (_LOG_2PI + logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)               # (K, N)
    return log_px, log_pz, log_qz


def _log_weight_shortcuts():
    from .. import losses

    return [(losses, name, f"aelab.losses.{name}") for name in
            ("log_importance_weights", "bernoulli_nll_per_image", "bce_per_image", "recon_nll_per_image",
             "vae_loss", "iwae_bound")]


@_exercise("07", 4, "log_weights")
def log_weights(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``log_weights(x, x_probs, z, mu, logvar) -> (K, N)``: the log importance weights of a Bernoulli VAE.

    Expected: ``log w[j, n] = log p(x_n | z_jn) + log p(z_jn) − log q(z_jn | x_n)`` (Burda, Grosse &
    Salakhutdinov 2016, eq. 8): the Bernoulli log-likelihood of the binary image ``x`` (``(N, 1, 28,
    28)``) under the decoder's probabilities ``x_probs`` (``(K, N, 1, 28, 28)``) **summed** over the
    784 pixels; the standard normal log-density of the sample ``z`` (``(K, N, k)``) summed over the
    ``k`` code units; minus the encoder's Gaussian log-density ``N(z; mu, diag(exp(logvar)))``
    (``mu``, ``logvar``: ``(N, k)``) summed over the units. The constants ``−½ log 2π`` per unit cancel
    between ``log p(z)`` and ``log q``, so writing both without them is accepted.
    ``torch.distributions`` (``Bernoulli``, ``Normal``) and float64 are accepted; ``aelab.losses``'
    own log-weight and Bernoulli functions raise while the function runs (this exercise writes them).

    Inputs: ``(K, N, k) = (4, 3, 2)``, ``(10, 6, 20)`` and ``(1, 2, 5)``, random binary images,
    probabilities in (0.02, 0.98), ``z = mu + σ ε``. Tolerance ``1e-3`` nats (relative ``1e-5``).

    Raises
    ------
    CheckFailed
        On a wrong shape (with a hint for ``(N, K)``) or value, with a hint for the sign of ``log q``
        flipped, ``log p(z)`` missing, the reconstruction averaged over pixels instead of summed,
        ``mu`` used in place of the sample ``z``, the ``−½ log 2π`` constants in only one of the two
        densities, or the negative log-weights (losses) returned.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = log_weights.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = []
    for k_samples, n, k in ((4, 3, 2), (10, 6, 20), (1, 2, 5)):
        x = (torch.rand(n, 1, 28, 28, generator=g) < 0.3).float()
        probs = 0.02 + 0.96 * torch.rand(k_samples, n, 1, 28, 28, generator=g)
        mu = torch.randn(n, k, generator=g)
        logvar = torch.randn(n, k, generator=g) - 1
        z = mu + torch.exp(0.5 * logvar) * torch.randn(k_samples, n, k, generator=g)
        cases.append((f"K={k_samples} samples of N={n} images, k={k} code units", x, probs, z, mu, logvar))
    shortcuts = _log_weight_shortcuts()
    reason = ("Write the three log-densities with torch (or torch.distributions): log p(x|z) + log p(z) − log q(z|x).")
    for label, x, probs, z, mu, logvar in cases:
        log_px, log_pz, log_qz = _log_weight_parts(x, probs, z, mu, logvar)
        ref = log_px + log_pz - log_qz
        inputs = [t.clone() for t in (x, probs, z, mu, logvar)]
        with _forbidden(shortcuts, reason):
            out = _tensor(ex, call(*inputs, case=label), "log_w", label)
        for name, a, b in zip(("x", "x_probs", "z", "mu", "logvar"), (x, probs, z, mu, logvar), inputs):
            _unchanged(ex, a, b, name, label)
        if out.shape == ref.T.shape and out.shape != ref.shape:
            raise _fail(ex, f"log_w should have shape (K, N) = {tuple(ref.shape)} (sample j, image n), yours has "
                            f"{tuple(out.shape)} on {label}: the samples are the first axis, as x_probs and z have them.")
        _shape(ex, out, ref.shape, "log_w", label, "One log-weight per sample and image: sum log p(x|z) over the "
               "pixels and log p(z), log q(z|x) over the code units (the last axis).")
        _finite(ex, out, "log_w", label)

        def near(candidate):
            return _close(out, candidate, rtol=1e-5, atol=1e-3)

        if near(ref):
            continue
        half_log_2pi = 0.5 * _LOG_2PI * z.shape[-1]
        hints = [
            (-ref, "you returned the NEGATIVE log-weights (a loss). A log-weight is log p(x|z) + log p(z) − "
                   "log q(z|x): a log-probability, large and negative for a digit."),
            (log_px + log_pz + log_qz, "the sign of log q(z|x) is wrong: the weight is p(x|z) p(z) / q(z|x), so "
                                       "its log SUBTRACTS the encoder's log-density."),
            (log_px - log_qz, "log p(z) is missing: the prior's standard normal log-density of the sample, "
                              "−½ Σ_j (log 2π + z_j²), belongs to the weight (p(x, z) = p(x|z) p(z))."),
            (log_px + log_pz, "log q(z|x) is missing: divide by the encoder's density — subtract "
                              "log N(z; mu, diag(exp(logvar)))."),
            (log_px / x[0].numel() + log_pz - log_qz, "log p(x|z) is averaged over the pixels: SUM it over the "
                                                      "784 pixels of each image (nats per image)."),
            (-log_px + log_pz - log_qz, "the sign of log p(x|z) is wrong: it is the Bernoulli LOG-likelihood, "
                                        "Σ_i [x_i log p_i + (1 − x_i) log(1 − p_i)], a negative number (minus the "
                                        "binary cross-entropy)."),
            (ref + half_log_2pi, "the constant −½ log 2π per code unit is in log q(z|x) but not in log p(z): it "
                                 "cancels only when both densities have it (or neither)."),
            (ref - half_log_2pi, "the constant −½ log 2π per code unit is in log p(z) but not in log q(z|x): it "
                                 "cancels only when both densities have it (or neither)."),
        ]
        for candidate, hint in hints:
            if near(candidate):
                raise _fail(ex, f"{hint} (on {label})")
        mu_k = mu.expand_as(z)
        px, pz_mu, qz_mu = _log_weight_parts(x, probs, mu_k, mu, logvar)
        if any(near(c) for c in (px + pz_mu - qz_mu, px + pz_mu - log_qz, px + log_pz - qz_mu)):
            raise _fail(ex, f"you evaluated a density at the encoder's mean mu instead of at the sample z on {label}: "
                            "the weight of sample z_j is p(x|z_j) p(z_j) / q(z_j|x), every density at z_j.")
        raise _fail(ex, f"wrong log-weights on {label}: per sample and image, log p(x|z) (Bernoulli, summed over "
                        "pixels) + log p(z) (standard normal, summed over units) − log q(z|x) (N(mu, exp(logvar)), "
                        "summed over units).")
    _praise(ex, "log p(x|z) + log p(z) − log q(z|x), summed over pixels and code units", len(cases))


@_exercise("07", 5, "importance_weighted_bound")
def importance_weighted_bound(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``importance_weighted_bound(log_w) -> (N,)``: ``log (1/K) Σ_j exp(log_w[j, n])`` per image.

    Expected: ``torch.logsumexp(log_w, dim=0) - log(K)`` for log-weights ``log_w`` of shape
    ``(K, N)`` (Burda et al. 2016, eq. 8), computed stably, image by image.

    Inputs: ``(5, 4)`` log-weights near 0; ``K = 1``; ``(50, 6)`` float32 log-weights around −120
    (an MNIST digit's are about −100 or below; ``exp`` underflows to 0 in float32 below about −103);
    ``(20, 3)`` float64 ones around −800 (``exp`` underflows in float64 too); and two batches whose
    images differ by more than 100 nats, as a trained VAE's do (lab 07's spans −318 to −50): float32
    ``(30, 5)`` at −50 … −318 and float64 ``(10, 4)`` at −40 … −900. Subtracting ONE maximum for the
    whole batch underflows for the images far below it (−inf), so only a per-image maximum passes.
    Tolerance ``1e-3`` nats.

    Raises
    ------
    CheckFailed
        On a wrong shape or value, with a hint when the log-weights were averaged (the ELBO, not the
        bound), exponentiated directly (underflow: −inf), shifted by one maximum for the whole batch,
        replaced by their maximum (max instead of logsumexp), summed or averaged over the batch, or the
        −log K is missing.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = importance_weighted_bound.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    spread32 = torch.tensor([-50.0, -120.0, -318.0, -200.0, -80.0])
    spread64 = torch.tensor([-40.0, -900.0, -300.0, -650.0], dtype=torch.float64)
    cases = [("log_w of shape (K=5, N=4) near 0", torch.randn(5, 4, generator=g)),
             ("K = 1, log_w of shape (1, 3)", torch.randn(1, 3, generator=g)),
             ("float32 log_w of shape (K=50, N=6) around -120 (an MNIST digit's)",
              -120 + 3 * torch.randn(50, 6, generator=g).clamp(-3, 3)),
             ("float64 log_w of shape (K=20, N=3) around -800",
              -800 + 2 * torch.randn(20, 3, generator=g, dtype=torch.float64)),
             ("float32 log_w of shape (K=30, N=5) whose images sit at -50, -120, -318, -200 and -80 nats "
              "(a trained VAE's images differ by hundreds of nats)",
              spread32 + 4 * torch.randn(30, 5, generator=g).clamp(-3, 3)),
             ("float64 log_w of shape (K=10, N=4) whose images sit at -40, -900, -300 and -650 nats",
              spread64 + 4 * torch.randn(10, 4, generator=g, dtype=torch.float64).clamp(-3, 3))]
    for label, log_w in cases:
        ref = torch.logsumexp(log_w.double(), 0) - math.log(len(log_w))
        lw_in = log_w.clone()
        out = _tensor(ex, call(lw_in, case=label), "the bound", label)
        _unchanged(ex, log_w, lw_in, "log_w", label)
        if out.numel() == 1 and len(ref) > 1 and (_close(out.reshape(()), ref.sum(), rtol=1e-5, atol=1e-3)
                                                  or _close(out.reshape(()), ref.mean(), rtol=1e-5, atol=1e-3)):
            raise _fail(ex, f"you returned one number for the whole batch on {label} (the sum or mean of the "
                            f"bounds): return one bound per image, shape (N,) = {tuple(ref.shape)}, reducing over "
                            "the K samples (dim 0) only.")
        _shape(ex, out, ref.shape, "the bound", label, "One bound per image: reduce over the K samples (dim 0).")
        finite = torch.isfinite(out)
        if not finite.all():
            if finite.any() and torch.isfinite(ref).all():
                raise _fail(ex, f"your bound is -inf or NaN for some images of {label} but not for others: you "
                                "subtracted ONE maximum for the whole batch (log_w.max()), and the images whose "
                                "log-weights lie hundreds of nats below it underflow to exp(...) = 0. Subtract each "
                                "image's own maximum over its K samples (log_w.max(dim=0)), or use "
                                "torch.logsumexp(log_w, dim=0).")
            raise _fail(ex, f"your bound is -inf or NaN on {label}: exp(log_w) underflows to 0 (exp(-120) is "
                            "below float32's range, exp(-800) below float64's). Never exponentiate log-weights directly: use "
                            "torch.logsumexp(log_w, dim=0) - log K, which subtracts the maximum first.")
        if _close(out, ref, rtol=1e-5, atol=1e-3):
            continue
        if _close(out, log_w.double().mean(0), rtol=1e-5, atol=1e-3):
            raise _fail(ex, f"you averaged the log-weights on {label}: that is the ELBO estimate, the bound for "
                            "K = 1. The K-sample bound averages the WEIGHTS and then takes the log: "
                            "log (1/K) Σ exp(log_w) (log-mean-exp, computed with logsumexp).")
        top = log_w.double().max(0).values
        if _close(out, top, rtol=1e-5, atol=1e-3) or _close(out, top - math.log(len(log_w)), rtol=1e-5, atol=1e-3):
            raise _fail(ex, f"your bound is the largest log-weight of each image on {label}: max is not logsumexp. "
                            "log Σ_j exp(a_j) = m + log Σ_j exp(a_j − m) with m = max_j a_j: the second term (between "
                            "0 and log K) is the sum over ALL samples; dropping it keeps only the best sample.")
        if _close(out, ref + math.log(len(log_w)), rtol=1e-5, atol=1e-3):
            raise _fail(ex, f"your bound is log K too high on {label}: it is log (1/K) Σ_j exp(log_w[j]) — the "
                            "mean of the weights, not their sum: subtract log K.")
        raise _fail(ex, f"wrong bound on {label}: it is log (1/K) Σ_j exp(log_w[j]) per image, computed with "
                        "torch.logsumexp over the K samples (dim 0) minus log K.")
    _praise(ex, "the K-sample bound with logsumexp, per image, stable at log-weights of −900", len(cases))


@_exercise("07", 6, "quantile_grid")
def quantile_grid(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``quantile_grid(n) -> (n*n, 2)``: the 2-D codes of an n×n grid of standard-normal quantiles.

    Expected: every pair ``(q_i, q_j)``, ``i, j = 0..n-1``, with ``q_i = Φ⁻¹((i + 1/2) / n)``
    (``torch.distributions.Normal(0, 1).icdf``), in any order; float tensor.

    Inputs: ``n = 1, 2, 5, 15`` (``seed`` does not change them: the grid is deterministic).
    Tolerance ``1e-4``.

    Raises
    ------
    CheckFailed
        On a wrong shape, infinite codes (quantiles at 0 or 1) or values, with a hint when the grid is
        evenly spaced in z instead of in probability, or a pair is missing or repeated.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = quantile_grid.exercise
    call = _student(ex, student_fn)
    _gen(ex, seed)  # validates seed
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    for n in (5, 15, 2, 1):
        label = f"n = {n}"
        q = normal.icdf((torch.arange(n, dtype=torch.float64) + 0.5) / n)
        ref = torch.cartesian_prod(q, q).reshape(n * n, 2)
        out = _tensor(ex, call(n, case=label), "the grid", label)
        _shape(ex, out, ref.shape, "the grid", label, "One row per grid point, two columns (z[0], z[1]).")
        if not torch.isfinite(out).all():
            raise _fail(ex, f"your grid has infinite codes on {label}: Φ⁻¹(0) = −∞ and Φ⁻¹(1) = +∞. Use the "
                            "cell centers (i + 1/2) / n as probabilities, not 0..1 inclusive.")

        def canon(t):
            t = t.double()
            t = t[torch.argsort(t[:, 1], stable=True)]
            return t[torch.argsort(t[:, 0], stable=True)]

        if _close(canon(out), canon(ref), rtol=1e-4, atol=1e-4):
            continue
        vals = torch.unique(out.double().flatten().round(decimals=5))
        if n > 2 and len(vals) == n and torch.allclose(torch.diff(vals), torch.diff(vals)[:1].expand(n - 1), atol=1e-4):
            raise _fail(ex, f"your grid is evenly spaced in z on {label}. The prior's quantiles are evenly spaced in "
                            "PROBABILITY: q_i = Φ⁻¹((i + 1/2) / n) with torch.distributions.Normal(0, 1).icdf, so "
                            "each cell holds the same prior mass and the points crowd near 0.")
        raise _fail(ex, f"wrong grid on {label}: it should hold every pair (q_i, q_j) exactly once, "
                        "q_i = Φ⁻¹((i + 1/2) / n).")
    _praise(ex, "every pair of standard-normal quantiles at the cell centers", 4)
