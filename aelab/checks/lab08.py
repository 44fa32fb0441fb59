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


def _topk_mistakes(pre: torch.Tensor, k: int) -> list:
    """(what a mistake returns on ``pre``, its hint), for :func:`topk_activation_check`'s diagnosis."""
    pre = pre.detach().double()
    n, latents = pre.shape
    ref = _topk_ref(pre, k)
    flat = pre.flatten()
    values, idx = flat.topk(k * n)
    per_batch = torch.zeros_like(flat).scatter(0, idx, values.clamp_min(0)).view_as(pre)
    values, idx = pre.topk(k, dim=1)
    small = pre.topk(k, dim=1, largest=False)
    mistakes = [(per_batch, f"you kept the {k}·N largest values of the whole batch; TopK keeps the k largest of each "
                            "input (row): take topk along dim=1, so that every input has at most k active latents "
                            "whatever the others do.")]
    if k <= n:
        v0, i0 = pre.topk(k, dim=0)
        mistakes.append((torch.zeros_like(pre).scatter(0, i0, v0.clamp_min(0)),
                         f"you kept the {k} largest of each COLUMN (topk along dim=0, over the inputs); TopK keeps the "
                         "k largest latents of each input: topk(k, dim=1)."))
    ia = pre.abs().topk(k, dim=1).indices
    mistakes += [
        (torch.zeros_like(pre).scatter(1, ia, pre.gather(1, ia).clamp_min(0)),
         "you ranked the entries by absolute value; TopK keeps the k LARGEST (most positive) pre-activations: "
         "pre.topk(k, dim=1) on pre itself, not on pre.abs()."),
        (torch.zeros_like(pre).scatter(1, small.indices, small.values.clamp_min(0)),
         "you kept the k SMALLEST entries (largest=False or an ascending sort); keep the k largest."),
        (torch.zeros_like(pre).scatter(1, idx, values),
         "negative values among the top k are kept; the latents are ReLU(TopK(pre)): set the negative kept values "
         "to 0 (a latent is active only when its value is positive)."),
        (pre.clamp_min(0), "every positive entry is kept (a plain ReLU); TopK sets all but each row's k largest "
                           "to 0, then applies the ReLU: at most k non-zero latents per input."),
        (torch.zeros_like(pre).scatter(1, idx, values.softmax(1)),
         "the kept values went through a softmax; TopK keeps pre's own values (only the negative ones become 0)."),
    ]
    for m in (k - 1, k + 1):
        if 0 <= m <= latents and m != k:
            mistakes.append((_topk_ref(pre, m) if m else torch.zeros_like(pre),
                             f"you kept {m} entries per input instead of k = {k} (an off-by-one: a slice [:k±1], "
                             "or > instead of >= against the k-th largest value)."))
    return mistakes


@_exercise("08", 1, "topk_activation")
def topk_activation_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``topk_activation(pre, k) -> (N, L)``: each row's k largest pre-activations, ReLU'd, the rest 0.

    Expected: ``pre`` ``(N, L)`` float, ``1 <= k <= L``; the result has ``pre``'s shape and at least its
    precision (float64 for float64), keeps in each row (each input) the ``k`` largest entries of that row
    with negative ones set to 0 (``ReLU(TopK)``, Gao et al. 2024, eq. 2) and is 0 elsewhere; ``pre`` is not
    changed, and gradients flow back to ``pre`` (the lab trains through it): d out / d pre is 1 at the
    kept positive entries and 0 elsewhere.

    Inputs: random float32 and float64 pre-activations (no ties), a batch in which one row is much
    larger than the others, rows with fewer than ``k`` positive entries, ``k = 1`` and ``k = L``, and a
    ``pre`` that requires grad.

    Raises
    ------
    CheckFailed
        On a wrong shape, dtype, value or gradient, with a hint for: the top k of the whole batch or of
        each column, by absolute value, the smallest k, negatives kept, a plain ReLU, a softmax, k ± 1
        entries, a mask or the indices returned, values packed at the front, a lower precision, a result
        with no gradient.
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
             ("k=L (N=3, L=5)", torch.randn(3, 5, generator=g), 5),
             ("pre-activations that require grad, as in training (N=4, L=9, k=3)",
              torch.randn(4, 9, generator=g).requires_grad_(), 3)]
    weights = torch.randn(4, 9, generator=g)
    for label, pre, k in cases:
        before = pre.detach().clone()
        with _forbidden(_package_shortcuts("topk_activation"), "Use Tensor.topk and Tensor.scatter."):
            out = call(pre, k, case=label)
        _unchanged(ex, before, pre.detach(), "pre", label)
        n, latents = pre.shape
        if isinstance(out, torch.Tensor) and not out.is_floating_point() and k != latents \
                and tuple(out.shape) == (n, k):
            raise _fail(ex, f"the TopK activation should have shape {(n, latents)}, yours has {(n, k)} integers on "
                            f"{label}: you returned the INDICES of the top k; return the code itself, the (N, L) "
                            "tensor holding the kept values at those positions.")
        out = _tensor(ex, out, "the TopK activation", label)
        if k != latents and tuple(out.shape) == (n, k):
            raise _fail(ex, f"the TopK activation should have shape {(n, latents)}, yours has {(n, k)} on {label}: "
                            "you returned only the k kept values; return the full (N, L) code, zeros except the kept "
                            "entries at their positions (e.g. torch.zeros_like(pre).scatter(...)).")
        _shape(ex, out, pre.shape, "the TopK activation", label,
               "Return the full (N, L) code: zeros except the kept entries (e.g. torch.zeros_like(pre).scatter(...)).")
        ref = _topk_ref(pre.detach(), k)
        kept = pre.detach().topk(k, dim=1).indices
        mask = torch.zeros_like(ref, dtype=torch.bool).scatter(1, kept, True)
        if out.dtype == torch.bool or bool(((out == 0) | (out == 1)).all()) and (
                torch.equal(out.ne(0), ref.ne(0)) or torch.equal(out.ne(0), mask)):
            if not torch.allclose(out.double(), ref.double(), atol=1e-6):
                raise _fail(ex, f"on {label} you returned the 0/1 MASK of the kept positions; return the kept "
                                "VALUES of pre there (ReLU'd), zeros elsewhere.")
        if out.is_floating_point() and torch.finfo(out.dtype).bits < torch.finfo(pre.dtype).bits:
            raise _fail(ex, f"on {label} the result is {out.dtype} for a {pre.dtype} pre: build it with "
                            "torch.zeros_like(pre) (pre's dtype), not torch.zeros(shape), which is float32.")
        _finite(ex, out, "the TopK activation", label)
        if not torch.allclose(out.double(), ref.double(), atol=1e-6):
            for candidate, hint in _topk_mistakes(pre, k):
                if torch.allclose(out.double(), candidate, atol=1e-6):
                    raise _fail(ex, f"on {label} {hint}")
            rows_out = out.double().sort(dim=1).values
            if torch.allclose(rows_out, ref.double().sort(dim=1).values, atol=1e-6):
                raise _fail(ex, f"on {label} each row holds the right values but at the wrong positions; put each "
                                "kept value back at its own index (scatter(1, indices, values)).")
            if out.ne(0).sum(1).max() > k:
                raise _fail(ex, f"on {label} an input has {int(out.ne(0).sum(1).max())} non-zero latents; TopK "
                                f"leaves at most k = {k} per input (row), the k largest, the others 0.")
            raise _fail(ex, f"wrong values on {label}: each row should keep its {k} largest entries (negatives set "
                            "to 0) at their positions and be 0 elsewhere.")
        if pre.requires_grad:
            if not out.requires_grad:
                raise _fail(ex, f"on {label} no gradient flows back to pre: the result is detached (.detach(), "
                                "torch.no_grad(), .data or a NumPy round trip). The lab trains the SAE through this "
                                "activation: compute it with torch operations on pre itself.")
            grad, = torch.autograd.grad((out * weights).sum(), pre, allow_unused=True)
            expected = weights * ref.ne(0)
            if grad is None or not torch.allclose(grad, expected, atol=1e-6):
                raise _fail(ex, f"on {label} the gradient is wrong: d out / d pre should be 1 at the kept positive "
                                "entries and 0 elsewhere (keep pre's values themselves, no constant copies).")
    _praise(ex, "exactly the k largest per input, negatives zeroed, float32 and float64, gradients flow", len(cases))


def _name_mistake(got: float, candidates: list, close: Callable) -> str | None:
    """The hint of the one mistake whose value ``got`` matches, or None (no match, or several hints match).

    ``candidates`` holds ``(value, hint)`` pairs (``value`` None when the mistake cannot run on this input).
    When two different mistakes give the same value on an input, that input cannot tell them apart: the
    caller goes on to its next input rather than name the wrong one.
    """
    hints = {hint for value, hint in candidates if value is not None and close(got, value)}
    return hints.pop() if len(hints) == 1 else None


def _sae_ref(x, w_e, b_e, w_d, b_d, l1, *, center=True, weight="columns", on_pre=False, batch="mean",
             enc_bias=1.0, relu=True, dec_bias=True, target="x", error="squared", recon="sum", l1_on="penalty",
             l1_reduce="sum", unit_decoder=False, w_e_t=True, w_d_t=True):
    """The loss in float64, or (with any keyword changed) what one mistake computes instead."""
    x, w_e, b_e, w_d, b_d = (t.detach().double() for t in (x, w_e, b_e, w_d, b_d))
    pre = ((x - b_d) if center else x) @ (w_e.T if w_e_t else w_e) + enc_bias * b_e
    f = pre.clamp_min(0) if relu else pre
    dec = w_d / w_d.norm(dim=0) if unit_decoder else w_d
    x_hat = f @ (dec.T if w_d_t else dec) + (b_d if dec_bias else 0)
    diff = (x if target == "x" else x - b_d) - x_hat
    err = {"squared": diff.pow(2).sum(1), "length": diff.norm(dim=1), "absolute": diff.abs().sum(1)}[error]
    if recon == "mean":
        err = err / x.shape[1]
    norms = {"columns": w_d.norm(dim=0), "rows": w_d.norm(dim=1), "none": torch.ones(w_d.shape[1], dtype=x.dtype),
             "squared": w_d.pow(2).sum(0), "encoder": w_e.norm(dim=1)}[weight]
    act = {False: f, True: pre.abs(), "signed": pre}[on_pre]
    pen = act * norms
    pen = pen.sum(1) if l1_reduce == "sum" else pen.mean(1)
    total = err + l1 * pen if l1_on == "penalty" else l1 * err + pen
    return total.mean() if batch == "mean" else total.sum()


_SAE_MISTAKES = [
    (dict(weight="none"), "the L1 is not weighted by the decoder norms: without it, shrinking a latent by c and "
                          "growing its decoder column by c lowers the penalty without changing x̂. Multiply each "
                          "latent by the length of its decoder column, W_d.norm(dim=0)."),
    (dict(weight="rows"), "you weighted the L1 by the norms of W_d's rows; latent l's dictionary direction is the "
                          "COLUMN W_d[:, l]: use W_d.norm(dim=0)."),
    (dict(weight="squared"), "you weighted the L1 by the SQUARED column lengths (W_d ** 2).sum(0); the weight is the "
                             "length itself, W_d.norm(dim=0), so that rescaling a latent and its column cancels."),
    (dict(weight="encoder"), "you weighted the L1 by the norms of the ENCODER's rows; the weight is the length of each "
                             "DECODER column, W_d.norm(dim=0)."),
    (dict(on_pre=True), "the L1 is taken on the pre-activations; penalize the latents f = ReLU(pre) (they are >= 0, "
                        "so the L1 is their sum)."),
    (dict(on_pre="signed"), "the L1 is taken on the pre-activations (signed, so negative ones lower the loss); "
                            "penalize the latents f = ReLU(pre)."),
    (dict(relu=False, on_pre=True), "there is no ReLU: the latents are f = ReLU(W_e (x − b_d) + b_e), both in x̂ and "
                                    "in the penalty."),
    (dict(center=False), "the encoder must see x − b_d (the decoder bias subtracted first): "
                         "f = ReLU(W_e (x − b_d) + b_e)."),
    (dict(enc_bias=-1.0), "you subtracted the encoder bias b_e; it is added: f = ReLU(W_e (x − b_d) + b_e)."),
    (dict(dec_bias=False), "x̂ lacks the decoder bias: x̂ = W_d f + b_d (b_d is subtracted before the encoder and "
                           "added back after the decoder)."),
    (dict(target="centered"), "you compared x̂ = W_d f + b_d with x − b_d; x̂ already contains b_d: the error is "
                              "x − x̂ (or, equivalently, (x − b_d) − W_d f)."),
    (dict(unit_decoder=True, weight="none"), "you normalized the decoder columns in the forward pass and used a plain "
                                             "L1; this exercise keeps W_d as given: x̂ = W_d f + b_d, and weights each "
                                             "latent's L1 by its column's length."),
    (dict(w_d_t=False), "W_d is used untransposed (f @ W_d): W_d is (D, L), so x̂ = f @ W_d.T + b_d."),
    (dict(w_e_t=False), "W_e is used untransposed ((x − b_d) @ W_e): W_e is (L, D), so the pre-activations are "
                        "(x − b_d) @ W_e.T + b_e."),
    (dict(batch="sum"), "you summed over the batch; average over inputs (sum over dimensions and latents)."),
    (dict(recon="mean"), "you averaged the squared error over the D dimensions too (F.mse_loss's default "
                         "reduction='mean'); ‖x − x̂‖² sums over dimensions, then average over inputs."),
    (dict(error="length"), "you used the length of the error ‖x − x̂‖, not its square ‖x − x̂‖²."),
    (dict(error="absolute"), "you summed absolute errors |x − x̂|; the reconstruction term is the squared error."),
    (dict(l1_on="reconstruction"), "l1 multiplies the reconstruction term; it is the weight of the sparsity penalty: "
                                   "‖x − x̂‖² + l1 · Σ_l f_l ‖W_d[:, l]‖."),
    (dict(l1_reduce="mean"), "you averaged the penalty over the latents; the L1 SUMS over latents (and averages over "
                             "inputs)."),
]


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
        On a wrong value, with a hint for each mistake of :data:`_SAE_MISTAKES` (the L1 not weighted, or
        weighted by row, squared or encoder norms; taken on the pre-activations or without a ReLU; the
        decoder bias not subtracted or not added back, the target x − b_d; the encoder bias subtracted; the
        decoder normalized in the forward pass; a transposed W_e or W_d; a sum over the batch, a mean over
        dimensions or latents, the error's length or absolute value, l1 on the reconstruction). When two
        mistakes give the same value on an input, the next input decides (:func:`_name_mistake`).
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
    first_wrong = None
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
        candidates = []
        for kwargs, hint in _SAE_MISTAKES:
            try:
                candidates.append((_sae_ref(*inputs, l1, **kwargs).item(), hint))
            except RuntimeError:   # a transposed or row-norm mistake only runs on the square case
                pass
        hint = _name_mistake(got, candidates, lambda a, b: np.isclose(a, b, rtol=1e-5, atol=1e-7))
        if hint:
            raise _fail(ex, f"wrong loss on {label}: {hint}")
        first_wrong = first_wrong or label
    if first_wrong:
        raise _fail(ex, f"wrong loss on {first_wrong}: expected mean over inputs of ‖x − x̂‖² (summed over "
                        "dimensions) plus l1 · Σ_l f_l ‖W_d[:, l]‖, with f = ReLU(W_e (x − b_d) + b_e) and "
                        "x̂ = W_d f + b_d.")
    _praise(ex, "reconstruction plus the decoder-norm-weighted L1, decoder bias subtracted, float32 and float64",
            len(cases))


def _metric_shortcuts(*names: str) -> list:
    from .. import metrics   # imported here: aelab.checks must not import the whole package at load
    return [(metrics, name, f"aelab.metrics.{name}") for name in names]


def _mmcs_ref(learned, true, *, axis="true", normalize=True, absolute=False, reduce="mean", square=False):
    """MMCS in float64, or (with a keyword changed) what one mistake computes instead.

    ``normalize``: True (both sides' columns), False, "learned"/"true" (one side only), "rows", "matrix" (each
    divided by its Frobenius norm). ``axis``: "true" (right), "learned", "all" (one max over the matrix),
    "none" (no max), "diagonal" (column f with column f), "first" (first columns only), "argmax" (indices).
    """
    learned, true = learned.double(), true.double()
    if normalize in (True, "learned"):
        learned = learned / learned.norm(dim=0)
    if normalize in (True, "true"):
        true = true / true.norm(dim=0)
    if normalize == "rows":
        learned, true = learned / learned.norm(dim=1, keepdim=True), true / true.norm(dim=1, keepdim=True)
    if normalize == "matrix":
        learned, true = learned / learned.norm(), true / true.norm()
    cos = true.T @ learned                          # (F, L)
    if absolute:
        cos = cos.abs()
    if square:
        cos = cos ** 2
    best = {"true": lambda: cos.max(1).values, "learned": lambda: cos.max(0).values, "all": lambda: cos.max(),
            "none": lambda: cos, "diagonal": lambda: cos.diagonal(), "first": lambda: cos[0, 0],
            "argmax": lambda: cos.argmax(1).double()}[axis]()
    return {"mean": best.mean, "median": best.median, "sum": best.sum}[reduce]().item()


_MMCS_MISTAKES = [
    (dict(axis="learned"), "you took the maximum over the true directions and averaged over the learned ones; MMCS "
                           "asks, for each TRUE direction, how close the best learned one is: max over the learned "
                           "axis, mean over the true one (extra learned columns must not lower it)."),
    (dict(normalize=False), "the columns are not normalized: a cosine divides the dot product by both lengths "
                            "(normalize each column to length 1 first)."),
    (dict(normalize="learned"), "only the learned columns are normalized; a cosine divides by BOTH lengths: "
                                "normalize the true columns too."),
    (dict(normalize="true"), "only the true columns are normalized; a cosine divides by BOTH lengths: normalize the "
                             "learned columns too."),
    (dict(normalize="rows"), "you normalized the ROWS (norm(dim=1)); each direction is a column: divide each column "
                             "by its length, norm(dim=0)."),
    (dict(normalize="matrix"), "you divided each matrix by its whole (Frobenius) norm; a cosine divides by the length "
                               "of each column: norm(dim=0)."),
    (dict(absolute=True), "you used |cos|; the SAE's features are non-negative, so a column pointing the opposite way "
                          "does not represent the feature: use the signed cosine."),
    (dict(square=True), "you squared the cosines; MMCS uses the signed cosine itself."),
    (dict(axis="argmax"), "you averaged the INDICES of the best learned columns (argmax); average their cosines: "
                          ".max(dim=1).values."),
    (dict(reduce="median"), "you took the median over the true directions; MMCS is their mean."),
    (dict(reduce="sum"), "you summed over the true directions; MMCS is their MEAN (divide by F)."),
    (dict(axis="all"), "you took the single largest cosine of the whole (F, L) matrix; MMCS takes the best learned "
                       "column for EACH true direction, then averages those F maxima."),
    (dict(axis="none"), "you averaged every cosine of the (F, L) matrix; first take, for each true direction, the "
                        "maximum over the learned ones, then average."),
    (dict(axis="diagonal"), "you paired true column f with learned column f; a learned dictionary's order is "
                            "arbitrary: compare each true direction with EVERY learned column and keep the best."),
    (dict(axis="first"), "you compared only the first columns; compare each true direction with every learned column, "
                         "keep the best, and average over the true directions."),
]


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
        On a wrong value, with a hint for each mistake of :data:`_MMCS_MISTAKES`: the maximum over the wrong
        axis; columns unnormalized, normalized on one side only, by rows or by the whole matrix; ``|cos|`` or
        ``cos²``; argmax indices; a median, a sum, one global maximum, the mean of all cosines, the diagonal,
        the first columns only.
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
    first_wrong = None
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
        hint = _name_mistake(got, [(_mmcs_ref(learned, tru, **kwargs), hint) for kwargs, hint in _MMCS_MISTAKES],
                             lambda a, b: np.isclose(a, b, rtol=1e-5, atol=1e-6))
        if hint:
            raise _fail(ex, f"wrong MMCS on {label}: {hint}")
        first_wrong = first_wrong or label
    if first_wrong:
        raise _fail(ex, f"wrong MMCS on {first_wrong}: normalize the columns, take cos = trueᵀ learned (F, L), the "
                        "maximum over learned directions, then the mean over true ones.")
    _praise(ex, "max over learned, mean over true, normalized and signed; MMCS = 1 for a permuted, rescaled copy",
            len(cases))


@_exercise("08", 4, "dead_fraction")
def dead_fraction_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``dead_fraction(codes) -> float``: the fraction of latents that are exactly 0 on every input.

    Expected: ``codes`` ``(N, L)`` float (non-negative SAE activations); a latent is dead when every one
    of its ``N`` values is 0 — any non-zero value, however small, makes it alive. Returns a number in
    ``[0, 1]`` (float, NumPy scalar or 0-d tensor).

    Inputs: random sparse codes with some columns zeroed and exactly three all-zero rows, codes whose
    only activity is ``1e-8``, a code with no dead latent, float32 and float64.

    Raises
    ------
    CheckFailed
        On a wrong value, with a hint for: a threshold instead of exact zero, the fraction of zero
        entries instead of zero columns, the alive fraction, rows instead of columns, the count instead of
        the fraction, a division by N, a percentage, an integer division, zero on any input instead of
        every input, one ``all()`` over the whole matrix, the per-latent mask or one value per latent.
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

    def zero_rows(z):
        alive = (z != 0).any(0).nonzero()[0, 0]
        z[(z == 0).all(1), alive] = 0.25     # no input is silent by chance …
        z[1:4] = 0                           # … but exactly three are: 3 dead rows, never the answer's count
        return z

    tiny = sparse(20, 12, 0)               # 12 latents: 5 or 8 dead of 12 is no count of dead rows out of 20
    tiny[:, 4:] = 0
    tiny[5, 4:7] = 1e-8                    # alive, barely
    cases = [("random sparse codes, N=40, L=16, 5 dead, 3 inputs with no active latent", zero_rows(sparse(40, 16, 5))),
             ("float64, N=30, L=12, 7 dead, 3 inputs with no active latent",
              zero_rows(sparse(30, 12, 7, torch.float64))),
             ("codes where 3 latents are active only at 1e-8 (alive) and 5 are 0", tiny),
             ("a code with no dead latent, N=10, L=25", sparse(10, 25, 0))]
    rows_hint = "you looked at rows (inputs); latents are the columns: reduce over dim=0."
    wrong = [(lambda z: (z.abs() <= 1e-6).all(0).double().mean(),
              "you used a threshold: a latent with any non-zero value is alive (SAELens and Gao et al. count f > 0); "
              "compare with exactly 0."),
             (lambda z: (z == 0).double().mean(),
              "you counted zero ENTRIES; a dead latent is a COLUMN that is 0 on every input: (codes == 0).all(dim=0)."),
             (lambda z: 1 - (z == 0).all(0).double().mean(), "you returned the fraction of ALIVE latents."),
             (lambda z: (z == 0).all(1).double().mean(), rows_hint),
             (lambda z: (z == 0).all(1).double().sum() / z.shape[1], rows_hint),
             (lambda z: (z == 0).all(0).double().sum(),
              "you returned the NUMBER of dead latents; divide by the number of latents L (codes.shape[1])."),
             (lambda z: (z == 0).all(0).double().sum() / z.shape[0],
              "you divided by the number of inputs N (codes.shape[0]); the fraction is over the L latents "
              "(codes.shape[1])."),
             (lambda z: 100 * (z == 0).all(0).double().mean(),
              "you returned a percentage; return a fraction in [0, 1]."),
             (lambda z: (z == 0).any(0).double().mean(),
              "you counted latents that are 0 on ANY input; a latent is dead when it is 0 on EVERY input: "
              "(codes == 0).all(dim=0)."),
             (lambda z: torch.tensor(float((z == 0).all())),
              "you reduced the whole matrix at once ((codes == 0).all() without dim); reduce over the inputs only, "
              "all(dim=0), one verdict per latent, then average.")]
    first_wrong = None
    for label, z in cases:
        saved = z.clone()
        with _forbidden(_metric_shortcuts("dead_fraction", "dead_latents"), "Count the dead columns yourself."):
            out = call(z, case=label)
        _unchanged(ex, saved, z, "codes", label)
        dead = (z == 0).all(0)
        if isinstance(out, (torch.Tensor, np.ndarray)) and tuple(out.shape) == tuple(dead.shape):
            values = torch.as_tensor(np.asarray(out) if isinstance(out, np.ndarray) else out.detach())
            if torch.equal(values.bool(), dead) and bool(((values == 0) | (values == 1)).all()):
                raise _fail(ex, f"on {label} you returned the per-latent dead MASK, shape {tuple(dead.shape)}; "
                                "dead_fraction is one number: the mean of that mask (.float().mean()).")
            raise _fail(ex, f"on {label} you returned one value per latent, shape {tuple(dead.shape)}; "
                            "dead_fraction is ONE number: the fraction of latents (columns) that are exactly 0 on "
                            "every input.")
        is_int = isinstance(out, (numbers.Integral, np.integer)) and not isinstance(out, (bool, np.bool_)) or \
            isinstance(out, torch.Tensor) and not out.is_floating_point() and out.dtype != torch.bool \
            or isinstance(out, np.ndarray) and np.issubdtype(out.dtype, np.integer)
        if isinstance(out, torch.Tensor) and out.numel() == 1 or isinstance(out, np.ndarray) and out.size == 1:
            out = out.item()
        if isinstance(out, (bool, np.bool_)) or not isinstance(out, numbers.Real):
            raise _fail(ex, f"dead_fraction must return one number, got {type(out).__name__} on {label}.")
        got = float(out)
        ref = dead.double().mean().item()
        if np.isclose(got, ref, atol=1e-9):
            continue
        if is_int and got == int(dead.sum()) // z.shape[1]:
            raise _fail(ex, f"wrong fraction on {label}: you returned an integer, {int(got)}; an integer division "
                            "(//, or int(...) before dividing) rounds the fraction down: divide with / in floats.")
        hint = _name_mistake(got, [(fn(z).item(), hint) for fn, hint in wrong],
                             lambda a, b: np.isclose(a, b, atol=1e-9))
        if hint:
            raise _fail(ex, f"wrong fraction on {label}: {hint}")
        first_wrong = first_wrong or label
    if first_wrong:
        raise _fail(ex, f"wrong fraction on {first_wrong}: count the latents (columns) that are exactly 0 on every "
                        "input and divide by the number of latents.")
    _praise(ex, "exactly-zero columns counted, tiny activity alive, over latents", len(cases))
