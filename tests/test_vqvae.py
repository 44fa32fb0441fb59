"""aelab.models.vqvae and the codebook metrics: nearest code, straight-through gradient, losses, health, prior."""

import math

import pytest
import torch

from aelab import metrics, models
from aelab.models.vqvae import (GRID, VQVAE, CodePrior, VectorQuantizer, code_marginals, fit_prior, fit_vqvae,
                                vector_quantize, vq_losses)

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(seed=0, shape=(6, 7, 7, 5), k=11, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype), torch.randn(k, shape[-1], generator=g, dtype=dtype)


# --- vector_quantize ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_indices_are_the_brute_force_nearest_code(seed):
    z, cb = _data(seed)
    q, idx = vector_quantize(z, cb)
    assert idx.dtype == torch.int64 and idx.shape == z.shape[:-1] and q.shape == z.shape
    brute = torch.stack([((z - e) ** 2).sum(-1) for e in cb], -1).argmin(-1)  # (..., K) loop over codes
    assert torch.equal(idx, brute)
    assert torch.allclose(q, cb[idx], atol=1e-6)


def test_nearest_is_not_the_largest_dot_product():
    cb = torch.tensor([[10.0, 0.0], [1.0, 0.0]])
    z = torch.tensor([[1.2, 0.0]])
    assert vector_quantize(z, cb)[1].item() == 1  # the dot product would pick code 0
    assert vector_quantize(torch.tensor([[0.9, 0.1]]), torch.eye(2))[1].tolist() == [0]


def test_straight_through_gradient_is_the_identity_and_none_reaches_the_codebook():
    z, cb = _data(1)
    z.requires_grad_(True)
    cb.requires_grad_(True)
    q, _ = vector_quantize(z, cb)
    upstream = torch.randn(q.shape, generator=torch.Generator().manual_seed(3))
    gz, gcb = torch.autograd.grad((q * upstream).sum(), (z, cb), allow_unused=True)
    assert torch.equal(gz, upstream)          # exactly the decoder's gradient at the quantized vectors
    assert gcb is None or not gcb.any()


def test_encoder_receives_the_decoders_gradient_in_a_vqvae():
    torch.manual_seed(0)
    m = VQVAE(num_codes=8, code_dim=4, channels=(2, 4))
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0)).round()
    z_e = m.encoder(x).detach().requires_grad_(True)
    z_q, _, _ = m.quantizer(z_e)
    z_q.retain_grad()
    torch.nn.functional.binary_cross_entropy_with_logits(m.decoder(z_q), x, reduction="sum").backward()
    assert torch.equal(z_e.grad, z_q.grad)
    assert m.quantizer.codebook.grad is None or not m.quantizer.codebook.grad.any()


def test_inputs_are_not_changed_and_float64_works():
    z, cb = _data(2, dtype=torch.float64)
    z0, cb0 = z.clone(), cb.clone()
    q, _ = vector_quantize(z, cb)
    assert q.dtype == torch.float64 and torch.equal(z, z0) and torch.equal(cb, cb0)


@pytest.mark.parametrize("z, cb, err, match", [
    ([[1.0]], torch.zeros(2, 1), TypeError, "torch.Tensor"),
    (torch.zeros(3, 2, dtype=torch.long), torch.zeros(2, 2), TypeError, "floating"),
    (torch.zeros(3, 2), torch.zeros(2, 3), ValueError, "LAST axis"),
    (torch.zeros(3, 2), torch.zeros(2), ValueError, r"\(K, D\)"),
    (torch.zeros(3, 2), torch.zeros(2, 2, dtype=torch.float64), TypeError, "same dtype"),
])
def test_vector_quantize_bad_input(z, cb, err, match):
    with pytest.raises(err, match=match):
        vector_quantize(z, cb)


# --- vq_losses ----------------------------------------------------------------------------

def test_losses_on_a_constructed_case():
    cb = torch.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    z = torch.tensor([[1.0, 0.0], [3.0, 2.0]], requires_grad=True)      # nearest: code 0 (dist 1), code 1 (dist 4)
    _, idx = vector_quantize(z, cb)
    assert idx.tolist() == [0, 1]
    cbl, com = vq_losses(z, cb, idx, beta=0.25)
    assert cbl.item() == pytest.approx((1 + 4) / 2) and com.item() == pytest.approx(0.25 * (1 + 4) / 2)
    (gz,) = torch.autograd.grad(cbl, (z,), allow_unused=True)
    assert gz is None                                                   # codebook loss: only the codes move
    (gcb,) = torch.autograd.grad(com, (cb,), allow_unused=True)
    assert gcb is None                                                  # commitment: only the encoder
    gcb = torch.autograd.grad(vq_losses(z, cb, idx)[0], cb)[0]
    assert torch.allclose(gcb, torch.tensor([[-1.0, 0.0], [0.0, 2.0]]))  # d/de mean ||z - e||^2 = -(z - e)


@pytest.mark.parametrize("idx, beta, err, match", [
    (torch.tensor([0.0, 1.0]), 0.25, TypeError, "integer"),
    (torch.tensor([0, 1, 1]), 0.25, ValueError, "shape"),
    (torch.tensor([0, 2]), 0.25, ValueError, r"\[0, 2\)"),
    (torch.tensor([0, 1]), -1.0, ValueError, "beta"),
])
def test_vq_losses_bad_input(idx, beta, err, match):
    with pytest.raises(err, match=match):
        vq_losses(torch.zeros(2, 3), torch.zeros(2, 3), idx, beta=beta)


# --- metrics ------------------------------------------------------------------------------

def test_perplexity_is_k_for_uniform_use_and_one_for_one_code():
    assert metrics.codebook_perplexity(torch.arange(16).repeat(5), 16) == pytest.approx(16)
    assert metrics.codebook_perplexity(torch.full((4, 7, 7), 3), 16) == pytest.approx(1.0)
    two = torch.tensor([0, 0, 0, 1])                                     # p = (3/4, 1/4)
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert metrics.codebook_perplexity(two, 8) == pytest.approx(math.exp(h))


def test_dead_codes_counts_unused_codes():
    assert metrics.dead_codes(torch.tensor([[0, 2], [2, 5]]), 8) == 5
    assert metrics.dead_codes(torch.arange(8), 8) == 0


@pytest.mark.parametrize("fn", [metrics.codebook_perplexity, metrics.dead_codes])
def test_codebook_metrics_bad_input(fn):
    with pytest.raises(TypeError, match="integer"):
        fn(torch.zeros(3), 4)
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        fn(torch.tensor([0, 4]), 4)
    with pytest.raises(ValueError, match="empty"):
        fn(torch.zeros(0, dtype=torch.long), 4)
    with pytest.raises(TypeError, match="num_codes"):
        fn(torch.tensor([0]), 4.0)


# --- VectorQuantizer: remedies ------------------------------------------------------------

def test_restart_revives_dead_codes_from_encoder_outputs():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 2, restart_dead=True, restart_every=1)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0]] + [[200.0 + i, 0.0] for i in range(7)]))
    z = torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(1))   # all near code 0
    vq.train()
    _, idx, _ = vq(z)                                         # counts usage: only code 0
    assert metrics.dead_codes(idx, 8) == 7 and vq.restarted == 0
    vq(z)                                                     # 2nd forward restarts first, then quantizes
    assert vq.restarted == 7
    rows = z.permute(0, 2, 3, 1).reshape(-1, 2)
    for code in vq.codebook[1:].detach():
        assert (rows - code).abs().sum(1).min() < 1e-6       # each revived code is one of the encoder outputs
    _, idx, _ = vq(z)
    assert metrics.dead_codes(idx, 8) < 7


def test_without_remedy_dead_codes_stay_dead_and_eval_changes_nothing():
    vq = VectorQuantizer(8, 2)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0]] + [[200.0 + i, 0.0] for i in range(7)]))
    z = torch.randn(4, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    before = vq.codebook.detach().clone()
    vq.train()
    for _ in range(30):
        vq(z)
    assert torch.equal(vq.codebook.detach(), before) and vq.restarted == 0
    r = VectorQuantizer(8, 2, restart_dead=True, restart_every=1).eval()
    with torch.no_grad():
        r.codebook.copy_(before)
    r(z), r(z)
    assert torch.equal(r.codebook.detach(), before) and r.restarted == 0   # eval mode: no restarts


def test_kmeans_init_places_codes_on_the_data():
    torch.manual_seed(0)
    centers = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    pts = (centers.repeat(40, 1) + 0.1 * torch.randn(120, 2)).T.reshape(1, 2, 10, 12)
    vq = VectorQuantizer(3, 2, kmeans_init=True).train()
    _, idx, _ = vq(pts)
    assert metrics.dead_codes(idx, 3) == 0
    assert torch.cdist(vq.codebook.detach(), centers).min(1).values.max() < 0.5


def test_quantizer_forward_shapes_and_bad_grid():
    vq = VectorQuantizer(5, 3)
    q, idx, loss = vq(torch.randn(2, 3, 7, 7))
    assert q.shape == (2, 3, 7, 7) and idx.shape == (2, 7, 7) and loss.dim() == 0
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        vq(torch.randn(2, 7, 7, 3))
    with pytest.raises(TypeError, match="restart_dead"):
        VectorQuantizer(5, 3, restart_dead=1)
    with pytest.raises(ValueError, match="num_codes"):
        VectorQuantizer(0, 3)


# --- VQVAE --------------------------------------------------------------------------------

def test_vqvae_keeps_the_autoencoder_contract():
    torch.manual_seed(0)
    m = VQVAE(num_codes=8, code_dim=3, channels=(2, 4))
    assert isinstance(m, models.Autoencoder) and m.code_size == 3 * 49 == models.code_size(m)
    x = torch.rand(2, 1, 28, 28)
    z = m.encode(x)
    assert z.shape == (2, 147)
    out = m.decode(z)
    assert out.shape == (2, 1, 28, 28) and 0 <= out.min() and out.max() <= 1
    idx = m.encode_indices(x)
    assert idx.shape == (2, *GRID) and idx.dtype == torch.int64
    assert torch.allclose(torch.sigmoid(m.decode_indices(idx)), out, atol=1e-6)
    with pytest.raises(ValueError, match=r"VQVAE\.encode expects shape \(N, 1, 28, 28\)"):
        m.encode(torch.rand(2, 5))
    with pytest.raises(ValueError, match=r"VQVAE\.decode expects shape \(N, 147\)"):
        m.decode(torch.rand(2, 4))
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        m.encode(x.double())
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        m.decode_indices(torch.full((1, 7, 7), 8))
    assert m.rate_bound_bits() == pytest.approx(49 * 3)


def test_vqvae_loss_parts_and_a_short_fit_learns():
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 0.5
    x[:, :, 10:18, 10:18] = 0.9
    m = VQVAE(num_codes=8, code_dim=4, channels=(4, 8), restart_dead=True)
    loss, parts, idx = m.forward_loss(x.round())
    expect = parts["recon"] + 49 * (parts["codebook"] + parts["commitment"])
    assert torch.allclose(loss, expect)
    h = fit_vqvae(m, x, steps=40, batch_size=16, seed=0, monitor=x[:8], monitor_every=20)
    assert h["step"] == [0, 20, 40] and len(h["loss"]) == 40
    assert sum(h["recon"][-5:]) < sum(h["recon"][:5])
    assert all(1 <= p <= 8 for p in h["perplexity"]) and all(0 <= d < 8 for d in h["dead"])


def test_fit_vqvae_is_deterministic_and_leaves_global_rng_alone():
    x = torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        m = VQVAE(num_codes=8, code_dim=4, channels=(2, 4), restart_dead=True, restart_every=2)
        state = torch.get_rng_state()
        runs.append(fit_vqvae(m, x, steps=6, batch_size=8, seed=3)["loss"])
        assert torch.equal(torch.get_rng_state(), state)
    assert runs[0] == runs[1]
    with pytest.raises(TypeError, match="VQVAE"):
        fit_vqvae(torch.nn.Linear(2, 2), x)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit_vqvae(m, x * 2)


# --- the prior over codes -----------------------------------------------------------------

def test_prior_is_causal():
    torch.manual_seed(0)
    prior = CodePrior(6, dim=8, heads=2).eval()
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 6, (1, 7, 7), generator=g)
    base = prior(a).flatten(2)                                          # (1, K, 49)
    for i in (0, 10, 24, 48):
        b = a.clone().flatten(1)
        b[0, i:] = torch.randint(0, 6, (49 - i,), generator=g)          # change position i and everything after
        b[0, i] = (a.flatten(1)[0, i] + 1) % 6
        out = prior(b.reshape(1, 7, 7)).flatten(2)
        assert torch.allclose(out[..., :i + 1], base[..., :i + 1], atol=1e-5)   # logits for c_<=i: unchanged
        if i < 48:
            assert not torch.allclose(out[..., i + 1:], base[..., i + 1:])      # later ones do see c_i


def test_prior_nll_sampling_and_fit():
    torch.manual_seed(0)
    prior = CodePrior(4, dim=8, heads=2)
    grids = torch.zeros(50, 7, 7, dtype=torch.long)
    grids[:, :, 3:] = 2                                                  # a deterministic pattern
    start = prior.nll(grids).mean().item()
    assert start == pytest.approx(49 * math.log(4), rel=0.3)
    hist = fit_prior(prior, grids, steps=60, batch_size=16, lr=1e-2, seed=0)
    assert prior.nll(grids).mean().item() < 0.1 * start and len(hist) == 60
    s = prior.sample(3, generator=torch.Generator().manual_seed(0))
    assert s.shape == (3, 7, 7) and s.dtype == torch.int64 and (s == grids[:3]).float().mean() > 0.9
    with pytest.raises(ValueError, match=r"\(N, 7, 7\)"):
        prior(torch.zeros(2, 49, dtype=torch.long))
    with pytest.raises(TypeError, match="integer"):
        prior.nll(torch.zeros(2, 7, 7))
    with pytest.raises(ValueError, match="divisible"):
        CodePrior(4, dim=9, heads=2)


def test_code_marginals_are_smoothed_frequencies():
    grids = torch.zeros(3, 2, 2, dtype=torch.long)
    grids[0, 0, 0] = 1
    p = code_marginals(grids, 3, smoothing=1.0)
    assert p.shape == (2, 2, 3) and torch.allclose(p.sum(-1), torch.ones(2, 2))
    assert torch.allclose(p[0, 0], torch.tensor([3.0, 2.0, 1.0]) / 6)
    assert torch.allclose(code_marginals(grids, 3, smoothing=0.0)[1, 1], torch.tensor([1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        code_marginals(grids, 1)
    with pytest.raises(ValueError, match="smoothing"):
        code_marginals(grids, 3, smoothing=-1.0)
