"""Lab 05's checks reject each plausible wrong answer with the hint meant for it (and accept right variants)."""

import copy

import pytest
import torch
from torch import nn

from aelab import checks
from aelab.checks import CheckFailed

# --- exercise 1: freezing --------------------------------------------------------------------


def good_set(module, trainable):
    module.requires_grad_(trainable)  # the method (with the underscore) sets every parameter's flag


def good_opt(model, lr):
    return torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=lr)


def set_on_module(module, trainable):
    module.requires_grad = trainable  # an attribute on the module: freezes nothing


def set_always_false(module, trainable):
    for p in module.parameters():
        p.requires_grad_(False)


def opt_with_all(model, lr):
    return torch.optim.SGD(model.parameters(), lr=lr)


def opt_adam(model, lr):
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)


@pytest.mark.parametrize("set_fn, opt_fn, hint", [
    (set_on_module, good_opt, "only adds an attribute to the module"),
    (good_set, opt_with_all, "still holds the frozen parameters"),
    (set_always_false, good_opt, "did not unfreeze"),
    (good_set, opt_adam, "must return a torch.optim.SGD"),
])
def test_freezing_rejects(set_fn, opt_fn, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.freezing(set_fn, opt_fn)


def test_freezing_accepts_the_module_method_and_a_filter(capsys):
    checks.freezing(good_set, good_opt)
    assert "passed" in capsys.readouterr().out


# --- exercise 2: encoding through a frozen stack ---------------------------------------------------


def enc_detach(encoder, X, batch_size):  # detaching each batch instead of no_grad is also right
    mode = encoder.training
    encoder.eval()
    out = torch.cat([encoder(X[i:i + batch_size]).detach() for i in range(0, len(X), batch_size)])
    encoder.train(mode)
    return out


def enc_with_grad(encoder, X, batch_size):
    mode = encoder.training
    encoder.eval()
    out = torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    encoder.train(mode)
    return out


def enc_train_mode(encoder, X, batch_size):
    with torch.no_grad():
        return torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def enc_not_restored(encoder, X, batch_size):
    encoder.eval()
    with torch.no_grad():
        return torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def enc_skips_last_batch(encoder, X, batch_size):
    mode = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X) - batch_size + 1, batch_size)]
                        + [encoder(X[-batch_size:])])  # overlapping last batch, wrong rows when N % batch != 0
    encoder.train(mode)
    return out[:len(X)] if len(out) >= len(X) else torch.cat([out, out[:len(X) - len(out)]])


@pytest.mark.parametrize("fn, hint", [
    (enc_with_grad, "carry an autograd graph"),
    (enc_train_mode, "dropout was still on"),
    (enc_not_restored, "left the encoder in eval mode"),
    (enc_skips_last_batch, "wrong codes"),
])
def test_encode_frozen_rejects(fn, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.encode_frozen(fn)


def test_encode_frozen_accepts_detach_per_batch(capsys):
    checks.encode_frozen(enc_detach)
    assert "passed" in capsys.readouterr().out


# --- exercise 3: CD-1 statistics ------------------------------------------------------------------


def _phases(W, b_v, b_h, v, h0):
    p_h0 = torch.sigmoid(v @ W.T + b_h)
    v1 = torch.sigmoid(h0 @ W + b_v)
    return p_h0, v1, torch.sigmoid(v1 @ W.T + b_h)


def cd_float64_einsum(W, b_v, b_h, v, h0):
    W, b_v, b_h, v, h0 = (t.double() for t in (W, b_v, b_h, v, h0))
    p_h0, v1, p_h1 = _phases(W, b_v, b_h, v, h0)
    n = v.shape[0]
    return (torch.einsum("nh,nv->hv", p_h0, v) - torch.einsum("nh,nv->hv", p_h1, v1)) / n, \
        (v - v1).sum(0) / n, (p_h0 - p_h1).sum(0) / n


def cd_sampled_negative(W, b_v, b_h, v, h0):
    p_h0, v1, p_h1 = _phases(W, b_v, b_h, v, h0)
    h1 = torch.bernoulli(p_h1)
    return (p_h0.T @ v - h1.T @ v1) / len(v), (v - v1).mean(0), (p_h0 - h1).mean(0)


def cd_sampled_visible(W, b_v, b_h, v, h0):
    p_h0 = torch.sigmoid(v @ W.T + b_h)
    v1 = torch.bernoulli(torch.sigmoid(h0 @ W + b_v))
    p_h1 = torch.sigmoid(v1 @ W.T + b_h)
    return (p_h0.T @ v - p_h1.T @ v1) / len(v), (v - v1).mean(0), (p_h0 - p_h1).mean(0)


def cd_wrong_sign(W, b_v, b_h, v, h0):
    p_h0, v1, p_h1 = _phases(W, b_v, b_h, v, h0)
    return (p_h1.T @ v1 - p_h0.T @ v) / len(v), (v1 - v).mean(0), (p_h1 - p_h0).mean(0)


def cd_summed(W, b_v, b_h, v, h0):
    p_h0, v1, p_h1 = _phases(W, b_v, b_h, v, h0)
    return p_h0.T @ v - p_h1.T @ v1, (v - v1).sum(0), (p_h0 - p_h1).sum(0)


def cd_sampled_positive(W, b_v, b_h, v, h0):
    p_h0, v1, p_h1 = _phases(W, b_v, b_h, v, h0)
    return (h0.T @ v - p_h1.T @ v1) / len(v), (v - v1).mean(0), (h0 - p_h1).mean(0)


def cd_transposed(W, b_v, b_h, v, h0):
    p_h0, v1, p_h1 = _phases(W, b_v, b_h, v, h0)
    return (v.T @ p_h0 - v1.T @ p_h1) / len(v), (v - v1).mean(0), (p_h0 - p_h1).mean(0)


@pytest.mark.parametrize("fn, hint", [
    (cd_sampled_negative, "are random"),
    (cd_sampled_visible, "are random"),
    (cd_wrong_sign, "sign is flipped"),
    (cd_summed, "times too large"),
    (cd_sampled_positive, "positive statistics use the sampled h0"),
    (cd_transposed, "the transpose of W's"),
])
def test_cd1_statistics_rejects(fn, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.cd1_statistics(fn)


def test_cd1_statistics_accepts_float64_and_einsum(capsys):
    checks.cd1_statistics(cd_float64_einsum)
    assert "passed" in capsys.readouterr().out


# --- exercise 4: the fine-tuning network -----------------------------------------------------------


def net_by_copying(encoders, n_classes):  # new layers, weights copied with copy_: also right
    layers = []
    for e in encoders:
        lin = nn.Linear(e.in_features, e.out_features)
        with torch.no_grad():
            lin.weight.copy_(e.weight)
            lin.bias.copy_(e.bias)
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_shared_modules(encoders, n_classes):
    layers = []
    for e in encoders:
        e.requires_grad_(True)
        layers += [e, nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_shared_parameters(encoders, n_classes):
    layers = []
    for e in encoders:
        lin = nn.Linear(e.in_features, e.out_features)
        lin.weight, lin.bias = e.weight, e.bias
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_shared_data(encoders, n_classes):
    layers = []
    for e in encoders:
        lin = nn.Linear(e.in_features, e.out_features)
        lin.weight.data, lin.bias.data = e.weight.data, e.bias.data
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_still_frozen(encoders, n_classes):
    layers = []
    for e in encoders:
        layers += [copy.deepcopy(e), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_no_sigmoid(encoders, n_classes):
    layers = [copy.deepcopy(e).requires_grad_(True) for e in encoders]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_wrong_classes(encoders, n_classes):
    layers = []
    for e in encoders:
        layers += [copy.deepcopy(e).requires_grad_(True), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, 10))


@pytest.mark.parametrize("fn, hint", [
    (net_shared_modules, "shares tensors with the pretrained encoders"),
    (net_shared_parameters, "shares tensors with the pretrained encoders"),
    (net_shared_data, "shares tensors with the pretrained encoders"),
    (net_still_frozen, "copies of frozen encoders are frozen too"),
    (net_no_sigmoid, r"nn.Sigmoid\(\) after every pretrained layer"),
    (net_wrong_classes, "n_classes"),
])
def test_fine_tuning_network_rejects(fn, hint):
    with pytest.raises(CheckFailed, match=hint):
        checks.fine_tuning_network(fn)


def test_fine_tuning_network_accepts_copied_weights(capsys):
    checks.fine_tuning_network(net_by_copying)
    assert "passed" in capsys.readouterr().out


def test_checks_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    checks.freezing(good_set, good_opt)
    checks.encode_frozen(enc_detach)
    checks.fine_tuning_network(net_by_copying)
    assert torch.equal(state, torch.random.get_rng_state())


# --- right answers written differently must pass (r05 review) ---------------------------------------


def set_each_attribute(module, trainable):  # the attribute on each parameter (no underscore method)
    for p in module.parameters():
        p.requires_grad = trainable


def opt_list_momentum(model, lr):  # a list comprehension, with momentum and weight decay of its own
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9,
                           weight_decay=1e-4)


def opt_param_group(model, lr):  # a parameter-group dict
    return torch.optim.SGD([{"params": [p for p in model.parameters() if p.requires_grad]}], lr=lr)


def enc_inference_mode(encoder, X, batch_size):  # inference_mode instead of no_grad, split instead of range
    was_training = encoder.training
    encoder.eval()
    with torch.inference_mode():
        out = torch.cat([encoder(xb) for xb in torch.split(X, batch_size)])
    encoder.train(was_training)
    return out


def enc_preallocated_float64(encoder, X, batch_size):  # writes into a preallocated float64 tensor
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        first = encoder(X[:1])
        out = torch.empty(len(X), first.shape[1], dtype=torch.float64)
        for i in range(0, len(X), batch_size):
            out[i:i + batch_size] = encoder(X[i:i + batch_size])
    encoder.train(was_training)
    return out


def cd_matmul_float32_loop(W, b_v, b_h, v, h0):  # a per-example loop of outer products, float32
    p_h0, v1, p_h1 = _phases(W, b_v, b_h, v, h0)
    dW = sum(torch.outer(p_h0[n], v[n]) - torch.outer(p_h1[n], v1[n]) for n in range(len(v))) / len(v)
    return dW, (v - v1).mean(0), (p_h0 - p_h1).mean(0)


def cd_functional_linear(W, b_v, b_h, v, h0):  # F.linear and torch.mean(dim=0): the same numbers
    F = torch.nn.functional
    p_h0 = torch.sigmoid(F.linear(v, W, b_h))
    v1 = torch.sigmoid(F.linear(h0, W.T, b_v))
    p_h1 = torch.sigmoid(F.linear(v1, W, b_h))
    return torch.mm(p_h0.T, v).sub(torch.mm(p_h1.T, v1)).div(v.shape[0]), torch.mean(v - v1, dim=0), \
        torch.mean(p_h0 - p_h1, dim=0)


def net_deepcopy(encoders, n_classes):  # copy.deepcopy + requires_grad_(True), the solution's way
    layers = []
    for e in encoders:
        layers += [copy.deepcopy(e).requires_grad_(True), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_load_state_dict(encoders, n_classes):  # new layers filled with load_state_dict, nested Sequential
    stack = []
    for e in encoders:
        lin = nn.Linear(e.in_features, e.out_features)
        lin.load_state_dict(e.state_dict())
        stack += [lin, nn.Sigmoid()]
    return nn.Sequential(nn.Sequential(*stack), nn.Linear(encoders[-1].out_features, n_classes))


def net_cloned_parameters(encoders, n_classes):  # fresh nn.Parameter from clones
    layers = []
    for e in encoders:
        lin = nn.Linear(e.in_features, e.out_features)
        lin.weight = nn.Parameter(e.weight.detach().clone())
        lin.bias = nn.Parameter(e.bias.detach().clone())
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


@pytest.mark.parametrize("set_fn, opt_fn", [(set_each_attribute, good_opt), (good_set, opt_list_momentum),
                                            (set_each_attribute, opt_param_group)])
def test_freezing_accepts_right_variants(set_fn, opt_fn, capsys):
    for seed in range(5):
        checks.freezing(set_fn, opt_fn, seed=seed)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [enc_inference_mode, enc_preallocated_float64])
def test_encode_frozen_accepts_right_variants(fn, capsys):
    for seed in range(5):
        checks.encode_frozen(fn, seed=seed)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [cd_matmul_float32_loop, cd_functional_linear, cd_float64_einsum])
def test_cd1_statistics_accepts_right_variants(fn, capsys):
    for seed in range(5):
        checks.cd1_statistics(fn, seed=seed)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("fn", [net_deepcopy, net_load_state_dict, net_cloned_parameters, net_by_copying])
def test_fine_tuning_network_accepts_right_variants(fn, capsys):
    for seed in range(5):
        checks.fine_tuning_network(fn, seed=seed)
    assert "passed" in capsys.readouterr().out
