"""Lab 01's self-checks (PCA as a linear autoencoder), re-exported by :mod:`aelab.checks`.

:func:`pca_svd`, :func:`tied_autoencoder`, :func:`principal_angles`, :func:`train_linear_ae`,
:func:`ae_to_pca`. What a check does on success, a wrong answer or an unfinished exercise is
described in :mod:`aelab.checks._machinery`; the notebooks call them as ``aelab.checks.<name>(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ._machinery import (Exercise, _data_with_spectrum, _exercise, _fail, _finite, _fmt, _forbidden, _gen,
                         _global_rng, _max_angle_deg, _orthonormal, _pca, _praise, _shape, _student, _tensor,
                         _unchanged)
from ._shortcuts import imported_shortcut, package_targets

__all__ = ["pca_svd", "tied_autoencoder", "principal_angles", "train_linear_ae", "ae_to_pca"]

#: The package's own answer to exercise 3 (lecture 01 uses it; docs/architecture.md, "Lab checks"): it
#: raises while the student's function runs.
_ANGLE_SHORTCUTS = ("principal_angles",)


@_exercise("01", 1, "pca_svd")
def pca_svd(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``pca_svd(X, k) -> (mean, components)``: PCA by the SVD of the centred data.

    Expected of the student's function: ``X`` float tensor ``(N, D)``, ``k`` int; returns
    ``mean`` ``(D,)`` (the mean over examples) and ``components`` ``(k, D)``, one unit-length
    principal direction per row, ordered by decreasing variance (any sign).

    Inputs: data with an exactly known spectrum and a large offset (N=200, D=10, k=3), ``k=1``,
    more features than examples (N=8, D=20), ``k=D``, and a 4-point line in 2-D.

    Tolerances: mean within ``1e-4·(1+|mean|)``; ``max|C Cᵀ − I| ≤ 1e-3``; each component's
    ``|cos|`` with the reference ≥ ``1 − 1e-4`` (about 0.8°).

    Parameters
    ----------
    student_fn : callable
        The student's ``pca_svd``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, type, mean, non-orthonormal or wrong/unsorted components.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = pca_svd.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = [
        ("data with N=200 examples, D=10 features, k=3 (mean far from 0)",
         _data_with_spectrum(200, 10, [40, 25, 15, 8, 4], 3.0, g), 3),
        ("the same kind of data with k=1", _data_with_spectrum(200, 10, [30, 12, 6], 2.0, g), 1),
        ("N=8 examples with D=20 features (more features than examples), k=5",
         _data_with_spectrum(8, 20, [12, 9, 6, 4, 2.5, 1.5], 1.0, g), 5),
        ("N=50, D=6 and k=D=6 (all components)", _data_with_spectrum(50, 6, [20, 15, 10, 6, 3, 1], 1.0, g), 6),
        ("4 points on a line in 2-D, k=1", torch.tensor([[1.0, 2.0], [3.0, 3.0], [5.0, 4.0], [7.0, 5.0]]), 1),
    ]
    worst = 0.0
    for label, x, k in cases:
        n, d = x.shape
        case = f"X = {_fmt(x)} — {label}" if x.numel() <= 12 else label
        x_in = x.clone()
        out = call(x_in, k, case=case)
        _unchanged(ex, x, x_in, "X", case)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise _fail(ex, f"return two things, `return mean, components`; got {type(out).__name__} on {case}")
        mean = _tensor(ex, out[0], "mean", case)
        comps = _tensor(ex, out[1], "components", case)
        _shape(ex, mean, (d,), "mean", case, "It is the average over the N examples: `X.mean(dim=0)`.")
        if tuple(comps.shape) == (d, k) and d != k:
            raise _fail(ex, f"components should have shape (k, D) = {(k, d)}, one direction per ROW; yours has "
                            f"{(d, k)} — on {case}. torch.linalg.svd returns Vh, whose rows are the right "
                            "singular vectors: take its first k rows.")
        _shape(ex, comps, (k, d), "components", case,
               "One row per component, each with D entries (the right singular vectors, not U's columns).")
        _finite(ex, comps, "components", case)
        ref_mean, ref = _pca(x, k)
        err = (mean.double() - ref_mean).abs().max().item()
        if err > 1e-4 * (1 + ref_mean.abs().max().item()):
            raise _fail(ex, f"your mean is off by up to {err:.3g} on {case}. Average over the examples "
                            "(dim=0), one value per feature.")
        c = comps.double()
        orth = (c @ c.T - torch.eye(k, dtype=torch.float64)).abs().max().item()
        if orth > 1e-3:
            raise _fail(ex, f"your components are not orthonormal on {case}: max |C Cᵀ − I| = {orth:.3g}. "
                            "Each row must have length 1 and be orthogonal to the others, as the rows of Vh are.")
        angle = _max_angle_deg(c, ref)
        if angle > 0.8:
            _, raw = _pca(x, k, centre=False)
            if _max_angle_deg(c, raw) < 0.8:
                raise _fail(ex, f"your components are the directions of the UNcentred data on {case}. "
                                "Subtract the mean from X before the SVD.")
            raise _fail(ex, f"your components do not span the top-{k} principal subspace on {case} (largest "
                            f"angle to it: {angle:.1f}°). Use the right singular vectors of the centred data "
                            "with the k LARGEST singular values (torch.linalg.svd sorts them in decreasing order).")
        cos = (c * ref).sum(1).abs()
        if (cos < 1 - 1e-4).any():
            raise _fail(ex, f"your components span the right subspace but are not ordered by decreasing variance "
                            f"on {case}: row 0 must be the direction of largest variance, row 1 the next, ...")
        worst = max(worst, angle)
    _praise(ex, f"mean and components match PCA; largest angle to the true components {worst:.1e}°", len(cases))


@_exercise("01", 2, "encode, decode")
def tied_autoencoder(encode: Callable, decode: Callable, *, seed: int = 0) -> None:
    """Check the tied-weight linear encoder ``encode(X, mean, W)`` and decoder ``decode(Z, mean, W)``.

    Expected: ``W`` has shape ``(k, D)`` (one direction per row, as ``pca_svd`` returns);
    ``encode`` maps ``X`` ``(N, D)`` to codes ``Z = (X − mean) Wᵀ`` of shape ``(N, k)``;
    ``decode`` maps ``Z`` ``(N, k)`` to ``X̂ = Z W + mean`` of shape ``(N, D)`` — the decoder
    uses the transpose of the encoder's matrix (tied weights).

    Inputs: orthonormal ``W`` (k=2, D=5), a non-orthonormal ``W`` (k=3, D=7), a single example
    with k=1, and a 2-D example small enough to do by hand. Tolerances: ``rtol=atol=1e-4``.
    Property: with orthonormal ``W``, a point already in the subspace comes back unchanged.

    Parameters
    ----------
    encode, decode : callable
        The student's ``encode`` and ``decode``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, type or value, or an input changed in place.
    ExerciseNotDone
        If ``encode`` or ``decode`` raises ``NotImplementedError``.
    """
    ex = tied_autoencoder.exercise
    enc, dec = _student(ex, encode, "encode"), _student(ex, decode, "decode")
    g = _gen(ex, seed)

    def rnd(*shape):
        return torch.randn(*shape, generator=g).float()

    cases = [
        ("N=6 examples, D=5, k=2, orthonormal W", rnd(6, 5) + 2, rnd(5), _orthonormal(5, 2, g).T.float(), True),
        ("N=4, D=7, k=3, W not orthonormal", rnd(4, 7), rnd(7), rnd(3, 7) * 2, False),
        ("a single example (N=1), D=3, k=1", rnd(1, 3), rnd(3), torch.tensor([[0.0, 0.6, 0.8]]), True),
        ("X=[[4, 5]], mean=[1, 1], W=[[0.6, 0.8]]", torch.tensor([[4.0, 5.0]]), torch.tensor([1.0, 1.0]),
         torch.tensor([[0.6, 0.8]]), True),
    ]
    worst = 0.0
    for label, x, mean, w, orthonormal in cases:
        n, d = x.shape
        k = w.shape[0]
        x64, m64, w64 = x.double(), mean.double(), w.double()
        ins = (x.clone(), mean.clone(), w.clone())
        z = _tensor(ex, enc(*ins, case=label), "encode's output", label)
        for before, after, what in zip((x, mean, w), ins, ("X", "mean", "W")):
            _unchanged(ex, before, after, what, label)
        _shape(ex, z, (n, k), "encode's output Z", label, "Z = (X − mean) Wᵀ has one code of k numbers per example.")
        ref_z = (x64 - m64) @ w64.T
        if not torch.allclose(z.double(), ref_z, rtol=1e-4, atol=1e-4):
            if torch.allclose(z.double(), x64 @ w64.T, rtol=1e-4, atol=1e-4):
                raise _fail(ex, f"encode: subtract the mean before projecting — on {label}.")
            raise _fail(ex, f"encode gives wrong codes on {label} (max error "
                            f"{(z.double() - ref_z).abs().max().item():.3g}). The code is Z = (X − mean) Wᵀ.")
        z_in = ref_z.float()
        ins = (z_in.clone(), mean.clone(), w.clone())
        x_hat = _tensor(ex, dec(*ins, case=f"{label} (decoding)"), "decode's output", label)
        for before, after, what in zip((z_in, mean, w), ins, ("Z", "mean", "W")):
            _unchanged(ex, before, after, what, label)
        _shape(ex, x_hat, (n, d), "decode's output X̂", label, "X̂ = Z W + mean has D numbers per example.")
        ref_x = ref_z @ w64 + m64
        if not torch.allclose(x_hat.double(), ref_x, rtol=1e-4, atol=1e-4):
            if torch.allclose(x_hat.double(), ref_z @ w64, rtol=1e-4, atol=1e-4):
                raise _fail(ex, f"decode: add the mean back after mapping the code out — on {label}.")
            raise _fail(ex, f"decode gives wrong reconstructions on {label} (max error "
                            f"{(x_hat.double() - ref_x).abs().max().item():.3g}). Tied weights: X̂ = Z W + mean, "
                            "the same W as the encoder's, transposed.")
        if orthonormal:  # a point already in the subspace must come back unchanged
            on = (ref_x.float(), mean.clone(), w.clone())
            back = _tensor(ex, dec(enc(*on, case=label), mean.clone(), w.clone(), case=label), "round trip", label)
            if not torch.allclose(back.double(), ref_x, rtol=1e-4, atol=1e-4):
                raise _fail(ex, f"decode(encode(x)) changes a point that already lies in the subspace on {label}.")
        worst = max(worst, (z.double() - ref_z).abs().max().item(), (x_hat.double() - ref_x).abs().max().item())
    _praise(ex, f"codes and reconstructions within {worst:.1e} of (X − mean) Wᵀ and Z W + mean", len(cases))


@_exercise("01", 3, "principal_angles")
def principal_angles(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``principal_angles(A, B) -> angles``: principal angles between two subspaces.

    Expected: ``A`` ``(D, p)`` and ``B`` ``(D, q)`` float tensors whose columns span the two
    subspaces (not necessarily orthonormal); returns the ``min(p, q)`` principal angles in
    DEGREES, ascending, as a float tensor. Method: orthonormal bases ``Qa, Qb`` (QR); the
    singular values of ``Qaᵀ Qb`` are the cosines of the angles (Björck & Golub 1973).

    Inputs: a 30° pair in 2-D, one subspace in two different bases (angles 0 — a cosine may
    round to slightly above 1), orthogonal subspaces (90°), badly scaled bases, ``p != q``.
    Tolerance: the cosines of the angles within ``1e-4`` of the reference; angles ascending.
    :func:`aelab.metrics.principal_angles` (which lecture 01 uses) raises while the student's
    function runs, also when imported by name.

    Parameters
    ----------
    student_fn : callable
        The student's ``principal_angles``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, NaN, radians instead of degrees, wrong order or wrong values, or a call to
        ``aelab.metrics.principal_angles``.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = principal_angles.exercise
    reason = ("Orthonormalize both bases (torch.linalg.qr), take the singular values of Qaᵀ Qb (the cosines), "
              "then arccos in degrees: lecture 01 uses the package's version, the lab has you write it.")
    imported_shortcut(ex, student_fn, _ANGLE_SHORTCUTS, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    c30, s30 = math.cos(math.radians(30)), math.sin(math.radians(30))
    a_same = torch.randn(6, 2, generator=g)
    basis = torch.randn(10, 3, generator=g) * torch.tensor([100.0, 1.0, 0.01])
    cases = [
        ("A=[[1], [0]], B=[[cos 30°], [sin 30°]] (two lines in the plane)",
         torch.tensor([[1.0], [0.0]]), torch.tensor([[c30], [s30]])),
        ("the same 2-D subspace of R^6 in two different bases", a_same, a_same @ torch.tensor([[2.0, 1.0], [1.0, 3.0]])),
        ("orthogonal subspaces span(e1, e2) and span(e3, e4) in R^5", torch.eye(5)[:, :2], torch.eye(5)[:, 2:4]),
        ("two random 3-D subspaces of R^10 with badly scaled (non-orthonormal) columns",
         basis, torch.randn(10, 3, generator=g) * 5),
        ("A of shape (8, 3) and B of shape (8, 2) (p != q)", torch.randn(8, 3, generator=g), torch.randn(8, 2, generator=g)),
    ]
    worst = 0.0
    for label, a, b in cases:
        m = min(a.shape[1], b.shape[1])
        a_in, b_in = a.clone(), b.clone()
        with _forbidden(package_targets(_ANGLE_SHORTCUTS), reason):
            out = _tensor(ex, call(a_in, b_in, case=label), "the angles", label)
        _unchanged(ex, a, a_in, "A", label)
        _unchanged(ex, b, b_in, "B", label)
        out = out.reshape(-1) if out.numel() == m else out
        _shape(ex, out, (m,), "the angles", label, "There are min(p, q) principal angles: one per singular value.")
        _finite(ex, out, "your angles", label, "Rounding can push a cosine slightly above 1 and acos(1.0000001) "
                                               "is NaN: clamp the cosines to [-1, 1] before acos.")
        qa, _ = torch.linalg.qr(a.double())
        qb, _ = torch.linalg.qr(b.double())
        ref_cos = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)  # descending cosines = ascending angles
        ref_rad = torch.acos(ref_cos)
        o = out.double()
        if o.max() <= math.pi / 2 + 1e-6 and torch.allclose(o, ref_rad, atol=1e-3) and ref_rad.max() > 0.1:
            raise _fail(ex, f"your angles look like radians on {label}; return degrees (torch.rad2deg).")
        if (o < -1e-6).any() or (o > 90 + 1e-4).any():
            raise _fail(ex, f"principal angles lie between 0° and 90°; yours go from {o.min():.3g} to {o.max():.3g} "
                            f"on {label}.")
        if m > 1 and (o[1:] < o[:-1] - 1e-6).any():
            if (torch.cos(torch.deg2rad(o.sort().values)) - ref_cos).abs().max() <= 1e-4:
                raise _fail(ex, f"return the angles in ascending order (smallest first) — on {label}.")
        err = (torch.cos(torch.deg2rad(o)) - ref_cos).abs().max().item()
        if err > 1e-4:
            raise _fail(ex, f"wrong angles on {label} (their cosines are off by up to {err:.3g}). The cosines are "
                            "the singular values of Qaᵀ Qb where Qa, Qb are ORTHONORMAL bases of the two subspaces "
                            "(torch.linalg.qr) — the columns of A and B need not be orthonormal.")
        worst = max(worst, err)
    _praise(ex, f"angles correct, cosines within {worst:.1e} of the reference", len(cases))


def _train_problem(ex: Exercise, seed: int) -> torch.Tensor:
    """(512, 12) float32 data near a 3-D subspace for ``train_linear_ae``'s check."""
    g = _gen(ex, seed)
    n = 512
    return _data_with_spectrum(n, 12, [2.0 * n**0.5, 1.4 * n**0.5, 0.3 * n**0.5], 0.5, g, noise=0.05)


def _squared_error_per_example(ex: Exercise, model, x: torch.Tensor, label: str) -> float:
    """The squared error per example of ``model`` on ``x``: ``Σ_d (model(x) − x)²`` averaged over rows (float64)."""
    if isinstance(model, nn.Module):
        model.eval()
    with torch.no_grad():
        x_hat = model(x.clone())
    x_hat = _tensor(ex, x_hat, "model(X)", label)
    _shape(ex, x_hat, tuple(x.shape), "model(X)", label, "The model must map (N, D) inputs to (N, D) reconstructions.")
    _finite(ex, x_hat, "model(X)", label)
    return (x_hat.double() - x.double()).pow(2).sum(1).mean().item()


def _loss_unit_hint(ratio: float, *, d: int, batch_size: int, n: int) -> str:
    """The mistake that makes a reported epoch loss ``ratio`` times the true squared error per example."""
    def near(factor: float) -> bool:
        return math.isclose(ratio, factor, rel_tol=1e-3)

    if near(1 / d):
        return (f"Yours is {d}× too small, D = {d} being the number of values per example: you averaged over each "
                "example's values too (F.mse_loss, or .mean() of all the squared errors). The course's unit is the "
                "squared error per example: sum over the D values of each example, then average over the examples, "
                "((x_hat - x) ** 2).sum(dim=1).mean() — what squared_error_per_image computes.")
    if near(batch_size):
        return (f"Yours is {batch_size}× too big, {batch_size} being the batch size: your batch loss sums over the "
                "examples of the batch. Average over them: a batch's loss is the mean, over its examples, of each "
                "example's summed squared error.")
    if near(n / batch_size):
        return (f"Yours is {n // batch_size}× too big, {n // batch_size} being the number of batches per epoch: you "
                "added up the batch losses without dividing. The epoch's loss is their mean, each batch weighted by "
                "its size: total += loss.item() * len(xb) for every batch, then total / N.")
    if near(n):
        return (f"Yours is {n}× too big, N = {n} being the number of examples: you added loss.item() * len(xb) over "
                "the epoch but did not divide the total by N.")
    return ""


@_exercise("01", 4, "train_linear_ae")
def train_linear_ae(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``train_linear_ae(X, k, *, epochs, batch_size, lr, seed) -> (model, losses)``.

    Expected: trains a linear autoencoder (e.g. ``aelab.models.LinearAutoencoder(D, k)``) on
    ``X`` ``(N, D)`` by mini-batch gradient descent (Adam) on the squared error per example
    (``Σ_d (x̂_d − x_d)²`` averaged over the examples, the unit of Hinton & Salakhutdinov 2006),
    and returns the model (``model(X)`` gives ``(N, D)`` reconstructions) and a list of
    ``epochs`` floats: each epoch's mean training loss, every batch weighted by its size.

    Inputs: 512 examples in 12-D near a 3-D subspace, ``k=2``, ``batch_size=64`` (8 batches
    per epoch), first with ``epochs=2, lr=0``, then ``epochs=20, lr=3e-2`` (160 steps, about a
    second). The student's function runs with torch's global RNG seeded for the check and
    restored afterwards, so a function that does not seed itself gets the same verdict on every
    run, and the notebook's later random draws do not depend on whether the check ran.

    With ``lr=0`` the weights never move, so each epoch's loss must equal the returned model's
    squared error per example over all of ``X`` (relative tolerance ``1e-4``; float32 rounding
    is about ``1e-7``). That pins the unit: ``F.mse_loss`` (``D = 12``× too small), a loss
    summed over the batch (64× too big), an epoch total not divided (by the 8 batches or the
    512 examples) and the last batch's loss alone (off by the batch's sampling noise, about
    5 %) are each rejected with their own hint.

    Tolerances after the 20 epochs: the squared error per example of ``model(X)`` within 10 %
    of PCA-2's (the optimum; the lab's loop lands within about 5 % of it, while one batch per
    epoch or a learning rate ten times too small land 7 to 25 times above it), the subspace of
    the reconstructions within 5° of PCA's, the last epoch's loss below 0.9 times the first's
    and within 25 % of the final model's error (it is measured while the weights still move;
    the lab's loop lands within 1 %).

    Parameters
    ----------
    student_fn : callable
        The student's ``train_linear_ae``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong number of losses, losses in the wrong unit (with the hint for the mistake),
        losses that do not go down, or an error/subspace too far from PCA's.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = train_linear_ae.exercise
    call = _student(ex, student_fn)
    x = _train_problem(ex, seed)
    n, d = x.shape
    k, batch_size = 2, 64

    def run(epochs, lr, label):
        x_in = x.clone()
        with _global_rng(ex, seed):  # a student who does not seed draws the same weights on every run
            out = call(x_in, k, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, case=label)
        _unchanged(ex, x, x_in, "X", label)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise _fail(ex, f"return two things, `return model, losses`; got {type(out).__name__} on {label}")
        model, losses = out
        if not callable(model):
            raise _fail(ex, f"the model you return must be callable (an nn.Module), got {type(model).__name__}")
        try:
            losses = [float(v) for v in losses]
        except (TypeError, ValueError):
            raise _fail(ex, "losses must be a list of numbers, one per epoch (use loss.item() to get a float)") from None
        if len(losses) != epochs:
            raise _fail(ex, f"return one loss per epoch: got {len(losses)} values for epochs={epochs} on {label}.")
        if not all(math.isfinite(v) for v in losses):
            raise _fail(ex, f"your losses contain NaN or inf on {label}: {losses[:5]}... Is the learning rate used "
                            "as given?")
        return model, losses

    # lr=0: nothing moves, so every epoch's loss is exactly the returned model's error on all of X
    label = f"epochs=2, batch_size={batch_size}, lr=0 (the weights never move), k={k}, {n} examples in {d}-D"
    model, losses = run(2, 0.0, label)
    err = _squared_error_per_example(ex, model, x, label)
    for epoch, value in enumerate(losses, 1):
        if math.isclose(value, err, rel_tol=1e-4):
            continue
        hint = _loss_unit_hint(value / err, d=d, batch_size=batch_size, n=n)
        if not hint and not math.isclose(losses[0], losses[1], rel_tol=1e-4):
            hint = ("Your two epochs report different losses although nothing changes between them: do you record "
                    "only the last batch's loss? The epoch's loss is the mean over ALL its batches, each weighted by "
                    "its size (total += loss.item() * len(xb), then total / N). (An optimizer that ignores the lr "
                    "argument does that too.)")
        if not hint:
            hint = ("It should be the mean over ALL the epoch's batches (not the last batch's loss alone) of the "
                    "squared error per example (summed over each example's D values, averaged over the examples), "
                    "each batch weighted by its size.")
        raise _fail(ex, f"with lr=0 the weights never move, so the loss of epoch {epoch} must equal your model's "
                        f"squared error per example over all N={n} examples, {err:.4g}; yours is {value:.4g} — on "
                        f"{label}. {hint}")

    label = f"epochs=20, batch_size={batch_size}, lr=3e-2, k={k}, {n} examples in {d}-D lying near a 3-D subspace"
    model, losses = run(20, 3e-2, label)
    if not losses[-1] < 0.9 * losses[0]:
        raise _fail(ex, f"your loss did not go down (first epoch {losses[0]:.4g}, last {losses[-1]:.4g}) on {label}. "
                        "Each step needs optimizer.zero_grad(), loss.backward() and optimizer.step().")
    err = _squared_error_per_example(ex, model, x, label)
    if not 1 / 1.25 < losses[-1] / err < 1.25:
        hint = _loss_unit_hint(losses[-1] / err, d=d, batch_size=batch_size, n=n) or (
            "The epoch's loss is the mean over all its batches of the squared error per example, each batch "
            "weighted by its size; near the end of training it is close to the final model's error.")
        raise _fail(ex, f"your last epoch's loss, {losses[-1]:.4g}, is far from your trained model's squared error "
                        f"per example on X, {err:.4g}, on {label}. {hint}")
    x64 = x.double()
    mean, comps = _pca(x, k)
    pca_err = ((x64 - mean) - (x64 - mean) @ comps.T @ comps).pow(2).sum(1).mean().item()
    if err > 1.10 * pca_err + 1e-3:
        raise _fail(ex, f"after 20 epochs your model's squared error per example is {err:.4g}, more than 10 % above "
                        f"PCA-{k}'s (the best a linear AE can do) on {label}. Check that every mini-batch takes a "
                        "step: optimizer.zero_grad(); loss = squared error; loss.backward(); optimizer.step(); "
                        "and that every example is used each epoch (a new permutation per epoch).")
    with torch.no_grad():
        x_hat = model(x.clone()).double()
    _, vh = _pca(x_hat, k)
    angle = _max_angle_deg(vh, comps)
    if angle > 5.0:
        raise _fail(ex, f"your model's reconstructions span a subspace {angle:.1f}° away from PCA's on {label}.")
    _praise(ex, f"losses in squared error per example; error {100 * (err / pca_err - 1):+.2f} % vs PCA-{k}, "
                f"subspace within {angle:.2f}° after 20 epochs", 2)


@_exercise("01", 5, "ae_to_pca")
def ae_to_pca(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``ae_to_pca(W, X) -> components``: recover PCA's axes from a linear AE's weights.

    Expected: ``W`` ``(D, k)`` is a linear AE's decoder matrix — its columns span PCA's
    top-k subspace but are neither orthonormal nor the principal axes; ``X`` ``(N, D)`` is the
    data. Returns ``(k, D)`` orthonormal rows: PCA's components, ordered by decreasing
    variance (any sign). Method: orthonormalize ``W`` (QR), project the centred data onto it,
    and rotate within the subspace by the SVD of the projected data.

    Inputs: k=3 with a mixed, scaled basis; k=1 with a scaled vector; k=2 with data far from 0.
    Tolerances: ``max|C Cᵀ − I| ≤ 1e-3``; each row's ``|cos|`` with PCA's ≥ ``1 − 1e-4``.

    Parameters
    ----------
    student_fn : callable
        The student's ``ae_to_pca``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, non-orthonormal rows, leaving W's subspace, or wrong axes.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = ae_to_pca.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = []
    for label, n, d, sv, offset, k in [("N=100 examples, D=8, k=3", 100, 8, [30, 20, 12, 5, 2], 0.5, 3),
                                       ("N=60, D=5, k=1", 60, 5, [15, 6, 3], 0.5, 1),
                                       ("N=80, D=6, k=2, data far from the origin", 80, 6, [20, 10, 4], 5.0, 2)]:
        x = _data_with_spectrum(n, d, sv, offset, g)
        _, comps = _pca(x, k)
        mix = torch.randn(k, k, generator=g, dtype=torch.float64) + 2 * torch.eye(k, dtype=torch.float64)
        w = (comps.T @ mix * torch.linspace(3.0, 0.5, k, dtype=torch.float64)).float()  # (D, k), not orthonormal
        cases.append((label, x, w, comps))
    worst = 0.0
    for label, x, w, ref in cases:
        k, d = ref.shape
        w_in, x_in = w.clone(), x.clone()
        c = _tensor(ex, call(w_in, x_in, case=label), "components", label)
        _unchanged(ex, w, w_in, "W", label)
        _unchanged(ex, x, x_in, "X", label)
        _shape(ex, c, (k, d), "components", label, "One principal direction per ROW (k rows of D numbers).")
        _finite(ex, c, "components", label)
        c = c.double()
        orth = (c @ c.T - torch.eye(k, dtype=torch.float64)).abs().max().item()
        if orth > 1e-3:
            raise _fail(ex, f"your components are not orthonormal on {label}: max |C Cᵀ − I| = {orth:.3g}. "
                            "Orthonormalize W first (torch.linalg.qr).")
        if _max_angle_deg(c, w.double().T) > 0.8:
            raise _fail(ex, f"your components leave the subspace spanned by W's columns on {label}: the AE already "
                            "found the right subspace, only rotate within it.")
        cos = (c * ref).sum(1).abs()
        if (cos < 1 - 1e-4).any():
            raise _fail(ex, f"right subspace but not PCA's axes on {label}. An orthonormal basis of W's columns is "
                            "not enough: project the CENTRED data onto it and rotate by the SVD of that projection, "
                            "ordering the axes by decreasing variance.")
        gap = torch.minimum((c - ref).norm(dim=1), (c + ref).norm(dim=1))  # sign-free, stable for tiny angles
        worst = max(worst, math.degrees(2 * math.asin(min(gap.max().item() / 2, 1.0))))
    _praise(ex, f"PCA's axes recovered from a non-orthonormal AE basis, each within "
                f"{worst:.1e}° of PCA's", len(cases))
