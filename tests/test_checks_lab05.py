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


# --- issue 20: more wrong answers (each with the hint meant for it) and right ones in other styles --------------
# Items 5 (weight decay moves a frozen parameter only through a stale zero gradient), 14 (no mutation of the
# caller's modules), 15 (a ReLU code layer gets its own hint) and 16 (the package's own answer is forbidden).

from aelab import pretrain  # noqa: E402
from aelab.pretrain import classifier_from_encoders as _pkg_classifier  # noqa: E402
from aelab.pretrain import encode_dataset as _pkg_encode  # noqa: E402
from aelab.pretrain import freeze as _pkg_freeze  # noqa: E402
from aelab.pretrain import unfreeze as _pkg_unfreeze  # noqa: E402


def set_pkg_attr(module, trainable):  # the package's own answer, called through the module
    (pretrain.unfreeze if trainable else pretrain.freeze)(module)


def set_pkg_imported(module, trainable):  # ... imported by name before the check patches it
    (_pkg_unfreeze if trainable else _pkg_freeze)(module)


def opt_pkg(model, lr):
    return torch.optim.SGD(pretrain.trainable_parameters(model), lr=lr)


def set_weight_only(module, trainable):
    module.weight.requires_grad_(trainable)  # forgets the bias


def set_inverted(module, trainable):
    module.requires_grad_(not trainable)


def set_mode_only(module, trainable):
    module.train(trainable)  # a mode, not a flag


def opt_last_layer_only(model, lr):
    return torch.optim.SGD(list(model)[-1].parameters(), lr=lr)


def opt_has_grad(model, lr):  # "parameters that have gradients": every one, after a first training step
    return torch.optim.SGD([p for p in model.parameters() if p.grad is not None], lr=lr)


def opt_list(model, lr):
    return [p for p in model.parameters() if p.requires_grad]


@pytest.mark.parametrize("set_fn, opt_fn, hint", [
    (set_pkg_attr, good_opt, "calls aelab.pretrain.freeze"),
    (set_pkg_imported, good_opt, "calls aelab.pretrain.freeze"),
    (good_set, opt_pkg, "calls aelab.pretrain.trainable_parameters"),
    (set_weight_only, good_opt, "still requires gradients"),
    (set_inverted, good_opt, "still requires gradients"),
    (set_mode_only, good_opt, "still requires gradients"),
    (good_set, opt_last_layer_only, "does not hold every trainable parameter"),
    (good_set, opt_has_grad, "weight decay"),
    (good_set, opt_with_all, "weight decay"),
    (good_set, opt_list, "must return a torch.optim.SGD"),
])
def test_freezing_rejects_more(set_fn, opt_fn, hint):
    for seed in range(3):
        with pytest.raises(CheckFailed, match=hint):
            checks.freezing(set_fn, opt_fn, seed=seed)


def test_freezing_weight_decay_case_can_fail(monkeypatch):
    """Item 5: with the id test out of the way, the weight-decay step alone rejects an optimizer holding frozen
    parameters (before, their .grad was None, PyTorch 2 skipped them, and that step could never fail)."""
    with pytest.raises(CheckFailed, match="weight decay") as info:
        checks.freezing(good_set, opt_with_all)
    assert "set_to_none=False" in str(info.value)


def set_returns_module(module, trainable):
    return module.requires_grad_(trainable)


def set_named(module, trainable):
    for _, p in module.named_parameters():
        p.requires_grad = bool(trainable)


def set_per_submodule(module, trainable):
    for m in module.modules():
        for p in m.parameters(recurse=False):
            p.requires_grad_(trainable)


def opt_generator(model, lr):
    return torch.optim.SGD((p for p in model.parameters() if p.requires_grad), lr=lr)


def opt_nesterov(model, lr):
    return torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=lr, momentum=0.9,
                           nesterov=True)


def opt_two_groups(model, lr):
    ws = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith("weight")]
    bs = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith("bias")]
    return torch.optim.SGD([{"params": ws, "weight_decay": 1e-4}, {"params": bs}], lr=lr)


@pytest.mark.parametrize("set_fn, opt_fn", [(set_returns_module, opt_generator), (set_named, opt_nesterov),
                                            (set_per_submodule, opt_two_groups), (set_named, opt_generator),
                                            (set_returns_module, opt_two_groups)])
def test_freezing_accepts_more_styles(set_fn, opt_fn, capsys):
    for seed in range(10):
        checks.freezing(set_fn, opt_fn, seed=seed)
    assert "passed" in capsys.readouterr().out


# exercise 2 ---------------------------------------------------------------------------------------------------


def enc_freezes_caller(encoder, X, batch_size):  # passed before item 14: frozen params give grad-free codes
    mode = encoder.training
    encoder.eval()
    encoder.requires_grad_(False)
    out = torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    encoder.train(mode)
    return out


def enc_unfreezes_caller(encoder, X, batch_size):
    out = enc_detach(encoder, X, batch_size)
    encoder.requires_grad_(True)
    return out


def enc_pkg_attr(encoder, X, batch_size):
    return pretrain.encode_dataset(encoder, X, batch_size=batch_size)


def enc_pkg_imported(encoder, X, batch_size):
    return _pkg_encode(encoder, X, batch_size=batch_size)


def enc_double_model(encoder, X, batch_size):  # converts the caller's model to float64 in place
    mode = encoder.training
    encoder.eval().double()
    with torch.no_grad():
        out = torch.cat([encoder(X[i:i + batch_size].double()) for i in range(0, len(X), batch_size)])
    encoder.train(mode)
    return out


def enc_always_train_after(encoder, X, batch_size):
    encoder.eval()
    with torch.no_grad():
        out = torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])
    encoder.train()
    return out


def enc_drops_partial(encoder, X, batch_size):
    mode = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X) - batch_size + 1, batch_size)])
    encoder.train(mode)
    return out


def enc_reversed(encoder, X, batch_size):
    mode = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)][::-1])
    encoder.train(mode)
    return out


def enc_dropout_on_restored(encoder, X, batch_size):
    with torch.no_grad():
        return torch.cat([encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


def enc_mutates_X(encoder, X, batch_size):
    X.mul_(0.5)
    return enc_detach(encoder, X, batch_size)


@pytest.mark.parametrize("fn, hint", [
    (enc_freezes_caller, "froze the caller's encoder"),
    (enc_unfreezes_caller, "unfroze the caller's encoder"),
    (enc_pkg_attr, "calls aelab.pretrain.encode_dataset"),
    (enc_pkg_imported, "calls aelab.pretrain.encode_dataset"),
    (enc_double_model, "differs in dtype"),
    (enc_always_train_after, "left the encoder in training mode"),
    (enc_drops_partial, "One row of codes per row of X"),
    (enc_reversed, "wrong codes"),
    (enc_dropout_on_restored, "dropout was still on"),
    (enc_mutates_X, "changed its input X"),
])
def test_encode_frozen_rejects_more(fn, hint):
    for seed in range(3):
        with pytest.raises(CheckFailed, match=hint):
            checks.encode_frozen(fn, seed=seed)


def enc_decorated(encoder, X, batch_size):
    @torch.no_grad()
    def run(xb):
        return encoder(xb)
    was = encoder.training
    encoder.eval()
    try:
        return torch.cat([run(xb) for xb in X.tensor_split(list(range(batch_size, len(X), batch_size)))])
    finally:
        encoder.train(was)


def enc_per_submodule_modes(encoder, X, batch_size):
    modes = {m: m.training for m in encoder.modules()}
    encoder.eval()
    with torch.set_grad_enabled(False):
        out = [encoder(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]
    for m, t in modes.items():
        m.training = t
    return torch.cat(out)


def enc_zeros_detach(encoder, X, batch_size):
    was = encoder.training
    encoder.train(False)
    out = None
    for start in range(0, X.shape[0], batch_size):
        codes = encoder(X[start:start + batch_size]).detach()
        if out is None:
            out = torch.zeros(X.shape[0], codes.shape[1])
        out[start:start + len(codes)] = codes
    encoder.train(was)
    return out


def enc_while_loop(encoder, X, batch_size):
    was, chunks, i = encoder.training, [], 0
    encoder.eval()
    with torch.inference_mode():
        while i < len(X):
            chunks.append(encoder(X[i:i + batch_size]).clone())
            i += batch_size
    if was:
        encoder.train()
    return torch.vstack(chunks)


def enc_numpy_indices(encoder, X, batch_size):
    import numpy as np
    was = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = torch.cat([encoder(X[torch.as_tensor(idx)]) for idx in np.array_split(np.arange(len(X)),
                                                                                     -(-len(X) // batch_size))])
    encoder.train(was)
    return out


@pytest.mark.parametrize("fn", [enc_decorated, enc_per_submodule_modes, enc_zeros_detach, enc_while_loop,
                                enc_numpy_indices])
def test_encode_frozen_accepts_more_styles(fn, capsys):
    for seed in range(10):
        checks.encode_frozen(fn, seed=seed)
    assert "passed" in capsys.readouterr().out


# exercise 4 ---------------------------------------------------------------------------------------------------


def net_unfreezes_caller(encoders, n_classes):  # passed before item 14: copies are right, originals unfrozen
    for e in encoders:
        e.requires_grad_(True)
    layers = []
    for e in encoders:
        layers += [copy.deepcopy(e), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_unfreezes_after(encoders, n_classes):
    model = net_deepcopy(encoders, n_classes)
    for e in encoders:
        e.requires_grad_(True)
    return model


def net_relu(encoders, n_classes):  # item 15: told "copied unchanged" before
    layers = []
    for e in encoders:
        layers += [copy.deepcopy(e).requires_grad_(True), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_tanh(encoders, n_classes):
    layers = []
    for e in encoders:
        layers += [copy.deepcopy(e).requires_grad_(True), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_pkg_attr(encoders, n_classes):  # item 16: passed before (Flatten is a no-op on rows)
    return pretrain.classifier_from_encoders(encoders, n_classes)


def net_pkg_imported(encoders, n_classes):
    return _pkg_classifier(encoders, n_classes)


def net_bias_redrawn(encoders, n_classes):
    layers = []
    for e in encoders:
        lin = nn.Linear(e.in_features, e.out_features)
        with torch.no_grad():
            lin.weight.copy_(e.weight)
        layers += [lin, nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_sets_caller_train(encoders, n_classes):
    for e in encoders:
        e.train()
    return net_deepcopy(encoders, n_classes)


def net_doubles_caller(encoders, n_classes):
    model = net_deepcopy(encoders, n_classes)
    for e in encoders:
        e.double()
    return model


def net_softmax_output(encoders, n_classes):
    return nn.Sequential(*net_deepcopy(encoders, n_classes), nn.Softmax(dim=1))


def net_no_output_layer(encoders, n_classes):
    layers = []
    for e in encoders:
        layers += [copy.deepcopy(e).requires_grad_(True), nn.Sigmoid()]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("fn, hint", [
    (net_unfreezes_caller, "unfroze the caller's encoders"),
    (net_unfreezes_after, "unfroze the caller's encoders"),
    (net_relu, "uses nn.ReLU"),
    (net_tanh, "uses nn.Tanh"),
    (net_pkg_attr, "calls aelab.pretrain.classifier_from_encoders"),
    (net_pkg_imported, "calls aelab.pretrain.classifier_from_encoders"),
    (net_bias_redrawn, "copy each encoder's weight and bias unchanged"),
    (net_sets_caller_train, "between training and eval mode"),
    (net_doubles_caller, "changed the caller's encoders' weights"),
    (net_softmax_output, "return logits"),
    (net_no_output_layer, r"End with a new nn.Linear"),
])
def test_fine_tuning_network_rejects_more(fn, hint):
    for seed in range(3):
        with pytest.raises(CheckFailed, match=hint):
            checks.fine_tuning_network(fn, seed=seed)


def net_ordered_dict(encoders, n_classes):
    from collections import OrderedDict
    parts = []
    for i, e in enumerate(encoders):
        lin = nn.Linear(e.in_features, e.out_features)
        lin.weight.data = e.weight.data.clone()
        lin.bias.data = e.bias.data.clone()
        parts += [(f"hidden{i}", lin), (f"sigmoid{i}", nn.Sigmoid())]
    parts.append(("out", nn.Linear(encoders[-1].out_features, n_classes)))
    return nn.Sequential(OrderedDict(parts))


def net_deepcopy_list(encoders, n_classes):
    copies = copy.deepcopy(encoders)
    model = nn.Sequential()
    for c in copies:
        c.requires_grad_(True).train()
        model.append(c)
        model.append(nn.Sigmoid())
    model.append(nn.Linear(copies[-1].out_features, n_classes))
    return model


def net_frozen_then_unfrozen(encoders, n_classes):
    layers = []
    for e in encoders:
        lin = nn.Linear(e.in_features, e.out_features).requires_grad_(False)
        with torch.no_grad():
            lin.weight.copy_(e.weight)
            lin.bias.copy_(e.bias)
        layers += [lin.requires_grad_(True), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(encoders[-1].out_features, n_classes))


def net_add_module(encoders, n_classes):
    model = nn.Sequential()
    for i, e in enumerate(encoders):
        model.add_module(f"enc{i}", nn.Linear(e.in_features, e.out_features))
        model.add_module(f"act{i}", nn.Sigmoid())
        getattr(model, f"enc{i}").load_state_dict({k: v.clone() for k, v in e.state_dict().items()})
    model.add_module("head", nn.Linear(encoders[-1].out_features, n_classes))
    return model


def net_functional_sigmoid_clone(encoders, n_classes):
    layers = []
    for e in encoders:
        lin = nn.Linear(*reversed(tuple(e.weight.shape)))
        lin.weight = nn.Parameter(e.weight.clone().detach(), requires_grad=True)
        lin.bias = nn.Parameter(torch.clone(e.bias).detach())
        layers.extend([lin, torch.nn.Sigmoid()])
    return torch.nn.Sequential(*layers, torch.nn.Linear(layers[-2].out_features, n_classes))


@pytest.mark.parametrize("fn", [net_ordered_dict, net_deepcopy_list, net_frozen_then_unfrozen, net_add_module,
                                net_functional_sigmoid_clone])
def test_fine_tuning_network_accepts_more_styles(fn, capsys):
    for seed in range(10):
        checks.fine_tuning_network(fn, seed=seed)
    assert "passed" in capsys.readouterr().out


def test_shortcut_patches_are_undone():
    """The package's functions work again after a check forbade them (also after a failing answer)."""
    originals = (pretrain.freeze, pretrain.encode_dataset, pretrain.classifier_from_encoders)
    with pytest.raises(CheckFailed):
        checks.encode_frozen(enc_pkg_attr)
    with pytest.raises(CheckFailed):
        checks.fine_tuning_network(net_pkg_attr)
    assert (pretrain.freeze, pretrain.encode_dataset, pretrain.classifier_from_encoders) == originals
