"""aelab.penalties: sparsity and contractive penalties, the objective that adds them; ShallowAutoencoder."""

import math

import pytest
import torch
from torch import nn

from aelab import data, models, penalties as P, train


@pytest.fixture
def model64():
    torch.manual_seed(0)
    return models.ShallowAutoencoder(784, 16, input_shape=data.IMAGE_SHAPE).double()


def _x(n=6, seed=0, dtype=torch.float64):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _fd_jacobian(f, x, eps=1e-6):
    """Central finite differences of f: (d,) -> (k,) at one point x (float64): (k, d)."""
    cols = []
    flat = x.reshape(-1)
    for i in range(flat.numel()):
        e = torch.zeros_like(flat)
        e[i] = eps
        cols.append((f((flat + e).reshape(x.shape)) - f((flat - e).reshape(x.shape))) / (2 * eps))
    return torch.stack(cols, dim=1)


def test_l1_sparsity_known_value():
    h = torch.tensor([[1.0, -2.0, 0.0], [0.5, 0.5, 0.0]])
    assert P.l1_sparsity(h).item() == pytest.approx((3.0 + 1.0) / 2)


def test_kl_sparsity_known_values():
    rho = 0.1
    h = torch.full((4, 3), rho)
    assert P.kl_sparsity(h, rho).item() == pytest.approx(0.0, abs=1e-7)  # rho_hat == rho
    h = torch.tensor([[0.2, 0.6], [0.4, 0.2]])  # rho_hat = (0.3, 0.4)
    expected = sum(rho * math.log(rho / r) + (1 - rho) * math.log((1 - rho) / (1 - r)) for r in (0.3, 0.4))
    assert P.kl_sparsity(h, rho).item() == pytest.approx(expected, rel=1e-6)
    swapped = sum(r * math.log(r / rho) + (1 - r) * math.log((1 - r) / (1 - rho)) for r in (0.3, 0.4))
    assert abs(expected - swapped) > 1e-3  # the order matters: the test above would catch a swap
    # equals torch's Bernoulli KL
    kl = torch.distributions.kl_divergence(torch.distributions.Bernoulli(probs=torch.tensor(rho)),
                                           torch.distributions.Bernoulli(probs=torch.tensor([0.3, 0.4]))).sum()
    assert P.kl_sparsity(h, rho).item() == pytest.approx(kl.item(), rel=1e-5)


def test_kl_sparsity_is_finite_at_saturation_and_rejects_bad_rho():
    assert torch.isfinite(P.kl_sparsity(torch.zeros(3, 2), 0.05))
    assert torch.isfinite(P.kl_sparsity(torch.ones(3, 2), 0.05))
    for rho in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="rho"):
            P.kl_sparsity(torch.rand(3, 2), rho)
    with pytest.raises(TypeError, match="rho must be a real number"):  # True is not a rate
        P.kl_sparsity(torch.rand(3, 2), True)
    import numpy as np

    assert torch.isfinite(P.kl_sparsity(torch.rand(3, 2), np.float32(0.05)))  # NumPy scalars are numbers
    with pytest.raises(ValueError, match=r"\(N, k\)"):
        P.l1_sparsity(torch.rand(3))


@pytest.mark.parametrize("method", ["vmap", "loop"])
def test_jacobian_matches_finite_differences(model64, method):
    x = _x(2)
    jac = P.encoder_jacobian(model64.encoder, x, method=method)
    assert jac.shape == (2, 16, 784)
    for i in range(2):
        fd = _fd_jacobian(lambda xi: model64.encoder(xi.unsqueeze(0)).squeeze(0), x[i])
        assert torch.allclose(jac[i], fd, atol=1e-7)


def test_jacobian_of_a_deeper_encoder_matches_finite_differences():
    torch.manual_seed(1)
    enc = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3), nn.Softplus()).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    for method in ("vmap", "loop"):
        jac = P.encoder_jacobian(enc, x, method=method)
        for i in range(4):
            assert torch.allclose(jac[i], _fd_jacobian(lambda xi: enc(xi.unsqueeze(0)).squeeze(0), x[i]), atol=1e-7)
        pen = P.contractive_penalty(enc, x, method=method)
        assert pen.item() == pytest.approx(jac.pow(2).sum((1, 2)).mean().item(), rel=1e-10)


def test_closed_form_agrees_with_autograd_values_and_gradients(model64):
    x = _x(5)
    h = model64.encode(x)
    closed = P.contractive_sigmoid(h, model64.weight)
    for method in ("vmap", "loop"):
        auto = P.contractive_penalty(model64.encoder, x, method=method)
        assert abs(closed.item() - auto.item()) < 1e-10
        g_closed = torch.autograd.grad(closed, model64.weight, retain_graph=True)[0]
        g_auto = torch.autograd.grad(auto, model64.weight)[0]
        assert torch.allclose(g_closed, g_auto, atol=1e-10)  # trains the same weights


@pytest.mark.parametrize("method", ["vmap", "loop"])
@pytest.mark.parametrize("chunk_size", [1, 3, 4, 7])
def test_chunked_penalty_equals_the_unchunked_one_values_and_gradients(model64, method, chunk_size):
    """Issue 22.13: the batch goes through the Jacobian in chunks; the number and its gradient do not change."""
    x = _x(7)
    whole = P.contractive_penalty(model64.encoder, x, method=method, chunk_size=len(x))
    parts = P.contractive_penalty(model64.encoder, x, method=method, chunk_size=chunk_size)
    assert parts.item() == pytest.approx(whole.item(), rel=1e-12)
    g_whole = torch.autograd.grad(whole, list(model64.encoder.parameters()))
    g_parts = torch.autograd.grad(parts, list(model64.encoder.parameters()))
    assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-14) for a, b in zip(g_whole, g_parts))


def test_default_chunks_bound_the_jacobian_block(monkeypatch, model64):
    sizes = []
    real = P.encoder_jacobian

    def spy(encode, x, **kw):
        sizes.append(len(x))
        return real(encode, x, **kw)

    monkeypatch.setattr(P, "CHUNK_ENTRIES", 16 * 784 * 3)  # three images' (k=16, d=784) Jacobians per chunk
    monkeypatch.setattr(P, "encoder_jacobian", spy)
    x = _x(8)
    chunked = P.contractive_penalty(model64.encoder, x)
    assert sizes == [3, 3, 2]
    assert chunked.item() == pytest.approx(P.contractive_sigmoid(model64.encode(x), model64.weight).item(), rel=1e-12)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (2.0, TypeError), (True, TypeError)])
def test_chunk_size_is_checked(model64, bad, error):
    with pytest.raises(error, match="chunk_size"):
        P.contractive_penalty(model64.encoder, _x(2), chunk_size=bad)


def test_closed_form_float32_agrees_to_1e_5_relative():
    torch.manual_seed(0)
    m = models.ShallowAutoencoder(784, 64, input_shape=data.IMAGE_SHAPE)
    x = _x(8, dtype=torch.float32)
    closed = P.contractive_sigmoid(m.encode(x), m.weight).item()
    auto = P.contractive_penalty(m.encoder, x).item()
    assert abs(closed - auto) <= 1e-5 * abs(closed)


def test_closed_form_known_value_and_transposed_weight():
    W = torch.tensor([[1.0, 2.0], [0.0, 3.0], [1.0, 1.0]])  # k=3, d=2
    h = torch.tensor([[0.5, 0.5, 0.5]])  # slope 0.25 -> squared 1/16
    assert P.contractive_sigmoid(h, W).item() == pytest.approx((5 + 9 + 2) / 16)
    with pytest.raises(ValueError, match="transposed"):
        P.contractive_sigmoid(h, W.T)


def test_penalized_objective_parts_and_training_lowers_the_penalty():
    torch.manual_seed(0)
    X = torch.rand(256, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 0.2
    objective = P.penalized(P.KLCode(rho=0.05), 3.0)
    m = models.ShallowAutoencoder(784, 32, input_shape=data.IMAGE_SHAPE)
    parts = train.evaluate_parts(m, X, objective=objective)
    assert set(parts) == {"total", "recon", "penalty"}
    assert parts["total"] == pytest.approx(parts["recon"] + 3.0 * parts["penalty"], rel=1e-5)
    history = train.fit(m, X, epochs=20, objective=objective, progress=False, seed=0)
    assert history.parts["penalty"][-1] < 0.5 * history.parts["penalty"][0]
    torch.manual_seed(0)
    plain = models.ShallowAutoencoder(784, 32, input_shape=data.IMAGE_SHAPE)
    train.fit(plain, X, epochs=20, objective=P.penalized(P.KLCode(rho=0.05), 0.0), progress=False, seed=0)
    with torch.no_grad():
        sparse_mean, plain_mean = m.encode(X).mean().item(), plain.encode(X).mean().item()
    assert abs(sparse_mean - 0.05) < abs(plain_mean - 0.05) / 2  # pushed toward rho = 0.05


@pytest.mark.parametrize("penalty", [P.L1Code(), P.KLCode(0.1), P.Contractive(), P.Contractive("vmap"),
                                     P.Contractive("loop")])
def test_every_penalty_trains_and_penalties_are_keyable(penalty):
    from aelab import zoo

    torch.manual_seed(0)
    m = models.ShallowAutoencoder(784, 8, input_shape=data.IMAGE_SHAPE)
    X = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    before = m.weight.detach().clone()
    train.fit(m, X, epochs=1, objective=P.penalized(penalty, 0.1), progress=False)
    assert not torch.equal(before, m.weight)
    assert zoo.key_of(P.penalized(penalty, 0.1)) == zoo.key_of(P.penalized(penalty, 0.1))
    assert zoo.key_of(P.penalized(penalty, 0.1)) != zoo.key_of(P.penalized(penalty, 0.2))


def test_bad_arguments():
    with pytest.raises(ValueError):
        P.penalized(P.L1Code(), -1.0)
    with pytest.raises(TypeError):
        P.penalized("l1", 1.0)
    with pytest.raises(ValueError):
        P.Contractive("exact")
    with pytest.raises(ValueError):
        P.KLCode(1.5)
    with pytest.raises(ValueError, match="method"):
        P.encoder_jacobian(nn.Identity(), torch.rand(2, 3), method="forward")
    relu = models.ShallowAutoencoder(4, 2, activation="relu")
    with pytest.raises(TypeError, match="sigmoid"):
        P.Contractive()(relu, torch.rand(3, 4), relu.encode(torch.rand(3, 4)))


def test_shallow_autoencoder_shapes_dropout_and_errors():
    m = models.ShallowAutoencoder(784, 32, input_shape=data.IMAGE_SHAPE, dropout=0.5)
    x = _x(3, dtype=torch.float32)
    assert m.encode(x).shape == (3, 32) and m(x).shape == (3, 1, 28, 28)
    assert models.code_size(m) == 32 and m.weight.shape == (32, 784)
    m.eval()
    assert torch.equal(m(x), m(x))  # dropout off in eval mode
    m.train()
    torch.manual_seed(0)
    a = m(x)
    assert not torch.equal(a, m(x))  # on in training mode
    with pytest.raises(ValueError, match="dropout"):
        models.ShallowAutoencoder(784, 32, dropout=1.0)
    with pytest.raises(ValueError, match="input_shape"):
        models.ShallowAutoencoder(784, 32).encode(x)


def test_bad_input_is_named(model64):
    import numpy as np

    h = torch.rand(8, 5, generator=torch.Generator().manual_seed(0))
    W = torch.randn(5, 7, generator=torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match=r"sigmoid activations in \[0, 1\]"):
        P.kl_sparsity(h * 4 - 2, 0.05)                       # pre-activations, not codes
    with pytest.raises(ValueError, match=r"sigmoid activations in \[0, 1\]"):
        P.contractive_sigmoid(h - 0.5, W)
    with pytest.raises(ValueError, match="eps"):
        P.kl_sparsity(h, 0.05, eps=-1e-3)
    with pytest.raises(TypeError, match="floating-point"):
        P.contractive_sigmoid(h, torch.ones(5, 7, dtype=torch.long))
    # NumPy numbers are numbers; mixed float32/float64 inputs are promoted instead of failing inside matmul
    assert math.isclose(P.kl_sparsity(h, np.float32(0.05)).item(), P.kl_sparsity(h, 0.05).item(), rel_tol=1e-6)
    mixed = P.contractive_sigmoid(h.double(), W).item()
    assert math.isclose(mixed, P.contractive_sigmoid(h.double(), W.double()).item(), rel_tol=1e-12)
    assert P.KLCode(np.float64(0.05)) == P.KLCode(0.05)
    enc = model64.encoder
    with pytest.raises(ValueError, match="batch"):
        P.encoder_jacobian(enc, _x(1).flatten())             # one flat image without the batch dimension
    with pytest.raises(ValueError, match="N >= 1"):
        P.encoder_jacobian(enc, _x(1)[:0])
    for method in ("vmap", "loop"):
        with pytest.raises(ValueError, match="input shape"):
            P.encoder_jacobian(enc, torch.rand(3, 100, dtype=torch.float64), method=method)
    with pytest.raises(TypeError, match="callable"):
        P.encoder_jacobian(5, _x(2))
    with pytest.raises(ValueError, match="weight must be finite"):
        P.penalized(P.L1Code(), float("inf"))
    per_image = P.penalized(lambda model, inputs, code: code.abs().sum(1), 0.1)   # forgot the batch mean
    with pytest.raises(ValueError, match="0-dim"):
        per_image(model64, _x(3), _x(3))
