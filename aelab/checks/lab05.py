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

from ._machinery import _exercise, _fail, _finite, _gen, _global_rng, _praise, _shape, _student, _tensor, _unchanged

__all__ = ["freezing", "encode_frozen", "cd1_statistics", "fine_tuning_network"]


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

    Inputs: a ``Linear-Sigmoid-Linear-Sigmoid-Linear`` network with its first one or two layers
    frozen, then unfrozen; one SGD step (with weight decay, which would move a frozen weight that the
    optimizer holds).

    Raises
    ------
    CheckFailed
        With a hint when ``requires_grad`` was set on the module instead of its parameters, when
        unfreezing does not work, or when the optimizer still holds frozen parameters.
    ExerciseNotDone
        If either function raises ``NotImplementedError``.
    """
    ex = freezing.exercise
    set_tr = _student(ex, set_trainable, "set_trainable")
    make_opt = _student(ex, make_optimizer, "make_optimizer")
    g = _gen(ex, seed)
    for n_frozen in (1, 2):
        net = _net(g)
        linears = [m for m in net if isinstance(m, nn.Linear)]
        case = f"a 6-5-4-3 network with its first {n_frozen} linear layer(s) frozen"
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
        opt = make_opt(net, 0.5, case=case)
        if not isinstance(opt, torch.optim.SGD):
            raise _fail(ex, f"make_optimizer must return a torch.optim.SGD, got {type(opt).__name__} on {case}.")
        held = {id(p) for group in opt.param_groups for p in group["params"]}
        trainable = {id(p) for p in net.parameters() if p.requires_grad}
        if held & {id(p) for p in frozen}:
            raise _fail(ex, f"your optimizer still holds the frozen parameters on {case}. An optimizer built before "
                            "or without looking at requires_grad keeps them: with weight decay or momentum it can "
                            "still move them, and it wastes work. Pass only `[p for p in model.parameters() if "
                            "p.requires_grad]`.")
        if held != trainable:
            raise _fail(ex, f"your optimizer does not hold every trainable parameter on {case}: give it all "
                            "parameters with requires_grad=True.")
        before = [p.detach().clone() for p in frozen]
        for group in opt.param_groups:
            group["weight_decay"] = 0.1
        x = torch.randn(8, 6, generator=g)
        opt.zero_grad()
        net(x).pow(2).sum().backward()
        opt.step()
        if not all(torch.equal(a, p) for a, p in zip(before, frozen)):
            raise _fail(ex, f"a frozen weight moved during an optimizer step on {case}.")
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
    sizes 5 (a last, shorter batch) and 50 (one batch); the same encoder in eval mode.

    Raises
    ------
    CheckFailed
        With a hint when the codes carry a gradient graph, when dropout was on (training mode), when the
        encoder's mode was not restored, or when rows were lost or reordered.
    ExerciseNotDone
        If the function raises ``NotImplementedError``.
    """
    ex = encode_frozen.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    with _global_rng(ex, seed):
        encoder = nn.Sequential(nn.Linear(10, 6), nn.Sigmoid(), nn.Dropout(0.5))
    x = torch.rand(23, 10, generator=g)
    encoder.eval()
    with torch.no_grad():
        ref = encoder(x)
    for batch_size, training in ((5, True), (50, True), (4, False)):
        encoder.train(training)
        case = (f"23 rows with batch_size={batch_size}, the encoder (Linear, Sigmoid, Dropout(0.5)) in "
                f"{'training' if training else 'eval'} mode")
        x_in = x.clone()
        with _global_rng(ex, seed):
            out = _tensor(ex, call(encoder, x_in, batch_size, case=case), "the codes", case)
        _unchanged(ex, x, x_in, "X", case)
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

    Inputs: two frozen encoders 9→6→4 and ``n_classes=3``; one encoder 5→2 (not frozen) and
    ``n_classes=4``. One SGD step on the result must not change the encoders.

    Raises
    ------
    CheckFailed
        With a hint when weights are shared (the same module or tensor), when the copies are still
        frozen, when the sigmoid is missing, or on a wrong output size.
    ExerciseNotDone
        If the function raises ``NotImplementedError``.
    """
    ex = fine_tuning_network.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    for sizes, n_classes, frozen in (((9, 6, 4), 3, True), ((5, 2), 4, False)):
        encoders = [m for m in _net(g, sizes) if isinstance(m, nn.Linear)]
        if frozen:
            for e in encoders:
                e.requires_grad_(False)
        before = [p.detach().clone() for e in encoders for p in e.parameters()]
        case = f"{len(encoders)} pretrained encoder(s) {'→'.join(map(str, sizes))}{' (frozen)' if frozen else ''}, " \
               f"n_classes={n_classes}"
        with _global_rng(ex, seed):
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
        if not all(p.requires_grad for p in model.parameters()):
            raise _fail(ex, f"some of your network's parameters do not require gradients on {case}: the copies of "
                            "frozen encoders are frozen too. Fine-tuning trains every layer: call "
                            "`p.requires_grad_(True)` on the copies.")
        with torch.no_grad():
            codes = x.double()
            for e in encoders:
                codes = torch.sigmoid(codes @ e.weight.double().T + e.bias.double())
            hidden = model[:-1](x).double()
        if hidden.shape != codes.shape or not torch.allclose(hidden, codes, atol=1e-5):
            linear_codes = x.double()
            for e in encoders:
                linear_codes = linear_codes @ e.weight.double().T + e.bias.double()
            why = ""
            if hidden.shape == codes.shape and len(encoders) == 1 and torch.allclose(hidden, linear_codes, atol=1e-5):
                why = " There is no sigmoid after the pretrained layer: the encoders were trained as Linear → Sigmoid."
            elif hidden.shape != codes.shape or torch.allclose(hidden, linear_codes, atol=1e-5):
                why = " Put an nn.Sigmoid() after every pretrained layer, and only the new output layer last."
            raise _fail(ex, f"model[:-1](x) is not the pretrained stack's sigmoid codes on {case}.{why} The "
                            "pretrained weights must be copied unchanged.")
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        model(x).pow(2).sum().backward()
        opt.step()
        if not all(torch.equal(a, p) for a, p in zip(before, (p for e in encoders for p in e.parameters()))):
            raise _fail(ex, f"a training step on your network changed the pretrained encoders on {case}: copy the "
                            "weights instead of sharing them.")
    _praise(ex, "copied (not shared), trainable, sigmoid codes and a new output layer", 2)
