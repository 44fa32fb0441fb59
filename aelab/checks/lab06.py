"""Lab 06's self-checks (generation and applications), re-exported by :mod:`aelab.checks`.

:func:`grid_mosaic`, :func:`leave_one_out_precision`, :func:`auroc_from_errors`,
:func:`tfidf_svd_codes`. What a check does on success, a wrong answer or an unfinished exercise
is described in :mod:`aelab.checks._machinery`; the notebooks call them as
``aelab.checks.<name>(...)``. The references are lecture 06's: cosine retrieval as in
:func:`aelab.metrics.precision_at_k`, the Mann–Whitney AUROC (ties counted half), and TF-IDF +
truncated SVD fitted on the training documents only (:func:`aelab.baselines.tfidf_lsa`). Each
exercise is to write the thing, so the package's (and scikit-learn's ROC) versions are forbidden
while the student's function runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch

from ._machinery import _exercise, _fail, _forbidden, _gen, _praise, _student

__all__ = ["grid_mosaic", "leave_one_out_precision", "auroc_from_errors", "tfidf_svd_codes"]


def _as_float_tensor(ex, out, what: str, case: str) -> torch.Tensor:
    """A student's tensor / array / number as a float64 tensor (CheckFailed naming what it was otherwise)."""
    if isinstance(out, torch.Tensor):
        return out.detach().double().cpu()
    if isinstance(out, (np.ndarray, float, int, np.floating, np.integer)) and not isinstance(out, bool):
        return torch.as_tensor(np.ascontiguousarray(out, dtype=np.float64))   # a reversed view (x[:, ::-1]) too
    if isinstance(out, (list, tuple)):                   # a list of numbers (or of 0-dim tensors) is a right answer too
        try:
            return torch.as_tensor(np.asarray([float(v) for v in out], dtype=np.float64))
        except (TypeError, ValueError):
            pass
    try:
        import scipy.sparse as sp
        if sp.issparse(out):
            return torch.as_tensor(out.toarray(), dtype=torch.float64)
    except ImportError:  # pragma: no cover
        pass
    raise _fail(ex, f"{what} must be a torch.Tensor or a NumPy array, got {type(out).__name__} — on {case}")


# --- Exercise 1: a decoded code grid as one mosaic -----------------------------------------------

def _tile_mosaic(tiles: torch.Tensor) -> torch.Tensor:
    """``(R, C, H, W)`` tiles -> ``(R·H, C·W)`` mosaic, tile (i, j) at block row i, block column j."""
    r, c, h, w = tiles.shape
    return tiles.permute(0, 2, 1, 3).reshape(r * h, c * w)


@_exercise("06", 1, "grid_mosaic")
def grid_mosaic(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``grid_mosaic(decode, u1, u2) -> (len(u2)·H, len(u1)·W)`` against the definition.

    Expected: the decoded images of the grid of codes ``(u1[j], u2[i])`` in one image, laid out as on a
    plot's axes: code unit 1 grows to the **right** (block column ``j`` shows ``u1[j]``), code unit 2
    grows **upwards** (the top block row shows the largest ``u2``, i.e. block row ``i`` shows
    ``u2[len(u2) - 1 - i]``, for increasing ``u2``). ``decode`` takes ``(N, 2)`` codes and returns
    ``(N, 1, H, W)`` images.

    Inputs: a fake decoder whose image is a fixed random mix of the two code values (so every tile
    tells which code it came from), on a 3 × 3 grid, a 3-row × 5-column grid, and a 4 × 2 grid of
    non-square 4 × 3 images.

    Raises
    ------
    CheckFailed
        On a wrong shape or layout, with a hint when rows and columns are transposed (code unit 1
        down the rows), the y axis is upside down (the smallest ``u2`` at the top), the x axis or
        both axes are reversed, the two code units are swapped inside each code (tile ``(i, j)``
        decodes ``(u2[.], u1[.])``, each layout and flip of it), each tile is transposed or upside
        down (the finished image flipped), the tiles are padded apart (or ``make_grid``'s three
        padded channels returned), the ``(R, C, H, W)`` stack or a list of tiles is returned, the
        pixels are integers (``×255``, uint8), clipped to [0, 1] or rescaled (min–max, per mosaic
        or per tile), or the tiles decode codes that are not ``u1 × u2`` (a re-spaced grid).
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = grid_mosaic.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = [("a 3 × 3 grid of 5 × 5 images", 3, 3, 5, 5), ("a grid of 5 values of u1 and 3 of u2 (4 × 4 images)",
                                                             5, 3, 4, 4),
             ("a grid of 2 values of u1 and 4 of u2 (4 × 3 images)", 2, 4, 4, 3)]
    for label, n1, n2, h, w in cases:
        mix = torch.rand(2, h, w, generator=g) + 0.1                    # image = z1·A + z2·B

        def decode(z, mix=mix, h=h, w=w):
            if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != 2:
                raise _fail(ex, f"decode takes codes of shape (N, 2), got "
                                f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__} — on {label}")
            return (z[:, 0, None, None] * mix[0] + z[:, 1, None, None] * mix[1]).unsqueeze(1)   # (N, 1, h, w)

        u1 = torch.sort(torch.randn(n1, generator=g)).values
        u2 = torch.sort(torch.randn(n2, generator=g)).values

        def layout(rows_are_u1: bool, flip_rows: bool, flip_cols: bool, swap_units: bool = False) -> torch.Tensor:
            r_vals, c_vals = (u1, u2) if rows_are_u1 else (u2.flip(0), u1)
            r_vals = r_vals.flip(0) if flip_rows else r_vals
            c_vals = c_vals.flip(0) if flip_cols else c_vals
            tiles = torch.empty(len(r_vals), len(c_vals), h, w)
            for i, j in itertools.product(range(len(r_vals)), range(len(c_vals))):
                code = (r_vals[i], c_vals[j]) if rows_are_u1 else (c_vals[j], r_vals[i])
                code = code[::-1] if swap_units else code
                tiles[i, j] = decode(torch.stack(code)[None])[0, 0]
            return _tile_mosaic(tiles).double()

        ref = layout(False, False, False)
        raw = call(decode, u1.clone(), u2.clone(), case=label)
        if isinstance(raw, (list, tuple)) and raw and all(isinstance(v, (torch.Tensor, np.ndarray)) for v in raw):
            raise _fail(ex, f"the mosaic must be one tensor, got a {type(raw).__name__} of {len(raw)} arrays — on "
                            f"{label}: lay the tiles out into one (R·H, C·W) image (reshape, permute, reshape).")
        if (isinstance(raw, (torch.Tensor, np.ndarray)) and not raw.dtype.is_floating_point
                if isinstance(raw, torch.Tensor) else isinstance(raw, np.ndarray) and raw.dtype.kind in "biu"):
            raise _fail(ex, f"the mosaic has integer pixels ({raw.dtype}) on {label}: keep the float values decode "
                            "returns (no ×255, no uint8 conversion; imshow shows floats in [0, 1] as they are).")
        out = _as_float_tensor(ex, raw, "the mosaic", label)
        out = out.squeeze() if out.ndim > 2 else out
        r_ref, c_ref = n2 * h, n1 * w
        if tuple(out.shape) != tuple(ref.shape):
            hint = ""
            if tuple(out.shape) == (n1 * h, n2 * w):
                hint = (" Rows and columns are transposed: code unit 1 (u1) runs along the x axis, so it changes "
                        "from column to column; code unit 2 (u2) changes from row to row.")
            elif out.ndim == 3 and out.shape[0] == 3:
                hint = (" Three channels: torchvision's make_grid turns gray images into RGB and pads them by 2 "
                        "pixels; return one gray (R·H, C·W) image with no padding between the tiles.")
            elif out.ndim == 4 and tuple(out.shape) == (n2, n1, h, w):
                hint = (" That is the (R, C, H, W) stack of tiles, not yet one image: permute(0, 2, 1, 3), then "
                        "reshape to (R·H, C·W).")
            elif out.ndim == 2 and out.shape[0] > r_ref and out.shape[1] > c_ref:
                hint = (" The mosaic is larger than R·H × C·W: put the tiles edge to edge, with no padding or "
                        "border between them.")
            elif out.ndim == 2 and tuple(out.shape) == (n2 * w, n1 * h):
                hint = " Each tile is transposed: the decoded images are (H, W); place them as they are."
            raise _fail(ex, f"the mosaic should have shape {tuple(ref.shape)} = (len(u2)·H, len(u1)·W), yours has "
                            f"{tuple(out.shape)} — on {label}.{hint}")
        if torch.allclose(out, ref, atol=1e-5):
            continue
        swapped = torch.stack([layout(rows_are_u1, flip_rows, flip_cols, swap_units=True)
                               for rows_are_u1, flip_rows, flip_cols in itertools.product((False, True), repeat=3)
                               if layout(rows_are_u1, flip_rows, flip_cols).shape == out.shape])
        if any(torch.allclose(out, v, atol=1e-5) for v in swapped):
            raise _fail(ex, f"the two code units are swapped on {label}: each code is (u1 value, u2 value) — "
                            "column 0 of the (N, 2) codes you decode is code unit 1, taken from u1 (the x axis), "
                            "column 1 is code unit 2, from u2. Your tiles show codes (u2 value, u1 value).")
        for rows_are_u1, flip_rows, flip_cols in itertools.product((False, True), repeat=3):
            variant = layout(rows_are_u1, flip_rows, flip_cols)
            if variant.shape == out.shape and torch.allclose(out, variant, atol=1e-5):
                if rows_are_u1:
                    raise _fail(ex, f"rows and columns are transposed on {label}: code unit 1 (u1) must change "
                                    "from column to column (the x axis) and code unit 2 (u2) from row to row.")
                if flip_rows and not flip_cols:
                    raise _fail(ex, f"the y axis is upside down on {label}: the top row must show the largest "
                                    "u2, as on a plot whose y axis points up (an image's row 0 is at the top; "
                                    "use u2.flip(0) for the rows).")
                if flip_cols and not flip_rows:
                    raise _fail(ex, f"the x axis is reversed on {label}: the leftmost block column must show the "
                                    "smallest u1 (column j shows u1[j]), as on a plot whose x axis points right.")
                if flip_cols and flip_rows:
                    raise _fail(ex, f"both axes are reversed on {label} (the mosaic is turned by 180°): column j "
                                    "must show u1[j] (left to right) and the top row the largest u2.")
                raise _fail(ex, f"the tiles are in the wrong order on {label}: column j must show u1[j] (left to "
                                "right) and the top row the largest u2.")
        tiles = ref.reshape(n2, h, n1, w).permute(0, 2, 1, 3)             # (R, C, H, W), the right tiles
        got_tiles = out.reshape(n2, h, n1, w).permute(0, 2, 1, 3)
        if h == w and torch.allclose(out, _tile_mosaic(tiles.transpose(2, 3)), atol=1e-5):
            raise _fail(ex, f"each tile is transposed on {label} (its rows and columns swapped): place each decoded "
                            "(H, W) image as it is; only the grid of tiles is arranged.")
        if torch.allclose(out, _tile_mosaic(tiles.flip(2)), atol=1e-5):
            raise _fail(ex, f"each tile is upside down on {label}: you flipped the finished image's pixels. Reverse "
                            "the order of the block rows (decode u2.flip(0)), not the pixels inside each tile.")
        if torch.allclose(out, ref.clamp(0, 1), atol=1e-5):
            raise _fail(ex, f"pixel values are clipped to [0, 1] on {label}: return the decoded values as they are "
                            "(a sigmoid decoder is already in [0, 1]; imshow's vmin/vmax does the display).")
        design = torch.stack([ref.flatten(), torch.ones(ref.numel(), dtype=ref.dtype)], 1)
        fit = torch.linalg.lstsq(design, out.flatten()[:, None]).solution
        per_tile = [torch.linalg.lstsq(torch.stack([t.flatten(), torch.ones(t.numel(), dtype=t.dtype)], 1),
                                       o.flatten()[:, None]).solution
                    for t, o in zip(tiles.reshape(-1, h, w), got_tiles.reshape(-1, h, w))]
        if (torch.allclose(design @ fit, out.flatten()[:, None], atol=1e-5)
                or all(torch.allclose(torch.stack([t.flatten(), torch.ones(t.numel(), dtype=t.dtype)], 1) @ c,
                                      o.flatten()[:, None], atol=1e-5)
                       for t, o, c in zip(tiles.reshape(-1, h, w), got_tiles.reshape(-1, h, w), per_tile))):
            raise _fail(ex, f"the pixel values are rescaled on {label} (min–max normalized, for the whole mosaic or "
                            "tile by tile): return the decoded values unchanged; normalizing each tile hides how "
                            "dark or bright the decoder makes each code.")
        # every tile a decoded image of *some* code, but not of the grid's: the codes were not u1 × u2
        basis = mix.reshape(2, -1).T.double()                                # (H·W, 2): image = basis @ z
        z = torch.linalg.lstsq(basis, got_tiles.reshape(-1, h * w).T).solution   # (2, R·C)
        grid_values = (torch.cat([u1, u2]).double()[:, None] - z.flatten()[None]).abs().min(0).values
        if (torch.allclose(basis @ z, got_tiles.reshape(-1, h * w).T, atol=1e-4)
                and bool((grid_values > 1e-4).any())):
            raise _fail(ex, f"your tiles decode codes that are not on the grid on {label}: some code values are "
                            "neither in u1 nor in u2. Use the values u1 and u2 you are given (not a linspace between "
                            "their ends, nor their indices): code (u1[j], u2[i]) for every i, j.")
        raise _fail(ex, f"wrong pixels on {label}: each tile must be one decoded image, placed whole (reshape the "
                        "decoded (R·C, 1, H, W) images to (R, C, H, W), then permute(0, 2, 1, 3) before the final "
                        "reshape to (R·H, C·W)).")
    _praise(ex, "every tile shows the right code, u1 to the right and u2 upwards", len(cases))


# --- Exercise 2: precision@k by cosine, each query left out ----------------------------------------

def _similarities(codes: torch.Tensor, *, cosine: bool) -> torch.Tensor:
    """``(N, N)`` float64 scores: cosine similarities, or minus Euclidean distances."""
    x = codes.double()
    if cosine:
        x = x / x.norm(dim=1, keepdim=True)
        return x @ x.T
    return -torch.cdist(x, x)


def _precision(codes: torch.Tensor, labels: torch.Tensor, k: int, *, cosine: bool, exclude_self: bool,
               diagonal: float | None = None) -> float:
    """Precision@k; ``diagonal`` replaces the self-similarities by a number instead (a wrong answer)."""
    score = _similarities(codes, cosine=cosine)
    if exclude_self:
        score.fill_diagonal_(-float("inf"))
    elif diagonal is not None:
        score.fill_diagonal_(diagonal)
    nearest = score.topk(k, dim=1).indices
    return (labels[nearest] == labels[:, None]).double().mean().item()


def _drop_first_of_k_plus_one(codes: torch.Tensor, labels: torch.Tensor, k: int, dtype: torch.dtype) -> float:
    """The wrong answer "top-(k+1), then drop column 0": right only if the query always comes first."""
    x = torch.nn.functional.normalize(codes.to(dtype), dim=1)
    nearest = (x @ x.T).topk(k + 1, dim=1).indices[:, 1:]
    return (labels[nearest] == labels[:, None]).double().mean().item()


def _unambiguous_k(codes: torch.Tensor, k: int) -> int:
    """The largest ``k' <= k`` at which no query's k'-th and (k'+1)-th other rows tie (so one answer is right)."""
    score = _similarities(codes, cosine=True)
    score.fill_diagonal_(-float("inf"))
    ordered = score.sort(dim=1, descending=True).values[:, :-1]           # the N - 1 other rows, best first
    for kk in range(k, 0, -1):
        if kk == ordered.shape[1] or bool((ordered[:, kk - 1] - ordered[:, kk] > 1e-9).all()):
            return kk
    return 1  # pragma: no cover (a tie at every depth is impossible for the cases built here)


#: Exercise 2 is about writing cosine retrieval: the package's versions are forbidden during the check.
def _precision_shortcuts() -> list[tuple[object, str, str]]:
    from .. import baselines, metrics
    out = [(metrics, "precision_at_k", "aelab.metrics.precision_at_k"),
           (metrics, "cosine_neighbors", "aelab.metrics.cosine_neighbors")]
    for name in ("precision_at_k", "cosine_neighbors"):
        if hasattr(baselines, name):
            out.append((baselines, name, f"aelab.baselines.{name}"))
    return out


@_exercise("06", 2, "leave_one_out_precision_at_k")
def leave_one_out_precision(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``leave_one_out_precision_at_k(codes, labels, k) -> float``: cosine retrieval, each query left out.

    Expected: for every row ``i`` of ``codes`` ``(N, D)``, the ``k`` other rows with the largest
    cosine similarity ``a·b / (‖a‖ ‖b‖)`` (never row ``i`` itself, but a duplicate of it counts like
    any other row); the mean over rows and neighbors of ``labels[neighbor] == labels[i]``. Returns a
    Python float or a 0-dim tensor. The package's ``precision_at_k`` and ``cosine_neighbors``
    (``aelab.metrics``, re-exported by ``aelab.baselines``) are forbidden while it runs: the
    exercise is to write them.

    Inputs: codes whose rows point in label-specific directions but have lengths spread over two
    orders of magnitude (so Euclidean neighbors differ from cosine ones), many with negative
    cosines; ``k`` = 5, 10 and 1; ``k = N − 1`` (every other row); and codes with exact duplicate
    rows of different labels (as duplicate documents have) at ``k = 3`` and ``k = N − 3``.
    Each ``k`` is lowered, if needed, until no tie straddles the k-th neighbor (one right answer).

    Raises
    ------
    CheckFailed
        On a wrong value, with a hint when the query is counted as its own neighbor, the diagonal is
        set to 0 (or another number) instead of being left out, column 0 of a top-(k+1) is dropped
        (a duplicate of the query may come before it), Euclidean distance is used instead of
        cosine similarity, or a package shortcut is called.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    ex = leave_one_out_precision.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    n, d, classes = 60, 6, 4
    centers = torch.randn(classes, d, generator=g)
    labels = torch.randint(0, classes, (n,), generator=g)
    directions = centers[labels] + 0.9 * torch.randn(n, d, generator=g)
    codes = directions * 10 ** (2 * torch.rand(n, 1, generator=g) - 1)           # lengths 0.1 ... 10
    # Duplicates: 8 extra rows pointing into two extra dimensions (inside a 90° cone, with a small
    # random part in the base dimensions so that no cosine ties except a row with its copy), each
    # copied exactly with another label; 4 copies placed before their originals and 4 after, so
    # whatever order a top-k gives equal cosines some query meets its copy before itself.
    n_dup = 8
    angle = (torch.arange(n_dup, dtype=torch.float64) + torch.rand(n_dup, generator=g, dtype=torch.float64)) \
        * (torch.pi / 2 / n_dup)
    extra = torch.cat([0.05 * torch.randn(n_dup, d, generator=g, dtype=torch.float64),
                       torch.stack([angle.cos(), angle.sin()], 1)], 1).float()
    extra_labels = torch.randint(0, classes, (n_dup,), generator=g)
    base = torch.cat([codes, torch.zeros(n, 2)], 1)
    dup_codes = torch.cat([extra[:4], base, extra, extra[4:]])
    dup_labels = torch.cat([(extra_labels[:4] + 1) % classes, labels, extra_labels, (extra_labels[4:] + 2) % classes])
    cases = [(f"{n} codes of {d} numbers in {classes} classes, k={k}", codes, labels, k) for k in (5, 10, 1)]
    cases.append((f"{n} codes, k={n - 1} (every other row)", codes, labels, n - 1))
    m = len(dup_codes)
    cases += [(f"{m} codes with {n_dup} exact duplicate rows of another label, k={k}", dup_codes, dup_labels, k)
              for k in (3, m - 3)]
    reason = "Normalize the rows, take one matrix product, leave out the diagonal, then topk."
    for label, x, y, k in cases:
        k = _unambiguous_k(x, k)
        label = label if f"k={k}" in label else f"{label.rsplit('k=', 1)[0]}k={k}"
        ref = _precision(x, y, k, cosine=True, exclude_self=True)
        c_in, l_in = x.clone(), y.clone()
        with _forbidden(_precision_shortcuts(), reason):
            out = call(c_in, l_in, k, case=label)
        got = _as_float_tensor(ex, out, "your precision", label)
        if got.numel() != 1:
            raise _fail(ex, f"the function must return one number (the mean over queries and neighbors), got "
                            f"shape {tuple(got.shape)} — on {label}")
        got = got.item()
        if not torch.equal(c_in, x) or not torch.equal(l_in, y):
            raise _fail(ex, f"your function changed its inputs in place on {label}: compute new tensors instead.")
        if abs(got - ref) < 1e-6:
            continue
        if any(abs(got - _precision(x, y, k, cosine=True, exclude_self=False, diagonal=v)) < 1e-6
               for v in (0.0, -1.0, -2.0)):
            raise _fail(ex, f"wrong precision on {label}: setting the diagonal to a number (0, -1, ...) does not "
                            "leave the query out. Cosines go down to -1, so at a large k the query still ranks "
                            "above its least similar rows and is counted. Set it to -inf (or remove the query's "
                            "column) so it can never be picked.")
        if abs(got - _precision(x, y, k, cosine=True, exclude_self=False)) < 1e-6:
            raise _fail(ex, f"wrong precision on {label}: each query finds itself first (cosine 1 with itself) and "
                            "you counted it. Leave the query out, e.g. set the diagonal of the similarity matrix to "
                            "-inf before taking the top k.")
        if any(abs(got - _drop_first_of_k_plus_one(x, y, k, t)) < 1e-6 for t in (torch.float32, torch.float64)) \
                or "duplicate" in label:
            raise _fail(ex, f"wrong precision on {label}: this case has exact duplicate rows (cosine 1 with each "
                            "other, like duplicate documents). If you took the top k+1 and dropped column 0, "
                            "assuming the query itself comes first, a duplicate can come first instead: then the "
                            "query is counted and its duplicate dropped. Leave the query out by its index (the "
                            "diagonal set to -inf), not by its rank.")
        for own in (False, True):
            if abs(got - _precision(x, y, k, cosine=False, exclude_self=not own)) < 1e-6:
                raise _fail(ex, f"wrong precision on {label}: you ranked neighbors by Euclidean distance. Retrieval "
                                "uses cosine similarity: normalize each row to length 1, then the similarities are "
                                "one matrix product; a long and a short code pointing the same way are similar.")
        raise _fail(ex, f"wrong precision on {label}: got {got:.4f}. Take the k largest cosine similarities of "
                        "each row (itself left out) and average label(neighbor) == label(query) over all of them.")
    _praise(ex, "cosine neighbors, the query left out by index, at small k, k = N − 1 and with duplicate rows",
            len(cases))


# --- Exercise 3: AUROC from reconstruction errors --------------------------------------------------

def _auroc_shortcuts() -> list[tuple[object, str, str]]:
    """sklearn's ROC functions (also when imported by name before the check: their shared helper is
    patched) and scipy's Mann–Whitney test."""
    import scipy.stats
    import sklearn.metrics
    import sklearn.metrics._ranking as ranking

    targets = [(sklearn.metrics, "roc_auc_score", "sklearn.metrics.roc_auc_score"),
               (sklearn.metrics, "roc_curve", "sklearn.metrics.roc_curve"),
               (scipy.stats, "mannwhitneyu", "scipy.stats.mannwhitneyu")]
    # the helpers the functions look up at call time (their names differ between scikit-learn versions)
    for helper in ("_binary_roc_auc_score", "_binary_clf_curve", "_matrix_at_thresholds"):
        if hasattr(ranking, helper):
            targets.append((ranking, helper, "sklearn.metrics.roc_auc_score / roc_curve"))
    return targets


def _mann_whitney(normal: np.ndarray, anomaly: np.ndarray, tie: float = 0.5) -> float:
    """P(anomaly > normal) + ``tie`` · P(anomaly == normal) over all pairs (the AUROC for ``tie = 0.5``)."""
    a, n = anomaly[:, None], normal[None, :]
    return float(((a > n).sum() + tie * (a == n).sum()) / (len(normal) * len(anomaly)))


@_exercise("06", 3, "auroc_from_errors")
def auroc_from_errors(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``auroc_from_errors(normal_errors, anomaly_errors) -> (y_true, y_score, auroc)``.

    Expected: ``y_true`` marks each image as an anomaly (1) or normal (0), the normal images first,
    then the anomalies; ``y_score`` is the anomaly score, larger for more anomalous images (the
    reconstruction error itself, or any increasing function of it); ``auroc`` is the Mann–Whitney
    statistic written by hand: the fraction of (anomaly, normal) pairs in which the anomaly has the
    larger error, a tie counting half (what ``sklearn.metrics.roc_auc_score`` returns). scikit-learn's
    ``roc_auc_score`` / ``roc_curve`` and ``scipy.stats.mannwhitneyu`` are forbidden while it runs.

    Inputs: errors drawn from two overlapping gamma distributions (anomalies larger on average),
    rounded so that **every case has ties between a normal and an anomalous error** (a tie-blind
    answer fails on each), of sizes 50/30, 200/7, 3/3 and 40/40 (the last with one value shared by
    many images on both sides).

    Raises
    ------
    CheckFailed
        On a wrong length or value, with a hint when the labels are swapped (the normal images
        labeled 1), the scores inverted (a small error scored as anomalous), ties counted as 0 or
        as 1 instead of half, or a forbidden library function is called.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    from sklearn.metrics import roc_auc_score

    ex = auroc_from_errors.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
    cases = []
    for n_norm, n_anom, shift, step in ((50, 30, 1.5, 0.5), (200, 7, 3.0, 1.0), (3, 3, 1.0, 1.0), (40, 40, 0.5, 2.0)):
        normal = np.round(rng.gamma(3.0, size=n_norm) / step) * step
        anomaly = np.round((rng.gamma(3.0, size=n_anom) + shift) / step) * step
        if not np.isin(anomaly, normal).any():                       # guarantee a normal/anomaly tie
            anomaly[0] = normal[rng.integers(n_norm)]
        cases.append((f"{n_norm} normal and {n_anom} anomalous errors with ties",
                      torch.from_numpy(normal).float(), torch.from_numpy(anomaly).float()))
    reason = ("Compare every anomaly's error with every normal image's (broadcasting gives all pairs at once): "
              "count the pairs the anomaly wins, add half the ties, divide by the number of pairs.")
    for label, normal, anomaly in cases:
        want_true = np.r_[np.zeros(len(normal)), np.ones(len(anomaly))]
        normal_np, anomaly_np = normal.double().numpy(), anomaly.double().numpy()
        ref = _mann_whitney(normal_np, anomaly_np)
        with _forbidden(_auroc_shortcuts(), reason):
            out = call(normal.clone(), anomaly.clone(), case=label)
        if not isinstance(out, tuple) or len(out) != 3:
            raise _fail(ex, f"return the three values (y_true, y_score, auroc), got {type(out).__name__} — "
                            f"on {label}")
        y_true, y_score, auroc = (_as_float_tensor(ex, v, what, label).numpy()
                                  for v, what in zip(out, ("y_true", "y_score", "auroc")))
        n = len(normal) + len(anomaly)
        if y_true.shape != (n,) or y_score.shape != (n,):
            raise _fail(ex, f"y_true and y_score need one entry per image, ({n},) — the normal images then the "
                            f"anomalies — got shapes {y_true.shape} and {y_score.shape} on {label}.")
        if np.array_equal(y_true, 1 - want_true):
            raise _fail(ex, f"the labels are swapped on {label}: the anomalies are the positives (1) and the normal "
                            "images 0; with the labels swapped the AUROC becomes 1 − AUROC.")
        if not np.array_equal(y_true, want_true):
            raise _fail(ex, f"y_true is wrong on {label}: 0 for each normal image, then 1 for each anomaly.")
        with_scores = roc_auc_score(want_true, y_score)
        if abs(with_scores - (1 - ref)) < 1e-9 and abs(ref - 0.5) > 1e-9:
            raise _fail(ex, f"the scores are inverted on {label}: a larger reconstruction error must mean *more* "
                            "anomalous, so use the errors themselves as y_score (not their negatives or inverses).")
        if abs(with_scores - ref) > 1e-9:
            raise _fail(ex, f"y_score on {label} does not rank the images as their reconstruction errors do: use the "
                            "errors (normal images first, then the anomalies).")
        if auroc.size != 1 or abs(float(auroc.reshape(-1)[0]) - ref) > 1e-6:
            got = float(auroc.reshape(-1)[0]) if auroc.size else float("nan")
            hint = (" It is 1 − the right value: did you count the pairs the normal image wins?"
                    if abs(got - (1 - ref)) < 1e-6 else
                    " Ties are counted as losses: a tie between an anomaly and a normal image must count half."
                    if abs(got - _mann_whitney(normal_np, anomaly_np, 0.0)) < 1e-6 else
                    " Ties are counted as wins (>=, or ranks that do not average ties, e.g. argsort twice): a tie "
                    "between an anomaly and a normal image must count half."
                    if abs(got - _mann_whitney(normal_np, anomaly_np, 1.0)) < 1e-6 else
                    " Divide by the number of (anomaly, normal) pairs, len(anomaly) × len(normal)."
                    if abs(got * len(normal) * len(anomaly) - ref * len(normal) * len(anomaly)) > 1e-6
                    and abs(got - ref * len(normal) * len(anomaly)) < 1e-6 else "")
            raise _fail(ex, f"auroc is {got:.4f} on {label}, but the fraction of (anomaly, normal) pairs the anomaly "
                            f"wins, ties counting half, is different.{hint}")
    _praise(ex, "labels, scores and a hand-written Mann–Whitney AUROC, ties counted half in every case", len(cases))


# --- Exercise 4: TF-IDF + truncated SVD codes fitted on the training documents --------------------

def _topic_counts(g: torch.Generator, n: int, vocab: int, topics: torch.Tensor) -> np.ndarray:
    rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))
    prevalence = 0.4 ** np.arange(len(topics))                            # topics of decaying weight: a clear spectrum
    weights = rng.dirichlet(prevalence, size=n) @ topics.double().numpy()  # (n, vocab) word probabilities
    return np.stack([rng.multinomial(30, p / p.sum()) for p in weights])


def _lsa(fit_counts: np.ndarray, train_counts: np.ndarray, query_counts: np.ndarray, k: int,
         svd_counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Codes with the idf fitted on ``fit_counts`` and the SVD on ``svd_counts`` (default: the same)."""
    from sklearn.feature_extraction.text import TfidfTransformer

    tfidf = TfidfTransformer().fit(fit_counts)
    basis = tfidf.transform(fit_counts if svd_counts is None else svd_counts).toarray()
    _, _, vt = np.linalg.svd(basis, full_matrices=False)
    v = vt[:k].T                                                             # (V, k)
    return tfidf.transform(train_counts).toarray() @ v, tfidf.transform(query_counts).toarray() @ v


def _lsa_variants(train: np.ndarray, query: np.ndarray, k: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The codes of plausible wrong answers (each named by its mistake), training and query codes."""
    from sklearn.feature_extraction.text import TfidfTransformer

    def svd_codes(a: np.ndarray, b: np.ndarray, center: bool = False) -> tuple[np.ndarray, np.ndarray]:
        mean = a.mean(0) if center else 0.0
        vt = np.linalg.svd(a - mean, full_matrices=False)[2][:k]
        return (a - mean) @ vt.T, (b - mean) @ vt.T

    def tfidf(**kw) -> tuple[np.ndarray, np.ndarray]:
        t = TfidfTransformer(**kw).fit(train)
        return t.transform(train).toarray(), t.transform(query).toarray()

    a, b = tfidf()
    right_train, right_query = svd_codes(a, b)
    s = np.linalg.svd(a, compute_uv=False)[:k]
    raw_a, raw_b = tfidf(norm=None)
    unit = np.linalg.norm(right_train, axis=1, keepdims=True), np.linalg.norm(right_query, axis=1, keepdims=True)
    vt_full = np.linalg.svd(a, full_matrices=False)[2]
    vt = vt_full[:k]
    return {"raw counts": svd_codes(train.astype(np.float64), query.astype(np.float64)),
            "no idf": svd_codes(*tfidf(use_idf=False)),
            "no row normalization": svd_codes(raw_a, raw_b),
            "columns normalized": svd_codes(raw_a / np.maximum(np.linalg.norm(raw_a, axis=0), 1e-12),
                                            raw_b / np.maximum(np.linalg.norm(raw_b, axis=0), 1e-12)),
            "centered (PCA)": svd_codes(a, b, center=True),
            "idf of the queries": (right_train, TfidfTransformer().fit_transform(query).toarray() @ vt.T),
            "codes normalized": (right_train / np.maximum(unit[0], 1e-12), right_query / np.maximum(unit[1], 1e-12)),
            "U without S": (right_train / s, right_query / s),
            "columns reversed": (right_train[:, ::-1], right_query[:, ::-1]),
            "vt's columns": (a @ vt_full[:, :k], b @ vt_full[:, :k])}


#: What each wrong answer of :func:`_lsa_variants` is told.
_LSA_HINTS = {
    "raw counts": "you took the SVD of the raw word counts: transform them with TfidfTransformer (fitted on the "
                  "training documents) first — LSA is the SVD of the TF-IDF matrix.",
    "no idf": "the IDF weights are missing (TfidfTransformer(use_idf=False), or term frequencies only): rare words "
              "must weigh more than common ones — use TfidfTransformer() with its defaults.",
    "no row normalization": "the TF-IDF rows are not normalized to length 1 (norm=None): keep TfidfTransformer's "
                            "default norm='l2', so that long and short documents are comparable.",
    "columns normalized": "you normalized the columns (each word, axis=0) instead of the rows: TfidfTransformer's "
                          "norm='l2' scales each document (row) to length 1.",
    "centered (PCA)": "you centered the TF-IDF matrix (PCA subtracts the mean): LSA is TruncatedSVD of the TF-IDF "
                      "matrix itself, uncentered (centering also destroys the sparsity).",
    "idf of the queries": "the queries' TF-IDF was fitted on the queries (a second TfidfTransformer, or "
                          "fit_transform on them): use the transformer fitted on the training documents, "
                          "`.transform` only.",
    "codes normalized": "you normalized the codes to length 1: return TruncatedSVD's codes as they are (cosine "
                        "retrieval normalizes later).",
    "U without S": "your codes are the left singular vectors U without the singular values: the codes are "
                   "U·S = X·V (TruncatedSVD.transform), for the queries Q·V.",
    "columns reversed": "the code columns are in increasing order of singular value (scipy's svds returns them "
                        "so): order them as TruncatedSVD does, the largest singular value first.",
    "vt's columns": "you projected on k columns of numpy's vt instead of its first k rows: the right singular "
                    "vectors are the rows of vt, so the codes are X @ vt[:k].T.",
}


def _distance_up_to_signs(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference between matching code columns, each column's sign free, relative to ``b``'s scale."""
    if a.shape != b.shape:
        return float("inf")
    scale = max(np.abs(b).max(), 1e-12)
    return max(min(np.abs(a[:, j] - b[:, j]).max(), np.abs(a[:, j] + b[:, j]).max()) for j in range(a.shape[1])) / scale


#: Largest relative difference from the exact SVD's codes that exercise 4 accepts (randomized solvers).
_LSA_TOLERANCE = 0.02


def _lsa_shortcuts() -> list[tuple[object, str, str]]:
    """The package's own TF-IDF + SVD (``aelab.baselines.tfidf_lsa``, and ``aelab.metrics``' if it has one)."""
    from .. import baselines, metrics
    return [(module, "tfidf_lsa", f"aelab.{module.__name__.rsplit('.', 1)[-1]}.tfidf_lsa")
            for module in (baselines, metrics) if hasattr(module, "tfidf_lsa")]


@_exercise("06", 4, "tfidf_svd_codes")
def tfidf_svd_codes(student_fn: Callable, *, seed: int = 0) -> None:
    """Check ``tfidf_svd_codes(train_counts, query_counts, k) -> (train_codes, query_codes)``.

    Expected: scikit-learn's ``TfidfTransformer`` fitted on ``train_counts`` only, ``TruncatedSVD(k)``
    fitted on the training documents' TF-IDF only, and both documents sets transformed with them:
    ``(N, k)`` and ``(Q, k)`` codes (LSA). Each code column may have either sign (an SVD's
    singular vectors do).

    Inputs: word counts of documents drawn from a few random topics (scipy sparse matrices, as
    ``CountVectorizer`` gives): 300 training and 60 query documents over 40 words with k = 3, and
    200 and 150 over 30 words with k = 4. Tolerance: 2 % of the largest code value (and nearer
    to the right codes than to any wrong answer's).

    Raises
    ------
    CheckFailed
        On a wrong shape or value, with a hint naming the mistake when: the SVD (or the idf) was
        fitted on the query documents, or on both sets stacked; the query TF-IDF used an idf fitted
        on the queries; the SVD was taken of raw counts, of TF-IDF without idf, without the row
        normalization or with the columns normalized; the matrix was centered (PCA); the codes are
        normalized, are ``U`` without the singular values, come in increasing order of singular
        value (``scipy.sparse.linalg.svds``) or project on columns of NumPy's ``vt``; the training
        part is ``components_``, the TF-IDF itself, the pair is swapped or ``k`` is wrong.
    ExerciseNotDone
        If ``student_fn`` raises ``NotImplementedError``.
    """
    import scipy.sparse as sp

    ex = tfidf_svd_codes.exercise
    call = _student(ex, student_fn)
    g = _gen(ex, seed)
    cases = []
    for n_train, n_query, vocab, n_topics, k in ((300, 60, 40, 6, 3), (200, 150, 30, 7, 4)):
        topics = torch.softmax(2.5 * torch.randn(n_topics, vocab, generator=g), 1)
        cases.append((f"{n_train} training and {n_query} query documents over {vocab} words, k={k}",
                      _topic_counts(g, n_train, vocab, topics), _topic_counts(g, n_query, vocab, topics), k))
    for label, train, query, k in cases:
        query = query[query.sum(1) > 0]
        ref_train, ref_query = _lsa(train, train, query, k)
        train_in, query_in = sp.csr_matrix(train), sp.csr_matrix(query)
        with _forbidden(_lsa_shortcuts(), "Fit scikit-learn's TfidfTransformer and TruncatedSVD yourself."):
            out = call(train_in, query_in, k, case=label)
        if not isinstance(out, tuple) or len(out) != 2:
            raise _fail(ex, f"return the pair (train_codes, query_codes), got {type(out).__name__} — on {label}")
        got_train, got_query = (_as_float_tensor(ex, v, what, label).numpy()
                                for v, what in zip(out, ("train_codes", "query_codes")))
        if got_train.shape != ref_train.shape or got_query.shape != ref_query.shape:
            vocab = train.shape[1]
            hint = (" Those are the training and query codes in the wrong order: return (train_codes, query_codes)."
                    if (got_train.shape, got_query.shape) == (ref_query.shape, ref_train.shape) else
                    " The training part is svd.components_ (k, V), the word directions: the codes are "
                    "svd.transform(training TF-IDF)." if got_train.shape == (k, vocab) else
                    " Those are the TF-IDF vectors themselves (one column per word): reduce them to k numbers with "
                    "TruncatedSVD(k)." if got_train.shape[1:] == (vocab,) else
                    f" Use exactly k = {k} components." if got_train.shape[1:] == got_query.shape[1:] != (k,) else "")
            raise _fail(ex, f"the codes should have shapes {ref_train.shape} and {ref_query.shape} (one row of k "
                            f"numbers per document), got {got_train.shape} and {got_query.shape} — on {label}.{hint}")
        wrong = {"svd": _lsa(train, train, query, k, svd_counts=query),
                 "both": _lsa(query, train, query, k),
                 "stacked": _lsa(np.vstack([train, query]), train, query, k)}
        # A randomized SVD (scikit-learn's default) is close to the exact one, not equal: accept the
        # answer nearest to the right codes within TOLERANCE, else name the nearest wrong answer.
        d_right = max(_distance_up_to_signs(got_train, ref_train), _distance_up_to_signs(got_query, ref_query))
        d_wrong = {name: _distance_up_to_signs(got_query, w_query) for name, (_, w_query) in wrong.items()}
        variants = _lsa_variants(train, query, k)
        d_variant = {name: max(_distance_up_to_signs(got_train, w_train), _distance_up_to_signs(got_query, w_query))
                     for name, (w_train, w_query) in variants.items()}
        if d_right <= _LSA_TOLERANCE and d_right < min(d_wrong.values()) and d_right < min(d_variant.values()):
            continue
        nearest = min(d_variant, key=d_variant.get)
        if d_variant[nearest] <= _LSA_TOLERANCE and d_variant[nearest] < min(d_wrong.values()):
            raise _fail(ex, f"wrong codes on {label}: {_LSA_HINTS[nearest]}")
        for name in sorted(d_wrong, key=d_wrong.get)[:1]:
            if d_wrong[name] <= _LSA_TOLERANCE:
                if name == "stacked":
                    raise _fail(ex, f"wrong codes on {label}: you fitted on the training and query documents "
                                    "together. Fit the TF-IDF and the SVD on the training documents only; the "
                                    "queries are only transformed (a retrieval system never trains on its queries).")
                raise _fail(ex, f"wrong codes on {label}: the SVD was fitted on the query documents. Fit "
                                "TruncatedSVD on the training documents' TF-IDF only, then only `.transform` the "
                                "queries with it (their codes must use the training directions).")
        raise _fail(ex, f"wrong codes on {label}: fit TfidfTransformer on train_counts, then TruncatedSVD(k) on the "
                        "training TF-IDF, and transform both sets with those two fitted objects.")
    _praise(ex, "TF-IDF and SVD fitted on the training documents only, queries transformed", len(cases))
