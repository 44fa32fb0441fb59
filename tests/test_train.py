"""aelab.train: fit/evaluate on small problems — learning, determinism, side effects, errors."""

import math

import pytest
import torch
from torch import nn

from aelab.data import add_noise
from aelab.losses import bce_per_image, squared_error_per_image
from aelab.models import MLPAutoencoder
from aelab.train import History, evaluate, fit


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def x():
    """256 'images' of 16 pixels in [0, 1] on a 3-D subspace: learnable in a few epochs."""
    g = torch.Generator().manual_seed(0)
    z = torch.rand(256, 3, generator=g)
    return torch.sigmoid(4 * (z @ torch.randn(3, 16, generator=g)))


def _model(seed=0):
    torch.manual_seed(seed)
    return MLPAutoencoder((16, 8, 3), activation="tanh")


def _fit(model, data, **kw):
    kw = {"epochs": 3, "batch_size": 32, "lr": 1e-2, "device": "cpu", "progress": False, **kw}
    return fit(model, data, **kw)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_loss_goes_down(x):
    m = _model()
    before = evaluate(m, x)
    h = _fit(m, x, epochs=15)
    after = evaluate(m, x)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert after < 0.5 * before
    assert all(math.isfinite(v) for v in h.train_loss)


def test_same_seed_same_numbers(x):
    a, b = _model(), _model()
    ha = _fit(a, x, seed=5, val_data=x[:64])
    hb = _fit(b, x, seed=5, val_data=x[:64])
    assert ha.train_loss == hb.train_loss and ha.val_loss == hb.val_loss  # bitwise equal
    assert _same_state(_state(a), _state(b))


def test_different_seed_different_numbers(x):
    a, b = _model(), _model()
    ha = _fit(a, x, seed=5)
    hb = _fit(b, x, seed=6)
    assert ha.train_loss != hb.train_loss
    assert not _same_state(_state(a), _state(b))


def test_sgd_is_deterministic_too(x):
    a, b = _model(), _model()
    ha = _fit(a, x, seed=1, optimizer="sgd", lr=0.05)
    hb = _fit(b, x, seed=1, optimizer="sgd", lr=0.05)
    assert ha.train_loss == hb.train_loss and _same_state(_state(a), _state(b))


def test_train_step_changes_weights_evaluate_does_not(x):
    m = _model()
    s0 = _state(m)
    _fit(m, x[:32], epochs=1, batch_size=32)  # exactly one optimizer step
    s1 = _state(m)
    assert all(not torch.equal(s0[k], s1[k]) for k in s0), "every parameter should move after one Adam step"

    m.train()
    m.zero_grad(set_to_none=True)
    value = evaluate(m, x)
    assert _same_state(s1, _state(m))
    assert all(p.grad is None for p in m.parameters())  # no backward pass
    assert m.training  # mode restored
    m.eval()
    evaluate(m, x)
    assert not m.training
    assert isinstance(value, float)


def test_evaluate_is_squared_error_per_image(x):
    m = _model()
    with torch.no_grad():
        expected = ((m(x) - x) ** 2).sum(1).mean().item()
    assert evaluate(m, x) == pytest.approx(expected, rel=1e-6)
    assert evaluate(m, x, batch_size=7) == pytest.approx(expected, rel=1e-6)  # independent of batching
    assert evaluate(m, (x, torch.zeros_like(x))) == pytest.approx((m(x) ** 2).sum(1).mean().item(), rel=1e-5)
    assert evaluate(m, x, loss=bce_per_image) == pytest.approx(bce_per_image(m(x), x).item(), rel=1e-5)


def test_evaluate_does_not_build_a_graph(x):
    m = _model()
    seen = []
    evaluate(m, x, loss=lambda out, t: (seen.append(out.requires_grad), squared_error_per_image(out, t))[1])
    assert seen and not any(seen)


def test_history_fields(x):
    m = _model()
    h = _fit(m, x, epochs=4, val_data=(x[:50], x[:50]))
    assert isinstance(h, History)
    assert len(h.train_loss) == 4 and len(h.val_loss) == 4
    assert all(isinstance(v, float) for v in h.train_loss + h.val_loss)
    assert h.images_seen == 4 * len(x)
    assert h.seconds > 0 and h.images_per_second == pytest.approx(h.images_seen / h.seconds)
    assert h.val_loss[-1] == pytest.approx(evaluate(m, x[:50]), rel=1e-6)  # measured after the epoch
    assert "4 epochs" in repr(h) and "val" in repr(h)

    h2 = _fit(_model(), x, epochs=2)
    assert h2.val_loss == [] and len(h2.train_loss) == 2
    assert math.isnan(History().images_per_second)


def test_train_loss_is_mean_per_image_over_the_epoch(x):
    """With lr=0 the weights never move, so the epoch's loss equals evaluate's (uneven last batch too)."""
    m = _model()
    h = _fit(m, x[:100], epochs=2, batch_size=32, lr=0.0, optimizer="sgd")
    expected = evaluate(m, x[:100])
    assert h.train_loss == pytest.approx([expected, expected], rel=1e-5)


def test_each_epoch_sees_every_example_once(x):
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, xb):
            if self.training:
                seen.append(xb.detach().clone())
            return xb * self.w

    data = torch.arange(10, dtype=torch.float32)[:, None]
    _fit(Spy(), data, epochs=2, batch_size=4)
    assert [len(b) for b in seen] == [4, 4, 2, 4, 4, 2]
    first, second = torch.cat(seen[:3]).flatten(), torch.cat(seen[3:]).flatten()
    assert sorted(first.tolist()) == list(range(10)) and sorted(second.tolist()) == list(range(10))
    assert first.tolist() != second.tolist()  # a fresh permutation per epoch


def test_corrupt_hook_corrupts_inputs_not_targets(x):
    inputs, targets, gens = [], [], []

    def corrupt(xb, generator):
        gens.append(generator)
        return torch.zeros_like(xb)

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(16, 16)

        def forward(self, xb):
            if self.training:
                inputs.append(xb.detach().clone())
            return self.lin(xb)

    def loss(out, t):
        targets.append(t.detach().clone())
        return squared_error_per_image(out, t)

    _fit(Spy(), x, epochs=2, batch_size=64, corrupt=corrupt, loss=loss, val_data=x[:10])
    assert len(gens) == 2 * 4 and all(isinstance(g, torch.Generator) for g in gens)
    assert all((xb == 0).all() for xb in inputs)
    train_targets = targets[:4]  # epoch 1's training batches, before its validation pass
    assert torch.equal(torch.cat(train_targets).sort(0).values, x.sort(0).values)  # clean targets, all of them


def test_corrupt_noise_is_seeded(x):
    def corrupt(xb, g):
        return add_noise(xb, "masking", 0.5, generator=g)

    a, b, c = _model(), _model(), _model()
    ha = _fit(a, x, corrupt=corrupt, seed=3)
    hb = _fit(b, x, corrupt=corrupt, seed=3)
    hc = _fit(c, x, seed=3)
    assert ha.train_loss == hb.train_loss and _same_state(_state(a), _state(b))
    assert ha.train_loss != hc.train_loss


def test_pairs_of_inputs_and_targets():
    g = torch.Generator().manual_seed(0)
    xin = torch.randn(128, 4, generator=g)
    target = xin @ torch.randn(4, 2, generator=g)
    torch.manual_seed(0)
    lin = nn.Linear(4, 2)
    h = fit(lin, (xin, target), epochs=30, batch_size=32, lr=0.05, device="cpu", progress=False)
    assert h.train_loss[-1] < 0.05 * h.train_loss[0]


def test_tuple_losses_minimise_the_first_element(x):
    m = _model()
    h = _fit(m, x, epochs=8, loss=lambda out, t: (squared_error_per_image(out, t), torch.tensor(0.0)))
    assert h.train_loss[-1] < h.train_loss[0]
    assert evaluate(m, x, loss=lambda out, t: (squared_error_per_image(out, t), 0)) == pytest.approx(evaluate(m, x))


def test_progress_bar_goes_to_stderr(x, capsys):
    fit(_model(), x, epochs=2, batch_size=128, device="cpu", progress=True, desc="tiny AE")
    err = capsys.readouterr().err
    assert "tiny AE" in err and "2/2" in err


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": 2.5}, ValueError, "epochs"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 1.5}, ValueError, "batch_size"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
])
def test_bad_arguments(x, kwargs, exc, match):
    m = _model()
    s0 = _state(m)
    with pytest.raises(exc, match=match):
        _fit(m, x, **kwargs)
    assert _same_state(s0, _state(m))


@pytest.mark.parametrize("data, exc, match", [
    ([[0.0] * 16] * 4, TypeError, "tensor"),
    ((torch.rand(4, 16),), TypeError, "pair"),
    ((torch.rand(4, 16), torch.rand(3, 16)), ValueError, "differ in length"),
    (torch.rand(0, 16), ValueError, "empty"),
    (torch.zeros(4, 16, dtype=torch.int64), TypeError, "floating point"),
])
def test_bad_data(data, exc, match):
    with pytest.raises(exc, match=match):
        _fit(_model(), data)
    with pytest.raises(exc, match=match):
        evaluate(_model(), data)


def test_bad_val_data(x):
    with pytest.raises(ValueError, match="differ in length"):
        _fit(_model(), x, val_data=(x[:5], x[:4]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_device(x):
    with pytest.raises(ValueError, match="CUDA"):
        _fit(_model(), x, device="cuda")


@pytest.mark.parametrize("batch_size", [0, -1])
def test_evaluate_bad_batch_size(x, batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(_model(), x, batch_size=batch_size)
