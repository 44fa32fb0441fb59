"""Lab 08's checks (sparse autoencoders) tested both ways: the reference passes under many seeds and in
other correct styles; each wrong answer is rejected with its own hint; the package's versions are forbidden."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aelab import checks
from aelab.checks import CheckFailed, ExerciseNotDone
from aelab.models import sae


def reject(check, fn, match):
    with pytest.raises(CheckFailed, match=match) as info:
        check(fn)
    assert not isinstance(info.value, ExerciseNotDone)


def topk(pre, k):
    values, indices = pre.topk(k, dim=1)
    return torch.zeros_like(pre).scatter(1, indices, values.relu())


def topk_relu_first(pre, k):  # ReLU before TopK gives the same code
    return topk(pre.relu(), k)


def topk_mask(pre, k):  # a mask from the k-th largest value (no ties in the inputs)
    kth = pre.topk(k, dim=1).values[:, -1:]
    return torch.where(pre >= kth, pre, torch.zeros_like(pre)).clamp_min(0)


def topk_per_batch(pre, k):
    flat = pre.flatten()
    values, idx = flat.topk(k * len(pre))
    return torch.zeros_like(flat).scatter(0, idx, values.relu()).view_as(pre)


def topk_negatives_kept(pre, k):
    values, indices = pre.topk(k, dim=1)
    return torch.zeros_like(pre).scatter(1, indices, values)


def topk_values_only(pre, k):
    return pre.topk(k, dim=1).values.relu()


def sae_loss(x, w_e, b_e, w_d, b_d, l1):
    f = ((x - b_d) @ w_e.T + b_e).relu()
    x_hat = f @ w_d.T + b_d
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


def sae_loss_float(x, w_e, b_e, w_d, b_d, l1):  # a Python float, written with torch.linalg
    f = torch.relu(torch.addmm(b_e, x - b_d, w_e.T))
    x_hat = torch.addmm(b_d, f, w_d.T)
    return float(torch.linalg.vector_norm(x - x_hat, dim=1).pow(2).mean()
                 + l1 * (f @ torch.linalg.vector_norm(w_d, dim=0)).mean())


def sae_loss_numpy(x, w_e, b_e, w_d, b_d, l1):  # a NumPy scalar
    x, w_e, b_e, w_d, b_d = (t.double().numpy() for t in (x, w_e, b_e, w_d, b_d))
    f = np.maximum((x - b_d) @ w_e.T + b_e, 0)
    x_hat = f @ w_d.T + b_d
    return np.mean(((x - x_hat) ** 2).sum(1) + l1 * (f * np.linalg.norm(w_d, axis=0)).sum(1))


def _variant(*, center=True, weight="columns", on_pre=False, batch="mean"):
    def loss(x, w_e, b_e, w_d, b_d, l1):
        pre = ((x - b_d) if center else x) @ w_e.T + b_e
        f = pre.relu()
        x_hat = f @ w_d.T + b_d
        norms = {"columns": w_d.norm(dim=0), "rows": w_d.norm(dim=1), "none": 1.0}[weight]
        total = ((x - x_hat) ** 2).sum(1) + l1 * ((pre.abs() if on_pre else f) * norms).sum(1)
        return total.mean() if batch == "mean" else total.sum()
    return loss


@pytest.mark.parametrize("seed", range(8))
def test_references_pass_under_many_seeds(seed):
    checks.topk_activation_check(topk, seed=seed)
    checks.sae_loss_check(sae_loss, seed=seed)


@pytest.mark.parametrize("fn", [topk_relu_first, topk_mask])
def test_topk_accepts_other_correct_styles(fn):
    for seed in range(3):
        checks.topk_activation_check(fn, seed=seed)


@pytest.mark.parametrize("fn", [sae_loss_float, sae_loss_numpy])
def test_sae_loss_accepts_other_correct_styles(fn):
    for seed in range(3):
        checks.sae_loss_check(fn, seed=seed)


@pytest.mark.parametrize("fn, match", [
    (topk_per_batch, "whole batch"),
    (topk_negatives_kept, "negative values among the top k are kept"),
    (topk_values_only, "should have shape"),
    (lambda pre, k: sae.topk_activation(pre, k), "write it yourself.*aelab.models.sae.topk_activation"),
])
def test_topk_rejects_each_wrong_answer_with_its_hint(fn, match):
    reject(checks.topk_activation_check, fn, match)


@pytest.mark.parametrize("kwargs, match", [
    (dict(weight="none"), "not weighted by the decoder norms"),
    (dict(weight="rows"), "norms of W_d's rows"),
    (dict(on_pre=True), "on the pre-activations"),
    (dict(center=False), "decoder bias subtracted first"),
    (dict(batch="sum"), "summed over the batch"),
])
def test_sae_loss_rejects_each_wrong_answer_with_its_hint(kwargs, match):
    reject(checks.sae_loss_check, _variant(**kwargs), match)


def test_sae_loss_forbids_the_package_version():
    def shortcut(x, w_e, b_e, w_d, b_d, l1):
        return sae.sae_loss(None, x, l1)
    reject(checks.sae_loss_check, shortcut, "write it yourself.*aelab.models.sae.sae_loss")


def test_unfinished_exercises_say_so():
    def todo(*args):
        raise NotImplementedError()
    for check in (checks.topk_activation_check, checks.sae_loss_check):
        with pytest.raises(ExerciseNotDone):
            check(todo)


def test_the_package_functions_agree_with_the_references():
    g = torch.Generator().manual_seed(0)
    pre = torch.randn(5, 9, generator=g)
    assert torch.equal(sae.topk_activation(pre, 3), topk(pre, 3))
    assert (sae.topk_activation(pre, 3) != 0).sum(1).le(3).all()
    model = sae.SparseAutoencoder(6, 10, seed=1)
    with torch.no_grad():
        model.decoder_weight.mul_(torch.linspace(0.5, 2, 10))
        model.decoder_bias.normal_(generator=g)
    x = torch.randn(7, 6, generator=g)
    expected = sae_loss(x, model.encoder_weight, model.encoder_bias, model.decoder_weight, model.decoder_bias, 0.4)
    torch.testing.assert_close(sae.sae_loss(model, x, 0.4), expected)
    model.normalize_decoder()
    torch.testing.assert_close(model.decoder_weight.norm(dim=0), torch.ones(10))


def mmcs(learned, true):
    learned, true = learned / learned.norm(dim=0), true / true.norm(dim=0)
    return (true.T @ learned).max(1).values.mean()


def mmcs_numpy(learned, true):
    learned, true = learned.double().numpy(), true.double().numpy()
    cos = (true / np.linalg.norm(true, axis=0)).T @ (learned / np.linalg.norm(learned, axis=0))
    return np.mean(cos.max(axis=1))


def dead_fraction(codes):
    return (codes == 0).all(dim=0).float().mean()


def dead_fraction_numpy(codes):
    return float(np.mean(~np.any(codes.numpy() != 0, axis=0)))


@pytest.mark.parametrize("seed", range(8))
def test_mmcs_and_dead_fraction_references_pass_under_many_seeds(seed):
    checks.mmcs_check(mmcs, seed=seed)
    checks.mmcs_check(mmcs_numpy, seed=seed)
    checks.dead_fraction_check(dead_fraction, seed=seed)
    checks.dead_fraction_check(dead_fraction_numpy, seed=seed)


@pytest.mark.parametrize("fn, match", [
    (lambda l, t: ((t / t.norm(dim=0)).T @ (l / l.norm(dim=0))).max(0).values.mean(), "maximum over the true"),
    (lambda l, t: (t.T @ l).max(1).values.mean(), "not normalized"),
    (lambda l, t: ((t / t.norm(dim=0)).T @ (l / l.norm(dim=0))).abs().max(1).values.mean(), "you used \\|cos\\|"),
    (lambda l, t: __import__("aelab").metrics.mean_max_cosine_similarity(l, t), "write it yourself"),
])
def test_mmcs_rejects_each_wrong_answer_with_its_hint(fn, match):
    reject(checks.mmcs_check, fn, match)


@pytest.mark.parametrize("fn, match", [
    (lambda z: (z.abs() <= 1e-6).all(0).float().mean(), "threshold"),
    (lambda z: (z == 0).float().mean(), "zero ENTRIES"),
    (lambda z: 1 - (z == 0).all(0).float().mean(), "ALIVE"),
    (lambda z: (z == 0).all(1).float().mean(), "rows"),
    (lambda z: __import__("aelab").metrics.dead_fraction(z), "write it yourself"),
])
def test_dead_fraction_rejects_each_wrong_answer_with_its_hint(fn, match):
    reject(checks.dead_fraction_check, fn, match)


# ------------------------------------------------ ten more wrong and five more right answers per exercise
# Each wrong answer is a mistake a student makes; each must be rejected at every seed with the hint
# named for it (never the generic one); each right answer, written in another style, must pass.
import torch.nn.functional as F  # noqa: E402

SEEDS = range(3)


def _scatter(pre, idx, values):
    return torch.zeros_like(pre).scatter(1, idx, values)


def tk_abs(pre, k):
    # the k largest by absolute value
    idx = pre.abs().topk(k, dim=1).indices
    return _scatter(pre, idx, pre.gather(1, idx).relu())


def tk_sort_k_minus_1(pre, k):
    # off by one: keeps k − 1 (the slice stops one short)
    values, idx = pre.sort(dim=1, descending=True)
    return _scatter(pre, idx[:, :k - 1], values[:, :k - 1].relu())


def tk_sort_k_plus_1(pre, k):
    # off by one: keeps k + 1
    values, idx = pre.sort(dim=1, descending=True)
    return _scatter(pre, idx[:, :k + 1], values[:, :k + 1].relu())


def tk_strict_threshold(pre, k):
    # strictly above the k-th value: the k-th itself is dropped
    kth = pre.topk(k, dim=1).values[:, -1:]
    return torch.where(pre > kth, pre, torch.zeros_like(pre)).relu()


def tk_dense_relu(pre, k):
    # the non-top entries ReLU'd instead of zeroed: a dense ReLU
    mask = torch.zeros_like(pre, dtype=torch.bool).scatter(1, pre.topk(k, dim=1).indices, True)
    return torch.where(mask, pre.relu(), pre.relu())


def tk_mask(pre, k):
    # the 0/1 mask of the kept positions
    return _scatter(pre, pre.topk(k, dim=1).indices, torch.ones_like(pre))


def tk_bool_mask(pre, k):
    return torch.zeros_like(pre, dtype=torch.bool).scatter(1, pre.topk(k, dim=1).indices, True) & (pre > 0)


def tk_indices(pre, k):
    return pre.topk(k, dim=1).indices


def tk_in_place(pre, k):
    kth = pre.topk(k, dim=1).values[:, -1:]
    pre[pre < kth] = 0
    return pre.relu_()


def tk_softmax(pre, k):
    # softmax over the kept values instead of ReLU
    values, idx = pre.topk(k, dim=1)
    return _scatter(pre, idx, values.softmax(dim=1))


def tk_dim0(pre, k):
    # top k of each column (latent) instead of each row (input)
    values, idx = pre.topk(min(k, len(pre)), dim=0)
    return torch.zeros_like(pre).scatter(0, idx, values.relu())


def tk_detach(pre, k):
    values, idx = pre.detach().topk(k, dim=1)
    return _scatter(pre.detach(), idx, values.relu())


def tk_no_grad(pre, k):
    with torch.no_grad():
        values, idx = pre.topk(k, dim=1)
        return _scatter(pre, idx, values.relu())


def tk_float32(pre, k):
    # the result built in float32 whatever pre's dtype
    values, idx = pre.topk(k, dim=1)
    return torch.zeros(pre.shape).scatter(1, idx, values.relu().float())


def tk_smallest(pre, k):
    values, idx = pre.topk(k, dim=1, largest=False)
    return _scatter(pre, idx, values.relu())


def tk_packed(pre, k):
    # the kept values packed into the first k columns, not at their positions
    values = pre.topk(k, dim=1).values.relu()
    return torch.cat([values, pre.new_zeros(len(pre), pre.shape[1] - k)], dim=1)


TOPK_WRONG = dict(abs=tk_abs, sort_k_minus_1=tk_sort_k_minus_1, sort_k_plus_1=tk_sort_k_plus_1,
                  strict_threshold=tk_strict_threshold, dense_relu=tk_dense_relu, mask=tk_mask,
                  bool_mask=tk_bool_mask, indices=tk_indices, in_place=tk_in_place, softmax=tk_softmax,
                  dim0=tk_dim0, detach=tk_detach, no_grad=tk_no_grad, float32=tk_float32,
                  smallest=tk_smallest, packed=tk_packed)


def tk_right_loop(pre, k):
    # a loop over inputs, one row at a time
    rows = []
    for row in pre:
        values, idx = row.topk(k)
        rows.append(torch.zeros_like(row).index_put((idx,), values.clamp(min=0)))
    return torch.stack(rows)


def tk_right_sort_mask(pre, k):
    # the mask from argsort ranks
    ranks = pre.argsort(dim=1, descending=True).argsort(dim=1)
    return pre * (ranks < k) * (pre > 0)


def tk_right_functional(pre, k):
    values, idx = torch.topk(pre, k, dim=-1)
    return torch.zeros_like(pre).scatter_(-1, idx, F.relu(values))


def tk_right_float64(pre, k):
    # computed in float64 (the check accepts more precision)
    pre = pre.double()
    kth = pre.kthvalue(pre.shape[1] - k + 1, dim=1, keepdim=True).values
    return torch.where(pre >= kth, pre.relu(), torch.zeros_like(pre))


def tk_right_masked_fill(pre, k):
    idx = pre.topk(k, dim=1).indices
    keep = torch.zeros_like(pre, dtype=torch.bool).scatter(1, idx, True)
    return pre.masked_fill(~keep, 0.0).relu()


TOPK_RIGHT = dict(loop=tk_right_loop, sort_mask=tk_right_sort_mask, functional=tk_right_functional,
                  float64=tk_right_float64, masked_fill=tk_right_masked_fill)


def _parts(x, w_e, b_e, w_d, b_d):
    f = ((x - b_d) @ w_e.T + b_e).relu()
    return f, f @ w_d.T + b_d


def sl_mean_over_dims(x, w_e, b_e, w_d, b_d, l1):
    # mean over dimensions (F.mse_loss's default) instead of the sum
    f, x_hat = _parts(x, w_e, b_e, w_d, b_d)
    return F.mse_loss(x_hat, x) + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


def sl_squared_norms(x, w_e, b_e, w_d, b_d, l1):
    f, x_hat = _parts(x, w_e, b_e, w_d, b_d)
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f * (w_d ** 2).sum(0)).sum(1).mean()


def sl_no_relu(x, w_e, b_e, w_d, b_d, l1):
    # no ReLU at all: a linear encoder, |f| in the penalty
    f = (x - b_d) @ w_e.T + b_e
    x_hat = f @ w_d.T + b_d
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f.abs() * w_d.norm(dim=0)).sum(1).mean()


def sl_signed_pre(x, w_e, b_e, w_d, b_d, l1):
    # the penalty on the signed pre-activations
    pre = (x - b_d) @ w_e.T + b_e
    x_hat = pre.relu() @ w_d.T + b_d
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (pre * w_d.norm(dim=0)).sum(1).mean()


def sl_no_decoder_bias(x, w_e, b_e, w_d, b_d, l1):
    f = ((x - b_d) @ w_e.T + b_e).relu()
    x_hat = f @ w_d.T
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


def sl_minus_encoder_bias(x, w_e, b_e, w_d, b_d, l1):
    f = ((x - b_d) @ w_e.T - b_e).relu()
    x_hat = f @ w_d.T + b_d
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


def sl_l1_on_recon(x, w_e, b_e, w_d, b_d, l1):
    # l1 multiplies the reconstruction term instead of the penalty
    f, x_hat = _parts(x, w_e, b_e, w_d, b_d)
    return l1 * ((x - x_hat) ** 2).sum(1).mean() + (f * w_d.norm(dim=0)).sum(1).mean()


def sl_no_square(x, w_e, b_e, w_d, b_d, l1):
    # the error's length, not its square
    f, x_hat = _parts(x, w_e, b_e, w_d, b_d)
    return (x - x_hat).norm(dim=1).mean() + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


def sl_abs_error(x, w_e, b_e, w_d, b_d, l1):
    f, x_hat = _parts(x, w_e, b_e, w_d, b_d)
    return (x - x_hat).abs().sum(1).mean() + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


def sl_centered_target(x, w_e, b_e, w_d, b_d, l1):
    # x − b_d as the target of x̂ = W_d f + b_d
    f, x_hat = _parts(x, w_e, b_e, w_d, b_d)
    return (((x - b_d) - x_hat) ** 2).sum(1).mean() + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


def sl_encoder_norms(x, w_e, b_e, w_d, b_d, l1):
    f, x_hat = _parts(x, w_e, b_e, w_d, b_d)
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f * w_e.norm(dim=1)).sum(1).mean()


def sl_unit_decoder(x, w_e, b_e, w_d, b_d, l1):
    # the decoder columns normalized in the forward pass, plain L1
    f = ((x - b_d) @ w_e.T + b_e).relu()
    x_hat = f @ (w_d / w_d.norm(dim=0)).T + b_d
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * f.sum(1).mean()


def sl_l1_mean_latents(x, w_e, b_e, w_d, b_d, l1):
    f, x_hat = _parts(x, w_e, b_e, w_d, b_d)
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f * w_d.norm(dim=0)).mean()


def sl_w_d_untransposed(x, w_e, b_e, w_d, b_d, l1):
    f = ((x - b_d) @ w_e.T + b_e).relu()
    x_hat = f @ w_d + b_d
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


def sl_w_e_untransposed(x, w_e, b_e, w_d, b_d, l1):
    f = ((x - b_d) @ w_e + b_e).relu()
    x_hat = f @ w_d.T + b_d
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * (f * w_d.norm(dim=0)).sum(1).mean()


SAE_WRONG = dict(mean_over_dims=sl_mean_over_dims, squared_norms=sl_squared_norms, no_relu=sl_no_relu,
                 signed_pre=sl_signed_pre, no_decoder_bias=sl_no_decoder_bias,
                 minus_encoder_bias=sl_minus_encoder_bias, l1_on_recon=sl_l1_on_recon, no_square=sl_no_square,
                 abs_error=sl_abs_error, centered_target=sl_centered_target, encoder_norms=sl_encoder_norms,
                 unit_decoder=sl_unit_decoder, l1_mean_latents=sl_l1_mean_latents,
                 w_d_untransposed=sl_w_d_untransposed, w_e_untransposed=sl_w_e_untransposed)


def sl_right_einsum(x, w_e, b_e, w_d, b_d, l1):
    f = torch.relu(torch.einsum("nd,ld->nl", x - b_d, w_e) + b_e)
    x_hat = torch.einsum("dl,nl->nd", w_d, f) + b_d
    return torch.einsum("nd->", (x - x_hat) ** 2) / len(x) + l1 * torch.einsum("nl,l->", f, w_d.norm(dim=0)) / len(x)


def sl_right_loop(x, w_e, b_e, w_d, b_d, l1):
    # one input at a time, a Python float
    total = 0.0
    for xn in x:
        f = (w_e @ (xn - b_d) + b_e).clamp(min=0)
        x_hat = w_d @ f + b_d
        total += float(((xn - x_hat) ** 2).sum()) + l1 * float((f * w_d.norm(dim=0)).sum())
    return total / len(x)


def sl_right_functional(x, w_e, b_e, w_d, b_d, l1):
    f = F.relu(F.linear(x - b_d, w_e, b_e))
    x_hat = F.linear(f, w_d, b_d)
    return F.mse_loss(x_hat, x, reduction="sum") / len(x) + l1 * F.linear(f, w_d.norm(dim=0)[None]).mean()


def sl_right_float64_centered(x, w_e, b_e, w_d, b_d, l1):
    # float64, the error written as (x − b_d) − W_d f
    x, w_e, b_e, w_d, b_d = (t.double() for t in (x, w_e, b_e, w_d, b_d))
    f = ((x - b_d) @ w_e.T + b_e).relu()
    return ((x - b_d - f @ w_d.T) ** 2).sum() / len(x) + l1 * (f @ w_d.norm(dim=0)).mean()


def sl_right_unit_rescaled(x, w_e, b_e, w_d, b_d, l1):
    # the same loss with unit columns and latents scaled by the column lengths
    norms = w_d.norm(dim=0)
    f = ((x - b_d) @ w_e.T + b_e).relu() * norms
    x_hat = f @ (w_d / norms).T + b_d
    return ((x - x_hat) ** 2).sum(1).mean() + l1 * f.sum(1).mean()


def sl_right_numpy_lists(x, w_e, b_e, w_d, b_d, l1):
    # NumPy, a list of per-input losses
    x, w_e, b_e, w_d, b_d = (t.numpy().astype(np.float64) for t in (x, w_e, b_e, w_d, b_d))
    norms = np.sqrt((w_d ** 2).sum(axis=0))
    losses = []
    for xn in x:
        f = np.maximum(w_e @ (xn - b_d) + b_e, 0)
        losses.append(np.sum((xn - w_d @ f - b_d) ** 2) + l1 * np.dot(f, norms))
    return np.mean(losses)


SAE_RIGHT = dict(einsum=sl_right_einsum, loop=sl_right_loop, functional=sl_right_functional,
                 float64_centered=sl_right_float64_centered, unit_rescaled=sl_right_unit_rescaled,
                 numpy_lists=sl_right_numpy_lists)


def _cos(learned, true):
    return (true / true.norm(dim=0)).T @ (learned / learned.norm(dim=0))


def mm_only_learned(learned, true):
    return (true.T @ (learned / learned.norm(dim=0))).max(1).values.mean()


def mm_only_true(learned, true):
    return ((true / true.norm(dim=0)).T @ learned).max(1).values.mean()


def mm_argmax(learned, true):
    # the index of the best learned column, not its cosine
    return _cos(learned, true).argmax(dim=1).float().mean()


def mm_median(learned, true):
    return _cos(learned, true).max(1).values.median()


def mm_first_columns(learned, true):
    return F.cosine_similarity(learned[:, 0], true[:, 0], dim=0)


def mm_rows_normalized(learned, true):
    # rows normalized instead of columns
    learned = learned / learned.norm(dim=1, keepdim=True)
    true = true / true.norm(dim=1, keepdim=True)
    return (true.T @ learned).max(1).values.mean()


def mm_diagonal(learned, true):
    # column f paired with column f
    return _cos(learned, true).diagonal().mean()


def mm_global_max(learned, true):
    return _cos(learned, true).max()


def mm_mean_all(learned, true):
    return _cos(learned, true).mean()


def mm_sum(learned, true):
    return _cos(learned, true).max(1).values.sum()


def mm_squared(learned, true):
    return (_cos(learned, true) ** 2).max(1).values.mean()


def mm_frobenius(learned, true):
    # each matrix divided by its whole norm
    return ((true / true.norm()).T @ (learned / learned.norm())).max(1).values.mean()


def mm_cosine_similarity_swapped(learned, true):
    # F.cosine_similarity with the roles of the two dictionaries swapped
    cos = F.cosine_similarity(learned.T[:, None, :], true.T[None, :, :], dim=-1)   # (L, F)
    return cos.max(dim=1).values.mean()


MMCS_WRONG = dict(only_learned=mm_only_learned, only_true=mm_only_true, argmax=mm_argmax, median=mm_median,
                  first_columns=mm_first_columns, rows_normalized=mm_rows_normalized, diagonal=mm_diagonal,
                  global_max=mm_global_max, mean_all=mm_mean_all, sum=mm_sum, squared=mm_squared,
                  frobenius=mm_frobenius, cosine_similarity_swapped=mm_cosine_similarity_swapped)


def mm_right_einsum(learned, true):
    cos = torch.einsum("df,dl->fl", F.normalize(true, dim=0), F.normalize(learned, dim=0))
    return cos.amax(dim=1).mean().item()


def mm_right_cosine_similarity(learned, true):
    cos = F.cosine_similarity(true.T[:, None, :], learned.T[None, :, :], dim=-1)   # (F, L)
    return cos.max(dim=1).values.mean()


def mm_right_loop(learned, true):
    best = []
    for f in range(true.shape[1]):
        t = true[:, f]
        best.append(max(float(t @ learned[:, l] / (t.norm() * learned[:, l].norm())) for l in range(learned.shape[1])))
    return sum(best) / len(best)


def mm_right_outer_norms(learned, true):
    # the dot products divided by the outer product of the lengths, float64
    learned, true = learned.double(), true.double()
    cos = (true.T @ learned) / torch.outer(true.norm(dim=0), learned.norm(dim=0))
    return cos.max(1).values.mean()


def mm_right_numpy(learned, true):
    lt, tt = learned.numpy().T, true.numpy().T.astype(np.float64)
    lt = lt / np.linalg.norm(lt, axis=1, keepdims=True)
    tt = tt / np.linalg.norm(tt, axis=1, keepdims=True)
    return np.array([np.max(lt @ t) for t in tt]).mean()


MMCS_RIGHT = dict(einsum=mm_right_einsum, cosine_similarity=mm_right_cosine_similarity, loop=mm_right_loop,
                  outer_norms=mm_right_outer_norms, numpy=mm_right_numpy)


DEAD_WRONG = dict(
    count=lambda z: (z == 0).all(dim=0).sum(),                          # the number of dead latents
    any_zero=lambda z: (z == 0).any(dim=0).float().mean(),              # zero on SOME input
    isclose=lambda z: torch.isclose(z, torch.zeros_like(z)).all(dim=0).float().mean(),   # atol 1e-8
    mean_threshold=lambda z: (z.mean(dim=0) < 1e-6).float().mean(),     # a threshold on the mean activity
    bool_mask=lambda z: (z == 0).all(dim=0),                            # the per-latent mask
    firing_rate=lambda z: (z > 0).float().mean(dim=0),                  # per-latent firing rates
    divided_by_n=lambda z: (z == 0).all(dim=0).sum().item() / z.shape[0],   # divided by the number of inputs
    percent=lambda z: 100 * (z == 0).all(dim=0).float().mean(),         # a percentage
    integer_division=lambda z: int((z == 0).all(dim=0).sum()) // z.shape[1],
    whole_matrix=lambda z: float((z == 0).all()),                       # one all() over the whole matrix
    rows_count=lambda z: (z == 0).all(dim=1).sum() / z.shape[1],        # dead rows over the latents
    sum_rows=lambda z: (z.sum(dim=1) == 0).float().mean(),              # summed over the wrong axis
)


def _dead_loop(z):
    dead = 0
    for l in range(z.shape[1]):
        if all(float(v) == 0.0 for v in z[:, l]):
            dead += 1
    return dead / z.shape[1]


DEAD_RIGHT = dict(
    loop=_dead_loop,
    list_comprehension=lambda z: sum(all(v == 0 for v in col) for col in z.T.tolist()) / z.shape[1],
    count_nonzero=lambda z: torch.count_nonzero(z, dim=0).eq(0).double().mean(),
    max_is_zero=lambda z: (z.amax(dim=0) == 0).float().mean().item(),    # codes are >= 0
    sum_le_zero=lambda z: np.mean(z.double().numpy().sum(axis=0) <= 0),  # codes are >= 0
    alive_complement=lambda z: 1 - z.bool().any(dim=0).float().mean(),
)

TOPK_HINTS = dict(abs="absolute value", sort_k_minus_1="kept 2 entries per input instead of k = 3",
                  sort_k_plus_1="kept 4 entries per input instead of k = 3",
                  strict_threshold="kept 2 entries per input instead of k = 3", dense_relu="a plain ReLU",
                  mask="0/1 MASK", bool_mask="0/1 MASK", indices="INDICES", in_place="changed its input pre in place",
                  softmax="softmax", dim0="each COLUMN", detach="no gradient flows back",
                  no_grad="no gradient flows back",
                  float32="torch.float32 for a torch.float64 pre", smallest="SMALLEST", packed="wrong positions")
SAE_HINTS = dict(mean_over_dims="averaged the squared error over the D dimensions", squared_norms="SQUARED column",
                 no_relu="there is no ReLU", signed_pre="on the pre-activations \\(signed",
                 no_decoder_bias="x̂ lacks the decoder bias", minus_encoder_bias="subtracted the encoder bias",
                 l1_on_recon="l1 multiplies the reconstruction", no_square="length of the error",
                 abs_error="absolute errors", centered_target="compared x̂ = W_d f \\+ b_d with x − b_d",
                 encoder_norms="ENCODER's rows", unit_decoder="normalized the decoder columns in the forward pass",
                 l1_mean_latents="averaged the penalty over the latents", w_d_untransposed="W_d is used untransposed",
                 w_e_untransposed="W_e is used untransposed")
MMCS_HINTS = dict(only_learned="only the learned columns", only_true="only the true columns", argmax="INDICES",
                  median="median", first_columns="only the first columns", rows_normalized="ROWS",
                  diagonal="paired true column f with learned column f", global_max="single largest cosine",
                  mean_all="averaged every cosine", sum="summed over the true directions",
                  squared="squared the cosines",
                  frobenius="Frobenius", cosine_similarity_swapped="maximum over the true directions")
DEAD_HINTS = dict(count="NUMBER of dead latents", any_zero="0 on ANY input", isclose="threshold",
                  mean_threshold="threshold", bool_mask="dead MASK", firing_rate="one value per latent",
                  divided_by_n="number of inputs N", percent="percentage", integer_division="integer division",
                  whole_matrix="whole matrix at once", rows_count="rows", sum_rows="rows")
GENERIC = ("wrong values on", "expected mean over inputs of", "normalize the columns, take cos",
           "count the latents (columns) that are exactly 0")
ALL_WRONG = [(checks.topk_activation_check, TOPK_WRONG, TOPK_HINTS), (checks.sae_loss_check, SAE_WRONG, SAE_HINTS),
             (checks.mmcs_check, MMCS_WRONG, MMCS_HINTS), (checks.dead_fraction_check, DEAD_WRONG, DEAD_HINTS)]
ALL_RIGHT = [(checks.topk_activation_check, TOPK_RIGHT), (checks.sae_loss_check, SAE_RIGHT),
             (checks.mmcs_check, MMCS_RIGHT), (checks.dead_fraction_check, DEAD_RIGHT)]


@pytest.mark.parametrize("check, answer, match", [
    pytest.param(check, answers[name], hints[name], id=f"{check.__name__}-{name}")
    for check, answers, hints in ALL_WRONG for name in answers])
@pytest.mark.parametrize("seed", SEEDS)
def test_each_new_wrong_answer_gets_its_own_hint(check, answer, match, seed):
    with pytest.raises(CheckFailed, match=match) as info:
        check(answer, seed=seed)
    assert not isinstance(info.value, ExerciseNotDone)
    assert not any(generic in str(info.value) for generic in GENERIC)   # never the generic hint


@pytest.mark.parametrize("check, answer", [
    pytest.param(check, answers[name], id=f"{check.__name__}-{name}")
    for check, answers in ALL_RIGHT for name in answers])
@pytest.mark.parametrize("seed", SEEDS)
def test_each_new_right_answer_passes(check, answer, seed, capsys):
    check(answer, seed=seed)
    assert "✔" in capsys.readouterr().out


def test_each_exercise_has_ten_new_wrong_and_five_new_right_answers():
    # every new wrong answer differs from the reference AND from each other on some input
    assert len(TOPK_WRONG) >= 10 and len(SAE_WRONG) >= 10 and len(MMCS_WRONG) >= 10 and len(DEAD_WRONG) >= 10
    assert min(len(TOPK_RIGHT), len(SAE_RIGHT), len(MMCS_RIGHT), len(DEAD_RIGHT)) >= 5
