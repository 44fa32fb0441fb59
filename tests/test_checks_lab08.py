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
