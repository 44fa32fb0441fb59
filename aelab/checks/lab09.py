"""Lab 09's self-checks (masked and vector-quantized autoencoders), re-exported by :mod:`aelab.checks`.

:func:`patchify_check`, :func:`random_masking_check`, :func:`masked_patch_loss_check` and
:func:`vector_quantize_check`. What a check does on success, a wrong answer or an unfinished exercise is
described in :mod:`aelab.checks._machinery`; the notebooks call them as ``aelab.checks.<name>(...)``.

The definitions are those of He et al. (2021), "Masked Autoencoders Are Scalable Vision Learners", as
written in ``facebookresearch/mae`` (``models_mae.py``: ``patchify`` orders each patch vector
``(p, q, c)``, ``random_masking`` draws per-image noise and keeps ``int(L * (1 - mask_ratio))`` patches,
``forward_loss`` averages the per-patch MSE over the masked patches only), and of van den Oord et al.
(2017), "Neural Discrete Representation Learning", eq. 1-3 (nearest code by squared Euclidean distance;
straight-through gradient ``z + sg[e - z]``). The package has each function
(:mod:`aelab.models.mae`, :mod:`aelab.models.vqvae`): each check forbids the package's version while the
student's function runs (docs/architecture.md, "Lab checks").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import torch

from ._machinery import (_exercise, _fail, _finite, _forbidden, _gen, _global_rng, _praise, _shape, _student, _tensor,
                         _unchanged)
from ._shortcuts import imported_shortcut, package_targets

__all__ = ["patchify_check", "random_masking_check", "masked_patch_loss_check", "vector_quantize_check"]

#: Where the package keeps the lab's answers (``aelab.models`` may re-export them): the modules the checks
#: search for the forbidden functions. A module that does not exist (yet) has nothing to forbid.
_MAE_MODULES = ("models.mae", "models", "losses")
_VQ_MODULES = ("models.vqvae", "models")


def _existing(modules: tuple[str, ...]) -> tuple[str, ...]:
    """The labels of ``modules`` (``"models.mae"`` for ``aelab.models.mae``) that can be imported."""
    found = []
    for label in modules:
        try:
            importlib.import_module(f"aelab.{label}")
        except ModuleNotFoundError as exc:
            if exc.name != f"aelab.{label}":
                raise
            continue
        found.append(label)
    return tuple(found)


def _guard(ex, fns: tuple[Callable, ...], names: tuple[str, ...], modules: tuple[str, ...], reason: str):
    """Reject a function that imported one of the package's ``names``; return the targets to patch while it runs."""
    modules = _existing(modules)
    for fn in fns:
        imported_shortcut(ex, fn, names, reason, modules=modules)
    return package_targets(names, modules=modules)


# --------------------------------------------------------------------------- exercise 1: patchify / unpatchify
def _patchify_ref(x: torch.Tensor, p: int, order: str = "nhwpqc") -> torch.Tensor:
    """``(N, C, H, W)`` -> ``(N, L, P)`` with the grid and patch-vector order given as einsum output letters.

    ``"nhwpqc"`` is MAE's (row-major grid, each patch vector (row in patch, column in patch, channel));
    the other orders are the wrong answers the check recognizes.
    """
    n, c, hh, ww = x.shape
    h, w = hh // p, ww // p
    y = torch.einsum(f"nchpwq->{order}", x.reshape(n, c, h, p, w, p))
    return y.reshape(n, h * w, p * p * c)


def _patchify_variants(x: torch.Tensor, p: int) -> list[tuple[torch.Tensor, str]]:
    """The patchify results of plausible mistakes, each with its hint."""
    n, c, hh, ww = x.shape
    channel_last_input = x.reshape(n, hh, ww, c).permute(0, 3, 1, 2)   # (N, C, H, W) memory read as (N, H, W, C)
    return [
        (_patchify_ref(x, p, "nwhpqc"),
         "your patches are in column-major (transposed) order: patch l must be grid row l // (W/p), grid column "
         "l % (W/p) — row by row, left to right, as in reading (einsum 'nchpwq->nhwpqc', h before w)."),
        (_patchify_ref(x, p, "nhwqpc"),
         "the pixels inside each patch are transposed: each patch vector lists the patch row by row (p, then q, "
         "then c: einsum 'nchpwq->nhwpqc')."),
        (_patchify_ref(x, p, "nwhqpc"),
         "you patchified the transposed image (H and W swapped): the grid must be row-major and each patch read "
         "row by row (einsum 'nchpwq->nhwpqc')."),
        (_patchify_ref(x, p, "nhwcpq"),
         "each patch vector is ordered channel first (c, p, q); MAE orders it channel LAST (p, q, c), so that a "
         "patch vector of an RGB image is [r, g, b, r, g, b, ...] (einsum 'nchpwq->nhwpqc')."),
        (_patchify_ref(channel_last_input, p),
         "your function treats the input as channel-last (N, H, W, C); images here are channel-first "
         "(N, C, H, W): reshape to (N, C, H/p, p, W/p, p), not (N, H/p, p, W/p, p, C) (it only shows with C > 1)."),
        (x.reshape(n, (hh // p) * (ww // p), p * p * c),
         "a reshape alone cuts the image into strips of consecutive pixels, not p×p squares: reshape to "
         "(N, C, H/p, p, W/p, p), reorder the axes (permute or einsum), then flatten."),
    ]


def _close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-6) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-5, atol=atol)


@_exercise("09", 1, "patchify, unpatchify")
def patchify_check(patchify: Callable, unpatchify: Callable, *, seed: int = 0) -> None:
    """Check ``patchify(images, p) -> (N, L, p*p*C)`` and ``unpatchify(patches, p, channels) -> (N, C, H, W)``.

    Expected: ``images`` ``(N, C, H, W)`` with ``H`` and ``W`` divisible by ``p``; the ``L = (H/p)(W/p)``
    patches in row-major order over the grid (patch ``l`` is grid row ``l // (W/p)``, column ``l % (W/p)``),
    each flattened in the order (row in patch, column in patch, channel) — MAE's
    ``einsum('nchpwq->nhwpqc')``; values copied exactly (any float dtype). ``unpatchify`` is its exact
    inverse for a square grid of patches with ``channels`` channels. Neither changes its input.

    Inputs: random (not image-like, every value distinct) batches: MNIST-sized ``(4, 1, 28, 28)`` with
    ``p = 7``, three-channel ``(3, 3, 12, 12)`` with ``p = 4``, a non-square ``(2, 3, 8, 12)`` with ``p = 4``
    (patchify only), float64 ``(2, 2, 6, 6)`` with ``p = 3``, and one patch per image ``(2, 3, 8, 8)``
    with ``p = 8``. ``aelab.models.mae.patchify`` and ``unpatchify`` raise while the functions run.

    Raises
    ------
    CheckFailed
        On a wrong shape or value, with a hint for: patches in transposed (column-major) order, pixels
        transposed inside each patch, the transposed image, channel-first patch vectors, a channel-last
        reading of the input, a plain reshape; for ``unpatchify``, the inverse of each of these.
    ExerciseNotDone
        If either function raises ``NotImplementedError``.
    """
    ex = patchify_check.exercise
    reason = "Reshape and permute (or einsum) yourself; aelab.models.mae's versions are disabled during the check."
    targets = _guard(ex, (patchify, unpatchify), ("patchify", "unpatchify"), _MAE_MODULES, reason)
    patch_call = _student(ex, patchify, "patchify")
    unpatch_call = _student(ex, unpatchify, "unpatchify")
    g = _gen(ex, seed)
    cases = [("MNIST-sized images (N=4, C=1, 28×28, p=7)", torch.rand(4, 1, 28, 28, generator=g), 7, True),
             ("three-channel images (N=3, C=3, 12×12, p=4)", torch.rand(3, 3, 12, 12, generator=g), 4, True),
             ("non-square three-channel images (N=2, C=3, H=8, W=12, p=4: a 2×3 grid)",
              torch.rand(2, 3, 8, 12, generator=g), 4, False),
             ("float64 two-channel images (N=2, C=2, 6×6, p=3)", torch.rand(2, 2, 6, 6, generator=g, dtype=torch.float64),
              3, True),
             ("one patch per image (N=2, C=3, 8×8, p=8)", torch.rand(2, 3, 8, 8, generator=g), 8, True)]
    for label, x, p, square in cases:
        n, c, hh, ww = x.shape
        shape = (n, (hh // p) * (ww // p), p * p * c)
        before = x.clone()
        with _forbidden(targets, reason):
            out = patch_call(x, p, case=label)
        out = _tensor(ex, out, "patchify's result", label)
        _unchanged(ex, before, x, "images", label)
        _shape(ex, out, shape, "patchify's result", label, "(N, L, P): L = (H/p)·(W/p) patches of P = p·p·C values.")
        ref = _patchify_ref(x, p)
        if not _close(out, ref):
            for variant, hint in _patchify_variants(x, p):
                if _close(out, variant):
                    raise _fail(ex, f"patchify is wrong on {label}: {hint}")
            raise _fail(ex, f"patchify is wrong on {label}: patch l must hold grid row l // (W/p), column l % (W/p), "
                            "its pixels listed row by row with the channels last (p, q, c).")
        if not square:
            continue
        patches = ref.to(x.dtype)
        saved = patches.clone()
        with _forbidden(targets, reason):
            back = unpatch_call(patches, p, c, case=label)
        back = _tensor(ex, back, "unpatchify's result", label)
        _unchanged(ex, saved, patches, "patches", label)
        if tuple(back.shape) == (n, hh, ww, c):
            raise _fail(ex, f"unpatchify returns channel-last images (N, H, W, C) on {label}; return (N, C, H, W) "
                            "(permute the channel axis to position 1).")
        _shape(ex, back, x.shape, "unpatchify's result", label, "(N, C, H, W) with H = W = p·sqrt(L).")
        if _close(back, x):
            continue
        for variant, hint in _patchify_variants(back, p):
            if _close(variant, patches):
                raise _fail(ex, f"unpatchify is not the inverse of patchify on {label}: it undoes the mistake where {hint}")
        raise _fail(ex, f"unpatchify is not the inverse of patchify on {label}: unpatchify(patchify(x)) must give x "
                        "back exactly — reshape to (N, h, w, p, p, C), reorder to (N, C, h, p, w, p), then merge.")
    _praise(ex, "row-major grid, (p, q, c) patch vectors, non-square and three-channel images; "
                "unpatchify(patchify(x)) == x", len(cases))


# --------------------------------------------------------------------------- exercise 2: random masking
def _unpack(ex, out, n_items: int, what: str, names: str, label: str) -> tuple:
    if not isinstance(out, (tuple, list)) or len(out) != n_items:
        got = f"a {type(out).__name__}" + (f" of {len(out)}" if isinstance(out, (tuple, list)) else "")
        raise _fail(ex, f"{what} must return a tuple of {n_items} ({names}), got {got} on {label}.")
    return tuple(out)


def _index_tensor(ex, t, what: str, label: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise _fail(ex, f"{what} must be a torch.Tensor, got {type(t).__name__} on {label}.")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise _fail(ex, f"{what} must hold integer indices (int64, as torch.argsort returns), got {t.dtype} on "
                        f"{label}.")
    return t.long()


def _kept_ids(ex, tokens: torch.Tensor, visible: torch.Tensor, label: str) -> torch.Tensor:
    """(N, K) the index in ``tokens[n]`` of each ``visible[n, j]`` (tokens are distinct random vectors)."""
    dist = (visible.double()[:, :, None, :] - tokens.double()[:, None, :, :]).abs().amax(-1)   # (N, K, L)
    best, ids = dist.min(-1)
    if (best > 1e-5).any():
        rows = (best > 1e-5).any(1).nonzero().flatten()[:8]              # a few of the rows that did not match
        others = (visible.double()[rows, :, None, None, :] - tokens.double()[None, None]).abs().amax(-1)  # (8,K,N,L)
        if (others.flatten(2).min(-1).values <= 1e-5).any():
            raise _fail(ex, f"on {label} `visible[n]` holds patches of another image: gather each image's own "
                            "patches along dim=1 (torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, D))).")
        raise _fail(ex, f"on {label} `visible` holds vectors that are not patches of the input: copy the kept tokens "
                        "unchanged (torch.gather along dim=1), do not zero, scale or mix them.")
    return ids


def _masking_case(ex, call, tokens, ratio, label, generator=None) -> tuple:
    """Run the student's function on one input and check everything about one call; return (mask, ids_keep)."""
    n, length, d = tokens.shape
    keep = int(length * (1 - ratio))
    before = tokens.clone()
    kwargs = {} if generator is None else {"generator": generator}
    out = call(tokens, ratio, case=label, **kwargs)
    visible, mask, ids_restore = _unpack(ex, out, 3, "random_masking", "visible, mask, ids_restore", label)
    _unchanged(ex, before, tokens, "tokens", label)
    visible = _tensor(ex, visible, "visible", label)
    if visible.dim() == 3 and visible.shape[0] == n and visible.shape[2] == d and visible.shape[1] != keep:
        off = visible.shape[1] - keep
        if abs(off) == 1:
            raise _fail(ex, f"on {label} you keep {visible.shape[1]} of {length} patches at mask_ratio={ratio}; "
                            f"keep len_keep = int(L * (1 - mask_ratio)) = {keep} (rounded down as in MAE — "
                            f"L - int(L * mask_ratio), round() or ceil() keep one {'more' if off > 0 else 'less'}).")
        raise _fail(ex, f"on {label} you keep {visible.shape[1]} of {length} patches at mask_ratio={ratio}; "
                        f"mask_ratio is the fraction REMOVED: keep int(L * (1 - mask_ratio)) = {keep}.")
    _shape(ex, visible, (n, keep, d), "visible", label, "(N, len_keep, D): the kept tokens of each image.")
    if not isinstance(mask, torch.Tensor):
        raise _fail(ex, f"mask must be a torch.Tensor, got {type(mask).__name__} on {label}.")
    _shape(ex, mask, (n, length), "mask", label, "(N, L): one 0/1 flag per patch, in the original patch order.")
    ids_restore = _index_tensor(ex, ids_restore, "ids_restore", label)
    _shape(ex, ids_restore, (n, length), "ids_restore", label, "(N, L): one index per patch.")
    ids_keep = _kept_ids(ex, tokens, visible, label)
    for row in ids_keep:
        if len(set(row.tolist())) < keep:
            raise _fail(ex, f"on {label} the same patch is kept twice in one image: draw the kept patches without "
                            "replacement — argsort random noise of shape (N, L) along dim=1 (torch.randint can repeat).")
    expected = torch.ones(n, length, dtype=torch.float64).scatter(1, ids_keep, 0.0)
    m = mask.double()
    if not ((m == 0) | (m == 1)).all():
        raise _fail(ex, f"on {label} mask holds values other than 0 and 1: 1 = masked (removed), 0 = visible.")
    if not torch.equal(m, expected):
        if torch.equal(m, 1 - expected):
            raise _fail(ex, f"on {label} your mask is inverted: 1 marks a MASKED (removed) patch, 0 a visible one.")
        shuffled = torch.ones(n, length, dtype=torch.float64)
        shuffled[:, :keep] = 0
        if torch.equal(m, shuffled) and not torch.equal(expected, shuffled):
            raise _fail(ex, f"on {label} your mask is in the SHUFFLED order (0s first, then 1s); put it back in the "
                            "original patch order: mask = torch.gather(mask, 1, ids_restore).")
        raise _fail(ex, f"on {label} the mask does not mark the removed patches: mask[n, i] must be 0 exactly when "
                        "patch i of image n is among the visible tokens, 1 otherwise, in the original patch order.")
    sorted_ids = ids_restore.sort(dim=1).values
    if not torch.equal(sorted_ids, torch.arange(length).expand(n, length)):
        raise _fail(ex, f"on {label} a row of ids_restore is not a permutation of 0..L-1: take argsort along dim=1 "
                        "(each image's own order).")
    restored_at_kept = ids_restore.gather(1, ids_keep)                    # must be 0, 1, ..., K-1
    if not torch.equal(restored_at_kept, torch.arange(keep).expand(n, keep)):
        if keep < length and torch.equal(ids_restore[:, :keep], ids_keep):
            raise _fail(ex, f"on {label} ids_restore is the shuffle itself (ids_shuffle), not its inverse: "
                            "ids_restore = torch.argsort(ids_shuffle, dim=1), so that gathering "
                            "cat([visible, mask_tokens], 1) with it puts every patch back at its place.")
        raise _fail(ex, f"on {label} ids_restore is not the inverse of your shuffle: "
                        "torch.gather(cat([visible, mask_tokens], 1), 1, ids_restore) must put visible[n, j] back at "
                        "its original position (ids_restore = argsort(ids_shuffle, dim=1)).")
    return m, ids_keep


@_exercise("09", 2, "random_masking")
def random_masking_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``random_masking(tokens, mask_ratio, generator=None) -> (visible, mask, ids_restore)``.

    Expected (MAE's ``random_masking``): ``tokens`` ``(N, L, D)``; each image gets its own random subset
    of ``len_keep = int(L * (1 - mask_ratio))`` patches, drawn with ``generator`` (the same generator
    state gives the same masks); ``visible`` ``(N, len_keep, D)`` holds the kept tokens (in any order);
    ``mask`` ``(N, L)`` is 1 for a removed patch and 0 for a kept one, in the ORIGINAL patch order (any
    dtype holding 0/1); ``ids_restore`` ``(N, L)`` integer is the inverse permutation: gathering
    ``cat([visible, mask_tokens], 1)`` with it puts each visible token back at its place (any order among
    the masked positions). ``tokens`` is not changed.

    Inputs: distinct random tokens; ``(8, 16, 5)`` at 0.75, float64 ``(6, 16, 3)`` at 0.3 (11.2 patches
    kept: 11), ``(5, 49, 2)`` at 0.75 (12.25: 12), ``(4, 10, 3)`` at 0.25 (7.5: 7), ``(3, 9, 4)`` at 0,
    one image ``(1, 16, 2)`` at 0.5; the same generator twice and two different ones; 800 images at
    0.75 for the frequency with which each position is masked (0.75 ± 0.1). Run under a seeded global
    RNG (:func:`aelab.checks._machinery._global_rng`). ``aelab.models.mae.random_masking`` raises.

    Raises
    ------
    CheckFailed
        With a hint for: the same mask for the whole batch, a mask that is not random, kept/masked counts
        off by one (or ``mask_ratio`` read as the kept fraction), ``ids_restore`` not the inverse
        permutation (or the shuffle itself), patches kept twice, patches of another image, an inverted
        mask, a mask in shuffled order, ``generator`` ignored, a non-uniform (e.g. block) choice of patches.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = random_masking_check.exercise
    reason = ("Draw the noise and argsort it yourself; aelab.models.mae.random_masking is disabled during the check.")
    targets = _guard(ex, (student_fn,), ("random_masking",), _MAE_MODULES, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    tok = lambda *s, dtype=torch.float32: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    cases = [("tokens (N=8, L=16, D=5), mask_ratio=0.75 (4 kept)", tok(8, 16, 5), 0.75),
             ("float64 tokens (N=6, L=16, D=3), mask_ratio=0.3 (16·0.7 = 11.2: 11 kept)",
              tok(6, 16, 3, dtype=torch.float64), 0.3),
             ("tokens (N=5, L=49, D=2), mask_ratio=0.75 (49·0.25 = 12.25: 12 kept)", tok(5, 49, 2), 0.75),
             ("tokens (N=4, L=10, D=3), mask_ratio=0.25 (10·0.75 = 7.5: 7 kept)", tok(4, 10, 3), 0.25),
             ("tokens (N=3, L=9, D=4), mask_ratio=0 (nothing masked)", tok(3, 9, 4), 0.0),
             ("one image (N=1, L=16, D=2), mask_ratio=0.5", tok(1, 16, 2), 0.5)]
    with _global_rng(ex, seed), _forbidden(targets, reason):
        for label, tokens, ratio in cases:
            m, _ = _masking_case(ex, call, tokens, ratio, label,
                                 generator=torch.Generator().manual_seed(int(torch.randint(2**31, (1,), generator=g))))
            n = len(tokens)
            if n > 1 and 0 < ratio and (m == m[0]).all():
                # a second call with another generator: the same masks again means no randomness at all
                other = torch.Generator().manual_seed(int(torch.randint(2**31, (1,), generator=g)))
                m2, _ = _masking_case(ex, call, tokens, ratio, label + " (a second generator)", generator=other)
                if torch.equal(m2, m):
                    raise _fail(ex, f"on {label} your mask is not random: every image, on every call, masks the same "
                                    "patches. Draw noise = torch.rand(N, L, generator=generator) and argsort it.")
                if (m2 == m2[0]).all():   # twice all alike: not a coincidence of a few possible masks
                    raise _fail(ex, f"on {label} every image in the batch got the SAME mask; each image needs its own: "
                                    "draw noise of shape (N, L), not (L,) shared by the batch, and argsort along dim=1.")
        # the generator decides the masks: the same state twice gives the same masks, two states different ones
        tokens, ratio = tok(8, 16, 4), 0.75
        label = "tokens (N=8, L=16, D=4), mask_ratio=0.75, called twice with generators seeded alike"
        s = int(torch.randint(2**31, (1,), generator=g))
        m1, k1 = _masking_case(ex, call, tokens, ratio, label, generator=torch.Generator().manual_seed(s))
        m2, k2 = _masking_case(ex, call, tokens, ratio, label, generator=torch.Generator().manual_seed(s))
        if not torch.equal(m1, m2):
            raise _fail(ex, f"on {label} the masks differ: your function ignores `generator`. Draw the noise with it "
                            "(torch.rand(N, L, generator=generator)), so that a seeded generator reproduces the mask.")
        label = "tokens (N=8, L=16, D=4), mask_ratio=0.75, called with two differently seeded generators"
        m3, _ = _masking_case(ex, call, tokens, ratio, label, generator=torch.Generator().manual_seed(s + 1))
        if torch.equal(m1, m3):
            raise _fail(ex, f"on {label} the masks are identical: does your function reseed torch (torch.manual_seed) "
                            "or use a fixed generator of its own? Draw from the `generator` it is given.")
        _masking_case(ex, call, tokens, ratio, "tokens (N=8, L=16, D=4), mask_ratio=0.75, generator=None")
        # every subset equally likely: each position masked with frequency mask_ratio
        tokens = tok(800, 16, 2)
        label = "800 images (L=16, D=2) at mask_ratio=0.75"
        m, _ = _masking_case(ex, call, tokens, 0.75, label,
                             generator=torch.Generator().manual_seed(int(torch.randint(2**31, (1,), generator=g))))
        freq = m.mean(0)
        if (freq - 0.75).abs().max() > 0.1:   # SD of a frequency over 800 images: 0.015; 0.1 is 6.5 SDs
            raise _fail(ex, f"on {label} some positions are masked far more often than others (from "
                            f"{freq.min():.2f} to {freq.max():.2f} of the images, expected 0.75 for each): every "
                            "subset of patches must be equally likely — argsort uniform noise, do not mask a block.")
    _praise(ex, "own random mask per image, int(L·(1 − ratio)) kept, mask in patch order, ids_restore the inverse "
                "permutation, reproducible with a generator", len(cases) + 5)


# --------------------------------------------------------------------------- exercise 3: masked-patch loss
def _loss_variants(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    pred, target, m = pred.double(), target.double(), mask.double()
    sq = (pred - target) ** 2
    per_patch = sq.mean(-1)

    def masked_mean(v):
        return (v * m).sum() / m.sum()

    def norm_pix(unbiased: bool):
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True, unbiased=unbiased)
        return masked_mean(((pred - (target - mean) / (var + 1e-6) ** 0.5) ** 2).mean(-1))

    return [
        (per_patch.mean(), "you averaged over ALL patches; the loss is on the masked patches only "
                           "(sum(per_patch * mask) / sum(mask)) — the visible ones are trivial to copy."),
        ((per_patch * (1 - m)).sum() / (1 - m).sum(),
         "you averaged over the VISIBLE patches (mask = 0); mask = 1 marks the masked patches, the ones to predict."),
        (masked_mean(sq.sum(-1)), "you summed the squared error over a patch's P values; MAE's per-patch loss is "
                                  "their MEAN (.mean(dim=-1)), then the mean over masked patches."),
        ((per_patch * m).sum() / m.numel(), "you divided by the number of ALL patches (N·L); divide by the number "
                                            "of masked ones, mask.sum()."),
        ((per_patch * m).sum(), "you summed over the masked patches; average them: divide by mask.sum()."),
        (masked_mean((pred - target).abs().mean(-1)), "you used the absolute error; the loss is the squared error."),
        (masked_mean(per_patch).sqrt(), "you took a square root; the loss is the mean squared error, not its root."),
        (norm_pix(True), "you normalized each target patch by its mean and variance (MAE's norm_pix_loss option); "
                         "here the target is the raw pixels."),
        (norm_pix(False), "you normalized each target patch by its mean and variance (MAE's norm_pix_loss option); "
                          "here the target is the raw pixels."),
    ]


def _random_mask(n: int, length: int, ratio: float, g: torch.Generator) -> torch.Tensor:
    keep = int(length * (1 - ratio))
    ids = torch.rand(n, length, generator=g).argsort(1)[:, :keep]
    return torch.ones(n, length).scatter(1, ids, 0.0)


@_exercise("09", 3, "masked_patch_loss")
def masked_patch_loss_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``masked_patch_loss(pred, target, mask) -> 0-d tensor``: the per-patch MSE averaged over masked patches.

    Expected (MAE's ``forward_loss`` without ``norm_pix_loss``): ``pred``, ``target`` ``(N, L, P)``,
    ``mask`` ``(N, L)`` float, 1 = masked; ``per_patch = ((pred - target) ** 2).mean(-1)`` and the loss
    ``(per_patch * mask).sum() / mask.sum()``, a tensor that carries the gradient to ``pred`` (relative
    tolerance 1e-5 on the value and on ``pred``'s gradient against a float64 reference). Every image has
    the same number of masked patches (as ``random_masking`` gives), so averaging per image first is fine.

    Inputs: ``(8, 16, 49)`` at 75 % masking, float64 ``(4, 16, 12)`` at 50 %, ``(6, 49, 16)`` at 25 %, one
    image ``(1, 16, 3)`` at 75 %; predictions whose errors differ between masked and visible patches.
    ``aelab.models.mae.masked_patch_loss`` raises while the function runs.

    Raises
    ------
    CheckFailed
        With a hint for: the mean over all patches, over the visible patches, a sum over the patch's
        values, division by all patches, no division, absolute error, a square root, normalized targets
        (``norm_pix_loss``), a loss that does not carry the gradient (``.item()``, NumPy) or not one number.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = masked_patch_loss_check.exercise
    reason = "Write the masked mean yourself; aelab.models.mae.masked_patch_loss is disabled during the check."
    targets = _guard(ex, (student_fn,), ("masked_patch_loss",), _MAE_MODULES, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)

    def inputs(n, length, p, ratio, dtype=torch.float32):
        target = torch.rand(n, length, p, generator=g, dtype=torch.float64)
        mask = _random_mask(n, length, ratio, g).double()
        # masked patches predicted worse than visible ones: every wrong average differs from the right one
        noise = torch.randn(n, length, p, generator=g, dtype=torch.float64) * (0.2 + 0.6 * mask[..., None])
        return (target + noise + 0.1).to(dtype), target.to(dtype), mask.to(dtype)

    cases = [("pred, target (N=8, L=16, P=49), 75 % masked", inputs(8, 16, 49, 0.75)),
             ("float64 pred, target (N=4, L=16, P=12), 50 % masked", inputs(4, 16, 12, 0.5, torch.float64)),
             ("pred, target (N=6, L=49, P=16), 25 % masked", inputs(6, 49, 16, 0.25)),
             ("one image (N=1, L=16, P=3), 75 % masked", inputs(1, 16, 3, 0.75))]
    for label, (pred, target, mask) in cases:
        pred = pred.clone().requires_grad_(True)
        saved = (pred.detach().clone(), target.clone(), mask.clone())
        with _forbidden(targets, reason):
            out = call(pred, target, mask, case=label)
        for name, before, after in zip(("pred", "target", "mask"), saved, (pred.detach(), target, mask)):
            _unchanged(ex, before, after, name, label)
        if not isinstance(out, torch.Tensor):
            raise _fail(ex, f"masked_patch_loss must return a torch tensor that carries the gradient to pred (the "
                            f"model is trained with it), got {type(out).__name__} on {label}: no .item(), no NumPy.")
        if out.numel() != 1:
            raise _fail(ex, f"masked_patch_loss must return one number (a 0-d tensor), got shape {tuple(out.shape)} "
                            f"on {label}: average over the masked patches of all images.")
        _finite(ex, out, "the loss", label)
        pd, td, md = pred.detach().double(), target.double(), mask.double()
        ref = (((pd - td) ** 2).mean(-1) * md).sum() / md.sum()
        got = out.detach().double().reshape(())
        if not torch.isclose(got, ref, rtol=1e-5, atol=1e-8):
            for value, hint in _loss_variants(pd, td, md):
                if torch.isclose(got, value, rtol=1e-5, atol=1e-8):
                    raise _fail(ex, f"wrong loss on {label}: {hint}")
            raise _fail(ex, f"wrong loss on {label}: the mean over masked patches (mask = 1) of each patch's mean "
                            "squared error: (((pred - target) ** 2).mean(-1) * mask).sum() / mask.sum().")
        if not out.requires_grad:
            raise _fail(ex, f"on {label} your loss does not carry the gradient to pred (detached, .item() or NumPy "
                            "inside): compute it with torch operations on pred, the model is trained with it.")
        grad, = torch.autograd.grad(out.reshape(()), pred)
        ref_grad = 2 * (pd - td) * md[..., None] / (pd.shape[-1] * md.sum())
        if not torch.allclose(grad.double(), ref_grad, rtol=1e-5, atol=1e-9):
            raise _fail(ex, f"on {label} the loss has the right value but the wrong gradient with respect to pred: "
                            "compute it from pred with differentiable operations (no detach, no in-place tricks).")
    _praise(ex, "per-patch mean squared error, averaged over the masked patches only, with its gradient", len(cases))


# --------------------------------------------------------------------------- exercise 4: vector quantization
def _vq_inputs(g: torch.Generator, shape: tuple, k: int, dtype=torch.float32, *, far: bool = False):
    """``z`` of ``shape`` (channel-last) and a ``(k, D)`` codebook with code lengths from 0.3 to 3 and a clear nearest code."""
    d = shape[-1]
    codebook = torch.randn(k, d, generator=g, dtype=torch.float64)
    codebook = codebook / codebook.norm(dim=1, keepdim=True) * (0.3 + 2.7 * torch.rand(k, 1, generator=g, dtype=torch.float64))
    if far:
        codebook[-1] = 25.0   # a code far from every z: never the nearest, always the farthest
    z = torch.randn(*shape, generator=g, dtype=torch.float64) * 1.5
    flat = z.reshape(-1, d)
    dist = torch.cdist(flat, codebook) ** 2
    two = dist.topk(2, dim=1, largest=False).values
    unclear = (two[:, 1] - two[:, 0]) < 0.05       # a near tie: move z next to its nearest code
    flat[unclear] = codebook[dist[unclear].argmin(1)] + 0.01 * torch.randn(int(unclear.sum()), d, generator=g,
                                                                             dtype=torch.float64)
    return flat.reshape(shape).to(dtype), codebook.to(dtype)


def _vq_variants(z: torch.Tensor, codebook: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    z, e = z.double().reshape(-1, z.shape[-1]), codebook.double()
    dist = torch.cdist(z, e) ** 2
    return [
        (dist.argmax(1), "you took the argmax of the distance, the FARTHEST code; the nearest code is the argmin."),
        ((z @ e.T).argmax(1), "you picked the code with the largest dot product z·e; that is the nearest code only "
                              "when every code has the same length. Use the squared distance "
                              "‖z‖² − 2 z·e + ‖e‖² (or torch.cdist) and its argmin."),
        (((z[:, None, :] + e[None]) ** 2).sum(-1).argmin(1),
         "you found the code nearest to −z: the cross term of ‖z − e‖² = ‖z‖² − 2 z·e + ‖e‖² has a minus sign."),
        ((e.norm(dim=1)[None] ** 2 - (z @ e.T)).argmin(1),
         "you dropped the factor 2 of the cross term: ‖z − e‖² = ‖z‖² − 2 z·e + ‖e‖²."),
    ]


@_exercise("09", 4, "vector_quantize")
def vector_quantize_check(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``vector_quantize(z, codebook) -> (quantized, indices)``: nearest code, straight-through gradient.

    Expected (van den Oord et al. 2017, eq. 1-2): ``z`` ``(..., D)`` float (channel-last vectors),
    ``codebook`` ``(K, D)``; ``indices`` ``(...)`` integer, the argmin over codes of ``‖z − e_k‖²``;
    ``quantized`` ``(..., D)`` equal to ``codebook[indices]`` in value, with the straight-through
    gradient ``z + (e − z).detach()``: the gradient with respect to ``z`` is exactly the incoming one
    (identity), and NO gradient reaches the codebook through this path (it is trained by the codebook
    loss). Neither input is changed.

    Inputs: ``z`` ``(40, 4)`` with 12 codes of lengths 0.3 to 3, a grid ``(2, 7, 7, 8)`` with 32 codes,
    float64 ``(30, 3)`` with 6 codes, ``z`` made of codebook vectors themselves, a codebook with one code
    far from every ``z``; no near ties. ``z`` and the codebook require gradients; the check back-propagates
    a random gradient through ``quantized``. ``aelab.models.vqvae.vector_quantize`` raises meanwhile.

    Raises
    ------
    CheckFailed
        With a hint for: argmax instead of argmin, the largest dot product, the code nearest to −z, a
        missing factor 2, no gradient to the encoder (``z``), a gradient to the codebook through the
        straight-through path, a wrong sign in the detached difference, ``z`` returned unchanged, indices
        as floats or flattened.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = vector_quantize_check.exercise
    reason = "Compute the distances and the straight-through output yourself; aelab.models.vqvae.vector_quantize is " \
             "disabled during the check."
    targets = _guard(ex, (student_fn,), ("vector_quantize",), _VQ_MODULES, reason)
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    exact_z, exact_cb = _vq_inputs(g, (20, 5), 10)
    exact_z = exact_cb[torch.randint(0, 10, (20,), generator=g)].clone()
    cases = [("z (40, 4), a codebook of 12 codes of lengths 0.3 to 3", _vq_inputs(g, (40, 4), 12)),
             ("a 7×7 grid of vectors z (2, 7, 7, 8) (channel-last), 32 codes", _vq_inputs(g, (2, 7, 7, 8), 32)),
             ("float64 z (30, 3), 6 codes", _vq_inputs(g, (30, 3), 6, torch.float64)),
             ("z equal to codebook vectors (20, 5), 10 codes", (exact_z, exact_cb)),
             ("z (25, 2), 8 codes, one of them far from every z", _vq_inputs(g, (25, 2), 8, far=True))]
    for label, (z0, cb0) in cases:
        z = z0.clone().requires_grad_(True)
        cb = cb0.clone().requires_grad_(True)
        with _global_rng(ex, seed), _forbidden(targets, reason):
            out = call(z, cb, case=label)
        _unchanged(ex, z0, z.detach(), "z", label)
        _unchanged(ex, cb0, cb.detach(), "codebook", label)
        for name, t in (("z", z), ("codebook", cb)):
            if not t.requires_grad:
                raise _fail(ex, f"your function switched off {name}.requires_grad on {label}: leave the inputs as they "
                                "are (the codebook would stop learning); detach a copy instead, e.g. codebook.detach().")
        quantized, indices = _unpack(ex, out, 2, "vector_quantize", "quantized, indices", label)
        lead = tuple(z0.shape[:-1])
        if not isinstance(indices, torch.Tensor):
            raise _fail(ex, f"indices must be a torch.Tensor, got {type(indices).__name__} on {label}.")
        if indices.is_floating_point():
            raise _fail(ex, f"indices must be integers (argmin returns int64), got {indices.dtype} on {label}.")
        if tuple(indices.shape) != lead and indices.numel() == int(np.prod(lead)):
            raise _fail(ex, f"indices should have shape {lead} (z's shape without the last axis), yours has "
                            f"{tuple(indices.shape)} on {label}: reshape them back to z.shape[:-1].")
        _shape(ex, indices, lead, "indices", label, "One code index per vector of z: z.shape[:-1].")
        flat_idx = indices.long().reshape(-1).detach()
        ref_idx = (torch.cdist(z0.double().reshape(-1, z0.shape[-1]), cb0.double()) ** 2).argmin(1)
        if not torch.equal(flat_idx, ref_idx):
            for cand, hint in _vq_variants(z0, cb0):
                if (cand == flat_idx).double().mean() >= 0.9:
                    raise _fail(ex, f"wrong code indices on {label}: {hint}")
            raise _fail(ex, f"wrong code indices on {label}: each vector z[..., :] gets the index of its nearest code, "
                            "argmin over k of ‖z − codebook[k]‖² (distances along the last axis, D).")
        quantized = _tensor(ex, quantized, "quantized", label)
        _shape(ex, quantized, z0.shape, "quantized", label, "quantized has z's shape: one code vector per vector of z.")
        want = cb0.double()[ref_idx].reshape(z0.shape)
        if not _close(quantized.detach(), want, atol=1e-5):
            if _close(quantized.detach(), 2 * z0.double() - want, atol=1e-5):
                raise _fail(ex, f"wrong quantized values on {label}: the detached difference has the wrong sign; "
                                "quantized = z + (e − z).detach(), whose value is e.")
            if _close(quantized.detach(), z0, atol=1e-5):
                raise _fail(ex, f"on {label} quantized is z itself: its value must be the nearest code vectors, "
                                "z + (e − z).detach().")
            raise _fail(ex, f"wrong quantized values on {label}: in the forward pass quantized equals the nearest "
                            "codes, codebook[indices].")
        if not quantized.requires_grad:
            raise _fail(ex, f"on {label} no gradient reaches z (the encoder) through quantized — it would never learn. "
                            "Use the straight-through estimator: quantized = z + (e − z).detach().")
        upstream = torch.randn(z0.shape, generator=g, dtype=torch.float64).to(quantized.dtype)
        grads = torch.autograd.grad((quantized * upstream).sum(), (z, cb), allow_unused=True)
        gz, gcb = grads
        if gz is None or not gz.abs().gt(1e-12).any():
            raise _fail(ex, f"on {label} no gradient reaches z (the encoder) through quantized — it would never learn. "
                            "Use the straight-through estimator: quantized = z + (e − z).detach() (codebook[indices] "
                            "alone, or z + (e − z) without detach, blocks it).")
        if not torch.allclose(gz.double(), upstream.double(), rtol=1e-5, atol=1e-6):
            raise _fail(ex, f"on {label} the gradient with respect to z is not the incoming gradient: the "
                            "straight-through estimator copies it unchanged, quantized = z + (e − z).detach().")
        if gcb is not None and gcb.abs().gt(1e-12).any():
            raise _fail(ex, f"on {label} the codebook receives a gradient through the straight-through path; it must "
                            "not (the codebook loss ‖sg[z] − e‖² trains it): detach the whole difference, "
                            "z + (e − z).detach(), not z + e − z.detach().")
    _praise(ex, "nearest code by squared distance, forward value the code, gradient copied to z and none to the "
                "codebook", len(cases))
