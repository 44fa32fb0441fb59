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
    with pytest.raises(CheckFailed, match="write it yourself"):       # the package's own versions are refused
        checks.corruptions(data.masking_noise, data.salt_and_pepper)


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
                make(lambda a, b: (a.double() - b.double()).pow(2).flatten(1).sum(1).mean()),
                make(loop_loss),
                make(lambda a, b: (a - b).pow(2).flatten(1).sum(-1).mean(), lambda loss: np.float32(loss.item())),
                make(lambda a, b: (a - b).pow(2).flatten(1).sum(-1).mean(), lambda loss: loss.reshape(1).detach())]
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


# --- issue 19.16: the denoising step on image batches, with junk in .grad ----------------------------

def _step(loss_fn=lambda x_hat, x: (x_hat - x).pow(2).flatten(1).sum(1).mean(), *, zero=True, ret=None,
          target_noisy=False, feed_clean=False, steps=1, zero_between=False, train_fn=None):
    """A denoising step with one mistake switched on (all off: the right answer)."""
    def step(model, optimizer, x, corrupt):
        x_tilde = corrupt(x)
        x_hat = model(x if feed_clean else x_tilde)
        loss = loss_fn(x_hat, x_tilde if target_noisy else x)
        trained = train_fn(x_hat, x) if train_fn else loss
        if zero:
            optimizer.zero_grad()
        trained.backward()
        if zero_between:
            optimizer.zero_grad()
        for _ in range(steps):
            optimizer.step()
        return ret(loss, model, x_tilde, x) if ret else loss
    return step


def _after_step(loss, model, x_tilde, x):   # the loss recomputed on the updated model
    with torch.no_grad():
        return (model(x_tilde) - x).pow(2).flatten(1).sum(1).mean()


@pytest.mark.parametrize("student, hint", [
    (_step(zero=False), "ACCUMULATE"),                                                       # no zero_grad
    (_step(zero_between=True), "did not change"),                                            # zero_grad after backward
    (_step(steps=2), "TWO steps"),
    (_step(lambda a, b: (a - b).pow(2).sum(-1).mean()), "wrong axes"),                       # one image axis only
    (_step(lambda a, b: (a - b).pow(2).sum(0).mean()), "wrong axes"),                        # the batch axis
    (_step(lambda a, b: (a - b).pow(2).sum(1).mean()), "mean over all values"),              # the channel axis
    (_step(lambda a, b: (a - b).pow(2).sum()), "sums over the 6 images"),                    # no mean over the batch
    (_step(ret=_after_step), "UPDATED model"),
    (_step(train_fn=lambda a, b: torch.nn.functional.mse_loss(a, b)), "per-value MEAN"),
    (_step(ret=lambda loss, *a: loss.detach().repeat(3)), "one number"),                    # a vector returned
    (_step(ret=lambda loss, *a: None), "got NoneType"),
    (_step(ret=lambda loss, *a: str(loss.item())), "got str"),
    (_step(lambda a, b: (a - b).abs().flatten(1).sum(1).mean()), "is not the squared error per image"),
])
def test_denoising_step_rejects_more_mistakes(student, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.denoising_step(student)


def test_denoising_step_missing_zero_grad_passed_before_and_fails_now():
    # the old check used a fresh optimizer with empty .grad, so this answer passed; junk in .grad catches it
    with pytest.raises(CheckFailed, match="zero_grad"):
        checks.denoising_step(_step(zero=False), seed=3)


def test_denoising_step_accepts_more_correct_styles(capsys):
    import numpy as np

    def manual_zero(model, optimizer, x, corrupt):
        for p in model.parameters():
            p.grad = None
        loss = (model(corrupt(x)) - x).pow(2).sum(dim=tuple(range(1, x.dim()))).mean()
        loss.backward()
        optimizer.step()
        return loss.detach().numpy()                                   # a 0-d NumPy array

    def model_zero_grad(model, optimizer, x, corrupt):
        x_tilde = corrupt(x)
        loss = torch.nn.functional.mse_loss(model(x_tilde), x, reduction="none").flatten(1).sum(1).mean()
        model.zero_grad()
        loss.backward()
        optimizer.step()
        return np.array(loss.item())

    variants = [
        manual_zero, model_zero_grad,
        _step(lambda a, b: (a.double() - b.double()).pow(2).reshape(len(b), -1).sum(1).mean(),
              ret=lambda loss, *a: loss.detach()),                                          # float64 tensor
        _step(lambda a, b: ((a - b) ** 2).sum() / b.shape[0], ret=lambda loss, *a: np.float64(loss.item())),
        _step(lambda a, b: torch.stack([((a[i] - b[i]) ** 2).sum() for i in range(len(b))]).mean(),
              ret=lambda loss, *a: loss.reshape(1, 1)),
        _step(lambda a, b: torch.einsum("n...,n...->n", a - b, a - b).mean(), ret=lambda loss, *a: loss.item()),
    ]
    for seed in range(3):
        for step in variants:
            checks.denoising_step(step, seed=seed)


# --- issue 19.20: each corruption hint names its mistake -------------------------------------------

def _mask_shared(x, p, generator=None):          # one mask for the whole batch: fraction ~p, same pixels everywhere
    keep = torch.rand(x.shape[1:], generator=generator) >= p
    return x * keep


def _mask_per_image(x, p, generator=None):       # one coin per image
    drop = torch.rand((len(x),) + (1,) * (x.dim() - 1), generator=generator) < p
    return torch.where(drop, torch.zeros_like(x), x)


def _sp_shared(x, p, generator=None):
    u = torch.rand(x.shape[1:], generator=generator)
    coin = (torch.rand(x.shape[1:], generator=generator) < 0.5).to(x.dtype)
    return torch.where(u < p, coin, x)


def _mask_to_half(x, p, generator=None):         # corrupted values set to 0.5
    return torch.where(torch.rand(x.shape, generator=generator) < p, torch.full_like(x, 0.5), x)


def _sp_salt_only(x, p, generator=None):
    return torch.where(torch.rand(x.shape, generator=generator) < p, torch.ones_like(x), x)


def _sp_flip(x, p, generator=None):              # 1 − x instead of 0 or 1
    return torch.where(torch.rand(x.shape, generator=generator) < p, 1 - x, x)


def _mask_greater(x, p, generator=None):         # u > p: corrupts with probability 1 − p
    return torch.where(torch.rand(x.shape, generator=generator) > p, torch.zeros_like(x), x)


def _mask_flat(x, p, generator=None):            # returns flat rows
    return good_mask(x, p, generator).flatten(1)


def _mask_bool(x, p, generator=None):            # returns the keep-mask, not the image
    return torch.rand(x.shape, generator=generator) >= p


def _mask_package(x, p, generator=None):
    from aelab import data
    return data.masking_noise(x, p, generator=generator)


def _sp_package(x, p, generator=None):
    from aelab import noise
    return noise.salt_and_pepper(x, p, generator=generator)


@pytest.mark.parametrize("mask, sp, hint", [
    (_mask_shared, good_sp, "SAME positions in every image"),
    (good_mask, _sp_shared, "SAME positions in every image"),
    (_mask_per_image, good_sp, "whole images"),
    (_mask_to_half, good_sp, "not all 0"),
    (good_mask, _sp_salt_only, "equally likely"),
    (good_mask, _sp_flip, "exactly 0 or 1"),
    (_mask_greater, good_sp, "1 − p"),
    (_mask_flat, good_sp, "shape"),
    (_mask_bool, good_sp, "dtype"),
    (_mask_package, good_sp, "aelab.data.masking_noise"),
    (good_mask, _sp_package, "aelab.noise.salt_and_pepper"),
])
def test_corruptions_rejects_more_mistakes(mask, sp, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.corruptions(mask, sp)


def test_shared_mask_hint_fires_only_for_a_shared_mask():
    # the right answer and the other wrong answers never get the shared-mask hint
    for mask in (mask_keeps_with_p, _mask_to_half, _mask_greater):
        with pytest.raises(CheckFailed) as info:
            checks.corruptions(mask, good_sp)
        assert "SAME positions" not in str(info.value) and "whole images" not in str(info.value)


def test_corruptions_accepts_five_more_styles(capsys):
    def mask_uniform_(x, p, generator=None):
        u = torch.empty(x.shape, dtype=torch.float64).uniform_(generator=generator)
        return x.masked_fill(u < p, 0.0)

    def mask_index(x, p, generator=None):
        out = x.clone()
        out[torch.rand(x.shape, generator=generator) < p] = 0
        return out

    def mask_bernoulli_keep(x, p, generator=None):
        return x * torch.bernoulli(torch.full(x.shape, 1 - p, dtype=x.dtype), generator=generator)

    def sp_randint(x, p, generator=None):
        corrupt = torch.rand(x.shape, generator=generator) < p
        value = torch.randint(0, 2, x.shape, generator=generator).to(x.dtype)
        return torch.where(corrupt, value, x)

    def sp_float64(x, p, generator=None):
        u = torch.rand(x.shape, generator=generator, dtype=torch.float64)
        coin = torch.rand(x.shape, generator=generator, dtype=torch.float64).round()
        return torch.where(u < p, coin, x.double()).to(x.dtype)

    for seed in range(3):
        checks.corruptions(mask_uniform_, sp_randint, seed=seed)
        checks.corruptions(mask_index, sp_float64, seed=seed)
        checks.corruptions(mask_bernoulli_keep, good_sp, seed=seed)


def test_package_shortcuts_are_refused_in_kl_and_contractive():
    from aelab import penalties
    with pytest.raises(CheckFailed, match="aelab.penalties.kl_sparsity"):
        checks.kl_sparsity_penalty(lambda h, rho: penalties.kl_sparsity(h, rho))
    with pytest.raises(CheckFailed, match="aelab.penalties.contractive_sigmoid"):
        checks.contractive_closed_form(lambda h, W: penalties.contractive_sigmoid(h, W))


def test_exercise_numbers_follow_the_lecture():
    # issue 19.21: lecture 03 teaches sparsity (2), corruption and the DAE (3), the score (5), the CAE (7)
    order = [checks.kl_sparsity_penalty, checks.corruptions, checks.denoising_step, checks.dae_vector_field,
             checks.contractive_closed_form]
    assert [c.exercise.number for c in order] == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- the vector-field claim can fail (issue 19.2)
def _tweedie_relative_error(arrows_fn, sigma=0.1):
    """Lab 03's claim statistic: mean |arrow − Tweedie optimum| / mean |optimum| where training inputs land."""
    from scipy.special import i0e, i1e
    ticks = torch.linspace(-1.6, 1.6, 21)
    grid = torch.stack(torch.meshgrid(ticks, ticks, indexing="xy"), dim=-1).reshape(-1, 2)
    radius = grid.norm(dim=1)
    kappa = (radius / sigma**2).double().numpy()
    optimal = (torch.from_numpy(i1e(kappa) / i0e(kappa))[:, None] * grid.double() / radius[:, None]
               - grid.double()).float()
    band = (radius > 0.7) & (radius < 1.3)
    arrows = arrows_fn(grid, optimal)
    return ((arrows[band] - optimal[band]).norm(dim=1).mean() / optimal[band].norm(dim=1).mean()).item()


def test_vector_field_claim_fails_on_its_counterfactuals():
    from aelab import models
    torch.manual_seed(1)
    untrained = models.MLPAutoencoder((2, 64, 64), activation="tanh", output_activation="identity")
    with torch.no_grad():
        untrained_err = _tweedie_relative_error(lambda g, o: untrained(g) - g)
    nearest_point = _tweedie_relative_error(lambda g, o: g / g.norm(dim=1, keepdim=True) - g)   # old claim's target
    assert _tweedie_relative_error(lambda g, o: o) < 1e-6 < 0.25                     # the optimum passes
    assert _tweedie_relative_error(lambda g, o: torch.zeros_like(g)) == pytest.approx(1.0)   # identity map fails
    assert _tweedie_relative_error(lambda g, o: 0.5 * o) == pytest.approx(0.5)        # half-length arrows fail
    assert untrained_err > 0.25                                                      # an untrained network fails
    assert nearest_point < 0.25                                    # projecting on the circle: near-optimal there
