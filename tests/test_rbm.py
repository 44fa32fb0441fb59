"""The RBM: energy and free energy against brute-force sums, CD-k against the exact gradient."""

from __future__ import annotations

import itertools

import pytest
import torch

from aelab.models.rbm import RBM


def _tiny(seed=0, n_v=4, n_h=3, scale=0.8):
    rbm = RBM(n_v, n_h, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        rbm.W.copy_(scale * torch.randn(n_h, n_v, generator=g))
        rbm.b_visible.copy_(0.5 * torch.randn(n_v, generator=g))
        rbm.b_hidden.copy_(0.5 * torch.randn(n_h, generator=g))
    return rbm


def _all_states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


def test_free_energy_equals_minus_log_sum_over_hidden_states():
    rbm = _tiny()
    v = _all_states(rbm.n_visible)
    hs = _all_states(rbm.n_hidden)
    with torch.no_grad():
        brute = torch.stack([-torch.logsumexp(-rbm.energy(vi.expand(len(hs), -1), hs), 0) for vi in v])
        assert torch.allclose(rbm.free_energy(v), brute, atol=1e-5)


def test_conditionals_match_the_joint_distribution():
    rbm = _tiny(seed=3)
    v, h = _all_states(rbm.n_visible), _all_states(rbm.n_hidden)
    with torch.no_grad():
        vv, hh = v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)
        joint = torch.softmax(-rbm.energy(vv, hh), 0).view(len(v), len(h))  # p(v, h)
        p_h_given_v = joint / joint.sum(1, keepdim=True)
        exact = p_h_given_v @ h  # E[h | v]
        assert torch.allclose(rbm.hidden_probs(v), exact, atol=1e-5)


def _exact_gradient(rbm, data):
    """d/dθ mean log p(data) by enumerating every (v, h) of a tiny RBM."""
    v = _all_states(rbm.n_visible)
    params = [rbm.W, rbm.b_visible, rbm.b_hidden]
    log_z = torch.logsumexp(-rbm.free_energy(v), 0)
    loglik = (-rbm.free_energy(data) - log_z).mean()
    return dict(zip(["W", "b_visible", "b_hidden"], torch.autograd.grad(loglik, params)))


def test_cd_with_many_steps_estimates_the_exact_log_likelihood_gradient():
    rbm = _tiny(seed=1, scale=0.5)
    g = torch.Generator().manual_seed(0)
    data = torch.bernoulli(torch.full((8, rbm.n_visible), 0.3), generator=g)
    exact = _exact_gradient(rbm, data)
    many = data.repeat(4000, 1)  # 32,000 chains started at the data
    stats = rbm.contrastive_divergence(many, k=25, sample_visible=True, generator=g)
    for name, value in exact.items():
        assert torch.allclose(stats[name], value, atol=0.02), (name, stats[name], value)
    # with mean-field visible units (Hinton's recipe) the estimate is close but biased
    recipe = rbm.contrastive_divergence(many, k=25, generator=g)
    assert (recipe["W"] - exact["W"]).abs().max() < 0.15


def test_cd1_ascends_the_likelihood_of_the_training_data():
    rbm = _tiny(seed=2, scale=0.1)
    g = torch.Generator().manual_seed(1)
    data = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]).repeat(16, 1)
    v = _all_states(rbm.n_visible)

    def loglik():
        with torch.no_grad():
            return float((-rbm.free_energy(data) - torch.logsumexp(-rbm.free_energy(v), 0)).mean())

    before = loglik()
    errors = [rbm.cd_step(data, lr=0.1, k=1, generator=g) for _ in range(300)]
    assert loglik() > before + 1.0
    assert errors[-1] < errors[0]


def test_cd_statistics_do_not_change_the_model_and_a_step_does():
    rbm = RBM(6, 3, seed=0)
    data = torch.rand(5, 6)
    before = [p.clone() for p in rbm.parameters()]
    rbm.contrastive_divergence(data, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(before, rbm.parameters()))
    rbm.cd_step(data, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(before[0], rbm.W)


def test_same_seed_same_statistics():
    rbm, data = RBM(6, 3, seed=4), torch.rand(5, 6)
    a = rbm.contrastive_divergence(data, k=2, generator=torch.Generator().manual_seed(7))
    b = rbm.contrastive_divergence(data, k=2, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_pseudo_log_likelihood_matches_its_definition():
    rbm = _tiny(seed=5)
    v = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    pll = rbm.pseudo_log_likelihood(v, generator=torch.Generator().manual_seed(0))
    # whichever unit was flipped, the value is n_visible * log p(v_i | v_-i) for that unit
    with torch.no_grad():
        candidates = []
        for i in range(4):
            w = v.clone()
            w[0, i] = 1 - w[0, i]
            candidates.append(4 * torch.nn.functional.logsigmoid(rbm.free_energy(w) - rbm.free_energy(v)))
    assert any(torch.allclose(pll, c) for c in candidates)
    assert float(pll) < 0


@pytest.mark.parametrize("call, match", [
    (lambda r: r.contrastive_divergence(torch.rand(2, 6), k=0), "k must be at least 1"),
    (lambda r: r.contrastive_divergence(torch.rand(2, 6) * 255), r"must lie in \[0, 1\]"),
    (lambda r: r.cd_step(torch.rand(2, 6), lr=-1), r"lr must be in \(0, inf\]"),
    (lambda r: r.cd_step(torch.rand(2, 6), lr=float("inf")), "lr must be finite"),
    (lambda r: r.contrastive_divergence(torch.rand(0, 6)), "no examples"),
    (lambda r: r.hidden_probs(torch.rand(2, 5)), "6"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call(RBM(6, 3))


@pytest.mark.parametrize("args", [(0, 3), (6, 2.5), (True, 3)])
def test_bad_sizes(args):
    with pytest.raises((TypeError, ValueError)):
        RBM(*args)


def test_log_partition_sums_over_every_visible_and_hidden_state():
    rbm = _tiny(seed=6)
    v, h = _all_states(rbm.n_visible), _all_states(rbm.n_hidden)
    with torch.no_grad():
        vv, hh = v.repeat_interleave(len(h), 0), h.repeat(len(v), 1)
        brute = torch.logsumexp(-rbm.energy(vv, hh), 0)
        assert torch.allclose(rbm.log_partition(), brute, atol=1e-5)
        assert torch.allclose(rbm.log_likelihood(v).exp().sum(), torch.tensor(1.0), atol=1e-5)
    with pytest.raises(ValueError, match="at most 20"):
        RBM(21, 2).log_partition()


def test_free_energy_and_pseudo_log_likelihood_equal_scikit_learns():
    """On binary data our free energy and PLL are scikit-learn's BernoulliRBM's (the lecture compares both)."""
    import numpy as np
    from sklearn.neural_network import BernoulliRBM

    g = torch.Generator().manual_seed(0)
    v = torch.bernoulli(torch.full((50, 12), 0.4), generator=g).double()
    sk = BernoulliRBM(n_components=5, n_iter=3, random_state=0).fit(v.numpy())
    rbm = RBM(12, 5).double()
    with torch.no_grad():
        rbm.W.copy_(torch.as_tensor(sk.components_))
        rbm.b_hidden.copy_(torch.as_tensor(sk.intercept_hidden_))
        rbm.b_visible.copy_(torch.as_tensor(sk.intercept_visible_))
        assert np.allclose(rbm.free_energy(v).numpy(), sk._free_energy(v.numpy()))
        # scikit-learn flips the units RandomState(random_state).randint(0, n_visible, N) picks
        idx = torch.as_tensor(np.random.RandomState(0).randint(0, 12, 50))
        flipped = v.clone()
        flipped[torch.arange(50), idx] = 1 - flipped[torch.arange(50), idx]
        ours = 12 * torch.nn.functional.logsigmoid(rbm.free_energy(flipped) - rbm.free_energy(v))
    assert np.allclose(ours.numpy(), sk.score_samples(v.numpy()))
    # and our stochastic version averages to the same exact mean over the units
    exact = torch.stack([12 * torch.nn.functional.logsigmoid(rbm.free_energy(
        torch.where(torch.arange(12) == i, 1 - v, v)) - rbm.free_energy(v)) for i in range(12)]).mean(0)
    gen = torch.Generator().manual_seed(1)
    mc = torch.stack([rbm.pseudo_log_likelihood(v, generator=gen) for _ in range(3000)]).mean(0)
    assert torch.allclose(mc, exact, rtol=0.1, atol=0.5)


def test_a_diverging_cd_step_raises_training_diverged_naming_lr():
    """Issue 22.11: a huge learning rate gives NaN/inf weights; stop with TrainingDiverged, not torch's 'p_in >= 0'."""
    from aelab.errors import TrainingDiverged

    rbm = RBM(6, 3, seed=0)
    v = torch.bernoulli(torch.full((8, 6), 0.5), generator=torch.Generator().manual_seed(0))
    with pytest.raises(TrainingDiverged, match=r"lr=1e\+300.*lower the learning rate"):
        for _ in range(5):
            rbm.cd_step(v, lr=1e300)
    with torch.no_grad():
        rbm.W.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="weights hold NaN"):
        rbm.contrastive_divergence(v)


def test_numpy_numbers_are_accepted_and_bools_refused():
    import numpy as np

    rbm = RBM(np.int64(6), np.int32(3), seed=np.int64(1))
    v = torch.rand(4, 6)
    assert rbm.cd_step(v, lr=np.float32(0.1), k=np.int64(2)) >= 0
    with pytest.raises(TypeError, match="k must be an integer"):
        rbm.cd_step(v, k=True)
    with pytest.raises(TypeError, match="seed must be an integer"):
        RBM(6, 3, seed=1.0)


def test_train_reexports_the_one_training_diverged():
    from aelab import errors, train

    assert train.TrainingDiverged is errors.TrainingDiverged
