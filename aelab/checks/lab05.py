"""Lab 05's self-checks (greedy layer-wise pretraining), re-exported by :mod:`aelab.checks`.

:func:`freezing`, :func:`encode_frozen`, :func:`cd1_statistics`, :func:`fine_tuning_network`. What a
check does on success, a wrong answer or an unfinished exercise is described in
:mod:`aelab.checks._machinery`; the notebooks call them as ``aelab.checks.<name>(...)``. The
definitions are lecture 05's and :mod:`aelab.pretrain`'s: freezing sets ``requires_grad`` on each
parameter; a frozen stack encodes in eval mode without gradients; CD-1 follows Hinton's practical
guide (UTML TR 2010-003, section 3: probabilities for the reconstruction and for the negative hidden
statistics); the fine-tuning network holds *copies* of the pretrained weights (Hinton et al. 2006).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ._shortcuts import imported_shortcut, package_targets
from ._machinery import (_exercise, _fail, _finite, _forbidden, _gen, _global_rng, _praise, _shape, _student, _tensor,
                         _unchanged)

__all__ = ["freezing", "encode_frozen", "cd1_statistics", "fine_tuning_network"]

#: The package's own answers to exercises 1, 2 and 4 (docs/architecture.md, "Lab checks": an exercise that is one call into
#: aelab teaches nothing, so the check makes these raise while the student's function runs).
_FREEZE_SHORTCUTS = ("freeze", "unfreeze", "trainable_parameters")
_ENCODE_SHORTCUTS = ("encode_dataset",)
_NETWORK_SHORTCUTS = ("classifier_from_encoders",)


def _package_targets(names: tuple[str, ...]) -> list[tuple[object, str, str]]:
    """``(aelab.pretrain, name, "aelab.pretrain.<name>")`` for each name the module has."""
    return package_targets(names, modules=("pretrain",))


def _imported_shortcut(ex, fn, names: tuple[str, ...], reason: str) -> None:
    """Fail when ``fn`` refers to one of ``aelab.pretrain``'s functions by a global or closure name.

    :func:`_forbidden` patches ``aelab.pretrain.<name>``, which catches ``pretrain.freeze(...)`` and
    ``aelab.pretrain.freeze(...)``; ``from aelab.pretrain import freeze`` binds the original function
    before the patch, so it is looked up here instead (:func:`aelab.checks._shortcuts.imported_shortcut`).
    """
    imported_shortcut(ex, fn, names, reason, modules=("pretrain",))


def _net(g: torch.Generator, sizes=(6, 5, 4, 3)) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        with torch.random.fork_rng(devices=[]):  # nn.Linear draws from the global RNG: leave it alone
            lin = nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(b, a, generator=g))
            lin.bias.copy_(torch.randn(b, generator=g))
        layers.append(lin)
        if i < len(sizes) - 2:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- exercise 1
@_exercise("05", 1, "set_trainable, make_optimizer")
def freezing(set_trainable: Callable, make_optimizer: Callable, *, seed: int = 0) -> None:
    """Check ``set_trainable(module, trainable)`` and ``make_optimizer(model, lr)``.

    Expected: ``set_trainable`` sets ``requires_grad`` to ``trainable`` on *every parameter* of
    ``module`` (freeze with False, unfreeze with True); ``make_optimizer`` returns a
    ``torch.optim.SGD`` holding exactly the parameters of ``model`` that require gradients.

    Inputs: a ``Linear-Sigmoid-Linear-Sigmoid-Linear`` network trained one step (every parameter
    has a ``.grad``), then its first one or two layers frozen, then unfrozen; one SGD step with weight
    decay after ``zero_grad(set_to_none=False)``. PyTorch 2's optimizers skip a parameter whose
    ``.grad`` is None, so only such a stale zero gradient lets weight decay move a frozen parameter
    that the optimizer holds — the case this check builds. ``aelab.pretrain.freeze``, ``unfreeze``
    and ``trainable_parameters`` raise while the student's functions run.

    Raises
    ------
    CheckFailed
        With a hint when ``requires_grad`` was set on the module instead of its parameters, when
        unfreezing does not work, when the optimizer still holds frozen parameters (weight decay moved
        them), or when the package's own functions are called.
    ExerciseNotDone
        If either function raises ``NotImplementedError``.
    """
    ex = freezing.exercise
    reason = ("The package's freeze/unfreeze/trainable_parameters are disabled while the check runs: loop over "
              "`module.parameters()` yourself.")
    for fn in (set_trainable, make_optimizer):
        _imported_shortcut(ex, fn, _FREEZE_SHORTCUTS, reason)
    set_tr = _student(ex, set_trainable, "set_trainable")
    make_opt = _student(ex, make_optimizer, "make_optimizer")
    g = _gen(ex, seed)
    for n_frozen in (1, 2):
        net = _net(g)
        linears = [m for m in net if isinstance(m, nn.Linear)]
        case = f"a 6-5-4-3 network with its first {n_frozen} linear layer(s) frozen after one training step"
        x = torch.randn(8, 6, generator=g)
        net(x).pow(2).sum().backward()  # every parameter now has a .grad: trained before freezing
        with _forbidden(_package_targets(_FREEZE_SHORTCUTS), reason):
            for lin in linears[:n_frozen]:
                set_tr(lin, False, case=case)
        frozen = [p for lin in linears[:n_frozen] for p in lin.parameters()]
        if any(p.requires_grad for p in frozen):
            hint = ""
            if any(getattr(lin, "requires_grad", None) is False for lin in linears[:n_frozen]):
                hint = (" You set `module.requires_grad = False`: that only adds an attribute to the module; the flag "
                        "that autograd reads lives on each parameter. Loop over `module.parameters()` and call "
                        "`p.requires_grad_(False)` (or use the method `module.requires_grad_(False)`).")
            raise _fail(ex, f"after set_trainable(layer, False) a parameter of the layer still requires gradients on "
                            f"{case}.{hint}")
        if not all(p.requires_grad for lin in linears[n_frozen:] for p in lin.parameters()):
            raise _fail(ex, f"set_trainable froze more than the module it was given on {case}: only that module's "
                            "parameters change.")
        with _forbidden(_package_targets(_FREEZE_SHORTCUTS), reason):
            opt = make_opt(net, 0.5, case=case)
        if not isinstance(opt, torch.optim.SGD):
            raise _fail(ex, f"make_optimizer must return a torch.optim.SGD, got {type(opt).__name__} on {case}.")
        held = {id(p) for group in opt.param_groups for p in group["params"]}
        trainable = {id(p) for p in net.parameters() if p.requires_grad}
        # The stale-gradient case (PyTorch 2): an optimizer skips a parameter whose .grad is None, but these
        # frozen parameters were trained before freezing and zero_grad(set_to_none=False) leaves them a zero
        # .grad, so weight decay moves every frozen parameter the optimizer holds.
        before = [p.detach().clone() for p in frozen]
        for group in opt.param_groups:
            group["weight_decay"] = 0.1
        opt.zero_grad(set_to_none=False)
        net(x).pow(2).sum().backward()
        opt.step()
        if not all(torch.equal(a, p) for a, p in zip(before, frozen)):
            raise _fail(ex, f"a frozen weight moved during an optimizer step with weight decay on {case}: your "
                            "optimizer still holds the frozen parameters. They were trained before freezing, so "
                            "`zero_grad(set_to_none=False)` leaves them a zero gradient instead of None, and weight "
                            "decay (or momentum) then moves them — PyTorch skips only parameters whose .grad is None. "
                            "Pass only `[p for p in model.parameters() if p.requires_grad]`.")
        if held & {id(p) for p in frozen}:
            raise _fail(ex, f"your optimizer still holds the frozen parameters on {case}: give it only "
                            "`[p for p in model.parameters() if p.requires_grad]`.")
        if held != trainable:
            raise _fail(ex, f"your optimizer does not hold every trainable parameter on {case}: give it all "
                            "parameters with requires_grad=True.")
        with _forbidden(_package_targets(_FREEZE_SHORTCUTS), reason):
            for lin in linears[:n_frozen]:
                set_tr(lin, True, case=f"unfreezing the layers of {case}")
        if not all(p.requires_grad for p in net.parameters()):
            raise _fail(ex, f"set_trainable(layer, True) did not unfreeze the layer on {case}: set requires_grad to "
                            "the value of `trainable`, not always False.")
    _praise(ex, "frozen layers stay put, unfrozen ones train, and the optimizer holds only trainable parameters", 2)


# --------------------------------------------------------------------------- exercise 2
@_exercise("05", 2, "encode_in_batches")
def encode_frozen(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``encode_in_batches(encoder, X, batch_size) -> codes``.

    Expected: ``encoder(X[i:i + batch_size])`` for consecutive batches, concatenated ``(N, k)``;
    computed without gradients (no ``grad_fn``, ``requires_grad`` False) and in eval mode (dropout
    off), with the encoder's training/eval mode restored afterwards.

    Inputs: ``Linear(10, 6) → Sigmoid → Dropout(0.5)`` in training mode, N = 23 rows with batch
    sizes 5 (a last, shorter batch) and 50 (one batch, the encoder frozen); the same encoder in eval
    mode. The encoder must come back as it was given: its mode, each parameter's value, dtype and
    ``requires_grad``. ``aelab.pretrain.encode_dataset`` raises while the student's function runs.

    Raises
    ------
    CheckFailed
        With a hint when the codes carry a gradient graph, when dropout was on (training mode), when the
        encoder's mode was not restored, when the caller's encoder was frozen, unfrozen or changed,
        when rows were lost or reordered, or when ``aelab.pretrain.encode_dataset`` is called.
    ExerciseNotDone
        If the function raises ``NotImplementedError``.
    """
    ex = encode_frozen.exercise
    reason = ("aelab.pretrain.encode_dataset is disabled while the check runs: write the batch loop, no_grad and "
              "eval mode yourself.")
    _imported_shortcut(ex, student_fn, _ENCODE_SHORTCUTS, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    with _global_rng(ex, seed):
        encoder = nn.Sequential(nn.Linear(10, 6), nn.Sigmoid(), nn.Dropout(0.5))
    x = torch.rand(23, 10, generator=g)
    encoder.eval()
    with torch.no_grad():
        ref = encoder(x)
    for batch_size, training, trainable in ((5, True, True), (50, True, False), (4, False, True)):
        encoder.train(training)
        encoder.requires_grad_(trainable)
        case = (f"23 rows with batch_size={batch_size}, the encoder (Linear, Sigmoid, Dropout(0.5)) in "
                f"{'training' if training else 'eval'} mode{'' if trainable else ', frozen'}")
        x_in = x.clone()
        params = {name: (p.detach().clone(), p.requires_grad, p.dtype) for name, p in encoder.named_parameters()}
        with _global_rng(ex, seed), _forbidden(_package_targets(_ENCODE_SHORTCUTS), reason):
            out = _tensor(ex, call(encoder, x_in, batch_size, case=case), "the codes", case)
        _unchanged(ex, x, x_in, "X", case)
        for name, p in encoder.named_parameters():
            value, flag, dtype = params[name]
            if p.requires_grad != flag:
                raise _fail(ex, f"your function {'froze' if flag else 'unfroze'} the caller's encoder on {case} "
                                f"(its parameter {name} now has requires_grad={p.requires_grad}): encoding is "
                                "inference — `torch.no_grad()` stops gradients without touching the model, whose "
                                "owner may still be training it. Leave requires_grad alone.")
            if p.dtype != dtype or not torch.equal(p.detach(), value):
                raise _fail(ex, f"your function changed the caller's encoder on {case} (its parameter {name} now "
                                f"differs in {'dtype' if p.dtype != dtype else 'value'}): compute codes without "
                                "changing the model (no `.double()`, `.half()` or in-place edits of its weights).")
        if out.requires_grad or out.grad_fn is not None:
            raise _fail(ex, f"the codes carry an autograd graph on {case}: encoding a whole dataset through a frozen "
                            "stack must not track gradients (it would keep every batch's activations in memory). "
                            "Wrap the loop in `with torch.no_grad():`.")
        _shape(ex, out, ref.shape, "the codes", case, "One row of codes per row of X, all batches concatenated.")
        _finite(ex, out, "the codes", case)
        if encoder.training != training:
            raise _fail(ex, f"your function left the encoder in {'training' if encoder.training else 'eval'} mode on "
                            f"{case}: remember `was_training = encoder.training` and restore it with "
                            "`encoder.train(was_training)` at the end (the caller may still be training it).")
        if not torch.allclose(out.double(), ref.double(), atol=1e-6):
            zeros = float((out == 0).double().mean())
            if training and zeros > 0.2:
                raise _fail(ex, f"about {zeros:.0%} of the codes are exactly 0 on {case}: dropout was still on. Call "
                                "`encoder.eval()` before encoding (dropout and batch norm behave differently in "
                                "training mode), and restore the mode afterwards.")
            raise _fail(ex, f"wrong codes on {case}: row i of the result must be encoder(X[i]) — check that every "
                            "batch X[i:i + batch_size] is encoded once and the batches are concatenated in order.")
    _praise(ex, "codes without gradients, dropout off, the encoder's mode restored", 3)


# --------------------------------------------------------------------------- exercise 3
def _cd1_ref(W, b_v, b_h, v, h0):
    W, b_v, b_h, v, h0 = (t.double() for t in (W, b_v, b_h, v, h0))
    p_h0 = torch.sigmoid(v @ W.T + b_h)
    v1 = torch.sigmoid(h0 @ W + b_v)
    p_h1 = torch.sigmoid(v1 @ W.T + b_h)
    n = len(v)
    return ((p_h0.T @ v - p_h1.T @ v1) / n, (v - v1).mean(0), (p_h0 - p_h1).mean(0)), (p_h0, v1, p_h1)


@_exercise("05", 3, "cd1_statistics")
def cd1_statistics(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``cd1_statistics(W, b_visible, b_hidden, v, h0) -> (dW, db_visible, db_hidden)``.

    Expected (Hinton's practical guide, section 3; lecture 05): ``W`` ``(n_hidden, n_visible)``,
    ``v`` ``(N, n_visible)`` data, ``h0`` ``(N, n_hidden)`` binary hidden states sampled from
    ``p(h | v)``. With ``p_h0 = σ(v Wᵀ + b_h)``, the reconstruction's *probabilities*
    ``v1 = σ(h0 W + b_v)`` and ``p_h1 = σ(v1 Wᵀ + b_h)`` (probabilities, not samples)::

        dW = (p_h0ᵀ v − p_h1ᵀ v1) / N,  db_visible = mean(v − v1),  db_hidden = mean(p_h0 − p_h1)

    — the ascent direction: ``θ ← θ + lr · dθ`` raises the likelihood.

    Inputs: a 6-visible, 4-hidden RBM and 20 binary examples; a 12-by-7 RBM with grey-level data.
    Tolerance 1e-5.

    Raises
    ------
    CheckFailed
        With a hint for a random result (a sampled reconstruction or sampled negative hidden states),
        the wrong sign, a sum instead of a mean over the batch, or the sampled ``h0`` in the positive
        statistics.
    ExerciseNotDone
        If the function raises ``NotImplementedError``.
    """
    ex = cd1_statistics.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = []
    for n_v, n_h, n, binary in ((6, 4, 20, True), (12, 7, 30, False)):
        W = torch.randn(n_h, n_v, generator=g)
        b_v, b_h = 0.5 * torch.randn(n_v, generator=g), 0.5 * torch.randn(n_h, generator=g)
        v = torch.rand(n, n_v, generator=g)
        v = (v > 0.5).float() if binary else v
        h0 = torch.bernoulli(torch.sigmoid(v @ W.T + b_h), generator=g)
        label = f"an RBM with {n_v} visible and {n_h} hidden units and {n} {'binary' if binary else 'grey-level'} examples"
        cases.append((label, W, b_v, b_h, v, h0))
    for label, W, b_v, b_h, v, h0 in cases:
        args = [t.clone() for t in (W, b_v, b_h, v, h0)]
        with _global_rng(ex, seed):
            out = call(*args, case=label)
        for orig, given, name in zip((W, b_v, b_h, v, h0), args, ("W", "b_visible", "b_hidden", "v", "h0")):
            _unchanged(ex, orig, given, name, label)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise _fail(ex, "return three tensors, `return dW, db_visible, db_hidden`.")
        out = [_tensor(ex, t, name, label) for t, name in zip(out, ("dW", "db_visible", "db_hidden"))]
        (ref_W, ref_bv, ref_bh), (p_h0, v1, p_h1) = _cd1_ref(W, b_v, b_h, v, h0)
        if tuple(out[0].shape) == tuple(W.T.shape) and W.shape[0] != W.shape[1]:
            raise _fail(ex, f"dW has shape {tuple(out[0].shape)} on {label}, the transpose of W's {tuple(W.shape)}: "
                            "the statistics are p_hᵀ v, (n_hidden, N) @ (N, n_visible).")
        for t, r, name in zip(out, (ref_W, ref_bv, ref_bh), ("dW", "db_visible", "db_hidden")):
            _shape(ex, t, r.shape, name, label, "Each statistic has the shape of its parameter.")
            _finite(ex, t, name, label)
        with _global_rng(ex, seed + 1):
            again = call(*[t.clone() for t in (W, b_v, b_h, v, h0)], case=label)
        if not torch.allclose(torch.as_tensor(again[0]).double(), out[0].double(), atol=1e-9):
            raise _fail(ex, f"your statistics are random (two calls with the same inputs differ) on {label}: the "
                            "recipe samples only h0, which you are given. The reconstruction v1 = σ(h0 W + b_v) and the "
                            "negative hidden statistics p(h | v1) are probabilities, not samples (Hinton's guide, "
                            "section 3: sampling them adds noise and no benefit).")
        got = [t.double() for t in out]
        if all(torch.allclose(a, r, atol=1e-5) for a, r in zip(got, (ref_W, ref_bv, ref_bh))):
            continue
        if all(torch.allclose(a, -r, atol=1e-5) for a, r in zip(got, (ref_W, ref_bv, ref_bh))):
            raise _fail(ex, f"the sign is flipped on {label}: the update is positive (data) minus negative "
                            "(reconstruction) statistics, an ascent direction that θ ← θ + lr·dθ follows uphill.")
        n = len(v)
        if torch.allclose(got[0], n * ref_W, atol=1e-4):
            raise _fail(ex, f"dW is {n} times too large on {label}: average the statistics over the batch (divide "
                            "by N), so that the learning rate does not depend on the batch size.")
        vd, h0d = v.double(), h0.double()
        if torch.allclose(got[0], (h0d.T @ vd - p_h1.T @ v1) / n, atol=1e-5):
            raise _fail(ex, f"dW's positive statistics use the sampled h0 on {label}; the recipe uses the "
                            "probabilities p(h | v) = σ(v Wᵀ + b_h) there (less noise), and samples h0 only to "
                            "drive the reconstruction.")
        raise _fail(ex, f"wrong statistics on {label}: check p_h0 = σ(v Wᵀ + b_h), v1 = σ(h0 W + b_v), "
                        "p_h1 = σ(v1 Wᵀ + b_h) and dW = (p_h0ᵀ v − p_h1ᵀ v1) / N.")
    _praise(ex, "your CD-1 statistics equal Hinton's recipe on binary and grey-level data", len(cases))


# --------------------------------------------------------------------------- exercise 4
@_exercise("05", 4, "fine_tuning_network")
def fine_tuning_network(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``fine_tuning_network(encoders, n_classes) -> nn.Sequential``.

    Expected: ``encoders`` is a list of pretrained ``nn.Linear`` layers (possibly frozen); the result
    is an ``nn.Sequential`` ``Linear, Sigmoid, …, Linear, Sigmoid, Linear(k, n_classes)`` whose hidden
    ``Linear`` layers hold *copies* of the encoders' weights and biases (not the same tensors),
    trainable, and whose last layer is new. ``model[:-1](x)`` gives the stack's sigmoid codes.

    Inputs: two frozen encoders 9→6→4 (eval mode) and ``n_classes=3``; one encoder 5→2 (not frozen)
    and ``n_classes=4``. The caller's encoders must come back unchanged (weights, dtype,
    ``requires_grad``, mode), and one SGD step on the result must not change them.
    ``aelab.pretrain.classifier_from_encoders`` raises while the student's function runs.

    Raises
    ------
    CheckFailed
        With a hint when weights are shared (the same module or tensor), when the caller's encoders
        were unfrozen or changed, when the copies are still frozen, when the sigmoid is missing or
        another activation is used, or on a wrong output size.
    ExerciseNotDone
        If the function raises ``NotImplementedError``.
    """
    ex = fine_tuning_network.exercise
    reason = ("aelab.pretrain.classifier_from_encoders is disabled while the check runs: copy the layers and add "
              "the sigmoids and the output layer yourself.")
    _imported_shortcut(ex, student_fn, _NETWORK_SHORTCUTS, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    for sizes, n_classes, frozen in (((9, 6, 4), 3, True), ((5, 2), 4, False)):
        encoders = [m for m in _net(g, sizes) if isinstance(m, nn.Linear)]
        if frozen:
            for e in encoders:
                e.requires_grad_(False)
                e.eval()
        before = [p.detach().clone() for e in encoders for p in e.parameters()]
        state = [(p.requires_grad, p.dtype) for e in encoders for p in e.parameters()]
        modes = [e.training for e in encoders]
        case = f"{len(encoders)} pretrained encoder(s) {'→'.join(map(str, sizes))}{' (frozen)' if frozen else ''}, " \
               f"n_classes={n_classes}"
        with _global_rng(ex, seed), _forbidden(_package_targets(_NETWORK_SHORTCUTS), reason):
            model = call(encoders, n_classes, case=case)
        if not isinstance(model, nn.Sequential):
            raise _fail(ex, f"return an nn.Sequential, got {type(model).__name__} on {case}.")
        x = torch.rand(7, sizes[0], generator=g)
        logits = _tensor(ex, _student(ex, model, "your network")(x, case=case), "the logits", case)
        _shape(ex, logits, (7, n_classes), "the logits", case, f"End with a new nn.Linear({sizes[-1]}, n_classes).")
        ours = {id(p) for e in encoders for p in e.parameters()}
        ptrs = {p.data_ptr() for e in encoders for p in e.parameters()}
        if any(id(p) in ours or p.data_ptr() in ptrs for p in model.parameters()):
            raise _fail(ex, f"your network shares tensors with the pretrained encoders on {case}: fine-tuning it "
                            "would change them too (and every other network built from them). Copy the weights: "
                            "`copy.deepcopy(encoder)`, or a new nn.Linear with `.weight.data.copy_(...)` — not "
                            "`layer.weight = encoder.weight` or the encoder module itself.")
        after = [(p.requires_grad, p.dtype) for e in encoders for p in e.parameters()]
        if [a[0] for a in after] != [b[0] for b in state]:
            raise _fail(ex, f"your function {'unfroze' if frozen else 'froze'} the caller's encoders on {case}: "
                            "change requires_grad on your *copies* only. The pretrained encoders belong to the "
                            "caller (who may build more networks from them, or keep them frozen on purpose).")
        if [a[1] for a in after] != [b[1] for b in state] or \
                not all(torch.equal(a, p) for a, p in zip(before, (p for e in encoders for p in e.parameters()))):
            raise _fail(ex, f"your function changed the caller's encoders' weights on {case}: copy them unchanged "
                            "and leave the originals alone.")
        if [e.training for e in encoders] != modes:
            raise _fail(ex, f"your function switched the caller's encoders between training and eval mode on "
                            f"{case}: set the mode of your copies only.")
        if not all(p.requires_grad for p in model.parameters()):
            raise _fail(ex, f"some of your network's parameters do not require gradients on {case}: the copies of "
                            "frozen encoders are frozen too. Fine-tuning trains every layer: call "
                            "`p.requires_grad_(True)` on the copies.")
        last = list(model.modules())[-1]
        if isinstance(last, (nn.Softmax, nn.LogSoftmax, nn.Sigmoid)):
            raise _fail(ex, f"your network ends with nn.{type(last).__name__} on {case}: return logits, the new "
                            "output layer's raw scores — F.cross_entropy applies the log-softmax itself.")
        with torch.no_grad():
            codes = x.double()
            for e in encoders:
                codes = torch.sigmoid(codes @ e.weight.double().T + e.bias.double())
            hidden = model[:-1](x).double()
        if hidden.shape != codes.shape or not torch.allclose(hidden, codes, atol=1e-5):
            def stack(act):
                out = x.double()
                for e in encoders:
                    out = act(out @ e.weight.double().T + e.bias.double())
                return out

            linear_codes = stack(lambda a: a)
            others = {name: stack(fn) for name, fn in (("nn.ReLU", torch.relu), ("nn.Tanh", torch.tanh))}
            used = sorted({type(m).__name__ for m in model.modules()} & {"ReLU", "Tanh", "LeakyReLU", "ELU", "GELU",
                                                                       "Softplus", "Softmax"})
            matched = [n for n, c in others.items() if hidden.shape == c.shape and torch.allclose(hidden, c, atol=1e-5)]
            if matched or used:
                what = matched[0] if matched else "nn." + used[0]
                raise _fail(ex, f"model[:-1](x) is not the pretrained stack's sigmoid codes on {case}: your network "
                                f"uses {what} after the pretrained layers. The encoders were pretrained as Linear → "
                                "Sigmoid, so their weights only mean what they learned with a sigmoid after them: use "
                                "nn.Sigmoid() after every pretrained layer.")
            if hidden.shape == codes.shape and len(encoders) == 1 and torch.allclose(hidden, linear_codes, atol=1e-5):
                why = " There is no sigmoid after the pretrained layer: the encoders were trained as Linear → Sigmoid."
            elif hidden.shape != codes.shape or torch.allclose(hidden, linear_codes, atol=1e-5):
                why = " Put an nn.Sigmoid() after every pretrained layer, and only the new output layer last."
            else:
                why = (" Its layers have the right shapes and a sigmoid, so the weights differ: copy each encoder's "
                       "weight and bias unchanged (not transposed, rescaled or re-drawn).")
            raise _fail(ex, f"model[:-1](x) is not the pretrained stack's sigmoid codes on {case}.{why}")
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        model(x).pow(2).sum().backward()
        opt.step()
        if not all(torch.equal(a, p) for a, p in zip(before, (p for e in encoders for p in e.parameters()))):
            raise _fail(ex, f"a training step on your network changed the pretrained encoders on {case}: copy the "
                            "weights instead of sharing them.")
    _praise(ex, "copied (not shared), trainable, sigmoid codes and a new output layer", 2)
