"""Self-checks for the labs: ``aelab.checks.<exercise>(student_fn)``.

Each check runs the student's function on several inputs (random ones and edge cases), compares
the result with a reference computed here in float64, and

- on success prints one line of praise with a measured value and returns ``None``;
- on a wrong answer raises :class:`CheckFailed` (an ``AssertionError``) whose message says which
  input broke it, the expected shape and which property failed (e.g. "your components are not
  orthonormal"). It never prints the reference answer;
- on a function that still raises ``NotImplementedError`` raises :class:`ExerciseNotDone`
  with "Exercise N ... is not done yet".

In a notebook both exceptions show as their message alone (IPython's ``_render_traceback_``
hook), not as a traceback through this module. When the student's own code raises, the check
re-raises :class:`CheckFailed` naming the input, and the notebook shows the student's frames.

Every check takes ``seed`` (default 0): another seed draws other random inputs, which is what
the hidden tests of the solutions use. Inputs are handed to the student as copies, and a
function that modifies its input in place is rejected (it would corrupt the lab's data).

Lab 01 (PCA as a linear autoencoder): :func:`pca_svd`, :func:`tied_autoencoder`,
:func:`principal_angles`, :func:`train_linear_ae`, :func:`ae_to_pca`.
Lab 02 (deep autoencoders): :func:`mirrored_autoencoder`, :func:`squared_error_per_image`,
:func:`precision_at_k`, :func:`interpolate_codes`, :func:`nearest_distance`.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["CheckFailed", "ExerciseNotDone", "EXERCISES", "pca_svd", "tied_autoencoder", "principal_angles",
           "train_linear_ae", "ae_to_pca", "mirrored_autoencoder", "squared_error_per_image", "precision_at_k",
           "interpolate_codes", "nearest_distance"]


# --------------------------------------------------------------------------------------------
# machinery


class CheckFailed(AssertionError):
    """A self-check found a wrong answer; the message says which input and which property.

    In IPython/Jupyter it is shown as its message alone; if it was raised because the student's
    code raised, the student's own frames are shown above it (not this module's).
    """

    def _render_traceback_(self) -> list[str]:  # IPython's hook for custom tracebacks
        lines: list[str] = []
        cause = self.__cause__
        if cause is not None:
            frames = [f for f in traceback.extract_tb(cause.__traceback__) if f.filename != __file__]
            if frames:
                lines.append("Traceback of the error in your code (most recent call last):")
                lines.extend(s.rstrip("\n") for s in traceback.format_list(frames))
            lines.extend(s.rstrip("\n") for s in traceback.format_exception_only(type(cause), cause))
            lines.append("")
        lines.append(f"{type(self).__name__}: {self}")
        return lines


class ExerciseNotDone(CheckFailed):
    """The student's function still raises ``NotImplementedError``: the exercise is not done."""


@dataclass(frozen=True)
class Exercise:
    """Which exercise a check belongs to: lab number, exercise number, the function(s) to write."""

    lab: str
    number: int
    function: str

    def __str__(self) -> str:
        return f"Exercise {self.number} of lab {self.lab} (`{self.function}`)"


#: Check name -> the exercise it checks, in lab order.
EXERCISES: dict[str, Exercise] = {}


def _exercise(lab: str, number: int, function: str):
    def register(check):
        EXERCISES[check.__name__] = check.exercise = Exercise(lab, number, function)
        return check
    return register


def _fail(ex: Exercise, message: str) -> CheckFailed:
    return CheckFailed(f"{ex}: {message}")


def _student(ex: Exercise, fn: Any, what: str = "") -> Callable:
    """Wrap the student's function: NotImplementedError -> ExerciseNotDone, other errors -> CheckFailed."""
    name = what or ex.function
    if not callable(fn):
        raise _fail(ex, f"pass your function itself, e.g. `aelab.checks.<check>({name})` — got "
                        f"a {type(fn).__name__}, not a function") from None

    def call(*args, case: str, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            raise ExerciseNotDone(f"{ex} is not done yet — replace `raise NotImplementedError()` in "
                                  f"`{name}` with your code, then run its cell and this one again.") from None
        except CheckFailed:
            raise
        except Exception as exc:
            raise _fail(ex, f"`{name}` raised {type(exc).__name__} on {case}. Read the error above "
                            "and fix your function.") from exc
    return call


def _fmt(t: torch.Tensor) -> str:
    """A tensor as a short string: its values when small, else its shape."""
    if t.numel() <= 12:
        vals = t.detach().double().cpu().numpy().round(4).tolist()
        return f"{vals} (shape {tuple(t.shape)})"
    return f"a tensor of shape {tuple(t.shape)}"


def _tensor(ex: Exercise, out: Any, what: str, case: str) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        if not out.is_floating_point():
            return out.double() if out.dtype != torch.bool else out
        return out
    kind = type(out).__name__
    extra = " (use torch functions, or torch.as_tensor(...) at the end)" if kind == "ndarray" else ""
    raise _fail(ex, f"{what} must be a torch.Tensor, got {kind}{extra} — on {case}")


def _shape(ex: Exercise, t: torch.Tensor, shape: tuple, what: str, case: str, hint: str = "") -> None:
    if tuple(t.shape) != tuple(shape):
        raise _fail(ex, f"{what} should have shape {tuple(shape)}, yours has {tuple(t.shape)} — on {case}."
                        + (f" {hint}" if hint else ""))


def _finite(ex: Exercise, t: torch.Tensor, what: str, case: str, hint: str = "") -> None:
    if not torch.isfinite(t).all():
        raise _fail(ex, f"{what} contains NaN or inf on {case}." + (f" {hint}" if hint else ""))


def _unchanged(ex: Exercise, before: torch.Tensor, after: torch.Tensor, what: str, case: str) -> None:
    if before.shape != after.shape or not torch.equal(before, after):
        raise _fail(ex, f"your function changed its input {what} in place on {case} (e.g. `X -= mean`). "
                        "That would also change the lab's data: compute a new tensor instead (`X - mean`).")


def _praise(ex: Exercise, detail: str, n_inputs: int) -> None:
    print(f"✔ Exercise {ex.number} (`{ex.function}`) passed on {n_inputs} inputs: {detail}")


def _gen(seed: int, salt: int) -> torch.Generator:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return torch.Generator().manual_seed(1000 * salt + seed)


def _orthonormal(rows: int, cols: int, g: torch.Generator, *, orth_to_ones: bool = False) -> torch.Tensor:
    """(rows, cols) with orthonormal columns (and columns orthogonal to the ones vector if asked)."""
    a = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    if orth_to_ones:
        a = a - a.mean(0)
    q, _ = torch.linalg.qr(a)
    return q


def _data_with_spectrum(n: int, d: int, sv: list[float], offset: float, g: torch.Generator,
                        noise: float = 0.0) -> torch.Tensor:
    """(n, d) float32 data whose centred version has exactly the singular values ``sv`` (+ noise)."""
    r = len(sv)
    u = _orthonormal(n, r, g, orth_to_ones=True)  # columns orthogonal to 1: the mean stays put
    v = _orthonormal(d, r, g)
    mean = offset * (1 + torch.rand(d, generator=g, dtype=torch.float64))
    x = (u * torch.tensor(sv, dtype=torch.float64)) @ v.T + mean
    if noise:
        x = x + noise * torch.randn(n, d, generator=g, dtype=torch.float64)
    return x.float()


def _pca(x: torch.Tensor, k: int, centre: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.double()
    mean = x.mean(0) if centre else torch.zeros(x.shape[1], dtype=torch.float64)
    _, _, vh = torch.linalg.svd(x - mean, full_matrices=False)
    return mean, vh[:k]


def _max_angle_deg(a_rows: torch.Tensor, b_rows: torch.Tensor) -> float:
    """Largest principal angle (degrees) between the row spaces of a and b (any bases)."""
    qa, _ = torch.linalg.qr(a_rows.double().T)
    qb, _ = torch.linalg.qr(b_rows.double().T)
    s = torch.linalg.svdvals(qa.T @ qb).clamp(-1.0, 1.0)
    return math.degrees(math.acos(s.min().item())) if len(s) else 0.0


# --------------------------------------------------------------------------------------------
# lab 01 — PCA as a linear autoencoder


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
    g = _gen(seed, 1)
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
    g = _gen(seed, 2)

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

    Parameters
    ----------
    student_fn : callable
        The student's ``principal_angles``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, NaN, radians instead of degrees, wrong order or wrong values.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = principal_angles.exercise
    call = _student(ex, student_fn)
    g = _gen(seed, 3)
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


def _train_problem(seed: int) -> torch.Tensor:
    g = _gen(seed, 4)
    n = 512
    return _data_with_spectrum(n, 12, [2.0 * n**0.5, 1.4 * n**0.5, 0.3 * n**0.5], 0.5, g, noise=0.05)


@_exercise("01", 4, "train_linear_ae")
def train_linear_ae(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``train_linear_ae(X, k, *, epochs, batch_size, lr, seed) -> (model, losses)``.

    Expected: trains a linear autoencoder (e.g. ``aelab.models.LinearAutoencoder(D, k)``) on
    ``X`` ``(N, D)`` by mini-batch gradient descent (Adam) on the squared error per example,
    and returns the model (``model(X)`` gives ``(N, D)`` reconstructions) and a list of
    ``epochs`` floats, the mean training loss of each epoch.

    Inputs: ``epochs=2`` (only the number of losses is checked), then 512 examples in 12-D
    near a 3-D subspace, ``k=2``, ``epochs=20, batch_size=64, lr=3e-2`` (160 steps, about a second).

    Tolerances (after the 20 epochs): the squared error per example of ``model(X)`` within 5 %
    of PCA-2's (the optimum), the subspace of the reconstructions within 5° of PCA's, and
    the last epoch's loss below the first's.

    Parameters
    ----------
    student_fn : callable
        The student's ``train_linear_ae``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong number of losses, losses that do not go down, or an error/subspace too far
        from PCA's.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = train_linear_ae.exercise
    call = _student(ex, student_fn)
    x = _train_problem(seed)
    n, d = x.shape
    k = 2

    def run(epochs, label):
        x_in = x.clone()
        out = call(x_in, k, epochs=epochs, batch_size=64, lr=3e-2, seed=seed, case=label)
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

    run(2, "epochs=2, k=2, 512 examples in 12-D")
    label = "epochs=20, batch_size=64, lr=3e-2, k=2, 512 examples in 12-D lying near a 3-D subspace"
    model, losses = run(20, label)
    if not losses[-1] < 0.9 * losses[0]:
        raise _fail(ex, f"your loss did not go down (first epoch {losses[0]:.4g}, last {losses[-1]:.4g}) on {label}. "
                        "Each step needs optimizer.zero_grad(), loss.backward() and optimizer.step().")
    if isinstance(model, nn.Module):
        model.eval()
    with torch.no_grad():
        x_hat = model(x.clone())
    x_hat = _tensor(ex, x_hat, "model(X)", label)
    _shape(ex, x_hat, (n, d), "model(X)", label, "The model must map (N, D) inputs to (N, D) reconstructions.")
    _finite(ex, x_hat, "model(X)", label)
    x64, r = x.double(), x_hat.double()
    err = (r - x64).pow(2).sum(1).mean().item()
    mean, comps = _pca(x, k)
    pca_err = ((x64 - mean) - (x64 - mean) @ comps.T @ comps).pow(2).sum(1).mean().item()
    if err > 1.05 * pca_err + 1e-3:
        raise _fail(ex, f"after 20 epochs your model's squared error per example is {err:.4g}, more than 5 % above "
                        f"PCA-{k}'s (the best a linear AE can do) on {label}. Check that every mini-batch takes a "
                        "step: optimizer.zero_grad(); loss = squared error; loss.backward(); optimizer.step(); "
                        "and that every example is used each epoch (a new permutation per epoch).")
    _, vh = _pca(r, k)
    angle = _max_angle_deg(vh, comps)
    if angle > 5.0:
        raise _fail(ex, f"your model's reconstructions span a subspace {angle:.1f}° away from PCA's on {label}.")
    _praise(ex, f"error {100 * (err / pca_err - 1):+.2f} % vs PCA-{k}, subspace within {angle:.2f}° after 20 epochs", 2)


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
    g = _gen(seed, 5)
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


# --------------------------------------------------------------------------------------------
# lab 02 — deep autoencoders


def _linears(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def _chain(sizes: list[int]) -> str:
    return "→".join(map(str, sizes)) if sizes else "(none)"


def _layer_sizes(pairs: list[tuple[int, int]]) -> list[int]:
    return [pairs[0][0]] + [b for _, b in pairs] if pairs else []


def _is_affine(f: Callable, a: torch.Tensor, b: torch.Tensor) -> bool:
    zero = torch.zeros_like(a)
    return torch.allclose(f(a + b) + f(zero), f(a) + f(b), rtol=1e-3, atol=1e-4)


@_exercise("02", 1, "build_autoencoder")
def mirrored_autoencoder(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``build_autoencoder(dims) -> (encoder, decoder)``: a deep AE with a mirrored decoder.

    Expected for ``dims = (d0, d1, ..., dc)``: ``encoder`` is an ``nn.Module`` mapping
    ``(N, d0)`` — or images ``(N, 1, 28, 28)`` when ``d0 = 784`` (start with ``nn.Flatten()``)
    — through Linear layers ``d0→d1→…→dc``, a nonlinearity after every hidden layer and a
    LINEAR code layer; ``decoder`` maps ``(N, dc)`` back through ``dc→…→d1→d0`` with hidden
    nonlinearities and a final ``nn.Sigmoid`` (pixels in [0, 1]), output ``(N, d0)``.

    Inputs: ``(784, 256, 30)``, ``(20, 10, 5, 2)`` and ``(6, 3)`` (no hidden layer).
    Properties checked: Linear layer sizes in order; output shapes; code values can be
    negative (linear code); encoder and decoder are not affine when there are hidden layers
    (tested on ``f(a+b)+f(0) = f(a)+f(b)``, tolerance 1e-3); decoder outputs inside [0, 1].

    Parameters
    ----------
    student_fn : callable
        The student's ``build_autoencoder``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        Naming the dims and the property that failed.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = mirrored_autoencoder.exercise
    call = _student(ex, student_fn)
    g = _gen(seed, 6)
    cases = [(784, 256, 30), (20, 10, 5, 2), (6, 3)]
    n_params = 0
    torch_state = torch.random.get_rng_state()  # building layers draws from torch's RNG: leave it as it was
    try:
        for dims in cases:
            label = f"dims={dims}"
            out = call(dims, case=label)
            if not isinstance(out, (tuple, list)) or len(out) != 2 or not all(isinstance(m, nn.Module) for m in out):
                raise _fail(ex, f"return two nn.Modules, `return encoder, decoder` (e.g. two nn.Sequential) — on {label}")
            encoder, decoder = out
            if dims == cases[0]:
                n_params = sum(p.numel() for m in (encoder, decoder) for p in m.parameters())
            want = list(dims)
            got_e, got_d = _layer_sizes(_linears(encoder)), _layer_sizes(_linears(decoder))
            if got_e != want:
                raise _fail(ex, f"the encoder's Linear layers should go {_chain(want)}, yours go {_chain(got_e)} — on "
                                f"{label}. One nn.Linear(dims[i], dims[i+1]) per consecutive pair.")
            if got_d != want[::-1]:
                raise _fail(ex, f"the decoder should mirror the encoder, {_chain(want[::-1])}; yours goes "
                                f"{_chain(got_d)} — on {label}.")
            n = 64
            shape = (n, 1, 28, 28) if dims[0] == 784 else (n, dims[0])
            x = torch.rand(shape, generator=g)
            with torch.no_grad():
                try:
                    z = encoder(x)
                except Exception as exc:
                    hint = " Start the encoder with nn.Flatten()." if len(shape) == 4 else ""
                    raise _fail(ex, f"the encoder failed on input of shape {shape} ({label}).{hint}") from exc
                z = _tensor(ex, z, "encoder output", label)
                _shape(ex, z, (n, dims[-1]), "the encoder's output (the code)", label)
                if not (z < 0).any():
                    raise _fail(ex, f"the code layer should be linear (no activation after the encoder's last Linear), "
                                    f"but all {z.numel()} code values are >= 0 on {label}: a ReLU there kills half the code.")
                flat = (n, dims[0])
                if len(dims) > 2 and _is_affine(encoder, torch.rand(flat, generator=g).reshape(shape),
                                                torch.rand(flat, generator=g).reshape(shape)):
                    raise _fail(ex, f"the encoder is affine (no nonlinearity) on {label}: put an activation such as "
                                    "nn.ReLU() after every hidden Linear layer, or the deep AE is just a linear AE.")
                codes = 3 * torch.randn(n, dims[-1], generator=g)
                try:
                    y = decoder(codes)
                except Exception as exc:
                    raise _fail(ex, f"the decoder failed on codes of shape {(n, dims[-1])} ({label}).") from exc
                y = _tensor(ex, y, "decoder output", label)
                _shape(ex, y, (n, dims[0]), "the decoder's output", label,
                       "The decoder returns flat vectors of dims[0] numbers (the lab reshapes them into images).")
                if (y < 0).any() or (y > 1).any():
                    raise _fail(ex, f"the decoder's outputs go from {y.min():.3g} to {y.max():.3g} on {label}; pixels "
                                    "live in [0, 1]: end the decoder with nn.Sigmoid().")
                if len(dims) > 2:
                    def logit(c):
                        p = decoder(c).double().clamp(1e-7, 1 - 1e-7)
                        return torch.log(p) - torch.log1p(-p)
                    a, b = 0.3 * torch.randn(n, dims[-1], generator=g), 0.3 * torch.randn(n, dims[-1], generator=g)
                    if _is_affine(logit, a, b):
                        raise _fail(ex, f"the decoder has no hidden nonlinearity on {label}: put an activation after "
                                        "every Linear layer except the last (which gets the Sigmoid).")
    finally:
        torch.random.set_rng_state(torch_state)
    _praise(ex, f"mirrored, linear code, nonlinear hidden layers, sigmoid output; {cases[0]} has "
                f"{n_params:,} parameters", len(cases))


@_exercise("02", 2, "squared_error_per_image")
def squared_error_per_image(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``squared_error_per_image(x_hat, x) -> loss``: Hinton & Salakhutdinov's unit.

    Expected: ``x_hat`` and ``x`` of the same shape ``(N, ...)``; returns a 0-dim tensor, the
    sum of ``(x_hat − x)²`` over each image's pixels, averaged over the N images; it must be
    differentiable (``loss.backward()`` works).

    Inputs: images ``(16, 1, 28, 28)``, flat ``(8, 784)``, one image, ``x_hat == x``, and a
    2-image example small enough to do by hand. Tolerances: value ``rtol=1e-5, atol=1e-6``;
    the gradient w.r.t. ``x_hat`` within ``1e-5`` of ``2 (x_hat − x) / N``.

    Parameters
    ----------
    student_fn : callable
        The student's ``squared_error_per_image``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong value (with a hint when it is off by the pixel count or the batch size),
        a non-scalar, or a result without gradient.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = squared_error_per_image.exercise
    call = _student(ex, student_fn)
    g = _gen(seed, 7)
    small_hat = torch.zeros(2, 1, 2, 2)
    small_hat[0, 0, 0, 0] = 0.5
    small_hat[1] = 1.0
    same = torch.rand(3, 1, 28, 28, generator=g)
    cases = [
        ("a batch of 16 images of shape (1, 28, 28)", torch.rand(16, 1, 28, 28, generator=g), torch.rand(16, 1, 28, 28, generator=g)),
        ("8 flat images of shape (784,)", torch.rand(8, 784, generator=g), torch.rand(8, 784, generator=g)),
        ("a single image (N=1)", torch.rand(1, 1, 28, 28, generator=g), torch.rand(1, 1, 28, 28, generator=g)),
        ("a perfect reconstruction (x_hat == x)", same.clone(), same.clone()),
        ("2 images of 2×2 pixels: x all 0; x_hat 0.5 in one pixel of image 0, all 1 in image 1",
         small_hat, torch.zeros(2, 1, 2, 2)),
    ]
    worst = 0.0
    for label, x_hat, x in cases:
        n, pixels = x.shape[0], x[0].numel()
        xh = x_hat.clone().requires_grad_(True)
        x_in = x.clone()
        out = call(xh, x_in, case=label)
        _unchanged(ex, x, x_in, "x", label)
        if isinstance(out, (float, int)):
            raise _fail(ex, "return a tensor, not a Python number, so that loss.backward() works (no .item()).")
        out = _tensor(ex, out, "the loss", label)
        if out.numel() != 1 or out.dim() != 0:
            raise _fail(ex, f"the loss should be a single number (a 0-dim tensor), yours has shape "
                            f"{tuple(out.shape)} on {label}. Sum over each image's pixels, then average over images.")
        ref = (x_hat.double() - x.double()).pow(2).flatten(1).sum(1).mean().item()
        val = out.item()
        if not math.isclose(val, ref, rel_tol=1e-5, abs_tol=1e-6):
            why = ""
            if ref > 0 and math.isclose(val * pixels, ref, rel_tol=1e-4):
                why = (f" Yours is {pixels}× too small: you averaged over the pixels too (as F.mse_loss does). "
                       "Sum over each image's pixels, average only over images.")
            elif ref > 0 and n > 1 and math.isclose(val, ref * n, rel_tol=1e-4):
                why = f" Yours is {n}× too big: you summed over the batch too. Average over the {n} images."
            elif ref > 0 and math.isclose(val**2, ref, rel_tol=1e-4):
                why = " You took a square root: this loss is the squared error, not a distance."
            raise _fail(ex, f"wrong value on {label} (the loss of this batch is not {val:.6g}).{why}")
        if not out.requires_grad:
            raise _fail(ex, f"your loss has no gradient on {label}: compute it with torch operations on x_hat "
                            "(no .item(), .detach() or numpy) so that loss.backward() works.")
        (grad,) = torch.autograd.grad(out, xh)
        if not torch.allclose(grad.double(), 2 * (x_hat.double() - x.double()) / n, atol=1e-5):
            raise _fail(ex, f"the gradient of your loss is wrong on {label}: the loss must depend on x_hat only "
                            "through the squared errors.")
        worst = max(worst, abs(val - ref) / max(ref, 1e-12))
    _praise(ex, f"values within {worst:.1e} (relative) of the squared error per image, gradients right", len(cases))


@_exercise("02", 3, "precision_at_k")
def precision_at_k(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``precision_at_k(codes, labels, k) -> float``: retrieval precision by label.

    Expected: ``codes`` float ``(N, ...)`` (codes ``(N, c)`` or images ``(N, 1, 28, 28)``,
    flattened per example), ``labels`` int64 ``(N,)``; for each example, its ``k`` nearest
    OTHER examples by Euclidean distance; returns the fraction of them with the same label,
    averaged over all N examples (a float or 0-dim tensor in [0, 1]).

    Inputs: 3 labelled clusters in 2-D (k=5), random 8-D codes (k=1), every other example as a
    neighbour (k=N−1), images of shape (N, 1, 4, 4), and 4 points on a line (k=1) where
    counting the query itself changes the answer. Tolerance: ``1e-6`` (no ties in the inputs).

    Parameters
    ----------
    student_fn : callable
        The student's ``precision_at_k``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong value (with a hint when the query counts itself) or a non-scalar.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = precision_at_k.exercise
    call = _student(ex, student_fn)
    g = _gen(seed, 8)
    centres = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    lab3 = torch.arange(60) % 3
    clusters = centres[lab3] + 1.2 * torch.randn(60, 2, generator=g)
    rand_lab = torch.randint(0, 4, (30,), generator=g)
    cases = [
        ("60 points in 3 labelled clusters in 2-D, k=5", clusters, lab3, 5),
        ("30 random 8-D codes with 4 labels, k=1", torch.randn(30, 8, generator=g), rand_lab, 1),
        ("20 random 5-D codes, k=N-1=19 (every other example is a neighbour)", torch.randn(20, 5, generator=g),
         torch.randint(0, 3, (20,), generator=g), 19),
        ("25 'images' of shape (1, 4, 4) with 2 labels, k=3", torch.rand(25, 1, 4, 4, generator=g),
         torch.randint(0, 2, (25,), generator=g), 3),
        ("4 points on a line at 0, 1, 3, 6 with labels [0, 1, 0, 1], k=1",
         torch.tensor([[0.0], [1.0], [3.0], [6.0]]), torch.tensor([0, 1, 0, 1]), 1),
    ]
    worst = 0.0
    for label, codes, labels, k in cases:
        c_in, l_in = codes.clone(), labels.clone()
        out = call(c_in, l_in, k, case=label)
        _unchanged(ex, codes, c_in, "codes", label)
        _unchanged(ex, labels, l_in, "labels", label)
        if isinstance(out, torch.Tensor):
            if out.numel() != 1:
                raise _fail(ex, f"return one number (the average over all queries), yours has shape "
                                f"{tuple(out.shape)} on {label}.")
            out = out.item()
        try:
            val = float(out)
        except (TypeError, ValueError):
            raise _fail(ex, f"return a number, got {type(out).__name__} on {label}") from None
        flat = codes.double().flatten(1)
        d = torch.cdist(flat, flat)
        d.fill_diagonal_(float("inf"))
        idx = d.topk(k, largest=False).indices
        ref = (labels[idx] == labels[:, None]).double().mean().item()
        if not math.isclose(val, ref, abs_tol=1e-6):
            d_self = torch.cdist(flat, flat)
            idx_self = d_self.topk(k, largest=False).indices
            with_self = (labels[idx_self] == labels[:, None]).double().mean().item()
            why = ""
            if math.isclose(val, with_self, abs_tol=1e-6):
                why = (" Each example is its own nearest neighbour (distance 0): leave the query itself out, e.g. by "
                       "setting the diagonal of the distance matrix to infinity.")
            elif not 0 <= val <= 1:
                why = " A precision is a fraction between 0 and 1."
            raise _fail(ex, f"wrong precision@{k} on {label} (it is not {val:.4g}).{why}")
        worst = max(worst, abs(val - ref))
    _praise(ex, f"precision@k within {worst:.1e} on every input, the query itself left out", len(cases))


@_exercise("02", 4, "interpolate_codes")
def interpolate_codes(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``interpolate_codes(z0, z1, steps) -> path``: a straight line between two codes.

    Expected: ``z0`` and ``z1`` float ``(c,)``; returns ``(steps, c)``: ``z0 + t (z1 − z0)``
    for ``steps`` equally spaced ``t`` from 0 to 1, both ends included (row 0 is ``z0``,
    the last row ``z1``).

    Inputs: 2-D codes with 5 steps (by hand), 30-D codes with 10 steps, ``steps=2`` (just the
    ends). Tolerance: ``atol=1e-5``.

    Parameters
    ----------
    student_fn : callable
        The student's ``interpolate_codes``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, missing endpoint, uneven spacing or wrong values.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = interpolate_codes.exercise
    call = _student(ex, student_fn)
    g = _gen(seed, 9)
    cases = [
        ("z0=[0, 0], z1=[4, 8], steps=5", torch.tensor([0.0, 0.0]), torch.tensor([4.0, 8.0]), 5),
        ("two random 30-D codes, steps=10", torch.randn(30, generator=g), torch.randn(30, generator=g), 10),
        ("two random 3-D codes, steps=2", torch.randn(3, generator=g), torch.randn(3, generator=g), 2),
    ]
    worst = 0.0
    for label, z0, z1, steps in cases:
        a, b = z0.clone(), z1.clone()
        path = _tensor(ex, call(a, b, steps, case=label), "the path", label)
        _unchanged(ex, z0, a, "z0", label)
        _unchanged(ex, z1, b, "z1", label)
        _shape(ex, path, (steps, z0.numel()), "the path", label, "One row per step, each a code.")
        p = path.double()
        if not torch.allclose(p[0], z0.double(), atol=1e-5):
            raise _fail(ex, f"the first row of the path should be z0 itself (t=0) on {label}.")
        if not torch.allclose(p[-1], z1.double(), atol=1e-5):
            raise _fail(ex, f"the last row of the path should be z1 itself (t=1): include both ends — on {label}. "
                            "torch.linspace(0, 1, steps) includes both.")
        t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]
        ref = z0.double() + t * (z1.double() - z0.double())
        if not torch.allclose(p, ref, atol=1e-5):
            raise _fail(ex, f"the path is not evenly spaced on the straight line from z0 to z1 on {label}.")
        worst = max(worst, (p - ref).abs().max().item())
    _praise(ex, f"straight, evenly spaced paths with both ends, within {worst:.1e} of the line", len(cases))


@_exercise("02", 5, "nearest_distance")
def nearest_distance(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``nearest_distance(queries, data) -> distances``: how far points are from a data set.

    Expected: ``queries`` float ``(M, ...)`` and ``data`` ``(N, ...)`` with the same shape per
    example (codes or images; flatten them); returns ``(M,)``: the Euclidean distance from
    each query to its nearest row of ``data`` (not squared).

    Inputs: 5 random 16-D queries against 50 points, queries that are themselves data points
    (distance 0 — the expansion ``|a|² + |b|² − 2a·b`` can round below 0, so clamp before the
    square root), images ``(3, 1, 28, 28)`` against 200 images, and a 2-D example by hand.
    Tolerance: ``rtol=1e-4, atol=1e-2`` (float32 rounding of distances between images).

    Parameters
    ----------
    student_fn : callable
        The student's ``nearest_distance``.
    seed : int
        Draws other random inputs (the hidden tests use another seed).

    Raises
    ------
    CheckFailed
        On a wrong shape, NaN, squared distances or wrong values.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = nearest_distance.exercise
    call = _student(ex, student_fn)
    g = _gen(seed, 10)
    pts = torch.randn(50, 16, generator=g)
    imgs = torch.rand(200, 1, 28, 28, generator=g)
    cases = [
        ("5 random 16-D queries against 50 data points", torch.randn(5, 16, generator=g), pts),
        ("queries that are data points themselves (distance 0)", pts[[3, 17, 42]].clone(), pts),
        ("3 images of shape (1, 28, 28) against 200 images", torch.rand(3, 1, 28, 28, generator=g), imgs),
        ("query [[0, 0]] against data [[3, 4], [10, 0]]", torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0], [10.0, 0.0]])),
    ]
    worst = 0.0
    for label, q, data in cases:
        m = q.shape[0]
        q_in, d_in = q.clone(), data.clone()
        out = _tensor(ex, call(q_in, d_in, case=label), "the distances", label)
        _unchanged(ex, q, q_in, "queries", label)
        _unchanged(ex, data, d_in, "data", label)
        if out.numel() == data.shape[0] and m != data.shape[0]:
            raise _fail(ex, f"return one distance per QUERY, shape ({m},); yours has shape {tuple(out.shape)}, one per "
                            f"data point — on {label}. Take the minimum over the data (dim=1 of an (M, N) matrix).")
        _shape(ex, out, (m,), "the distances", label, "One distance per query.")
        _finite(ex, out, "your distances", label, "If you expand |a − b|² = |a|² + |b|² − 2a·b, rounding can make it "
                                                  "slightly negative: clamp it at 0 before the square root.")
        ref = torch.cdist(q.double().flatten(1), data.double().flatten(1)).min(1).values
        o = out.double()
        if not torch.allclose(o, ref, rtol=1e-4, atol=1e-2):
            why = ""
            if torch.allclose(o, ref**2, rtol=1e-4, atol=1e-2):
                why = " These are squared distances: take the square root."
            raise _fail(ex, f"wrong distances on {label} (max error {(o - ref).abs().max().item():.3g}).{why}")
        worst = max(worst, (o - ref).abs().max().item())
    _praise(ex, f"nearest-neighbour distances within {worst:.1e}, exact matches give 0", len(cases))
