"""Lab 03's self-checks (regularized autoencoders), re-exported by :mod:`aelab.checks`.

:func:`kl_sparsity_penalty`, :func:`corruptions`, :func:`denoising_step`, :func:`dae_vector_field`,
:func:`contractive_closed_form` — in the order lecture 03 teaches them (sparsity, denoising, the score,
the contractive penalty). Where the package has the function an exercise asks for, the check refuses it. What a check does on success, a wrong answer or an unfinished exercise is
described in :mod:`aelab.checks._machinery`; the notebooks call them as ``aelab.checks.<name>(...)``.
Definitions are those of lecture 03 and :mod:`aelab.penalties` (Vincent et al. 2010 for the
corruptions; Ng 2011 for the KL sparsity penalty; Rifai et al. 2011 for the contractive penalty;
Alain & Bengio 2014 for the vector field).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ._machinery import (_exercise, _fail, _finite, _forbidden, _gen, _global_rng, _praise, _shape, _student, _tensor,
                         _unchanged)

__all__ = ["corruptions", "denoising_step", "kl_sparsity_penalty", "contractive_closed_form", "dae_vector_field"]


def _package_shortcuts(*names: str) -> list[tuple[object, str, str]]:
    """The package's own versions of what lab 03 asks students to write (docs/architecture.md, "Lab checks")."""
    from .. import data, noise, penalties   # imported here: aelab.checks must not import the whole package at load
    where = {"masking_noise": (noise, data), "salt_and_pepper": (noise, data), "kl_sparsity": (penalties,),
             "contractive_sigmoid": (penalties,)}
    return [(owner, name, f"aelab.{owner.__name__.split('.')[-1]}.{name}") for name in names for owner in where[name]]


def _refuse_package_function(ex, fn: Callable, names: tuple[str, ...]) -> None:
    """Refuse the package's own function passed in place of the student's (patching cannot catch that)."""
    for owner, name, label in _package_shortcuts(*names):
        if fn is getattr(owner, name):
            raise _fail(ex, f"this exercise asks you to write it yourself, but you passed {label} itself. Write "
                            "your own function in the exercise cell and pass that.")


def _corruption_cases(g: torch.Generator) -> list[tuple[str, torch.Tensor, float]]:
    # values strictly inside (0, 1) and not 0.5: every corrupted value visibly changes
    big = 0.05 + 0.9 * torch.rand(400, 1, 28, 28, generator=g)
    return [("400 random images (400, 1, 28, 28), p=0.25", big, 0.25),
            ("the same images, p=0.1", big, 0.1),
            ("flat rows (300, 784), p=0.6", 0.05 + 0.9 * torch.rand(300, 784, generator=g), 0.6),
            ("the same images, p=0", big, 0.0)]


def _check_one_corruption(ex, call, name: str, cases, g: torch.Generator, salt: bool) -> None:
    for label, x, p in cases:
        x_in = x.clone()
        gen_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
        out = _tensor(ex, call(x_in, p, generator=torch.Generator().manual_seed(gen_seed), case=label), name, label)
        if not torch.equal(x_in, x):
            raise _fail(ex, f"{name} changed its input in place on {label} (e.g. `x[mask] = 0`). The clean images "
                            "are still needed as the target: build a new tensor (torch.where(...), or x.clone() first).")
        _shape(ex, out, x.shape, f"the output of {name}", label, "Corruption keeps the shape of x.")
        if out.dtype != x.dtype:
            raise _fail(ex, f"{name} returned dtype {out.dtype} on {label}, the input was {x.dtype}: keep the dtype "
                            "(e.g. convert a boolean mask with .to(x.dtype)).")
        _finite(ex, out, f"the output of {name}", label)
        if out.min() < 0 or out.max() > 1:
            raise _fail(ex, f"{name} produced values outside [0, 1] on {label} (min {out.min():.3g}, max "
                            f"{out.max():.3g}). Pixels live in [0, 1]: a corrupted pixel must be "
                            + ("0 (pepper) or 1 (salt)." if salt else "0."))
        changed = out != x
        rows = changed.flatten(1) if x.dim() >= 2 else changed[None]
        if 0 < p < 1 and len(rows) > 1 and (rows == rows[:1]).all():
            raise _fail(ex, f"{name} corrupted the SAME positions in every image of {label}: one mask was drawn "
                            "and shared by the whole batch (e.g. torch.rand(x.shape[1:]) or torch.rand(28, 28)), so "
                            "every image loses the same pixels. Draw one uniform per value, of x's full shape "
                            "(torch.rand(x.shape, ...)).")
        if 0 < p < 1 and len(rows) > 1 and (rows.all(1) | ~rows.any(1)).all():
            raise _fail(ex, f"{name} corrupted whole images on {label}: each image was either corrupted entirely or "
                            "not at all (one coin per image). Each VALUE is corrupted independently with probability "
                            "p: draw one uniform per value, of x's full shape.")
        frac = changed.double().mean().item()
        sd = math.sqrt(max(p * (1 - p), 1e-4) / x.numel())
        if abs(frac - p) > 6 * sd + 1e-9:
            ratio = frac / p if p > 0 else float("inf")
            why = ""
            if p > 0 and (abs(ratio - 2) < 0.15 or abs(frac - (2 * p - p * p)) < 6 * sd):
                why = (" That is about twice p: did you draw salt with probability p and pepper with probability p "
                       "separately? Draw ONE uniform per value for 'corrupt or not' and a fair coin for 0 or 1.")
            elif p > 0 and abs(ratio - 0.5) < 0.1:
                why = " That is half of p: each corrupted value is chosen with probability p, then 0 or 1 by a coin."
            elif p > 0 and abs(frac - (1 - p)) < 6 * sd:
                why = " That is 1 − p: you kept values with probability p instead of corrupting them with probability p."
            raise _fail(ex, f"{name} corrupted a fraction {frac:.3f} of the values on {label}, but p = {p}.{why}")
        vals = out[changed]
        if salt:
            if not ((vals == 0) | (vals == 1)).all():
                raise _fail(ex, f"{name}: a corrupted value must become exactly 0 or 1 (on {label}).")
            if vals.numel() > 1000 and abs((vals == 1).double().mean().item() - 0.5) > 0.05:
                raise _fail(ex, f"{name}: salt (1) and pepper (0) should be equally likely (a fair coin); you set "
                                f"{(vals == 1).double().mean().item():.2f} of the corrupted values to 1 on {label}.")
        elif not (vals == 0).all():
            raise _fail(ex, f"{name}: masking sets the corrupted values to 0; yours are not all 0 on {label}.")
        again = call(x.clone(), p, generator=torch.Generator().manual_seed(gen_seed), case=label)
        if not torch.equal(again, out):
            raise _fail(ex, f"{name} gave different results for the same generator seed on {label}: draw every "
                            "random number with `generator=generator`.")


@_exercise("03", 2, "masking_noise, salt_and_pepper")
def corruptions(masking_noise: Callable, salt_and_pepper: Callable, *, seed: int = 0) -> None:
    """Check ``masking_noise(x, p, generator)`` and ``salt_and_pepper(x, p, generator)``.

    Expected: a new tensor of the shape and dtype of ``x`` (``x`` untouched) in which each value
    is corrupted independently with probability ``p`` — set to 0 (masking) or to 0 or 1 by a fair
    coin (salt-and-pepper) — every random number drawn from ``generator``.

    Inputs: 400 random images with values in (0.05, 0.95) at p = 0.25, 0.1 and 0, and flat rows
    (300, 784) at p = 0.6; the fraction of changed values must be within 6 standard errors of p.

    Raises
    ------
    CheckFailed
        On an in-place change, a wrong shape or dtype, values outside [0, 1], a corrupted fraction
        away from p (with a hint for 2p, p/2 and 1 − p), unequal salt and pepper, or results that
        the generator does not determine.
    ExerciseNotDone
        If either function raises ``NotImplementedError``.
    """
    ex = corruptions.exercise
    for fn in (masking_noise, salt_and_pepper):
        _refuse_package_function(ex, fn, ("masking_noise", "salt_and_pepper"))
    g = _gen(ex, seed)
    cases = _corruption_cases(g)
    with _forbidden(_package_shortcuts("masking_noise", "salt_and_pepper"),
                    "Draw the uniforms with torch.rand(x.shape, generator=generator) and build the result with "
                    "torch.where."):
        _check_one_corruption(ex, _student(ex, masking_noise, "masking_noise"), "masking_noise", cases, g, salt=False)
        _check_one_corruption(ex, _student(ex, salt_and_pepper, "salt_and_pepper"), "salt_and_pepper", cases, g,
                              salt=True)
    _praise(ex, "both corrupt the fraction p, keep shape, dtype and [0, 1], and leave x alone", 2 * len(cases))


class _Recorder(nn.Module):
    """A small sigmoid autoencoder for image batches (N, 1, 28, 28) or flat rows that remembers its inputs."""

    def __init__(self, shape: tuple[int, ...], k: int = 12):
        super().__init__()
        d = math.prod(shape)
        self.shape = shape
        self.enc = nn.Linear(d, k)
        self.dec = nn.Linear(k, d)
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        h = torch.sigmoid(self.enc(x.flatten(1)))                       # (N, k)
        return torch.sigmoid(self.dec(h)).view(len(x), *self.shape)     # (N, *shape), the input's shape


def _as_number(ex, out, label: str) -> float:
    """The returned loss as a float: a one-element tensor, a Python or NumPy number, or a 0-d/1-element array."""
    if isinstance(out, (torch.Tensor, np.ndarray)):
        n = out.size if isinstance(out, np.ndarray) else out.numel()
        if n != 1:
            raise _fail(ex, f"return the loss as one number (a 0-dim tensor or a float), got shape "
                            f"{tuple(out.shape)} on {label}: average the per-image losses over the batch.")
        out = out.item()
    if isinstance(out, numbers.Real) and not isinstance(out, bool):   # also NumPy scalars
        return float(out)
    raise _fail(ex, f"return the loss (a 0-dim tensor or a float), got {type(out).__name__} on {label}.")


_LR = 0.05


def _sgd_after(model: nn.Module, loss_fn: Callable[[nn.Module], torch.Tensor], junk: dict | None = None,
               steps: int = 1) -> dict[str, torch.Tensor]:
    """The parameters after ``steps`` SGD steps with one gradient of ``loss_fn`` (plus ``junk``) from ``model``'s weights."""
    m = copy.deepcopy(model)
    for p in m.parameters():
        p.grad = None
    loss_fn(m).backward()
    with torch.no_grad():
        for k, p in m.named_parameters():   # optimizer.step() called `steps` times reuses the same .grad
            p -= steps * _LR * (p.grad + (junk[k] if junk is not None else 0))
    return {k: p.detach() for k, p in m.named_parameters()}


def _moved_like(model: nn.Module, target: dict[str, torch.Tensor]) -> bool:
    return all(torch.allclose(p.detach(), target[k], rtol=1e-4, atol=1e-6) for k, p in model.named_parameters())


@_exercise("03", 3, "denoising_step")
def denoising_step(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``denoising_step(model, optimizer, x, corrupt) -> loss``: one training step of a DAE.

    Expected: ``x_tilde = corrupt(x)``, ``x_hat = model(x_tilde)``, the loss ``sum over each image's
    values of (x_hat − x)², averaged over the batch`` (the *clean* x is the target; the course's
    squared error per image), then ``optimizer.zero_grad()``, ``loss.backward()``, ``optimizer.step()``;
    returns that loss (a one-element tensor, a float, a NumPy scalar or a 0-d array) computed before
    the step.

    Inputs: image batches (6, 1, 28, 28) and (4, 1, 28, 28) — the lab's shape, where summing over
    the wrong axis gives a wrong number — then flat rows (8, 20); a small sigmoid autoencoder; SGD
    with learning rate 0.05 whose parameters' ``.grad`` is pre-filled with junk (as after an earlier
    step), so that a missing ``zero_grad`` moves the weights wrongly; a masking ``corrupt`` with a
    fixed random mask (so the result is reproducible).

    Raises
    ------
    CheckFailed
        Each with its own hint: the model fed the clean x; the noisy x_tilde as the target; a loss
        averaged over pixels (F.mse_loss), summed over the wrong axes, or summed over the batch; the
        loss of the updated model returned; the weights unchanged, moved with the junk gradient
        (no ``zero_grad``), moved twice, or moved along the per-pixel-mean gradient.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = denoising_step.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    for shape in ((6, 1, 28, 28), (4, 1, 28, 28), (8, 20)):
        n = shape[0]
        label = f"a batch x of shape {shape}"
        x = 0.05 + 0.9 * torch.rand(shape, generator=g)
        mask = (torch.rand(shape, generator=g) > 0.4).to(x.dtype)
        calls = []

        def corrupt(t, mask=mask, calls=calls):
            calls.append(1)
            return t * mask

        with _global_rng(ex, seed):
            model = _Recorder(shape[1:])
        start = copy.deepcopy(model)
        junk = {k: torch.randn(p.shape, generator=g) for k, p in model.named_parameters()}
        for k, p in model.named_parameters():
            p.grad = junk[k].clone()
        x_tilde = x * mask

        def per_image(m, target=x, inp=x_tilde):
            return (m(inp) - target).pow(2).flatten(1).sum(1).mean()

        with torch.no_grad():
            ref = per_image(start).item()
            bug_clean = per_image(start, inp=x).item()
            bug_noisy = per_image(start, target=x_tilde).item()
            err = (start(x_tilde) - x).pow(2)                               # (N, *shape[1:])
            mse = err.mean().item()
        start.seen.clear()
        opt = torch.optim.SGD(model.parameters(), lr=_LR)
        x_in = x.clone()
        out = _as_number(ex, call(model, opt, x_in, corrupt, case=label), label)
        _unchanged(ex, x, x_in, "x", label)
        if not model.seen:
            raise _fail(ex, f"the model was never called on {label}.")
        fed = model.seen[0]
        if fed.shape == x.shape and torch.allclose(fed, x) and not torch.allclose(fed, x_tilde):
            raise _fail(ex, f"the model was fed the CLEAN x on {label}: that trains a plain autoencoder (the "
                            "classic bug). Feed the corrupted x_tilde = corrupt(x) to the model.")
        if not calls:
            raise _fail(ex, f"corrupt was never called on {label}: compute x_tilde = corrupt(x).")
        if not (fed.shape == x.shape and torch.allclose(fed, x_tilde)):
            raise _fail(ex, f"the model's input is neither x nor corrupt(x) on {label}: feed x_tilde = corrupt(x), "
                            "with the shape x has.")

        def near(a, b):
            return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-7)

        if not near(out, ref):
            if near(out, bug_noisy):
                raise _fail(ex, f"your loss compares the reconstruction with the NOISY x_tilde on {label}: the "
                                "model then learns to reproduce the noise (the classic bug). The target is the clean x.")
            if near(out, mse):
                raise _fail(ex, f"your loss is the mean over all values (F.mse_loss, or .sum(1).mean() on images "
                                f"whose axis 1 is the single channel) on {label}: {err[0].numel()} times too small. "
                                "Sum the squared errors over each image's values (.flatten(1).sum(1)), then average "
                                "over the batch.")
            if near(out, ref * n):
                raise _fail(ex, f"your loss sums over the {n} images of the batch too on {label}: average the "
                                "per-image sums over the batch (.mean()).")
            wrong_axes = []
            for dims in ({0}, {len(shape) - 1}, {len(shape) - 2}, {0, len(shape) - 1}) if len(shape) > 2 else ({0},):
                keep = [d for d in range(len(shape)) if d not in dims]
                wrong_axes.append(err.sum(tuple(dims)).mean().item() if keep else err.sum().item())
            if any(near(out, w) for w in wrong_axes):
                raise _fail(ex, f"your loss sums the squared errors over the wrong axes on {label}: x is {shape}, so "
                                "one image's values are all axes but the first. Sum over them (.flatten(1).sum(1) or "
                                ".sum(dim=tuple(range(1, x.dim())))), then average over the batch (axis 0).")
            with torch.no_grad():
                after = per_image(model).item()
            if near(out, after):
                raise _fail(ex, f"the loss you returned on {label} is the one of the UPDATED model (computed after "
                                "optimizer.step()): return the loss of the forward pass you trained on.")
            if near(out, bug_clean):
                raise _fail(ex, f"your loss is the clean-input loss ||model(x) − x||² on {label}, although the model "
                                "was fed x_tilde: compute the loss on model(x_tilde).")
            raise _fail(ex, f"the returned loss {out:.5g} is not the squared error per image of model(corrupt(x)) "
                            f"against the clean x on {label} (sum over each image's values, mean over the batch).")
        if _moved_like(model, _sgd_after(start, per_image)):
            continue
        if _moved_like(model, {k: p.detach() for k, p in start.named_parameters()}):
            why = ("the weights did not change: call loss.backward() and then optimizer.step() (zero_grad belongs "
                   "BEFORE backward; between backward and step it erases the gradient).")
        elif _moved_like(model, _sgd_after(start, per_image, junk=junk)):
            why = ("the step also followed a gradient left in .grad by an earlier step: gradients ACCUMULATE in "
                   "PyTorch, so call optimizer.zero_grad() before loss.backward().")
        elif _moved_like(model, _sgd_after(start, per_image, steps=2)):
            why = "the weights moved by TWO steps: call optimizer.step() once."
        elif _moved_like(model, _sgd_after(start, lambda m: (m(x_tilde) - x).pow(2).mean())):
            why = ("the step followed the gradient of the per-value MEAN (F.mse_loss), although you returned the "
                   "squared error per image: backward() the same loss you return.")
        else:
            why = ("the weights did not move as one SGD step on the squared error per image of model(corrupt(x)) "
                   "against x moves them: zero_grad, backward that loss, step once.")
        raise _fail(ex, f"after your step on {label}, {why}")
    _praise(ex, "the corrupted input goes in, the clean x is the target, the old gradient is cleared, one step", 3)


def _kl_ref(h: torch.Tensor, rho: float) -> torch.Tensor:
    r = h.double().mean(0)
    return (rho * torch.log(rho / r) + (1 - rho) * torch.log((1 - rho) / (1 - r))).sum()


@_exercise("03", 1, "kl_sparsity")
def kl_sparsity_penalty(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``kl_sparsity(h, rho) -> 0-dim``: ``Σⱼ KL(ρ ‖ ρ̂ⱼ)``, ``ρ̂ⱼ`` the mean of column j of ``h``.

    Expected: ``ρ̂ = h.mean(0)`` (k,), ``KL(ρ‖ρ̂) = ρ log(ρ/ρ̂) + (1−ρ) log((1−ρ)/(1−ρ̂))``, summed
    over the k units (nats).

    Inputs: ``h`` with ρ̂ = ρ everywhere (the penalty is 0), random codes (32, 16) in (0.02, 0.98)
    with ρ = 0.05, (10, 3) with ρ = 0.2, and (64, 100) with ρ = 0.1. Tolerance 1e-5 relative
    (1e-5 nats absolute, for the zero case's float32 rounding). A Python number is rejected: the
    penalty must stay a tensor to be trained.

    Raises
    ------
    CheckFailed
        On a wrong shape or value, with a hint for ρ and ρ̂ swapped, for averaging over units
        instead of summing, and for averaging KL per example instead of using the batch mean.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = kl_sparsity_penalty.exercise
    _refuse_package_function(ex, student_fn, ("kl_sparsity",))
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = [("h with every column's mean equal to rho = 0.1 (32, 8)", torch.full((32, 8), 0.1), 0.1),
             ("random codes (32, 16), rho = 0.05", 0.02 + 0.96 * torch.rand(32, 16, generator=g), 0.05),
             ("random codes (10, 3), rho = 0.2", 0.02 + 0.96 * torch.rand(10, 3, generator=g), 0.2),
             ("random codes (64, 100), rho = 0.1", 0.02 + 0.96 * torch.rand(64, 100, generator=g) ** 3, 0.1)]
    for label, h, rho in cases:
        h_in = h.clone()
        with _forbidden(_package_shortcuts("kl_sparsity"), "Write the formula with h.mean(0) and torch.log."):
            out = call(h_in, rho, case=label)
        if isinstance(out, numbers.Real):
            raise _fail(ex, f"return the penalty as a 0-dim tensor, not a Python number ({type(out).__name__}) on "
                            f"{label}: it is added to the training loss, and backward() needs a tensor (no .item()).")
        out = _tensor(ex, out, "the penalty", label)
        _unchanged(ex, h, h_in, "h", label)
        if out.numel() != 1:
            raise _fail(ex, f"the penalty should be one number (0-dim), yours has shape {tuple(out.shape)} on {label}. "
                            "Sum the k per-unit KL divergences.")
        _finite(ex, out, "the penalty", label)
        ref = _kl_ref(h, rho).item()
        got = out.double().item()
        # abs_tol: where ρ̂ = ρ the penalty is 0, and float32 logarithms written another way (log ρ − log ρ̂,
        # xlogy, log1p) leave rounding of about 1e-7 per unit; every wrong answer is 0 there too
        if math.isclose(got, ref, rel_tol=1e-5, abs_tol=1e-5):
            continue
        r = h.double().mean(0)
        swapped = (r * torch.log(r / rho) + (1 - r) * torch.log((1 - r) / (1 - rho))).sum().item()
        if math.isclose(got, swapped, rel_tol=1e-5):
            raise _fail(ex, f"you computed KL(ρ̂ ‖ ρ) on {label}: ρ and ρ̂ are swapped. The penalty is KL(ρ ‖ ρ̂ⱼ) = "
                            "ρ log(ρ/ρ̂ⱼ) + (1−ρ) log((1−ρ)/(1−ρ̂ⱼ)), with the target ρ in front of the logs.")
        if math.isclose(got * h.shape[1], ref, rel_tol=1e-5):
            raise _fail(ex, f"you averaged over the {h.shape[1]} units on {label}; the penalty SUMS the KL "
                            "divergences of the units (Σⱼ), so it is k times larger.")
        per_example = (rho * torch.log(rho / h.double()) + (1 - rho) * torch.log((1 - rho) / (1 - h.double())))
        if math.isclose(got, per_example.sum(1).mean().item(), rel_tol=1e-5) or \
                math.isclose(got, per_example.mean().item(), rel_tol=1e-5):
            raise _fail(ex, f"you compared ρ with each example's activation on {label}; ρ̂ⱼ is the mean activation "
                            "of unit j over the batch, h.mean(0), and the KL is taken of that mean.")
        raise _fail(ex, f"wrong value on {label}: expected Σⱼ KL(ρ ‖ ρ̂ⱼ) with ρ̂ = h.mean(0) (one mean per unit).")
    _praise(ex, "Σⱼ KL(ρ ‖ ρ̂ⱼ) on every input, 0 when ρ̂ = ρ", len(cases))


@_exercise("03", 5, "contractive_sigmoid")
def contractive_closed_form(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``contractive_sigmoid(h, W) -> 0-dim``: ``mean over images of Σⱼ (hⱼ(1−hⱼ))² Σᵢ Wⱼᵢ²``.

    Expected: ``h`` ``(N, k)`` the sigmoid codes, ``W`` ``(k, d)`` the encoder's weight; the
    squared Frobenius norm of the Jacobian ``∂h/∂x`` per image (Rifai et al. 2011), averaged over
    the batch. Each value is also compared with the Jacobian computed by autograd.

    Inputs: a square W (k = d = 6, where a transposed W gives wrong numbers instead of an error),
    then (5, 4) codes with W (4, 9) and (16, 32) codes with W (32, 50). Tolerance 1e-5 relative.

    Raises
    ------
    CheckFailed
        On a wrong shape or value, with a hint for a missing square on h(1−h), a transposed W
        (summing W² over the wrong axis), and a sum instead of a mean over the batch.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = contractive_closed_form.exercise
    _refuse_package_function(ex, student_fn, ("contractive_sigmoid",))
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = []
    for n, k, d in ((4, 6, 6), (5, 4, 9), (16, 32, 50)):
        W = torch.randn(k, d, generator=g, dtype=torch.float64) * torch.linspace(0.2, 2.0, k, dtype=torch.float64)[:, None]
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        b = torch.randn(k, generator=g, dtype=torch.float64)
        cases.append((f"codes h ({n}, {k}) of a sigmoid layer with W ({k}, {d})", x, W, b))
    for label, x, W, b in cases:
        h = torch.sigmoid(x @ W.T + b)
        jac = torch.func.vmap(torch.func.jacrev(lambda xi: torch.sigmoid(W @ xi + b)))(x)  # (N, k, d)
        ref = jac.pow(2).sum((1, 2)).mean().item()
        h_in, W_in = h.float(), W.float()
        h0, W0 = h_in.clone(), W_in.clone()
        with _forbidden(_package_shortcuts("contractive_sigmoid"), "Write the closed form with h * (1 - h) and "
                                                                    "W.pow(2).sum(1)."):
            out = _tensor(ex, call(h_in, W_in, case=label), "the penalty", label)
        _unchanged(ex, h0, h_in, "h", label)
        _unchanged(ex, W0, W_in, "W", label)
        if out.numel() != 1:
            raise _fail(ex, f"the penalty should be one number (0-dim), yours has shape {tuple(out.shape)} on {label}: "
                            "sum over units, average over images.")
        got = out.double().item()
        if math.isclose(got, ref, rel_tol=1e-5):
            continue
        slope = h * (1 - h)
        if math.isclose(got, (slope @ W.pow(2).sum(1)).mean().item(), rel_tol=1e-5):
            raise _fail(ex, f"the square on hⱼ(1−hⱼ) is missing on {label}: ∂hⱼ/∂xᵢ = hⱼ(1−hⱼ)Wⱼᵢ, and the penalty "
                            "squares the whole entry, so it has (hⱼ(1−hⱼ))².")
        if W.shape[0] == W.shape[1] and math.isclose(got, (slope.pow(2) @ W.pow(2).sum(0)).mean().item(), rel_tol=1e-5):
            raise _fail(ex, f"W is used transposed on {label}: W is (k, d) (nn.Linear(d, k).weight), row j feeds unit "
                            "j, so Σᵢ Wⱼᵢ² sums each ROW: W.pow(2).sum(dim=1).")
        if math.isclose(got, ref * len(x), rel_tol=1e-5):
            raise _fail(ex, f"you summed over the {len(x)} images on {label}; average over the batch instead.")
        raise _fail(ex, f"wrong value on {label}: expected the mean over images of Σⱼ (hⱼ(1−hⱼ))² Σᵢ Wⱼᵢ² (autograd's "
                        "Jacobian agrees with that formula).")
    _praise(ex, "equals the squared Frobenius norm of autograd's Jacobian on every input", len(cases))


class _Shrink(nn.Module):
    """r(x) = c + 0.5 (x − c): pulls every point halfway toward c."""

    def __init__(self, c: torch.Tensor):
        super().__init__()
        self.c = nn.Parameter(c.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c + 0.5 * (x - self.c)


@_exercise("03", 4, "vector_field")
def dae_vector_field(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``vector_field(model, grid) -> (N, 2)``: the arrows ``r(x) − x`` of a DAE at the grid points.

    Expected: ``model(grid) − grid`` computed without building a graph (the result does not
    require grad); ``grid`` ``(N, 2)`` float, untouched. A float32 or float64 tensor, or a NumPy
    array, is accepted (compared in float64 to 1e-5).

    Inputs: models that pull every point halfway toward a center (so the arrow is known exactly),
    on a 5×5 grid and on random points, and a small random tanh network.

    Raises
    ------
    CheckFailed
        On a wrong shape or value, with a hint for ``x − r(x)`` (arrows pointing away from the data)
        and for returning ``r(x)`` itself, or when the result still requires grad.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = dae_vector_field.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    ticks = torch.linspace(-1.5, 1.5, 5)
    grid5 = torch.stack(torch.meshgrid(ticks, ticks, indexing="xy"), -1).reshape(-1, 2)
    with _global_rng(ex, seed):
        net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    cases = [("a model pulling points halfway to (0.3, 0.2), on a 5×5 grid", _Shrink(torch.tensor([0.3, 0.2])), grid5),
             ("a model pulling points halfway to (0.5, -1), on 30 random points",
              _Shrink(torch.tensor([0.5, -1.0])), 2 * torch.randn(30, 2, generator=g)),
             ("a random tanh network on 12 random points", net, torch.randn(12, 2, generator=g))]
    for label, model, grid in cases:
        grid_in = grid.clone()
        out = call(model, grid_in, case=label)
        if isinstance(out, np.ndarray):   # a NumPy array is fine for plotting
            out = torch.from_numpy(out)
        out = _tensor(ex, out, "the vector field", label)
        _unchanged(ex, grid, grid_in, "grid", label)
        _shape(ex, out, grid.shape, "the vector field", label, "One arrow (2 numbers) per grid point.")
        if out.requires_grad:
            raise _fail(ex, f"the result still requires grad on {label}: compute it under torch.no_grad() (it is for "
                            "plotting, not training).")
        with torch.no_grad():
            r = model(grid)
        ref, out = (r - grid).double(), out.double()   # float64 answers are fine
        r = r.double()
        if torch.allclose(out, ref, atol=1e-5):
            continue
        if torch.allclose(out, -ref, atol=1e-5):
            raise _fail(ex, f"your arrows point the wrong way on {label}: you computed x − r(x). The DAE moves x to "
                            "r(x), so the arrow is r(x) − x and points TOWARD the data.")
        if torch.allclose(out, r, atol=1e-5):
            raise _fail(ex, f"you returned r(x) itself on {label}; the arrow is the displacement r(x) − x.")
        raise _fail(ex, f"wrong arrows on {label}: expected model(grid) − grid.")
    _praise(ex, "r(x) − x at every point, pointing where the DAE moves it", len(cases))
