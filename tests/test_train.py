"""aelab.train: fit/evaluate on small problems — learning, objectives and their parts, determinism,
divergence, the device rule, side effects, errors."""

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn

import aelab.train
from aelab import losses
from aelab.data import add_noise
from aelab.losses import bce_per_image, squared_error_per_image, vae_loss
from aelab.models import VAE, MLPAutoencoder
from aelab.train import (History, KLWarmup, TrainingDiverged, as_parts, denoising, evaluate, evaluate_parts, fit,
                         loss_objective, seeded_rng)


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
    ({"epochs": 2.5}, TypeError, "epochs must be an integer"),
    ({"epochs": 2.0}, TypeError, "epochs must be an integer"),
    ({"epochs": True}, TypeError, "epochs must be an integer"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 1.5}, TypeError, "batch_size"),
    ({"batch_size": np.float64(64.0)}, TypeError, "batch_size"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
    ({"seed": False}, TypeError, "seed"),
    ({"lr": float("inf")}, ValueError, "lr must be finite"),
    ({"lr": float("nan")}, ValueError, "lr"),
    ({"lr": -1e-3}, ValueError, "lr must be in"),
    ({"lr": "0.001"}, TypeError, "lr must be a real number"),
    ({"weight_decay": -0.1}, ValueError, "weight_decay"),
    ({"progress": 1}, TypeError, "progress"),
    ({"desc": 3}, TypeError, "desc"),
    ({"objective": "mse"}, TypeError, "objective"),
    ({"loss": "mse"}, TypeError, "loss"),
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


# --------------------------------------------------------------------------- objectives and parts
def test_loss_is_the_default_objective(x):
    a, b = _model(), _model()
    ha = _fit(a, x, loss=bce_per_image)
    hb = _fit(b, x, objective=loss_objective(bce_per_image))
    assert ha.train_loss == hb.train_loss and _same_state(_state(a), _state(b))
    assert set(ha.parts) == {"total"} and ha.parts["total"] == ha.train_loss
    assert evaluate(a, x, objective=loss_objective(bce_per_image)) == evaluate(a, x, loss=bce_per_image)


def test_objective_and_loss_together_are_refused(x):
    with pytest.raises(TypeError, match="not both"):
        _fit(_model(), x, objective=loss_objective(bce_per_image), loss=bce_per_image)
    with pytest.raises(TypeError, match="not both"):
        evaluate(_model(), x, objective=loss_objective(bce_per_image), loss=bce_per_image)


def test_named_parts_are_recorded_per_epoch(x):
    def objective(model, inputs, targets):
        recon = squared_error_per_image(model(inputs), targets)
        penalty = 1e-3 * sum(p.pow(2).sum() for p in model.parameters())
        return {"total": recon + penalty, "recon": recon, "weights": penalty}

    m = _model()
    h = _fit(m, x, epochs=3, objective=objective, val_data=x[:64])
    assert list(h.parts) == ["total", "recon", "weights"] and list(h.val_parts) == ["total", "recon", "weights"]
    assert all(len(v) == 3 for v in [*h.parts.values(), *h.val_parts.values()])
    assert h.train_loss == h.parts["total"] and h.val_loss == h.val_parts["total"]
    for e in range(3):  # the mean of a sum is the sum of the means
        assert h.parts["total"][e] == pytest.approx(h.parts["recon"][e] + h.parts["weights"][e], rel=1e-6)
    assert h.val_parts["recon"][-1] == pytest.approx(evaluate(m, x[:64]), rel=1e-6)
    assert evaluate_parts(m, x[:64], objective=objective)["weights"] == pytest.approx(h.val_parts["weights"][-1])


def test_vae_loss_parts_are_named(x):
    torch.manual_seed(0)
    vae = VAE(16, 8, 2)
    h = _fit(vae, x, loss=vae_loss, epochs=2)
    assert list(h.parts) == ["total", "recon", "kl"]
    assert h.parts["total"][0] == pytest.approx(h.parts["recon"][0] + h.parts["kl"][0], rel=1e-6)
    assert all(v > 0 for v in h.parts["kl"])  # the KL of a trained encoder is not 0
    h4 = _fit(vae, x, loss=functools.partial(vae_loss, beta=4.0), epochs=1)
    assert h4.parts["total"][0] == pytest.approx(h4.parts["recon"][0] + 4 * h4.parts["kl"][0], rel=1e-6)
    assert "recon" in repr(h) and "kl" in repr(h)


def test_plain_tuples_name_their_parts_part1_part2(x):
    def objective(model, inputs, targets):
        recon = squared_error_per_image(model(inputs), targets)
        return recon, recon.detach() * 2, 3
    h = _fit(_model(), x, objective=objective, epochs=1)
    assert list(h.parts) == ["total", "part1", "part2"]
    assert h.parts["part1"][0] == pytest.approx(2 * h.parts["total"][0], rel=1e-6) and h.parts["part2"] == [3.0]


@pytest.mark.parametrize("out, exc, match", [
    ({"recon": torch.tensor(1.0)}, TypeError, "'total'"),
    ((), TypeError, "scalar tensor"),
    ("1.0", TypeError, "scalar tensor"),
])
def test_as_parts_rejects(out, exc, match):
    with pytest.raises(exc, match=match):
        as_parts(out)


def test_as_parts_forms():
    t = torch.tensor(2.0)
    assert as_parts(t) == {"total": t}
    assert list(as_parts({"kl": 1, "total": t})) == ["total", "kl"]  # the total first
    assert list(as_parts(losses.VAELoss(t, t, t))) == ["total", "recon", "kl"]


def test_non_scalar_part_is_an_error(x):
    def objective(model, inputs, targets):
        per_image = (model(inputs) - targets).pow(2).sum(1)
        return {"total": per_image.mean(), "per_image": per_image}
    with pytest.raises(ValueError, match=r"'per_image' must be a scalar.*\(32,\)"):
        _fit(_model(), x, objective=objective)


def test_parts_must_not_change_between_steps(x):
    calls = []

    def objective(model, inputs, targets):
        calls.append(1)
        loss = squared_error_per_image(model(inputs), targets)
        return {"total": loss} if len(calls) == 1 else {"total": loss, "extra": loss}
    with pytest.raises(ValueError, match="parts changed"):
        _fit(_model(), x, objective=objective)


def test_set_epoch_is_called_before_each_epoch_and_validation(x):
    events = []

    class Objective:
        def set_epoch(self, epoch):
            events.append(("epoch", epoch))

        def __call__(self, model, inputs, targets):
            events.append(("train" if model.training else "val", None))
            return squared_error_per_image(model(inputs), targets)

    _fit(_model(), x, objective=Objective(), epochs=3, batch_size=128, val_data=x[:10])
    assert events == [("epoch", 0), ("train", None), ("train", None), ("val", None),
                      ("epoch", 1), ("train", None), ("train", None), ("val", None),
                      ("epoch", 2), ("train", None), ("train", None), ("val", None)]


def test_kl_warmup_raises_beta_linearly(x):
    torch.manual_seed(0)
    vae = VAE(16, 8, 2)
    objective = KLWarmup(warmup_epochs=2, beta=1.0)
    assert objective.current_beta == 0.0
    h = _fit(vae, x, objective=objective, epochs=4)
    betas = [0.0, 0.5, 1.0, 1.0]
    for e, beta in enumerate(betas):
        assert h.parts["total"][e] == pytest.approx(h.parts["recon"][e] + beta * h.parts["kl"][e], rel=1e-6)
    assert objective.current_beta == 1.0
    assert KLWarmup(0, beta=4.0).current_beta == 4.0
    with pytest.raises(ValueError, match="warmup_epochs"):
        KLWarmup(-1)
    with pytest.raises(ValueError, match="beta"):
        KLWarmup(3, beta=-1.0)


def test_denoising_corrupts_inputs_not_targets(x):
    inputs, targets = [], []

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

    _fit(Spy(), x, epochs=2, batch_size=64, objective=denoising(torch.zeros_like, loss_objective(loss)))
    assert len(inputs) == 2 * 4 and all((xb == 0).all() for xb in inputs)
    assert torch.equal(torch.cat(targets[:4]).sort(0).values, x.sort(0).values)  # clean targets, all of them


def test_denoising_noise_is_seeded_by_fit(x):
    corrupt = functools.partial(add_noise, kind="masking", level=0.5)
    runs = []
    for seed, draws in [(3, 1), (3, 50), (4, 1)]:
        torch.rand(draws)  # other cells drew from the global generator
        m = _model()
        runs.append((_fit(m, x, objective=denoising(corrupt), seed=seed).train_loss, _state(m)))
    assert runs[0][0] == runs[1][0] and _same_state(runs[0][1], runs[1][1])
    assert runs[0][0] != runs[2][0]
    assert runs[0][0] != _fit(_model(), x, seed=3).train_loss  # the noise changes the training


@pytest.mark.parametrize("bad", ["corrupt", "objective"])
def test_denoising_arguments(bad):
    with pytest.raises(TypeError, match=bad):
        denoising(3) if bad == "corrupt" else denoising(torch.zeros_like, objective="mse")


# --------------------------------------------------------------------------- determinism
def test_seed_governs_the_vae_sampling_noise(x):
    """Same initial weights, seed=0, different draws from the global RNG before: the same losses."""
    torch.manual_seed(0)
    init = VAE(16, 8, 2).state_dict()
    results = []
    for draws in (1, 1000):
        torch.rand(draws)
        vae = VAE(16, 8, 2)
        vae.load_state_dict(init)
        before = torch.get_rng_state()
        h = _fit(vae, x, loss=vae_loss, epochs=2, val_data=x[:64], seed=0)
        assert torch.equal(torch.get_rng_state(), before)  # fit leaves the global RNG as it found it
        results.append((h.train_loss, h.val_loss, _state(vae)))
    assert results[0][0] == results[1][0] and results[0][1] == results[1][1]
    assert _same_state(results[0][2], results[1][2])


def test_global_rng_is_restored_even_on_error(x):
    m = _model()
    before = torch.get_rng_state()
    with pytest.raises(ValueError):
        _fit(m, x * 255, loss=bce_per_image)
    assert torch.equal(torch.get_rng_state(), before)


def test_seeded_rng():
    before = torch.get_rng_state()
    with seeded_rng(7):
        a = torch.rand(3)
    with seeded_rng(7):
        b = torch.rand(3)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), before)
    with pytest.raises(ValueError, match="seed"):
        with seeded_rng(-1):
            pass
    with pytest.raises(TypeError, match="seed"):
        with seeded_rng(2.0):
            pass


def test_seeded_rng_moved_to_runtime_and_the_old_path_works():
    from aelab import runtime
    assert aelab.train.seeded_rng is runtime.seeded_rng


def test_numpy_scalars_are_accepted_like_python_numbers(x):
    """Issue 22 item 12: epochs=np.int64(3) trains exactly as epochs=3 (and so do NumPy batch sizes, rates, seeds)."""
    a, b = _model(), _model()
    ha = _fit(a, x, epochs=3, batch_size=16, lr=1e-3, seed=1)
    hb = _fit(b, x, epochs=np.int64(3), batch_size=np.int32(16), lr=np.float64(1e-3), seed=np.uint8(1))
    assert ha.train_loss == hb.train_loss and _same_state(_state(a), _state(b))
    assert evaluate(a, x, batch_size=np.int64(7)) == pytest.approx(evaluate(a, x))


def test_arguments_are_checked_before_anything_runs(x, monkeypatch):
    calls = []
    monkeypatch.setattr(aelab.train, "make_optimizer", lambda *a, **k: calls.append(1))
    with pytest.raises(TypeError, match="epochs"):
        _fit(_model(), x, epochs=2.0)
    assert calls == []


def test_check_fit_arguments_normalises():
    x = torch.rand(8, 4)
    args = aelab.train.check_fit_arguments(x, epochs=np.int64(2), lr=np.float32(0.5), seed=np.int16(3))
    assert (args.epochs, args.seed) == (2, 3) and type(args.epochs) is int and type(args.lr) is float
    assert args.inputs is x and args.targets is x and args.val is None


# --------------------------------------------------------------------------- divergence
def _expected_step(n_row, n, batch_size, seed=0):
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return int((perm == n_row).nonzero()) // batch_size + 1


def test_one_nan_pixel_stops_fit_naming_epoch_step_and_row(x):
    data = x.clone()
    data[37, 5] = float("nan")
    m = _model()
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+ of 8.*'total' is nan.*row 37") as info:
        _fit(m, data, batch_size=32)
    assert info.value.epoch == 1 and info.value.part == "total" and math.isnan(info.value.value)
    assert info.value.step == _expected_step(37, len(x), 32)
    assert isinstance(info.value, RuntimeError)


def test_nan_in_one_named_part_is_reported(x):
    calls = []

    class Objective:
        def set_epoch(self, epoch):
            self.epoch = epoch

        def __call__(self, model, inputs, targets):
            calls.append(1)
            loss = squared_error_per_image(model(inputs), targets)
            kl = torch.tensor(float("inf") if (self.epoch, len(calls)) == (1, 8 + 3) else 0.5)
            return {"total": loss, "kl": kl}

    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 3 of 8: .*part 'kl' is inf") as info:
        _fit(_model(), x, objective=Objective(), batch_size=32)
    assert (info.value.epoch, info.value.step, info.value.part, info.value.value) == (2, 3, "kl", float("inf"))


def test_a_huge_learning_rate_is_reported_as_such(x):
    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged, match="learning rate") as info:
        _fit(nn.Linear(16, 16), x, optimizer="sgd", lr=1e30, epochs=3)
    assert info.value.epoch == 1 and info.value.step is not None and info.value.step > 1


def test_non_finite_weights_with_finite_losses(x):
    """One step per epoch: the loss is measured before the update that overflows the weights."""
    def steep(model, inputs, targets):  # finite loss, gradients of about 1e30
        return 1e30 * squared_error_per_image(model(inputs), targets)

    torch.manual_seed(0)
    with pytest.raises(TrainingDiverged, match="a weight became NaN or infinite") as info:
        _fit(nn.Linear(16, 16), x, objective=steep, epochs=2, batch_size=len(x), optimizer="sgd", lr=1e10)
    assert info.value.epoch == 1 and info.value.step is None


def test_nan_in_validation_data(x):
    val = x[:20].clone()
    val[13, 0] = float("inf")
    with pytest.raises(TrainingDiverged, match=r"validation.*row 13"):
        _fit(_model(), x, val_data=val)


# --------------------------------------------------------------------------- value ranges
class _NoSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, xb):
        return self.lin(xb)


def test_bce_without_sigmoid_is_an_error(x):
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="sigmoid"):
        _fit(_NoSigmoid(), x, loss=bce_per_image)
    with pytest.raises(ValueError, match="sigmoid"):
        evaluate(_NoSigmoid(), x, loss=bce_per_image)


def test_targets_of_0_to_255_are_an_error(x):
    with pytest.raises(ValueError, match="0-255"):
        _fit(_model(), (x, x * 255), loss=bce_per_image)


def test_range_checks_run_on_each_epochs_first_batch_only(x):
    seen = []

    def objective(model, inputs, targets):
        seen.append(losses._RANGE_CHECKS.get())
        return bce_per_image(model(inputs), targets)

    _fit(_model(), x, objective=objective, epochs=2, batch_size=64, val_data=x[:10])
    assert seen == [True, False, False, False, True] * 2  # 4 training batches, then validation


# --------------------------------------------------------------------------- the device rule
class _MoveSpy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)
        self.moves = []

    def to(self, *args, **kwargs):
        self.moves.append(torch._C._nn._parse_to(*args, **kwargs)[0])
        return super().to(*args, **kwargs)

    def forward(self, xb):
        return torch.sigmoid(self.lin(xb))


def test_fit_trains_on_the_chosen_device_and_returns_to_the_datas(x, monkeypatch):
    fake = torch.device("cpu", 0)  # a device that differs from the data's ("cpu") yet runs here
    monkeypatch.setattr(aelab.train, "pick_device", lambda device=None: fake)
    m = _MoveSpy()
    fit(m, x, epochs=1, progress=False)
    assert m.moves == [fake, x.device]
    m.moves.clear()
    with pytest.raises(ValueError):  # and on an error too
        fit(m, x * 255, epochs=1, loss=bce_per_image, progress=False)
    assert m.moves == [fake, x.device]


def test_evaluate_runs_on_the_models_device(x):
    class Stop(Exception):
        pass

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(16, 16)

        def forward(self, xb):
            self.seen = (xb.device, self.lin.weight.device)
            raise Stop

    m = Spy().to("meta")
    with pytest.raises(Stop):
        evaluate(m, x)
    assert m.seen == (torch.device("meta"), torch.device("meta"))  # the CPU batch was moved to the model


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_returns_a_cpu_model(x):
    m = _model()
    h = fit(m, x, epochs=2, device="cuda", progress=False, val_data=x[:32])
    assert next(m.parameters()).device.type == "cpu" and len(h.val_loss) == 2
    m(x[:3])  # callable with the notebook's CPU tensors
    m.cuda()
    assert evaluate(m, x) == pytest.approx(evaluate(m.cpu(), x), rel=1e-4)


# --------------------------------------------------------------------------- history
def test_history_round_trips_through_a_dict(x):
    h = _fit(VAE(16, 8, 2), x, loss=vae_loss, epochs=2, val_data=x[:32])
    d = h.to_dict()
    again = History.from_dict(d)
    assert again == h and again.images_per_second == h.images_per_second > 0
    import json
    assert History.from_dict(json.loads(json.dumps(d))) == h
    with pytest.raises(ValueError, match="keys"):
        History.from_dict({"train_loss": [1.0]})
    with pytest.raises(ValueError, match="wrong type"):
        History.from_dict({**d, "parts": {"total": ["x"]}})
    with pytest.raises(TypeError):
        History.from_dict([1, 2])


# --------------------------------------------------------------------------- issue 22: ranges and NaN arguments
def test_a_few_0_to_255_rows_anywhere_are_found_before_training():
    """Issue 22 item 4: 10 rows of 0-255 among 4,000 raise a clear error naming the range, whatever the batch order."""
    g = torch.Generator().manual_seed(0)
    data = torch.rand(4000, 16, generator=g)
    rows = torch.randperm(4000, generator=g)[:10]
    data[rows] = torch.randint(0, 256, (10, 16), generator=g).float()
    # the old rule (range checks on each epoch's first batch) sees none of these rows in the first epochs
    first = torch.randperm(4000, generator=torch.Generator().manual_seed(0))[:128]
    assert not bool(torch.isin(rows, first).any())
    m = _model()
    s0 = _state(m)
    with pytest.raises(ValueError, match=r"values in \[[-0-9.e]+, 25[0-5]\]: 10 of 4000 rows leave \[0, 1\]") as info:
        _fit(m, data, loss=bce_per_image, epochs=2, batch_size=128)
    assert str(int(rows.sort().values[0])) in str(info.value)
    assert _same_state(s0, _state(m))  # nothing was trained


def test_data_outside_0_1_are_fine_for_a_loss_that_does_not_need_them(x):
    h = _fit(_model(), x * 4 - 2, loss=squared_error_per_image, epochs=1)  # toy data with negative values
    assert math.isfinite(h.train_loss[-1])


def test_the_range_probe_leaves_the_random_state_and_training_alone(x):
    """The probe runs only when data leave [0, 1], under its own seeded generators: training is unchanged."""
    y = x.clone()
    y[5] = 2.0  # squared error does not mind
    a, b = _model(), _model()
    before = torch.get_rng_state()
    ha = _fit(a, y, loss=squared_error_per_image)
    assert torch.equal(torch.get_rng_state(), before)
    hb = fit(b, y, epochs=3, batch_size=32, lr=1e-2, device="cpu", progress=False, loss=squared_error_per_image)
    assert ha.train_loss == hb.train_loss


@pytest.mark.parametrize("make, name", [
    (lambda: {"loss": functools.partial(vae_loss, beta=float("nan"))}, r"loss.keywords\['beta'\] is nan"),
    (lambda: {"loss": functools.partial(vae_loss, beta=np.float32("nan"))}, r"loss.keywords\['beta'\] is nan"),
    (lambda: {"objective": KLWarmup(2, beta=float("nan"))}, r"objective.beta is nan"),
])
def test_a_nan_argument_of_the_objective_is_named_not_the_learning_rate(make, name):
    """Issue 22 item 11: beta=nan makes every loss NaN; fit names the argument before training."""
    vae = VAE(16, 8, 2)
    with pytest.raises(ValueError, match=name) as info:
        _fit(vae, torch.rand(64, 16), **make())
    assert "learning rate" not in str(info.value).replace("not a learning-rate problem", "")


def test_a_loss_that_is_nan_before_any_update_does_not_blame_the_learning_rate(x):
    def broken(x_hat, target):
        return squared_error_per_image(x_hat, target) * float("inf") * 0.0  # NaN from the first step

    with pytest.raises(TrainingDiverged, match="learning rate is not the cause") as info:
        _fit(_model(), x, loss=broken)
    assert info.value.epoch == 1 and info.value.step == 1 and "lower the learning rate" not in str(info.value)


def test_an_infinite_parameter_is_named_when_training_diverges(x):
    def scaled(x_hat, target, *, scale):
        return squared_error_per_image(x_hat, target) * scale

    with pytest.raises(TrainingDiverged, match=r"infinite parameters: loss.keywords\['scale'\] = inf"):
        _fit(_model(), x, loss=functools.partial(scaled, scale=float("inf")))


@pytest.mark.parametrize("targets", [False, True])
def test_large_data_is_gathered_batch_by_batch_with_the_same_result(x, monkeypatch, targets):
    # Above WHOLE_COPY_LIMIT, fit gathers each batch instead of copying the data set per epoch (lecture 06's
    # 580 MB count matrix): the batches, hence the trained weights and the history, must be identical.
    def run():
        torch.manual_seed(0)
        model = _model()
        history = fit(model, (x, x.flip(0)) if targets else x, epochs=2, batch_size=64, seed=3)
        return model, history

    copies = []
    real_empty_like = torch.empty_like
    monkeypatch.setattr(torch, "empty_like", lambda t, *a, **k: copies.append(t.shape) or real_empty_like(t, *a, **k))
    whole_model, whole_history = run()
    assert [s for s in copies if s[0] == len(x)], "small data should be copied whole (the check sees copies)"
    copies.clear()
    monkeypatch.setattr(aelab.train, "WHOLE_COPY_LIMIT", 0)
    gathered_model, gathered_history = run()
    assert not [s for s in copies if s[0] == len(x)], "the whole data set was copied"
    assert gathered_history.train_loss == whole_history.train_loss
    for a, b in zip(whole_model.parameters(), gathered_model.parameters()):
        assert torch.equal(a, b)
