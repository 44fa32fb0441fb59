"""Sparse autoencoder (lecture 08): TopK, the loss, unit decoder columns, MMCS, dead latents, AuxK."""

import pytest
import torch

from aelab import data, metrics
from aelab.models.sae import SparseAutoencoder, auxk_loss, fit_sae, sae_loss, topk_activation


def test_topk_keeps_exactly_k_per_input_not_per_batch():
    g = torch.Generator().manual_seed(0)
    pre = torch.randn(64, 40, generator=g)
    pre[0] += 10.0                                     # one row dominates: a per-batch top-k would keep only it
    f = topk_activation(pre, 3)
    kept = pre.topk(3, dim=1).indices
    for n in range(len(pre)):
        expected = torch.zeros(40)
        expected[kept[n]] = pre[n, kept[n]].relu()
        assert torch.equal(f[n], expected)
    assert ((f != 0).sum(1) <= 3).all()


def test_topk_zeroes_negative_values_among_the_top_k():
    pre = torch.tensor([[-1.0, -2.0, -3.0, -4.0], [3.0, -1.0, 2.0, -5.0]])
    f = topk_activation(pre, 2)
    assert torch.equal(f, torch.tensor([[0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 2.0, 0.0]]))


def test_decoder_columns_stay_unit_norm_after_fit():
    x, _, _ = data.superposition(32, 8, 0.9, 500, seed=0)
    for kwargs, l1 in ((dict(activation="relu"), 0.3), (dict(activation="topk", k=2), 0.0)):
        model = SparseAutoencoder(8, 48, seed=0, **kwargs)
        fit_sae(model, x, l1=l1, steps=20, batch_size=32, lr=1e-2)
        assert torch.allclose(model.decoder_weight.norm(dim=0), torch.ones(48), atol=1e-5)


def test_sae_loss_is_invariant_to_rescaling_a_latent_against_its_column():
    x, _, _ = data.superposition(32, 8, 0.9, 100, seed=1)
    model = SparseAutoencoder(8, 48, seed=0)
    before = sae_loss(model, x, l1=0.7)
    with torch.no_grad():                              # latent 3 smaller by c, its decoder column longer by c
        c = 5.0
        model.encoder_weight[3] /= c
        model.encoder_bias[3] /= c
        model.decoder_weight[:, 3] *= c
    assert torch.allclose(sae_loss(model, x, l1=0.7), before, rtol=1e-5)


def test_mmcs_is_one_for_a_permuted_rescaled_dictionary_and_lower_when_perturbed():
    _, _, directions = data.superposition(64, 16, 0.9, 10, seed=2)
    g = torch.Generator().manual_seed(0)
    learned = directions[:, torch.randperm(64, generator=g)] * (0.5 + torch.rand(64, generator=g))
    assert metrics.mean_max_cosine_similarity(learned, directions) == pytest.approx(1.0, abs=1e-6)
    noisy = learned + 0.3 * torch.randn(learned.shape, generator=g)
    assert metrics.mean_max_cosine_similarity(noisy, directions) < 0.99


def test_dead_fraction_on_a_constructed_case():
    codes = torch.zeros(5, 4)
    codes[0, 0] = 1.0
    codes[3, 2] = 1e-30                                # any non-zero value counts as alive
    assert metrics.dead_latents(codes).tolist() == [False, True, False, True]
    assert metrics.dead_fraction(codes) == 0.5


def _dying_case(aux_k, seed):
    """TopK SAE at a high learning rate: latents pushed out of every input's top k stop getting gradient."""
    x, _, _ = data.superposition(64, 16, 0.95, 3000, seed=3)
    model = SparseAutoencoder(16, 64, activation="topk", k=3, seed=seed)
    fit_sae(model, x[:2500], steps=200, batch_size=64, lr=5e-2, seed=seed, aux_k=aux_k, dead_steps=10)
    with torch.no_grad():
        return metrics.dead_fraction(model.encode(x[2500:]))


def test_auxk_lowers_the_dead_fraction_where_latents_die_without_it():
    without = [_dying_case(None, s) for s in range(3)]
    with_aux = [_dying_case(8, s) for s in range(3)]
    assert min(without) > 0.1                          # the case does kill latents
    assert sum(with_aux) < sum(without)


def _history(**kwargs):
    x, _, _ = data.superposition(32, 8, 0.9, 400, seed=4)
    model = SparseAutoencoder(8, 40, activation="topk", k=2, seed=1)
    return fit_sae(model, x, steps=15, batch_size=32, lr=1e-2, seed=5, **kwargs), model


def test_fit_without_aux_is_deterministic_and_aux_with_zero_weight_changes_nothing():
    h1, m1 = _history()
    h2, m2 = _history()
    h3, m3 = _history(aux_k=4, aux_coef=0.0, dead_steps=1)
    assert h1 == h2 == h3
    for a, b in zip(m1.parameters(), m3.parameters()):
        assert torch.equal(a, b)


def test_fit_returns_steps_since_active():
    h, _ = _history(aux_k=4, dead_steps=3, return_inactive=True)
    history, inactive = h
    assert len(history) == 15 and inactive.shape == (40,) and inactive.dtype == torch.long
    assert int(inactive.max()) <= 15


def test_auxk_loss_is_zero_without_dead_latents_and_positive_with_them():
    x, _, _ = data.superposition(32, 8, 0.9, 64, seed=5)
    model = SparseAutoencoder(8, 40, activation="topk", k=2, seed=0)
    x_hat = model.decode(model.encode(x))
    none = torch.zeros(40, dtype=torch.bool)
    assert auxk_loss(model, x, x_hat, none, 4).item() == 0.0
    loss = auxk_loss(model, x, x_hat, ~none, 4)
    assert loss.item() > 0
    loss.backward()
    assert model.encoder_weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(aux_k=0), ValueError, "aux_k"),
    (dict(aux_k=2.5), TypeError, "aux_k"),
    (dict(aux_k=4, dead_steps=0), ValueError, "dead_steps"),
    (dict(aux_k=4, aux_coef=-1.0), ValueError, "aux_coef"),
    (dict(return_inactive=True), ValueError, "aux_k"),
    (dict(steps=0), ValueError, "steps"),
])
def test_fit_sae_bad_arguments(kwargs, error, match):
    x = torch.rand(20, 8)
    with pytest.raises(error, match=match):
        fit_sae(SparseAutoencoder(8, 16, activation="topk", k=2), x, **kwargs)


def test_fit_sae_bad_model_and_input():
    with pytest.raises(TypeError, match="SparseAutoencoder"):
        fit_sae(torch.nn.Linear(8, 8), torch.rand(20, 8))
    with pytest.raises((TypeError, ValueError)):
        fit_sae(SparseAutoencoder(8, 16), torch.rand(20, 9))
    with pytest.raises(TypeError):
        fit_sae(SparseAutoencoder(8, 16), torch.ones(20, 8, dtype=torch.long))


def test_auxk_loss_bad_arguments():
    model = SparseAutoencoder(8, 16)
    x = torch.rand(4, 8)
    with pytest.raises(TypeError, match="bool"):
        auxk_loss(model, x, x, torch.zeros(16), 2)
    with pytest.raises(ValueError, match="shape"):
        auxk_loss(model, x, x, torch.zeros(15, dtype=torch.bool), 2)
    with pytest.raises(ValueError, match="x_hat"):
        auxk_loss(model, x, x[:2], torch.zeros(16, dtype=torch.bool), 2)
    with pytest.raises(TypeError, match="SparseAutoencoder"):
        auxk_loss(torch.nn.Linear(8, 8), x, x, torch.zeros(16, dtype=torch.bool), 2)
