"""Greedy pretraining helpers: freezing, encoding through a frozen stack, CD training of an RBM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from aelab import pretrain
from aelab.models import RBM


def test_freeze_sets_the_flag_on_every_parameter_and_eval_mode():
    net = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 2))
    pretrain.freeze(net[0])
    assert not any(p.requires_grad for p in net[0].parameters())
    assert all(p.requires_grad for p in net[2].parameters())
    assert pretrain.trainable_parameters(net) == list(net[2].parameters())
    pretrain.unfreeze(net[0])
    assert all(p.requires_grad for p in net.parameters())


def test_a_frozen_layer_does_not_move_in_training():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 4))
    pretrain.freeze(net[0])
    before = net[0].weight.clone()
    opt = torch.optim.SGD(pretrain.trainable_parameters(net), lr=0.5)
    x = torch.rand(8, 4)
    for _ in range(5):
        opt.zero_grad()
        (net(x) - x).pow(2).sum().backward()
        opt.step()
    assert torch.equal(before, net[0].weight)
    assert net[0].weight.grad is None


def test_encode_dataset_has_no_graph_uses_eval_mode_and_restores_training():
    torch.manual_seed(0)
    enc = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.9))
    enc.train()
    x = torch.rand(23, 5)
    a = pretrain.encode_dataset(enc, x, batch_size=4)
    b = pretrain.encode_dataset(enc, x, batch_size=50)
    assert a.shape == (23, 8) and a.grad_fn is None
    assert torch.allclose(a, b)  # dropout off: deterministic
    assert torch.allclose(a, enc[0](x).detach(), atol=1e-6)
    assert enc.training


def test_encode_dataset_calls_encode_of_an_autoencoder():
    rbm = RBM(6, 3)
    x = torch.rand(7, 6)
    assert torch.allclose(pretrain.encode_dataset(rbm, x, batch_size=3), rbm.hidden_probs(x).detach())


@pytest.mark.parametrize("call, error, match", [
    (lambda: pretrain.freeze("layer"), TypeError, "nn.Module"),
    (lambda: pretrain.encode_dataset(nn.Linear(2, 2), [[1.0, 2.0]]), TypeError, "torch.Tensor"),
    (lambda: pretrain.encode_dataset(nn.Linear(2, 2), torch.rand(3, 2), batch_size=0), ValueError, "batch_size"),
    (lambda: pretrain.train_rbm(RBM(4, 2), torch.rand(5, 4), epochs=0), ValueError, "epochs"),
    (lambda: pretrain.train_rbm(RBM(4, 2), torch.rand(5, 2, 2), epochs=1), ValueError, r"\(N, n_visible\)"),
    # issue 18 item 2 / issue 22 items 11-12: one vocabulary; empty data and lr=inf are refused up front
    (lambda: pretrain.train_rbm(RBM(4, 2), torch.rand(0, 4), epochs=1), ValueError, "empty"),
    (lambda: pretrain.train_rbm(RBM(4, 2), torch.rand(5, 4), epochs=1, lr=float("inf")), ValueError, "lr must be finite"),
    (lambda: pretrain.train_rbm(RBM(4, 2), torch.rand(5, 4), epochs=2.0), TypeError, "epochs must be an integer"),
    (lambda: pretrain.train_rbm(RBM(4, 2), torch.rand(5, 4), epochs=True), TypeError, "epochs must be an integer"),
    (lambda: pretrain.train_rbm(RBM(4, 2), torch.rand(5, 4), epochs=1, k=0), ValueError, "k must be at least 1"),
    (lambda: pretrain.encode_dataset(nn.Linear(2, 2), torch.rand(3, 2), batch_size=2.0), TypeError, "batch_size"),
    (lambda: pretrain.train_autoencoder_stack(torch.rand(4, 6), [3, 2.0], epochs=1), TypeError, r"sizes\[1\]"),
    (lambda: pretrain.train_autoencoder_stack(torch.rand(4, 6), [3], epochs=1, name="a\0b"), ValueError, "NUL"),
    (lambda: pretrain.labeled_subset(torch.arange(10) % 2, 4.0), TypeError, "n must be an integer"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_train_rbm_learns_bars_and_is_seeded():
    # 2x3 "bars" images: each row pattern is one of two bars
    patterns = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=torch.float32)
    data = patterns.repeat(50, 1)
    state = torch.random.get_rng_state()
    rbm = RBM(6, 4, seed=0)
    errors = pretrain.train_rbm(rbm, data, epochs=40, batch_size=10, lr=0.1, seed=3, progress=False)
    assert torch.equal(state, torch.random.get_rng_state())
    assert errors[-1] < 0.3 * errors[0]
    again = RBM(6, 4, seed=0)
    assert pretrain.train_rbm(again, data, epochs=40, batch_size=10, lr=0.1, seed=3, progress=False) == errors
    # the data are far likelier than their complements (free energy lower)
    others = torch.tensor([[1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]], dtype=torch.float32)
    assert rbm.free_energy(patterns).max() < rbm.free_energy(others).min() - 2


# --------------------------------------------------------------------------- stacking, unrolling, fine-tuning nets
from aelab.models import ShallowAutoencoder, StackedAutoencoder  # noqa: E402
from aelab.models.stacked import initialize, layer_weights  # noqa: E402


def _rbm(n_v, n_h, seed):
    rbm = RBM(n_v, n_h, seed=seed)
    g = torch.Generator().manual_seed(seed + 10)
    with torch.no_grad():
        rbm.W.copy_(torch.randn(n_h, n_v, generator=g))
        rbm.b_visible.copy_(torch.randn(n_v, generator=g))
        rbm.b_hidden.copy_(torch.randn(n_h, generator=g))
    return rbm


def test_unrolling_one_rbm_gives_its_mean_field_reconstruction_and_copies():
    rbm = _rbm(6, 3, 0)
    deep = pretrain.unroll([rbm])
    x = torch.rand(5, 6)
    assert torch.allclose(deep(x), rbm(x), atol=1e-6)
    enc, dec = deep.linear_layers()
    assert torch.equal(enc.weight, rbm.W) and torch.equal(dec.weight, rbm.W.t())
    assert enc.weight.data_ptr() != rbm.W.data_ptr()
    with torch.no_grad():
        enc.weight.add_(1.0)
    assert not torch.equal(enc.weight, rbm.W)  # copied, not shared


def test_unrolling_a_stack_encodes_through_each_piece_and_decodes_in_reverse():
    rbms = [_rbm(6, 4, 0), _rbm(4, 2, 1)]
    deep = pretrain.unroll(rbms)
    x = torch.rand(5, 6)
    with torch.no_grad():
        code = rbms[1].hidden_probs(rbms[0].hidden_probs(x))
        assert torch.allclose(deep.encode(x), code, atol=1e-6)
        assert torch.allclose(deep.decode(code), rbms[0].visible_probs(rbms[1].visible_probs(code)), atol=1e-6)
    assert deep.dims == (6, 4, 2) and deep.code_size == 2


def test_unrolling_one_autoencoder_equals_it():
    torch.manual_seed(0)
    ae = ShallowAutoencoder(12, 5, input_shape=(1, 3, 4))
    deep = pretrain.unroll([ae], input_shape=(1, 3, 4))
    x = torch.rand(4, 1, 3, 4)
    assert torch.allclose(deep(x), ae(x), atol=1e-6)


def test_unroll_rejects_sizes_that_do_not_chain():
    with pytest.raises(ValueError, match="takes 5 inputs"):
        pretrain.unroll([RBM(6, 4), RBM(5, 2)])
    with pytest.raises(ValueError, match="at least one"):
        pretrain.unroll([])
    with pytest.raises(TypeError, match="RBM, a ShallowAutoencoder"):
        layer_weights("layer")


def test_classifier_from_encoders_copies_weights_and_computes_the_codes():
    rbms = [_rbm(6, 4, 0), _rbm(4, 3, 1)]
    before = [p.clone() for r in rbms for p in r.parameters()]
    clf = pretrain.classifier_from_encoders(rbms, n_classes=5, seed=0)
    x = torch.rand(7, 6)
    with torch.no_grad():
        assert torch.allclose(clf[:-1](x), rbms[1].hidden_probs(rbms[0].hidden_probs(x)), atol=1e-6)
    assert clf(x).shape == (7, 5)
    opt = torch.optim.SGD(clf.parameters(), lr=1.0)
    torch.nn.functional.cross_entropy(clf(x), torch.arange(7) % 5).backward()
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, (p for r in rbms for p in r.parameters())))
    assert not torch.equal(clf[1].weight, rbms[0].W)  # fine-tuning moved the copy only
    again = pretrain.classifier_from_encoders(rbms, n_classes=5, seed=0)
    assert torch.equal(again[-1].weight, pretrain.classifier_from_encoders(rbms, n_classes=5, seed=0)[-1].weight)


def test_train_autoencoder_stack_chains_sizes_and_freezes():
    x = torch.rand(64, 1, 4, 4)
    layers, histories = pretrain.train_autoencoder_stack(x, (8, 3), epochs=3, batch_size=16, progress=False)
    assert [l.code_size for l in layers] == [8, 3] and layers[1].n_features == 8
    assert not any(p.requires_grad for l in layers for p in l.parameters())
    assert len(histories) == 2 and histories[0].epochs == 3
    assert histories[0].train_loss[-1] < histories[0].train_loss[0]
    again, _ = pretrain.train_autoencoder_stack(x, (8, 3), epochs=3, batch_size=16, progress=False)
    assert torch.equal(again[1].weight, layers[1].weight)  # seeded
    import functools
    from aelab.data import masking_noise
    dae, _ = pretrain.train_autoencoder_stack(x, (8,), epochs=3, batch_size=16, progress=False,
                                              corrupt=functools.partial(masking_noise, p=0.5))
    assert not torch.equal(dae[0].weight, layers[0].weight)
    with pytest.raises(ValueError, match="sizes"):
        pretrain.train_autoencoder_stack(x, (), epochs=1)


def test_train_rbm_stack_feeds_hidden_probabilities_upward():
    x = (torch.rand(40, 1, 3, 3) > 0.5).float()
    rbms, errors = pretrain.train_rbm_stack(x, (5, 2), epochs=2, batch_size=10, progress=False)
    assert [(r.n_visible, r.n_hidden) for r in rbms] == [(9, 5), (5, 2)]
    assert len(errors) == 2 and len(errors[0]) == 2
    assert not any(p.requires_grad for r in rbms for p in r.parameters())


def test_labeled_subset_is_stratified_and_seeded():
    labels = torch.arange(10).repeat(30)
    idx = pretrain.labeled_subset(labels, 50, seed=1)
    assert len(idx) == 50 and len(set(idx.tolist())) == 50
    assert torch.equal(torch.bincount(labels[idx], minlength=10), torch.full((10,), 5))
    assert torch.equal(idx, pretrain.labeled_subset(labels, 50, seed=1))
    assert not torch.equal(idx, pretrain.labeled_subset(labels, 50, seed=2))
    assert sorted(pretrain.labeled_subset(labels, 300).tolist()) == list(range(300))
    with pytest.raises(ValueError, match="multiple"):
        pretrain.labeled_subset(labels, 15)


def test_accuracy_counts_arg_max_matches():
    net = nn.Sequential(nn.Identity())
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0], [0.0, 1.0]])
    assert pretrain.accuracy(net, logits, torch.tensor([0, 1, 1, 1])) == 0.75


def test_layer_gradient_norms_match_autograd_and_vanish_with_small_sigmoid_weights():
    model = initialize(StackedAutoencoder((20, 10, 5)), "small", seed=0)
    x = torch.rand(8, 20)
    norms = pretrain.layer_gradient_norms(model, x)
    loss = (model(x) - x).pow(2).sum(1).mean()
    grads = torch.autograd.grad(loss, [m.weight for m in model.linear_layers()])
    assert norms == pytest.approx([float(g.norm()) for g in grads], rel=1e-5)
    assert norms[0] < 1e-3 * norms[-1]  # each sigmoid layer with weights ~0.01 shrinks the gradient


@pytest.mark.parametrize("scheme, var", [("small", 1e-4), ("glorot", 2 / (300 + 200)), ("he", 2 / 300)])
def test_initialize_draws_the_stated_variance(scheme, var):
    lin = nn.Linear(300, 200)
    initialize(lin, scheme, seed=0)
    assert float(lin.weight.detach().var()) == pytest.approx(var, rel=0.05)
    assert float(lin.bias.detach().abs().max()) == 0.0
    with pytest.raises(ValueError, match="scheme"):
        initialize(lin, "xavier")


def test_stacked_autoencoder_shapes_and_checks():
    model = StackedAutoencoder((784, 32, 8), input_shape=(1, 28, 28))
    x = torch.rand(3, 1, 28, 28)
    assert model.encode(x).shape == (3, 8) and model(x).shape == (3, 1, 28, 28)
    assert float(model.encode(x).detach().min()) >= 0  # sigmoid code
    with pytest.raises(ValueError):
        model.encode(torch.rand(3, 784))
    with pytest.raises((TypeError, ValueError)):
        StackedAutoencoder((784,))


# --- bad input gets a clear error naming what was expected (r05 review) ------------------------------


def test_bad_input_is_named():
    from aelab import models
    from aelab.models.stacked import StackedAutoencoder, initialize

    x = torch.rand(20, 1, 28, 28)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        initialize("not a model", "he")
    with pytest.raises(ValueError, match="std must be a positive"):
        initialize(StackedAutoencoder((784, 20)), "small", std=-0.01)
    with pytest.raises(ValueError, match=r"data must hold pixel values in \[0, 1\]"):
        pretrain.train_autoencoder_stack(5 * x, [5], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"NaN or infinite"):
        pretrain.train_autoencoder_stack(x * float("nan"), [5], epochs=1, progress=False)
    with pytest.raises(ValueError, match="must have 2 or 4 dimensions"):
        pretrain.train_autoencoder_stack(torch.rand(10), [5], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\] and be finite"):
        pretrain.train_rbm_stack(x * float("nan"), [5], epochs=1, progress=False)
    with pytest.raises(ValueError, match="no nn.Linear"):
        pretrain.layer_gradient_norms(torch.nn.Sigmoid(), x)
    with pytest.raises(TypeError, match="integer class labels"):
        pretrain.labeled_subset(torch.rand(10), 2)
    rbm = models.RBM(10, 3)
    with pytest.raises(ValueError, match=r"RBM.energy \(h\) expects shape \(N, 3\)"):
        rbm.energy(torch.rand(4, 10), torch.rand(4, 4))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\] and be finite"):
        rbm.pseudo_log_likelihood(3 * torch.rand(4, 10))


def test_numpy_integers_are_accepted_like_python_ints():
    data = (torch.rand(40, 6) > 0.5).float()
    a = pretrain.train_rbm(RBM(6, 3, seed=0), data, epochs=2, batch_size=10, seed=1, progress=False)
    b = pretrain.train_rbm(RBM(6, 3, seed=0), data, epochs=np.int64(2), batch_size=np.int32(10), k=np.int8(1),
                           lr=np.float32(0.05), seed=np.uint16(1), progress=False)
    assert a == pytest.approx(b)
    assert torch.equal(pretrain.labeled_subset(torch.arange(10) % 2, np.int64(4), seed=np.int64(2)),
                       pretrain.labeled_subset(torch.arange(10) % 2, 4, seed=2))


def test_a_diverging_rbm_stops_with_training_diverged(monkeypatch):
    from aelab.train import TrainingDiverged

    rbm = RBM(6, 3, seed=0)

    def overflow(batch, *, lr, k, generator):
        with torch.no_grad():
            rbm.W.fill_(float("nan"))
        return float("nan")

    monkeypatch.setattr(rbm, "cd_step", overflow)
    with pytest.raises(TrainingDiverged, match="epoch 1.*lower the learning rate"):
        pretrain.train_rbm(rbm, torch.rand(8, 6), epochs=3, progress=False)


def test_the_stack_trains_through_fit_cached_with_and_without_the_cache(monkeypatch, tmp_path):
    """Issue 18 item 7: pretrain does not re-implement seed, build, fit: it calls zoo.fit_cached(cache=...)."""
    from aelab import zoo

    monkeypatch.setenv("AELAB_DATA", str(tmp_path))
    calls = []
    real = zoo.fit_cached

    def spy(name, build, data, **kw):
        calls.append((name, kw["cache"]))
        return real(name, build, data, **kw)

    monkeypatch.setattr(zoo, "fit_cached", spy)
    x = torch.rand(32, 6)
    plain, _ = pretrain.train_autoencoder_stack(x, [4, 2], epochs=1, progress=False)
    cached, _ = pretrain.train_autoencoder_stack(x, [4, 2], epochs=1, progress=False, name="stack")
    assert calls == [("stage 1", False), ("stage 2", False), ("stack_layer1", True), ("stack_layer2", True)]
    for a, b in zip(plain, cached):  # the same seeds, so the same layers
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert not (tmp_path / "zoo").exists() or len(list((tmp_path / "zoo").glob("stack_layer*.pt"))) == 2
