"""Lab 03's checks reject each plausible wrong answer with the hint meant for it (and accept variants)."""

import pytest
import torch

from aelab import checks
from aelab.checks import CheckFailed


# --- exercise 1: corruption ------------------------------------------------------------------

def good_mask(x, p, generator=None):
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return torch.where(u < p, torch.zeros_like(x), x)


def good_sp(x, p, generator=None):
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    coin = torch.rand(x.shape, generator=generator, dtype=x.dtype) < 0.5
    return torch.where(u < p, coin.to(x.dtype), x)


def mask_in_place(x, p, generator=None):
    x[torch.rand(x.shape, generator=generator) < p] = 0
    return x


def sp_in_place(x, p, generator=None):
    u = torch.rand(x.shape, generator=generator)
    coin = (torch.rand(x.shape, generator=generator) < 0.5).to(x.dtype)
    x[u < p] = coin[u < p]
    return x


def mask_keeps_with_p(x, p, generator=None):  # fraction 1 - p
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return torch.where(u < p, x, torch.zeros_like(x))


def sp_twice_p(x, p, generator=None):  # salt with prob p and pepper with prob p: fraction ~2p
    salt = torch.rand(x.shape, generator=generator) < p
    pepper = torch.rand(x.shape, generator=generator) < p
    out = torch.where(salt, torch.ones_like(x), x)
    return torch.where(pepper & ~salt, torch.zeros_like(x), out)


def sp_half_p(x, p, generator=None):  # fraction p/2
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return torch.where(u < p / 2, torch.ones_like(x), x)


def sp_minus_one(x, p, generator=None):  # pepper = -1: outside [0, 1]
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    coin = (torch.rand(x.shape, generator=generator, dtype=x.dtype) < 0.5).to(x.dtype) * 2 - 1
    return torch.where(u < p, coin, x)


def mask_plus_noise(x, p, generator=None):  # adds Gaussian noise on top: values leave [0, 1]
    u = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    return torch.where(u < p, torch.zeros_like(x), x) + 0.3 * torch.randn(x.shape, generator=generator)


def sp_unseeded(x, p, generator=None):  # ignores the generator
    u = torch.rand(x.shape, dtype=x.dtype)
    coin = torch.rand(x.shape, dtype=x.dtype) < 0.5
    return torch.where(u < p, coin.to(x.dtype), x)


def mask_float64(x, p, generator=None):
    return good_mask(x, p, generator).double()


@pytest.mark.parametrize("mask, sp, hint", [
    (mask_in_place, good_sp, "in place"),
    (good_mask, sp_in_place, "in place"),
    (mask_keeps_with_p, good_sp, "1 − p"),
    (good_mask, sp_twice_p, "about twice p"),
    (good_mask, sp_half_p, "half of p"),
    (good_mask, sp_minus_one, r"outside \[0, 1\]"),
    (mask_plus_noise, good_sp, r"outside \[0, 1\]"),
    (good_mask, sp_unseeded, "same generator seed"),
    (mask_float64, good_sp, "dtype"),
])
def test_corruptions_rejects_each_mistake(mask, sp, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.corruptions(mask, sp)


def test_corruptions_accepts_other_correct_forms(capsys):
    def mask_bernoulli(x, p, generator=None):
        keep = torch.bernoulli(torch.full_like(x, 1 - p), generator=generator)
        return x * keep

    def sp_clone(x, p, generator=None):
        out = x.clone()
        u = torch.rand(x.shape, generator=generator)
        coin = torch.randint(0, 2, x.shape, generator=generator).to(x.dtype)
        out[u < p] = coin[u < p]
        return out

    for seed in range(5):
        checks.corruptions(mask_bernoulli, sp_clone, seed=seed)


# --- exercise 2: the denoising step ------------------------------------------------------------

def step_right(model, optimizer, x, corrupt):
    x_tilde = corrupt(x)
    loss = (model(x_tilde) - x).pow(2).flatten(1).sum(1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def step_clean_input(model, optimizer, x, corrupt):
    loss = (model(x) - x).pow(2).flatten(1).sum(1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def step_clean_input_but_corrupt_called(model, optimizer, x, corrupt):
    corrupt(x)
    return step_clean_input(model, optimizer, x, corrupt)


def step_noisy_target(model, optimizer, x, corrupt):
    x_tilde = corrupt(x)
    loss = (model(x_tilde) - x_tilde).pow(2).flatten(1).sum(1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def step_mse(model, optimizer, x, corrupt):
    x_tilde = corrupt(x)
    loss = torch.nn.functional.mse_loss(model(x_tilde), x)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss


def step_no_update(model, optimizer, x, corrupt):
    x_tilde = corrupt(x)
    return (model(x_tilde) - x).pow(2).flatten(1).sum(1).mean()


@pytest.mark.parametrize("student, hint", [
    (step_clean_input, "CLEAN x"),
    (step_clean_input_but_corrupt_called, "CLEAN x"),
    (step_noisy_target, "NOISY x_tilde"),
    (step_mse, "mean over all values"),
    (step_no_update, "did not change"),
])
def test_denoising_step_rejects_each_mistake(student, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.denoising_step(student)


def test_denoising_step_accepts_correct_variants(capsys):
    def step_sum_over_n(model, optimizer, x, corrupt):  # sum / N == mean over the batch
        x_tilde = corrupt(x)
        loss = (model(x_tilde) - x).pow(2).sum() / len(x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()

    for seed in range(5):
        checks.denoising_step(step_right, seed=seed)
        checks.denoising_step(step_sum_over_n, seed=seed)


# --- exercise 3: KL sparsity ---------------------------------------------------------------------

def kl_right(h, rho):
    r = h.mean(0)
    return (rho * torch.log(rho / r) + (1 - rho) * torch.log((1 - rho) / (1 - r))).sum()


def kl_swapped(h, rho):
    r = h.mean(0)
    return (r * torch.log(r / rho) + (1 - r) * torch.log((1 - r) / (1 - rho))).sum()


def kl_mean_units(h, rho):
    return kl_right(h, rho) / h.shape[1]


def kl_per_example(h, rho):
    return (rho * torch.log(rho / h) + (1 - rho) * torch.log((1 - rho) / (1 - h))).sum(1).mean()


def kl_per_unit_vector(h, rho):
    r = h.mean(0)
    return rho * torch.log(rho / r) + (1 - rho) * torch.log((1 - rho) / (1 - r))


@pytest.mark.parametrize("student, hint", [
    (kl_swapped, "swapped"),
    (kl_mean_units, "averaged over the"),
    (kl_per_example, "each example"),
    (kl_per_unit_vector, "one number"),
])
def test_kl_sparsity_rejects_each_mistake(student, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.kl_sparsity_penalty(student)


def test_kl_sparsity_accepts_torch_distributions(capsys):
    def kl_dist(h, rho):
        target = torch.distributions.Bernoulli(probs=torch.tensor(rho, dtype=h.dtype))
        return torch.distributions.kl_divergence(target, torch.distributions.Bernoulli(probs=h.mean(0))).sum()

    for seed in range(5):
        checks.kl_sparsity_penalty(kl_dist, seed=seed)
        checks.kl_sparsity_penalty(lambda h, rho: kl_right(h.double(), rho), seed=seed)  # float64 is fine


# --- exercise 4: contractive closed form ---------------------------------------------------------

def cae_right(h, W):
    return ((h * (1 - h)).pow(2) @ W.pow(2).sum(1)).mean()


def cae_no_square(h, W):
    return ((h * (1 - h)) @ W.pow(2).sum(1)).mean()


def cae_transposed(h, W):
    return ((h * (1 - h)).pow(2) @ W.pow(2).sum(0)).mean()


def cae_summed_batch(h, W):
    return ((h * (1 - h)).pow(2) @ W.pow(2).sum(1)).sum()


@pytest.mark.parametrize("student, hint", [
    (cae_no_square, "square on"),
    (cae_transposed, "transposed"),
    (cae_summed_batch, "summed over the"),
])
def test_contractive_rejects_each_mistake(student, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.contractive_closed_form(student)


def test_contractive_accepts_einsum_and_loops(capsys):
    def cae_einsum(h, W):
        return torch.einsum("nj,ji->n", (h * (1 - h)) ** 2, W ** 2).mean()

    def cae_loop(h, W):
        total = 0.0
        for n in range(h.shape[0]):
            for j in range(h.shape[1]):
                total = total + (h[n, j] * (1 - h[n, j])) ** 2 * (W[j] ** 2).sum()
        return total / h.shape[0]

    for seed in range(3):
        checks.contractive_closed_form(cae_einsum, seed=seed)
        checks.contractive_closed_form(cae_loop, seed=seed)


# --- exercise 5: vector field --------------------------------------------------------------------

def field_right(model, grid):
    with torch.no_grad():
        return model(grid) - grid


def field_reversed(model, grid):
    with torch.no_grad():
        return grid - model(grid)


def field_r_only(model, grid):
    with torch.no_grad():
        return model(grid)


def field_with_graph(model, grid):
    return model(grid) - grid


@pytest.mark.parametrize("student, hint", [
    (field_reversed, "x − r\\(x\\)"),
    (field_r_only, "r\\(x\\) itself"),
    (field_with_graph, "requires grad"),
])
def test_vector_field_rejects_each_mistake(student, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.dae_vector_field(student)


def test_vector_field_accepts_detach(capsys):
    for seed in range(5):
        checks.dae_vector_field(field_right, seed=seed)
        checks.dae_vector_field(lambda m, g: (m(g) - g).detach(), seed=seed)


def test_unfinished_exercises_say_so():
    def todo(*args, **kwargs):
        raise NotImplementedError()

    for check, args in [(checks.corruptions, (todo, todo)), (checks.denoising_step, (todo,)),
                        (checks.kl_sparsity_penalty, (todo,)), (checks.contractive_closed_form, (todo,)),
                        (checks.dae_vector_field, (todo,))]:
        with pytest.raises(checks.ExerciseNotDone, match="not done yet"):
            check(*args)


# --- more correct answers that must pass (review r03) -----------------------------------------------

def _mask_float64_draws(x, p, generator=None):  # draws in float64, torch.where with a Python scalar
    u = torch.rand(x.shape, generator=generator, dtype=torch.float64)
    return torch.where(u < p, 0.0, x)


def _mask_multiply(x, p, generator=None):  # multiplies by a boolean keep-mask
    return x * (torch.rand(x.shape, generator=generator) >= p)


def _mask_fill(x, p, generator=None):
    return x.masked_fill(torch.rand(x.shape, generator=generator) < p, 0)


def _sp_one_uniform(x, p, generator=None):  # one uniform decides both: u < p/2 salt, p/2 <= u < p pepper
    u = torch.rand(x.shape, generator=generator)
    return torch.where(u < p / 2, 1.0, torch.where(u < p, 0.0, x))


def _sp_bernoulli(x, p, generator=None):
    corrupt = torch.bernoulli(torch.full_like(x, p), generator=generator).bool()
    return torch.where(corrupt, torch.bernoulli(torch.full_like(x, 0.5), generator=generator), x)


def _sp_coin_first_le(x, p, generator=None):  # the coin drawn first, u <= p
    coin = torch.randint(0, 2, x.shape, generator=generator, dtype=x.dtype)
    u = torch.rand(x.shape, generator=generator)
    return torch.where(u <= p, coin, x)


@pytest.mark.parametrize("mask, sp", [(_mask_float64_draws, _sp_one_uniform), (_mask_multiply, _sp_bernoulli),
                                      (_mask_fill, _sp_coin_first_le)])
def test_corruptions_accepts_more_correct_forms(mask, sp, capsys):
    for seed in range(4):
        checks.corruptions(mask, sp, seed=seed)
    from aelab import data
    checks.corruptions(data.masking_noise, data.salt_and_pepper)   # the package's own versions


def test_denoising_step_accepts_mse_sum_float64_loop_and_numpy_scalar(capsys):
    import numpy as np
    import torch.nn.functional as F

    def make(loss_fn, ret=lambda loss: loss):
        def step(model, optimizer, x, corrupt):
            x_tilde = corrupt(x)
            loss = loss_fn(model(x_tilde), x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return ret(loss)
        return step

    def loop_loss(x_hat, x):
        return sum(((x_hat[i] - x[i]) ** 2).sum() for i in range(len(x))) / len(x)

    variants = [make(lambda a, b: F.mse_loss(a, b, reduction="sum") / len(b)),
                make(lambda a, b: F.mse_loss(a, b) * b[0].numel()),
                make(lambda a, b: (a.double() - b.double()).pow(2).sum(1).mean()),
                make(loop_loss),
                make(lambda a, b: (a - b).pow(2).sum(-1).mean(), lambda loss: np.float32(loss.item())),
                make(lambda a, b: (a - b).pow(2).sum(-1).mean(), lambda loss: loss.reshape(1).detach())]
    for seed in range(3):
        for step in variants:
            checks.denoising_step(step, seed=seed)


def test_kl_sparsity_accepts_logs_written_apart(capsys):
    import math

    def kl_log_difference(h, rho):   # float32 rounding differs from log(ρ/ρ̂) where ρ̂ = ρ
        r = h.mean(0)
        return (rho * (math.log(rho) - torch.log(r)) + (1 - rho) * (math.log(1 - rho) - torch.log(1 - r))).sum()

    def kl_xlogy_log1p(h, rho):
        r, t = h.mean(0), torch.tensor(rho)
        return (torch.xlogy(t, t) - rho * torch.log(r) + torch.xlogy(1 - t, 1 - t) - (1 - rho) * torch.log1p(-r)).sum()

    def kl_loop(h, rho):
        total = 0
        for j in range(h.shape[1]):
            r = h[:, j].sum() / h.shape[0]
            total = total + rho * torch.log(rho / r) + (1 - rho) * torch.log((1 - rho) / (1 - r))
        return total

    for seed in range(5):
        for fn in (kl_log_difference, kl_xlogy_log1p, kl_loop):
            checks.kl_sparsity_penalty(fn, seed=seed)


def test_kl_sparsity_rejects_a_python_float_with_its_hint():
    with pytest.raises(CheckFailed, match="not a Python number"):
        checks.kl_sparsity_penalty(lambda h, rho: kl_right(h, rho).item())


def test_contractive_accepts_jacobian_broadcast_and_float64(capsys):
    def cae_full_jacobian(h, W):
        return ((h * (1 - h))[:, :, None] * W[None]).pow(2).sum((1, 2)).mean()

    def cae_broadcast(h, W):
        return ((h * (1 - h)) ** 2 * (W ** 2).sum(1)).sum(1).mean()

    def cae_float64_norm(h, W):
        return ((h.double() * (1 - h.double())) ** 2 @ torch.linalg.norm(W.double(), dim=1) ** 2).mean()

    def cae_fro_loop(h, W):
        return sum(torch.linalg.matrix_norm(torch.diag(h[n] * (1 - h[n])) @ W) ** 2 for n in range(len(h))) / len(h)

    for seed in range(3):
        for fn in (cae_full_jacobian, cae_broadcast, cae_float64_norm, cae_fro_loop):
            checks.contractive_closed_form(fn, seed=seed)


def test_vector_field_accepts_float64_numpy_inference_mode_and_loops(capsys):
    def field_float64(model, grid):
        with torch.no_grad():
            return model(grid).double() - grid.double()

    def field_numpy(model, grid):
        with torch.no_grad():
            return (model(grid) - grid).numpy()

    def field_inference(model, grid):
        with torch.inference_mode():
            return model(grid) - grid

    def field_loop(model, grid):
        with torch.no_grad():
            return torch.stack([model(p[None])[0] - p for p in grid])

    for seed in range(4):
        for fn in (field_float64, field_numpy, field_inference, field_loop):
            checks.dae_vector_field(fn, seed=seed)
