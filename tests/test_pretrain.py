"""Greedy pretraining helpers: freezing, encoding through a frozen stack, CD training of an RBM."""

from __future__ import annotations

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
