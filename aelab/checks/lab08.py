"""Lab 08's self-checks (sparse autoencoders), re-exported by :mod:`aelab.checks`.

:func:`topk_activation_check`, :func:`sae_loss_check`, :func:`mmcs_check` and :func:`dead_fraction_check`. What a check does on success, a wrong
answer or an unfinished exercise is described in :mod:`aelab.checks._machinery`; the notebooks call
them as ``aelab.checks.<name>(...)``. The TopK activation is Gao et al. (2024), "Scaling and
evaluating sparse autoencoders", eq. 2; the loss with the decoder-norm-weighted L1 is Anthropic's
(Bricken et al. 2023, *Towards Monosemanticity*, and its April 2024 update). The package has both
(:func:`aelab.models.sae.topk_activation`, :func:`aelab.models.sae.sae_loss`): each check forbids them.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np
import torch

from ._machinery import _exercise, _fail, _finite, _forbidden, _gen, _praise, _shape, _student, _tensor, _unchanged

__all__ = ["topk_activation_check", "sae_loss_check", "mmcs_check", "dead_fraction_check"]


def _package_shortcuts(name: str) -> list:
    from ..models import sae   # imported here: aelab.checks must not import the whole package at load
    return [(sae, name, f"aelab.models.sae.{name}")]


def _topk_ref(pre: torch.Tensor, k: int) -> torch.Tensor:
    values, indices = pre.topk(k, dim=1)
    return torch.zeros_like(pre).scatter(1, indices, values.clamp_min(0))


@_exercise("08", 1, "topk_activation")
def topk_activation_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``topk_activation(pre, k) -> (N, L)``: each row's k largest pre-activations, ReLU'd, the rest 0.

    Expected: ``pre`` ``(N, L)`` float, ``1 <= k <= L``; the result has ``pre``'s shape, keeps in each
    row (each input) the ``k`` largest entries of that row with negative ones set to 0 (``ReLU(TopK)``,
    Gao et al. 2024, eq. 2) and is 0 elsewhere; ``pre`` is not changed.

    Inputs: random float32 and float64 pre-activations (no ties), a batch in which one row is much
    larger than the others, rows with fewer than ``k`` positive entries, ``k = 1`` and ``k = L``.

    Raises
    ------
    CheckFailed
        On a wrong shape or value, with a hint when the top k were taken over the whole batch instead
        of per input, or negative values were kept.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = topk_activation_check.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    big = torch.randn(5, 12, generator=g, dtype=torch.float64)
    big[2] += 10.0
    negative = torch.randn(4, 10, generator=g, dtype=torch.float64) - 2.0
    cases = [("random pre-activations (N=6, L=20, k=3)", torch.randn(6, 20, generator=g), 3),
             ("float64 pre-activations (N=8, L=16, k=4)", torch.randn(8, 16, generator=g, dtype=torch.float64), 4),
             ("a batch whose row 2 is 10 larger than the others (N=5, L=12, k=3)", big, 3),
             ("mostly negative pre-activations (N=4, L=10, k=4)", negative, 4),
             ("k=1 (N=3, L=7)", torch.randn(3, 7, generator=g), 1),
             ("k=L (N=3, L=5)", torch.randn(3, 5, generator=g), 5)]
    for label, pre, k in cases:
        before = pre.clone()
        with _forbidden(_package_shortcuts("topk_activation"), "Use Tensor.topk and Tensor.scatter."):
            out = call(pre, k, case=label)
        out = _tensor(ex, out, "the TopK activation", label)
        _unchanged(ex, before, pre, "pre", label)
        _shape(ex, out, pre.shape, "the TopK activation", label,
               "Return the full (N, L) code: zeros except the kept entries (e.g. torch.zeros_like(pre).scatter(...)).")
        _finite(ex, out, "the TopK activation", label)
        ref = _topk_ref(pre, k)
        if torch.allclose(out.double(), ref.double(), atol=1e-6):
            continue
        flat = pre.flatten()
        values, idx = flat.topk(k * len(pre))
        per_batch = torch.zeros_like(flat).scatter(0, idx, values.clamp_min(0)).view_as(pre)
        if torch.allclose(out.double(), per_batch.double(), atol=1e-6) or (
                out.ne(0).sum(1).max() > k and out.ne(0).sum() <= k * len(pre)):
            raise _fail(ex, f"on {label} you kept the {k}·N largest values of the whole batch; TopK keeps the k "
                            "largest of each input (row): take topk along dim=1, so that every input has at most k "
                            "active latents whatever the others do.")
        if torch.allclose(out.double(), pre.topk(k, 1)[0].new_zeros(pre.shape).scatter(
                1, pre.topk(k, 1)[1], pre.topk(k, 1)[0]).double(), atol=1e-6):
            raise _fail(ex, f"on {label} negative values among the top k are kept; the latents are ReLU(TopK(pre)): "
                            "set the negative kept values to 0 (a latent is active only when its value is positive).")
        raise _fail(ex, f"wrong values on {label}: each row should keep its {k} largest entries (negatives set to 0) "
                        "at their positions and be 0 elsewhere.")
    _praise(ex, "exactly the k largest per input, negatives zeroed, float32 and float64", len(cases))


def _sae_parts(x, w_e, b_e, w_d, b_d):
    f = ((x - b_d) @ w_e.T + b_e).clamp_min(0)
    return f, f @ w_d.T + b_d


def _sae_ref(x, w_e, b_e, w_d, b_d, l1, *, center=True, weight="columns", on_pre=False, batch="mean"):
    x, w_e, b_e, w_d, b_d = (t.double() for t in (x, w_e, b_e, w_d, b_d))
    pre = ((x - b_d) if center else x) @ w_e.T + b_e
    f = pre.clamp_min(0)
    x_hat = f @ w_d.T + b_d
    recon = (x - x_hat).pow(2).sum(1)
    norms = {"columns": w_d.norm(dim=0), "rows": w_d.norm(dim=1), "none": torch.ones(w_d.shape[1], dtype=x.dtype)}
    act = pre.abs() if on_pre else f
    total = recon + l1 * (act * norms[weight]).sum(1)
    return total.mean() if batch == "mean" else total.sum()


def _as_scalar(ex, out, label: str) -> float:
    if isinstance(out, torch.Tensor) and out.numel() == 1 or isinstance(out, np.ndarray) and out.size == 1:
        out = out.item()
    if isinstance(out, (bool, np.bool_)) or not isinstance(out, numbers.Real):
        raise _fail(ex, f"sae_loss must return one number (a 0-d tensor or a float), got {type(out).__name__} "
                        f"on {label}: average over the batch, sum over latents and dimensions.")
    return float(out)


@_exercise("08", 2, "sae_loss")
def sae_loss_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``sae_loss(x, W_e, b_e, W_d, b_d, l1) -> scalar``: reconstruction + decoder-norm-weighted L1.

    Expected: ``x`` ``(N, D)``, ``W_e`` ``(L, D)``, ``b_e`` ``(L,)``, ``W_d`` ``(D, L)``, ``b_d`` ``(D,)``,
    ``l1`` a float; with ``f = ReLU(W_e (x − b_d) + b_e)`` and ``x̂ = W_d f + b_d`` it returns
    ``mean_n [ ‖x_n − x̂_n‖² + l1 · Σ_l f_l(x_n) ‖W_d[:, l]‖ ]`` (a 0-d tensor or a float; relative
    tolerance 1e-5 against a float64 reference).

    Inputs: random weights whose decoder columns are NOT unit-length, a non-zero decoder bias,
    ``l1`` in ``{0, 0.3, 2}``, float32 and float64, a square ``D = L`` case, and a batch of one.

    Raises
    ------
    CheckFailed
        On a wrong value, with a hint for: the L1 not weighted by the decoder norms, weighted by row
        norms, taken on the pre-activations, the decoder bias not subtracted before the encoder, a sum
        over the batch instead of a mean.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = sae_loss_check.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)

    def params(n, d, latents, dtype=torch.float32):
        r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
        w_d = r(d, latents) * (0.3 + 2 * torch.rand(latents, generator=g, dtype=torch.float64))
        return tuple(t.to(dtype) for t in (r(n, d), r(latents, d) / d ** 0.5, 0.3 * r(latents), w_d, r(d)))

    cases = [("a square dictionary D=L=8, N=12, l1=0.3", params(12, 8, 8), 0.3),  # first: row norms do not crash
             ("N=16, D=6, L=12, l1=0.3", params(16, 6, 12), 0.3),
             ("float64, N=10, D=5, L=9, l1=2", params(10, 5, 9, torch.float64), 2.0),
             ("l1=0 (reconstruction only), N=9, D=4, L=7", params(9, 4, 7), 0.0),
             ("a batch of one input, D=5, L=10, l1=2", params(1, 5, 10), 2.0)]
    wrong = [(dict(weight="none"), "the L1 is not weighted by the decoder norms: without it, shrinking a latent by c "
                                   "and growing its decoder column by c lowers the penalty without changing x̂. Multiply "
                                   "each latent by the length of its decoder column, W_d.norm(dim=0)."),
             (dict(weight="rows"), "you weighted the L1 by the norms of W_d's rows; latent l's dictionary direction is "
                                   "the COLUMN W_d[:, l]: use W_d.norm(dim=0)."),
             (dict(on_pre=True), "the L1 is taken on the pre-activations; penalize the latents f = ReLU(pre) "
                                 "(they are >= 0, so the L1 is their sum)."),
             (dict(center=False), "the encoder must see x − b_d (the decoder bias subtracted first): "
                                  "f = ReLU(W_e (x − b_d) + b_e)."),
             (dict(batch="sum"), "you summed over the batch; average over inputs (sum over dimensions and latents).")]
    for label, (x, w_e, b_e, w_d, b_d), l1 in cases:
        inputs = (x, w_e, b_e, w_d, b_d)
        saved = tuple(t.clone() for t in inputs)
        with _forbidden(_package_shortcuts("sae_loss"), "Write the forward pass and the loss yourself."):
            out = call(x, w_e, b_e, w_d, b_d, l1, case=label)
        got = _as_scalar(ex, out, label)
        for name, before, after in zip(("x", "W_e", "b_e", "W_d", "b_d"), saved, inputs):
            _unchanged(ex, before, after, name, label)
        ref = _sae_ref(*inputs, l1).item()
        if np.isclose(got, ref, rtol=1e-5, atol=1e-7):
            continue
        for kwargs, hint in wrong:
            if (label.startswith("a square") or kwargs.get("weight") != "rows") and \
                    np.isclose(got, _sae_ref(*inputs, l1, **kwargs).item(), rtol=1e-5, atol=1e-7):
                raise _fail(ex, f"wrong loss on {label}: {hint}")
        raise _fail(ex, f"wrong loss on {label}: expected mean over inputs of ‖x − x̂‖² (summed over dimensions) "
                        "plus l1 · Σ_l f_l ‖W_d[:, l]‖, with f = ReLU(W_e (x − b_d) + b_e) and x̂ = W_d f + b_d.")
    _praise(ex, "reconstruction plus the decoder-norm-weighted L1, decoder bias subtracted, float32 and float64",
            len(cases))


def _metric_shortcuts(*names: str) -> list:
    from .. import metrics   # imported here: aelab.checks must not import the whole package at load
    return [(metrics, name, f"aelab.metrics.{name}") for name in names]


def _mmcs_ref(learned, true, *, axis="true", normalize=True, absolute=False):
    learned, true = learned.double(), true.double()
    if normalize:
        learned, true = learned / learned.norm(dim=0), true / true.norm(dim=0)
    cos = true.T @ learned                          # (F, L)
    if absolute:
        cos = cos.abs()
    return (cos.max(1).values if axis == "true" else cos.max(0).values).mean().item()


@_exercise("08", 3, "mmcs")
def mmcs_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``mmcs(learned, true) -> float``: mean over true directions of the best cosine with a learned one.

    Expected: ``learned`` ``(D, L)`` and ``true`` ``(D, F)`` float, one direction per column (not
    necessarily unit length); returns ``(1/F) Σ_f max_l cos(true[:, f], learned[:, l])`` (signed),
    as a float, a NumPy scalar or a 0-d tensor (tolerance 1e-5). Sharkey, Braun & Millidge (2022).

    Inputs: a permuted, rescaled copy of the true dictionary with extra random columns (MMCS = 1),
    random dictionaries with ``L != F`` and column lengths far from 1, a dictionary holding negated
    true directions, float32 and float64.

    Raises
    ------
    CheckFailed
        On a wrong value, with a hint for: the maximum over the wrong axis, unnormalized columns, ``|cos|``.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = mmcs_check.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    true = torch.randn(8, 6, generator=g, dtype=torch.float64)
    scale = 0.2 + 3 * torch.rand(6, generator=g, dtype=torch.float64)
    recovered = torch.cat([true[:, torch.randperm(6, generator=g)] * scale,
                           torch.randn(8, 5, generator=g, dtype=torch.float64)], 1)
    negated = torch.cat([-true[:, :3], torch.randn(8, 4, generator=g, dtype=torch.float64)], 1)
    cases = [("random dictionaries, learned (10, 7) and true (10, 4), columns of length 0.1 to 5",
              torch.randn(10, 7, generator=g) * (0.1 + 5 * torch.rand(7, generator=g)), torch.randn(10, 4, generator=g)),
             ("a permuted, rescaled copy of the true (8, 6) dictionary plus 5 random columns", recovered, true),
             ("float64, learned (6, 3) and true (6, 9) (fewer learned than true)",
              torch.randn(6, 3, generator=g, dtype=torch.float64) * 4, torch.randn(6, 9, generator=g, dtype=torch.float64)),
             ("a learned dictionary holding three NEGATED true directions", negated, true)]
    wrong = [(dict(axis="learned"), "you took the maximum over the true directions and averaged over the learned ones; "
                                    "MMCS asks, for each TRUE direction, how close the best learned one is: max over the "
                                    "learned axis, mean over the true one (extra learned columns must not lower it)."),
             (dict(normalize=False), "the columns are not normalized: a cosine divides the dot product by both lengths "
                                     "(normalize each column to length 1 first)."),
             (dict(absolute=True), "you used |cos|; the SAE's features are non-negative, so a column pointing the "
                                   "opposite way does not represent the feature: use the signed cosine.")]
    for label, learned, tru in cases:
        saved = (learned.clone(), tru.clone())
        with _forbidden(_metric_shortcuts("mean_max_cosine_similarity"), "Compute the cosines yourself."):
            out = call(learned, tru, case=label)
        _unchanged(ex, saved[0], learned, "learned", label)
        _unchanged(ex, saved[1], tru, "true", label)
        if isinstance(out, torch.Tensor) and out.numel() == 1 or isinstance(out, np.ndarray) and out.size == 1:
            out = out.item()
        if isinstance(out, (bool, np.bool_)) or not isinstance(out, numbers.Real):
            raise _fail(ex, f"mmcs must return one number, got {type(out).__name__} on {label}.")
        got = float(out)
        if np.isclose(got, _mmcs_ref(learned, tru), rtol=1e-5, atol=1e-6):
            continue
        for kwargs, hint in wrong:
            if np.isclose(got, _mmcs_ref(learned, tru, **kwargs), rtol=1e-5, atol=1e-6):
                raise _fail(ex, f"wrong MMCS on {label}: {hint}")
        raise _fail(ex, f"wrong MMCS on {label}: normalize the columns, take cos = trueᵀ learned (F, L), the maximum "
                        "over learned directions, then the mean over true ones.")
    _praise(ex, "max over learned, mean over true, normalized and signed; MMCS = 1 for a permuted, rescaled copy",
            len(cases))


@_exercise("08", 4, "dead_fraction")
def dead_fraction_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``dead_fraction(codes) -> float``: the fraction of latents that are exactly 0 on every input.

    Expected: ``codes`` ``(N, L)`` float (non-negative SAE activations); a latent is dead when every one
    of its ``N`` values is 0 — any non-zero value, however small, makes it alive. Returns a number in
    ``[0, 1]`` (float, NumPy scalar or 0-d tensor).

    Inputs: random sparse codes with some columns zeroed, codes whose only activity is ``1e-8``, a code
    with no dead latent, float32 and float64.

    Raises
    ------
    CheckFailed
        On a wrong value, with a hint for: a threshold instead of exact zero, the fraction of zero
        entries instead of zero columns, the alive fraction, rows instead of columns.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = dead_fraction_check.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)

    def sparse(n, latents, dead, dtype=torch.float32):
        z = torch.rand(n, latents, generator=g, dtype=torch.float64) * (torch.rand(n, latents, generator=g) < 0.3)
        z[0] = 0.5   # every latent active on input 0 …
        z[:, torch.randperm(latents, generator=g)[:dead]] = 0   # … except the dead ones
        return z.to(dtype)

    tiny = sparse(20, 10, 3)
    tiny[:, 3:] = 0
    tiny[5, 3:6] = 1e-8                    # alive, barely
    cases = [("random sparse codes, N=40, L=16, 5 dead", sparse(40, 16, 5)),
             ("float64, N=30, L=12, 7 dead", sparse(30, 12, 7, torch.float64)),
             ("codes where 3 latents are active only at 1e-8 (alive) and 4 are 0", tiny),
             ("a code with no dead latent, N=10, L=25", sparse(10, 25, 0))]
    wrong = [(lambda z: (z.abs() <= 1e-6).all(0).double().mean(),
              "you used a threshold: a latent with any non-zero value is alive (SAELens and Gao et al. count f > 0); "
              "compare with exactly 0."),
             (lambda z: (z == 0).double().mean(),
              "you counted zero ENTRIES; a dead latent is a COLUMN that is 0 on every input: (codes == 0).all(dim=0)."),
             (lambda z: 1 - (z == 0).all(0).double().mean(), "you returned the fraction of ALIVE latents."),
             (lambda z: (z == 0).all(1).double().mean(),
              "you looked at rows (inputs); latents are the columns: reduce over dim=0.")]
    for label, z in cases:
        saved = z.clone()
        with _forbidden(_metric_shortcuts("dead_fraction", "dead_latents"), "Count the dead columns yourself."):
            out = call(z, case=label)
        _unchanged(ex, saved, z, "codes", label)
        if isinstance(out, torch.Tensor) and out.numel() == 1 or isinstance(out, np.ndarray) and out.size == 1:
            out = out.item()
        if isinstance(out, (bool, np.bool_)) or not isinstance(out, numbers.Real):
            raise _fail(ex, f"dead_fraction must return one number, got {type(out).__name__} on {label}.")
        got = float(out)
        ref = (z == 0).all(0).double().mean().item()
        if np.isclose(got, ref, atol=1e-9):
            continue
        for fn, hint in wrong:
            if np.isclose(got, fn(z).item(), atol=1e-9):
                raise _fail(ex, f"wrong fraction on {label}: {hint}")
        raise _fail(ex, f"wrong fraction on {label}: count the latents (columns) that are exactly 0 on every input "
                        "and divide by the number of latents.")
    _praise(ex, "exactly-zero columns counted, tiny activity alive, over latents", len(cases))
