"""The numbers several notebooks compute, defined once (docs/architecture.md).

=====================================  ==========================================================  ============
function                               what it measures                                            lectures
=====================================  ==========================================================  ============
:func:`psnr`                           peak signal-to-noise ratio per image, dB                    03, lab 03
:func:`principal_angles`               angles between two subspaces, **degrees**, ascending        01, 03, lab 01
:func:`cosine_neighbors`               each query's k most cosine-similar database rows            02, 06
:func:`precision_at_k`                 fraction of those neighbors with the query's label          02, lab 02, 06
:func:`retrieval_precision`            precision and recall at several depths (incl. sparse);      06, lab 06
                                       ties at the cut in topk's order or their expected value
:func:`retrieval_precision_per_query`  each query's precision@k, and whether its k-th is tied      06
:func:`nearest_distance`               Euclidean distance to the nearest training image            02, 06, 07
:func:`different_label_pairs`,         random pairs of images with different / the same label      02, 07, lab 02
:func:`same_label_pairs`
:func:`decoded_line`                   decode the straight line between two codes                  02, 06, 07, lab 02
:func:`path_distances`                 nearest-training distance along decoded lines               02, 03, 07
:func:`hole_ratio`,                    THE latent-hole measure and its null                        02, 03, 07
:func:`hole_ratio_null`
:func:`paired_difference`              mean paired difference and its standard error               02, 03, 07
:func:`l0`, :func:`explained_variance` sparse-autoencoder metrics (SAELens' definitions)           08
:func:`dead_latents`,                  latents never active on a set                               08
:func:`dead_fraction`
:func:`mean_max_cosine_similarity`     MMCS: recovery of true dictionary directions                08
:func:`loss_recovered`                 fraction of the downstream loss an SAE splice recovers      08
:func:`codebook_perplexity`,           a VQ codebook's usage: exp(entropy), codes never used       09
:func:`dead_codes`
=====================================  ==========================================================  ============

**The one latent "hole" measure** (issues 18 and 21). Decode the straight line between the codes of two
images at ``S`` evenly spaced points, both ends included, and measure each decoded image's Euclidean
distance to its nearest training image, ``d_0 … d_{S-1}``. The path's *hole ratio* is
``mean(d_1 … d_{S-2}) / mean(d_0, d_{S-1})``: interior mean over endpoint mean. A ratio alone proves
nothing: even with no hole at all (distances *exchangeable* along the path — position does not matter)
its expectation is not exactly 1 (a ratio of means), and the older criterion "the largest of the 9
interior distances exceeds the larger endpoint" fires for 9 paths in 11 (the largest of 11 exchangeable
numbers is an interior one with probability 9/11 ≈ 82 %), so "most paths have a hole" could not fail.
:func:`hole_ratio_null` is the same ratio averaged over every choice of which two of the path's ``S``
points are called its "ends" (the permutation null: the path's own distances, position ignored). For
exchangeable distances ``E[hole_ratio − hole_ratio_null] = 0`` exactly; a hole (an interior bump) makes
it positive. Claim holes with :func:`paired_difference` ``(hole_ratio(d), hole_ratio_null(d))`` — a
paired 95 % interval (mean ± 1.96 standard errors) above 0 — and compare two models on the same pairs
with ``paired_difference(ratio_a, ratio_b)``. A second null, for "do paths between *different* digits
cross more empty space than paths within one digit class?", is the ratio on :func:`same_label_pairs`,
paired with :func:`different_label_pairs` by their shared first image (same seed).

Retrieval uses cosine similarity, as Hinton & Salakhutdinov's (2006) retrieval experiments: it compares
directions and ignores lengths. Similarities are computed a block of queries at a time, so that 10,000
queries against 60,000 images never hold the whole 10,000 × 60,000 matrix (2.4 GB) in memory.

Functions moved here from :mod:`aelab.baselines` (``cosine_neighbors``, ``precision_at_k``,
``retrieval_precision``, ``nearest_distance``) and :mod:`aelab.data` (``psnr``) are re-exported there
under their old names.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import _validation as check

__all__ = ["MAX_BLOCK_ENTRIES", "psnr", "principal_angles", "cosine_neighbors", "precision_at_k",
           "retrieval_precision", "retrieval_precision_per_query", "TIE_RULES", "nearest_distance", "different_label_pairs", "same_label_pairs",
           "decoded_line", "path_distances", "hole_ratio", "hole_ratio_null", "paired_difference",
           "paired_interval",
           "l0", "explained_variance", "dead_latents", "dead_fraction", "mean_max_cosine_similarity", "loss_recovered",
           "codebook_perplexity", "dead_codes"]

#: Largest number of similarities or distances held at once by the blocked functions (float32: 64 MiB).
MAX_BLOCK_ENTRIES = 2**24


# --------------------------------------------------------------------------- helpers

def _as_rows(X: torch.Tensor, name: str) -> np.ndarray:
    """``X`` as ``(N, D)`` NumPy rows; TypeError/ValueError for a non-float or empty batch."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images (N, ...), got {type(X).__name__}")
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty batch (N, ...), got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be floating point (float32 images in [0, 1]), got {X.dtype}")
    return X.detach().cpu().flatten(1).numpy()


def _unit_rows(X: torch.Tensor, name: str) -> torch.Tensor:
    """``X`` flattened to ``(N, D)`` float32 rows of length 1; ValueError on an all-zero row."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N, ...), got {type(X).__name__}")
    if X.ndim < 2 or len(X) == 0 or X[0].numel() == 0:
        raise ValueError(f"{name} must be a non-empty batch of vectors (N, D) or images (N, ...), "
                         f"got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {X.dtype}")
    flat = X.detach().flatten(1).float()
    norms = flat.norm(dim=1, keepdim=True)
    bad = (norms.squeeze(1) == 0) | ~torch.isfinite(norms.squeeze(1))
    if bad.any():
        rows = bad.nonzero().squeeze(1)[:5].tolist()
        raise ValueError(f"{name} has {int(bad.sum())} row(s) of length 0 or with non-finite values (first: {rows}); "
                         "the cosine similarity of such a row is undefined")
    return flat / norms


def _labels(labels: torch.Tensor, n: int | None, name: str, rows: str) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex() \
            or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer torch.Tensor (N,), got "
                        f"{labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__}")
    if (n is not None and labels.shape != (n,)) or labels.ndim != 1:
        want = f"({n},), one label per row of {rows}" if n is not None else "(N,), one label per image"
        raise ValueError(f"{name} must have shape {want}, got {tuple(labels.shape)}")
    return labels


def _block(block, n_columns: int) -> int:
    if block is None:
        return max(1, MAX_BLOCK_ENTRIES // max(1, n_columns))
    return check.integer(block, "block", minimum=1)


def _vector(values, name: str) -> np.ndarray:
    """A 1-D float64 array from a tensor, array or sequence of numbers."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D sequence of numbers (tensor, array or list), "
                        f"got {type(values).__name__}") from None
    if out.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one number per pair or seed), got shape {out.shape}")
    if not np.isfinite(out).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return out


# --------------------------------------------------------------------------- image quality

def psnr(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image, in decibels, for values in ``[0, 1]`` (peak 1).

    ``PSNR = 10 log10(1 / MSE)`` with MSE the mean squared error over the image's values (lecture 03's
    denoising tables, lab 03).

    Parameters
    ----------
    x_hat, x : torch.Tensor
        ``(N, ...)`` float, of the same shape (a reconstruction or a noisy image, and the clean one).

    Returns
    -------
    torch.Tensor
        ``(N,)``, ``x``'s float dtype, dB per image (``inf`` for an exact copy). Average dB over images
        with ``.mean()``.

    Raises
    ------
    TypeError
        If either is not a floating-point tensor (convert uint8 images with ``.float() / 255``).
    ValueError
        If the shapes differ, there is no batch dimension, or a tensor is empty.
    """
    check.tensor(x_hat, "x_hat")
    check.tensor(x, "x")
    if x_hat.shape != x.shape or x.ndim < 2:
        raise ValueError(f"x_hat and x must have the same shape (N, ...), got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    mse = (x_hat - x).pow(2).flatten(1).mean(1)
    return -10.0 * torch.log10(mse)


# --------------------------------------------------------------------------- subspaces

def _orthonormal_basis(A: torch.Tensor, name: str) -> torch.Tensor:
    """Orthonormal basis (D, p) of the column space of A (float64), by SVD; ValueError if rank < p."""
    u, s, _ = torch.linalg.svd(A, full_matrices=False)
    tol = s.max() * max(A.shape) * torch.finfo(torch.float64).eps
    rank = int((s > tol).sum())
    if rank < A.shape[1]:
        raise ValueError(f"the {A.shape[1]} columns of {name} span only {rank} dimension(s): give linearly "
                         "independent columns (a basis of the subspace)")
    return u


def principal_angles(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Principal angles between the column spaces of ``A`` and ``B``, in DEGREES, smallest first.

    The course measures subspaces in degrees (lecture 01: "the linear AE's subspace is PCA's: largest
    principal angle below 5°"; lab 01's exercise 3 asks for degrees). With orthonormal bases ``Qa``,
    ``Qb`` of the two subspaces, the singular values of ``Qaᵀ Qb`` are the cosines of the angles
    (Björck & Golub 1973). ``arccos`` loses accuracy for small angles (cos θ ≈ 1 − θ²/2), so angles
    whose cosine² is at least 1/2 are taken from the sines instead, the singular values of
    ``Qb − Qa Qaᵀ Qb`` (Knyazev & Argentati 2002; the method of ``scipy.linalg.subspace_angles``).
    Lecture 03's subspace *overlap* is ``cos(deg2rad(principal_angles(A, B))).pow(2).mean()``.

    Parameters
    ----------
    A : torch.Tensor
        ``(D, p)`` float; its columns span the first subspace (need not be orthonormal, e.g. a decoder
        matrix ``W_d``; pass PCA's ``components_``, which are rows, transposed).
    B : torch.Tensor
        ``(D, q)`` float; the second subspace.

    Returns
    -------
    torch.Tensor
        ``(min(p, q),)``, the inputs' (promoted) float dtype, in degrees in ``[0, 90]``, ascending.
        Computed in float64.

    Raises
    ------
    TypeError
        If ``A`` or ``B`` is not a floating-point tensor.
    ValueError
        If either is not 2-D, empty, not finite, their row counts ``D`` differ, or a matrix's columns
        are linearly dependent.
    """
    check.tensor(A, "A", ndim=2, finite=True)
    check.tensor(B, "B", ndim=2, finite=True)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must have the same number of rows D (vectors of the same space; columns span "
                         f"the subspaces), got shapes {tuple(A.shape)} and {tuple(B.shape)}")
    dtype = torch.promote_types(A.dtype, B.dtype)
    qa = _orthonormal_basis(A.detach().cpu().double(), "A")
    qb = _orthonormal_basis(B.detach().cpu().double(), "B")
    if qa.shape[1] < qb.shape[1]:
        qa, qb = qb, qa                                                    # qa spans the larger subspace
    cross = qa.T @ qb                                                      # (p, q), q <= p
    cosines = torch.linalg.svdvals(cross).clamp(-1.0, 1.0)                 # (q,) descending: angles ascending
    sines = torch.linalg.svdvals(qb - qa @ cross).clamp(-1.0, 1.0).flip(0)  # (q,) ascending
    angles = torch.where(cosines.pow(2) >= 0.5, torch.arcsin(sines), torch.arccos(cosines))
    return torch.rad2deg(angles).to(dtype)


# --------------------------------------------------------------------------- retrieval

def cosine_neighbors(query: torch.Tensor, database: torch.Tensor, k: int, *, exclude_self: bool = False,
                     block: int | None = None) -> torch.Tensor:
    """Indices of each query's ``k`` most cosine-similar database rows, most similar first.

    ``cos(a, b) = a·b / (‖a‖ ‖b‖)`` of the flattened vectors: the angle between them, whatever their
    lengths (an image's total ink, a code's scale), as in Hinton & Salakhutdinov (2006)'s retrieval
    experiments (lectures 02 and 06). Rows are normalized to length 1, and the similarities of
    ``block`` queries at a time are one matrix product, so memory stays at ``block × M`` numbers: the
    same neighbors as the full ``Q × M`` matrix (each query's row is complete in its block). Ties are
    broken by ``torch.topk`` (no guaranteed order among equal similarities).

    Parameters
    ----------
    query : torch.Tensor
        ``(Q, ...)`` float: vectors ``(Q, D)`` or images ``(Q, 1, 28, 28)``, flattened per row.
    database : torch.Tensor
        ``(M, ...)`` float with as many numbers per row as ``query``.
    k : int
        Neighbors per query, ``1 <= k <= M`` (``M - 1`` with ``exclude_self``).
    exclude_self : bool
        The query and database are the same rows (query ``i`` is database row ``i``, so ``Q == M``):
        never return a query as its own neighbor (a duplicate row elsewhere can still be returned).
    block : int, optional
        Queries per block; default: as many as keep a block under :data:`MAX_BLOCK_ENTRIES`
        similarities (64 MiB).

    Returns
    -------
    torch.Tensor
        int64, ``(Q, k)``, on the CPU: row ``i`` holds database indices by decreasing cosine
        similarity to query ``i``.

    Raises
    ------
    TypeError
        If ``query`` or ``database`` is not a float tensor, ``k``/``block`` not an integer or
        ``exclude_self`` not a bool.
    ValueError
        On empty inputs, different row sizes, a row of length 0 (its cosine is undefined), ``k`` out
        of range, ``exclude_self`` with ``Q != M``, or ``block < 1``.
    """
    q, db = _unit_rows(query, "query").cpu(), _unit_rows(database, "database").cpu()
    exclude_self = check.flag(exclude_self, "exclude_self")
    if q.shape[1] != db.shape[1]:
        raise ValueError(f"query rows have {q.shape[1]} numbers but database rows have {db.shape[1]}")
    if exclude_self and len(q) != len(db):
        raise ValueError(f"exclude_self=True needs the query to be the database (Q == M), got Q={len(q)}, M={len(db)}")
    most = len(db) - 1 if exclude_self else len(db)
    if check.integer(k, "k") < 1 or k > most:
        raise ValueError(f"k must be in [1, {most}] for a database of {len(db)} rows"
                         f"{' (the query itself left out)' if exclude_self else ''}, got {k}")
    k, block = int(k), _block(block, len(db))
    out = torch.empty(len(q), k, dtype=torch.int64)
    for start in range(0, len(q), block):
        similarity = q[start:start + block] @ db.T                      # (b, M) cosines
        if exclude_self:
            rows = torch.arange(len(similarity))
            similarity[rows, rows + start] = -float("inf")              # never the query itself
        out[start:start + block] = similarity.topk(k, dim=1).indices
    return out


def precision_at_k(query: torch.Tensor, database: torch.Tensor, query_labels: torch.Tensor,
                   database_labels: torch.Tensor, k: int = 10, *, exclude_self: bool = False,
                   block: int | None = None) -> float:
    """Mean fraction of each query's ``k`` most cosine-similar database rows that share its label.

    The retrieval measure of lecture 02 (and lab 02's exercise 3, where the query set is the database
    and each query is left out; lecture and lab 06): "precision@k", with neighbors from
    :func:`cosine_neighbors`.

    Parameters
    ----------
    query, database : torch.Tensor
        ``(Q, ...)`` and ``(M, ...)`` float, as :func:`cosine_neighbors`.
    query_labels, database_labels : torch.Tensor
        Integer, ``(Q,)`` and ``(M,)``.
    k : int
        Neighbors per query.
    exclude_self, block
        As :func:`cosine_neighbors`.

    Returns
    -------
    float
        In [0, 1]: the mean over queries and neighbors of ``label(neighbor) == label(query)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`cosine_neighbors`; also if the labels are not integer tensors with one label per row.
    """
    for X, name in ((query, "query"), (database, "database")):
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (N, ...), got {type(X).__name__}")
    _labels(query_labels, len(query), "query_labels", "query")
    _labels(database_labels, len(database), "database_labels", "database")
    nearest = cosine_neighbors(query, database, k, exclude_self=exclude_self, block=block)   # (Q, k)
    same = database_labels.cpu()[nearest] == query_labels.cpu()[:, None]
    return same.double().mean().item()


def _unit_matrix(X, name: str):
    """Rows of length 1 as a float32 torch tensor or a scipy CSR matrix; ValueError on a zero row."""
    import scipy.sparse as sp

    if sp.issparse(X):
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty (N, D) matrix, got shape {X.shape}")
        X = X.tocsr().astype(np.float32)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(1))).ravel()
        bad = (norms == 0) | ~np.isfinite(norms)
        if bad.any():
            raise ValueError(f"{name} has {int(bad.sum())} row(s) of length 0 or with non-finite values (first: "
                             f"{np.flatnonzero(bad)[:5].tolist()}); the cosine similarity of such a row is undefined "
                             "(drop documents with no vocabulary word)")
        return sp.diags(1 / norms).astype(np.float32) @ X
    return _unit_rows(X, name).cpu()


#: How :func:`retrieval_precision` and :func:`retrieval_precision_per_query` order equal similarities.
TIE_RULES = ("arbitrary", "expected")


def _prepare_retrieval(query, database, query_labels, database_labels):
    """Unit rows (dense tensors or CSR), checked labels on the CPU, and the transposed database."""
    import scipy.sparse as sp

    if isinstance(query, np.ndarray):
        query = torch.from_numpy(query)
    if isinstance(database, np.ndarray):
        database = torch.from_numpy(database)
    q, db = _unit_matrix(query, "query"), _unit_matrix(database, "database")
    if sp.issparse(q) != sp.issparse(db):
        raise TypeError("query and database must both be sparse matrices or both dense (tensors or arrays), got "
                        f"{type(query).__name__} and {type(database).__name__}")
    if q.shape[1] != db.shape[1]:
        raise ValueError(f"query rows have {q.shape[1]} numbers but database rows have {db.shape[1]}")
    _labels(query_labels, q.shape[0], "query_labels", "query")
    _labels(database_labels, db.shape[0], "database_labels", "database")
    qy, dby = query_labels.cpu(), database_labels.cpu()
    if min(qy.min(), dby.min()) < 0:
        raise ValueError("labels must be >= 0 (category indices), got a negative label")
    db_t = db.T.tocsr() if sp.issparse(db) else db.T
    return q, db_t, qy, dby


def _similarity_blocks(q, db_t, block: int):
    """Yield ``(start, (b, M) cosine similarities)`` a block of queries at a time (dense float32)."""
    import scipy.sparse as sp

    for start in range(0, q.shape[0], block):
        qb = q[start:start + block]
        yield start, (torch.from_numpy((qb @ db_t).toarray()) if sp.issparse(qb) else qb @ db_t)


def _retrieved_relevant(sim: torch.Tensor, same: torch.Tensor, ks: np.ndarray, ties: str, tol: float,
                        want_tied: bool = True):
    """Relevant rows among each query's top ``k``, ``(b, len(ks))`` float64, and whether the k-th place is tied.

    ``ties="arbitrary"``: the top k of ``torch.topk`` (equal similarities in whatever order it returns).
    ``ties="expected"``: the expected count when equal similarities (within ``tol``) are ordered at
    random — the rows strictly above the k-th similarity count fully; the tied group at the cut
    contributes its fraction of relevant rows times the places left: ``h_> + (k − n_>) · h_= / n_=``.
    """
    m, kmax = sim.shape[1], int(ks.max())
    top = sim.topk(kmax, dim=1) if kmax < m else sim.sort(dim=1, descending=True)
    found = torch.empty(len(sim), len(ks), dtype=torch.float64)
    tied = torch.zeros(len(sim), len(ks), dtype=torch.bool)         # left False unless want_tied
    if ties == "arbitrary":
        hits = same.gather(1, top.indices).double().cumsum(1)                            # (b, kmax)
    for j, k in enumerate(ks.tolist()):
        if ties == "arbitrary":
            found[:, j] = hits[:, k - 1]
            if not want_tied:
                continue
        # Few (b, M) temporaries at once (lecture 06: b x 72,716): the difference is reused in place, and
        # count_nonzero counts a boolean mask without the int64 copy that .sum() makes of it.
        cut = top.values[:, k - 1:k]                                                     # (b, 1) k-th similarity
        gap = sim - cut
        tie = gap.abs_() <= tol
        del gap
        n_tie = torch.count_nonzero(tie, dim=1)
        tied[:, j] = n_tie > 1
        if ties == "expected":
            above = sim > cut + tol
            n_above = torch.count_nonzero(above, dim=1).double()
            found[:, j] = (torch.count_nonzero(above.logical_and_(same), dim=1).double()
                           + (k - n_above) * torch.count_nonzero(tie.logical_and_(same), dim=1).double()
                           / n_tie.double())
    return found, tied


def retrieval_precision(query, database, query_labels: torch.Tensor, database_labels: torch.Tensor,
                        ks, *, block: int | None = None, ties: str = "arbitrary",
                        tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after retrieving each query's ``k`` most cosine-similar database rows.

    For each query the database is ranked by cosine similarity; a retrieved row is *relevant* if it
    has the query's label. Precision@k = relevant among the top k / k; recall@k = relevant among the
    top k / all relevant rows in the database. Both are averaged over the queries (queries with no
    relevant row count as recall 0). With ``ks`` spread over the fractions of the database retrieved
    this gives Hinton & Salakhutdinov's (2006) Fig. 4 and Salakhutdinov & Hinton's (2009)
    precision-recall curves (lecture and lab 06); ``ks=[10]`` gives :func:`precision_at_k`'s number.

    **Ties.** Short documents often have *exactly* equal similarities (duplicate bags of words), and
    then which of the tied rows land in the top k is arbitrary. ``ties="arbitrary"`` keeps
    ``torch.topk``'s order (no guarantee which); ``ties="expected"`` reports the expected value when
    tied rows (similarities within ``tol`` of the k-th one) are ordered at random: rows strictly above
    the k-th similarity count fully, and the tied group at the cut contributes ``(k − n_above) ×``
    its fraction of relevant rows. That value does not depend on the storage order of the database.

    Parameters
    ----------
    query, database : torch.Tensor, ndarray or scipy sparse matrix
        ``(Q, D)`` and ``(M, D)``; no row of length 0. Sparse TF-IDF rows (from
        :func:`aelab.baselines.tfidf_lsa`) stay sparse until each block's similarities.
    query_labels, database_labels : torch.Tensor
        Integer (>= 0), ``(Q,)`` and ``(M,)``.
    ks : sequence of int
        Retrieval depths, each in ``[1, M]``.
    block : int, optional
        Queries per block (default: about :data:`MAX_BLOCK_ENTRIES` similarities at once).
    ties : {"arbitrary", "expected"}
        How equal similarities at the k-th place are ordered (above).
    tol : float
        Similarities within ``tol`` (>= 0) of the k-th one count as tied with it (``ties="expected"``).

    Returns
    -------
    precision, recall : np.ndarray
        float64, ``(len(ks),)`` each, in [0, 1].

    Raises
    ------
    TypeError
        On non-matrix inputs, one sparse and one dense input, non-integer labels or ``block``.
    ValueError
        On different row sizes, a row of length 0, labels that are not one per row or negative, a
        ``k`` out of range, ``block < 1``, an unknown ``ties`` or a negative ``tol``.
    """
    found, _, relevant_total = _retrieval_counts(query, database, query_labels, database_labels, ks,
                                                 block=block, ties=ties, tol=tol, want_tied=False)
    ks_t = torch.as_tensor(np.asarray(ks), dtype=torch.float64)
    precision = (found / ks_t).mean(0)
    recall = (found / relevant_total[:, None].clamp(min=1)).mean(0)
    return precision.numpy(), recall.numpy()


def retrieval_precision_per_query(query, database, query_labels: torch.Tensor, database_labels: torch.Tensor,
                                  k: int = 10, *, block: int | None = None, ties: str = "expected",
                                  tol: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Each query's precision@k, and whether its k-th place is a tie (for paired comparisons, lecture 06).

    The per-query numbers whose mean is :func:`retrieval_precision`'s precision at ``ks=[k]`` (same
    ``ties`` rule and ``tol``; the default here is ``"expected"``, the order-independent value).

    Parameters
    ----------
    query, database, query_labels, database_labels, block, ties, tol
        As :func:`retrieval_precision`.
    k : int
        Retrieval depth in ``[1, M]``.

    Returns
    -------
    precision : torch.Tensor
        float64, ``(Q,)``, in [0, 1].
    tied : torch.Tensor
        bool, ``(Q,)``: more than one database row has (within ``tol``) the k-th similarity.

    Raises
    ------
    TypeError, ValueError
        As :func:`retrieval_precision`.
    """
    k = check.integer(k, "k", minimum=1)
    found, tied, _ = _retrieval_counts(query, database, query_labels, database_labels, [k],
                                       block=block, ties=ties, tol=tol)
    return found[:, 0] / k, tied[:, 0]


def _retrieval_counts(query, database, query_labels, database_labels, ks, *, block, ties, tol, want_tied=True):
    """``(Q, len(ks))`` relevant retrieved (float64), ``(Q, len(ks))`` tied flags, ``(Q,)`` relevant in total."""
    ties = check.choice(ties, "ties", TIE_RULES)
    tol = check.real(tol, "tol", low=0.0)
    q, db_t, qy, dby = _prepare_retrieval(query, database, query_labels, database_labels)
    m = db_t.shape[1]
    ks = np.asarray(ks)
    if ks.ndim != 1 or len(ks) == 0 or not np.issubdtype(ks.dtype, np.integer) or ks.min() < 1 or ks.max() > m:
        raise ValueError(f"ks must be a non-empty sequence of integers in [1, M] = [1, {m}], got {ks.tolist()}")
    relevant_total = torch.bincount(dby, minlength=int(max(qy.max(), dby.max())) + 1)[qy].double()   # (Q,)
    found, tied = [], []
    for start, sim in _similarity_blocks(q, db_t, _block(block, m)):
        same = dby[None, :] == qy[start:start + len(sim), None]                          # (b, M) relevant
        f, t = _retrieved_relevant(sim, same, ks, ties, tol, want_tied)
        found.append(f)
        tied.append(t)
    return torch.cat(found), torch.cat(tied), relevant_total


def nearest_distance(images: torch.Tensor, data: torch.Tensor, *, block: int | None = None) -> torch.Tensor:
    """Euclidean distance from each image to its nearest row of ``data``: "how far from the data is it?".

    Lectures 02, 06 and 07 measure decoded images with it (an image on the data manifold is close to
    some training image; a decoded "hole" is far from all of them); :func:`path_distances` and the hole
    ratio build on it. The distances of ``block`` images at a time are one ``torch.cdist``, so memory
    stays at ``block × M``.

    Parameters
    ----------
    images : torch.Tensor
        ``(P, ...)`` float, flattened per row.
    data : torch.Tensor
        ``(M, ...)`` float with as many numbers per row.
    block : int, optional
        Rows of ``images`` per block (default: about :data:`MAX_BLOCK_ENTRIES` distances at once).

    Returns
    -------
    torch.Tensor
        float32, ``(P,)``, on the CPU: ``min_m ‖images[p] − data[m]‖`` (not squared), in pixel-value
        units (images in [0, 1]). A duplicate of a data row has distance 0.

    Raises
    ------
    TypeError
        If either is not a float tensor, or ``block`` is not an integer.
    ValueError
        On empty inputs, different row sizes, non-finite values, or ``block < 1``.
    """
    a, b = _as_rows(images, "images"), _as_rows(data, "data")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"images have {a.shape[1]} numbers per row but data rows have {b.shape[1]}")
    a, b = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("images and data must be finite (no NaN or infinity)")
    block = _block(block, len(b))
    return torch.cat([torch.cdist(a[i:i + block], b).min(1).values for i in range(0, len(a), block)])


# --------------------------------------------------------------------------- pairs and paths

def _label_pairs(labels, n_pairs, seed, *, same: bool, name: str) -> torch.Tensor:
    labels = _labels(labels, None, "labels", "")
    n_pairs = check.integer(n_pairs, "n_pairs", minimum=1)
    seed = check.seed(seed)
    y = labels.detach().cpu().long()
    n = len(y)
    if n < 2:
        raise ValueError(f"{name} needs at least 2 labelled images, got {n}")
    order = torch.argsort(y, stable=True)                    # indices grouped by class, ascending within
    classes, counts = torch.unique(y, return_counts=True)
    cls = torch.searchsorted(classes, y)                     # class number of each image
    start = torch.cumsum(counts, 0) - counts                 # where each class begins in `order`
    partners = counts[cls] - 1 if same else n - counts[cls]  # (N,) images each one can be paired with
    eligible = (partners > 0).nonzero().squeeze(1)
    if len(eligible) == 0:
        raise ValueError(f"{name}: no image has a partner " + ("of its own class (every class has one image)"
                         if same else "of another class (all labels are equal)"))
    g = torch.Generator().manual_seed(seed)
    first = eligible[torch.randint(len(eligible), (n_pairs,), generator=g)]
    c = cls[first]
    u = (torch.rand(n_pairs, generator=g, dtype=torch.float64) * partners[first]).long()
    u = torch.minimum(u, partners[first] - 1)                # u uniform in [0, partners)
    if same:
        position = torch.empty(n, dtype=torch.long)
        position[order] = torch.arange(n)
        own = position[first] - start[c]                     # the first image's place in its class
        second = order[start[c] + u + (u >= own).long()]     # skip the first image itself
    else:
        second = order[torch.where(u < start[c], u, u + counts[c])]   # skip the first image's class
    return torch.stack([first, second], 1)


def different_label_pairs(labels: torch.Tensor, n_pairs: int, *, seed: int = 0) -> torch.Tensor:
    """Random pairs of images with different labels: the ends of lecture 02's and 07's paths.

    Each pair's first image is drawn uniformly (with replacement) among the images, and its second
    uniformly among the images of *another* class, so the pairs are independent draws (what a standard
    error over pairs assumes; a pair may repeat when ``n_pairs`` is large). With the same ``seed``,
    :func:`same_label_pairs` returns the same first images, so the two sets of paths are paired by
    their first image (when every image has partners of both kinds).

    Parameters
    ----------
    labels : torch.Tensor
        Integer, ``(N,)``: one class label per image (any integers; they need not be 0..C−1).
    n_pairs : int
        Number of pairs, >= 1.
    seed : int
        Seed of the draw (a private ``torch.Generator``; the global RNG is untouched).

    Returns
    -------
    torch.Tensor
        int64, ``(n_pairs, 2)``: indices ``(i, j)`` into ``labels`` with ``labels[i] != labels[j]``.

    Raises
    ------
    TypeError
        If ``labels`` is not an integer tensor, ``n_pairs`` or ``seed`` not an integer.
    ValueError
        If ``labels`` is not 1-D, all labels are equal, or ``n_pairs < 1``.
    """
    return _label_pairs(labels, n_pairs, seed, same=False, name="different_label_pairs")


def same_label_pairs(labels: torch.Tensor, n_pairs: int, *, seed: int = 0) -> torch.Tensor:
    """Random pairs of two different images with the same label (the class null of the hole ratio).

    As :func:`different_label_pairs`, but the second image is drawn uniformly among the *other* images
    of the first one's class (never the first image itself; a duplicate image elsewhere can be drawn).
    First images are drawn among images whose class has at least two members.

    Returns
    -------
    torch.Tensor
        int64, ``(n_pairs, 2)``: ``(i, j)`` with ``labels[i] == labels[j]`` and ``i != j``.

    Raises
    ------
    TypeError, ValueError
        As :func:`different_label_pairs`; ValueError if every class has a single image.
    """
    return _label_pairs(labels, n_pairs, seed, same=True, name="same_label_pairs")


@torch.no_grad()
def decoded_line(model, a: torch.Tensor, b: torch.Tensor, steps: int = 11, *, codes: bool = False) -> torch.Tensor:
    """Decode the straight line between two codes: ``decode((1 − t) z_a + t z_b)`` at ``steps`` values of t.

    ``t`` runs over ``torch.linspace(0, 1, steps)``, both ends included, so the first image decodes
    ``z_a`` and the last ``z_b`` exactly. The codes are the model's ``encode`` of the images ``a`` and
    ``b`` (a VAE's means ``mu``: ``encode`` returning a tuple gives its first element), or ``a`` and
    ``b`` themselves with ``codes=True``. Lectures 02 (holes), 06 (interpolation figure), 07 (AE vs
    VAE paths) and lab 02 (exercise 4 writes the line by hand) use it. The model is run in eval mode
    (restored afterwards) without gradients.

    Parameters
    ----------
    model : nn.Module
        An autoencoder with ``decode(z)`` (and ``encode(x)`` unless ``codes=True``).
    a, b : torch.Tensor
        ``(P, ...)`` float images (``(P, 1, 28, 28)``; one pair: ``X_test[i:i + 1]``), or ``(P, k)``
        codes with ``codes=True``: the two ends of ``P`` lines.
    steps : int
        Points per line, >= 2.
    codes : bool
        ``a`` and ``b`` are codes, not images.

    Returns
    -------
    torch.Tensor
        ``(P, steps, *image_shape)``, the decoder's float dtype, on the CPU: row ``p`` is the path from
        (the decoding of) ``a[p]``'s code to ``b[p]``'s.

    Raises
    ------
    TypeError
        If ``model`` lacks ``decode``/``encode``, ``a``/``b`` are not float tensors, ``steps`` is not an
        integer or ``codes`` not a bool.
    ValueError
        If ``a`` and ``b`` differ in shape, are empty or not finite, or ``steps < 2``.
    """
    codes = check.flag(codes, "codes")
    steps = check.integer(steps, "steps", minimum=2)
    check.tensor(a, "a", finite=True)
    check.tensor(b, "b", finite=True)
    if a.shape != b.shape or a.ndim < 2:
        raise ValueError(f"a and b must be batches (P, ...) of the same shape (one pair: X[i:i + 1]), "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    needed = ("decode",) if codes else ("encode", "decode")
    for method in needed:
        if not callable(getattr(model, method, None)):
            raise TypeError(f"model must have {' and '.join(needed)} methods, got {type(model).__name__}")
    params = list(model.parameters()) if hasattr(model, "parameters") else []
    device = params[0].device if params else a.device
    was = getattr(model, "training", None)
    if was is not None:
        model.eval()
    try:
        if codes:
            za, zb = a.to(device), b.to(device)
        else:
            out_a, out_b = model.encode(a.to(device)), model.encode(b.to(device))
            za = out_a[0] if isinstance(out_a, tuple) else out_a           # a VAE: its mean
            zb = out_b[0] if isinstance(out_b, tuple) else out_b
        t = torch.linspace(0, 1, steps, dtype=za.dtype, device=za.device)[None, :, None]   # (1, S, 1)
        line = (1 - t) * za[:, None] + t * zb[:, None]                                       # (P, S, k)
        images = model.decode(line.flatten(0, 1))                                            # (P*S, ...)
    finally:
        if was is not None:
            model.train(was)
    return images.reshape(len(a), steps, *images.shape[1:]).cpu()


def path_distances(model, a: torch.Tensor, b: torch.Tensor, data: torch.Tensor, steps: int = 11, *,
                   codes: bool = False) -> torch.Tensor:
    """Each decoded line's distance profile: :func:`nearest_distance` of every point of :func:`decoded_line`.

    Parameters
    ----------
    model, a, b, steps, codes
        As :func:`decoded_line`.
    data : torch.Tensor
        ``(M, ...)`` float: the training images the decoded points are compared with.

    Returns
    -------
    torch.Tensor
        float32, ``(P, steps)``, on the CPU: ``d[p, s]`` is the Euclidean distance from the ``s``-th
        decoded point of path ``p`` to its nearest row of ``data``. Feed it to :func:`hole_ratio` and
        :func:`hole_ratio_null`.

    Raises
    ------
    TypeError, ValueError
        As :func:`decoded_line` and :func:`nearest_distance`.
    """
    lines = decoded_line(model, a, b, steps, codes=codes)                 # (P, S, ...)
    return nearest_distance(lines.flatten(0, 1).float(), data).reshape(len(lines), -1)


def _profiles(distances, name: str = "distances") -> torch.Tensor:
    check.tensor(distances, name, ndim=(1, 2), finite=True)
    if distances.shape[-1] < 3:
        raise ValueError(f"{name} must hold at least 3 points per path (two ends and an interior), got shape "
                         f"{tuple(distances.shape)}")
    if (distances < 0).any():
        raise ValueError(f"{name} must be >= 0 (distances to the nearest training image), got a negative value")
    return distances.detach().cpu().double()


def hole_ratio(distances: torch.Tensor) -> torch.Tensor:
    """THE latent-hole measure: a path's interior-mean over endpoint-mean distance to the nearest training image.

    ``ratio = mean(d_1 … d_{S-2}) / mean(d_0, d_{S-1})`` for a profile ``d`` from :func:`path_distances`
    (``S`` points, both ends included). Above 1: the middle of the decoded path is farther from every
    training image than its ends. The ratio alone is not evidence of a hole — compare it with
    :func:`hole_ratio_null` through :func:`paired_difference` (see the module docstring; issues 18 and
    21). Dividing by the path's own ends makes models that draw differently sharp images comparable
    (lecture 07's AE vs VAE).

    Parameters
    ----------
    distances : torch.Tensor
        ``(P, S)`` (or one path, ``(S,)``) float, >= 0, ``S >= 3``: distances along each path.

    Returns
    -------
    torch.Tensor
        float64, ``(P,)`` (or 0-d): one dimensionless ratio per path.

    Raises
    ------
    TypeError
        If ``distances`` is not a floating-point tensor.
    ValueError
        If it is not 1-D or 2-D, has fewer than 3 points per path, negative or non-finite values, or a
        path whose two ends both have distance 0 (the ratio is undefined).
    """
    d = _profiles(distances)
    ends = d[..., [0, -1]].mean(-1)
    if (ends == 0).any():
        raise ValueError("a path's two ends both lie on training images (distance 0): its hole ratio is undefined; "
                         "use decoded test images as ends")
    return d[..., 1:-1].mean(-1) / ends


def hole_ratio_null(distances: torch.Tensor) -> torch.Tensor:
    """The hole ratio a path would have if position along it did not matter (the permutation null).

    The mean of :func:`hole_ratio` over all ``S (S − 1) / 2`` choices of which two of the path's ``S``
    distances are called its "ends" (the rest being its "interior") — exactly the average over every
    reordering of the path's distances, computed without sampling. If the distances along a path are
    exchangeable (no hole: a decoded point's distance to the data does not depend on where on the line it
    is), ``hole_ratio(d)`` and ``hole_ratio_null(d)`` have the same expectation, so
    ``paired_difference(hole_ratio(d), hole_ratio_null(d))`` has mean 0 and a claim "the paths have holes"
    can fail; the old criterion "the largest of 9 interior distances exceeds the larger end" fires on
    9/11 ≈ 82 % of such paths.

    Parameters
    ----------
    distances : torch.Tensor
        As :func:`hole_ratio`: ``(P, S)`` or ``(S,)``, float, >= 0, ``S >= 3``.

    Returns
    -------
    torch.Tensor
        float64, ``(P,)`` (or 0-d): the null ratio of each path.

    Raises
    ------
    TypeError, ValueError
        As :func:`hole_ratio`; ValueError also if some pair of a path's points both have distance 0.
    """
    d = _profiles(distances)
    s = d.shape[-1]
    i, j = torch.triu_indices(s, s, offset=1)                          # every choice of two "ends"
    end_sum = d[..., i] + d[..., j]                                    # (..., S(S-1)/2)
    if (end_sum == 0).any():
        raise ValueError("two points of a path have distance 0: the null ratio is undefined for that choice of ends")
    interior = (d.sum(-1, keepdim=True) - end_sum) / (s - 2)
    return (interior / (end_sum / 2)).mean(-1)


def paired_difference(a, b) -> tuple[float, float]:
    """Mean paired difference ``a − b`` and its standard error: two measures on the same units (pairs, seeds).

    ``mean = (1/n) Σ (a_i − b_i)``, ``standard_error = sd(a − b) / √n`` with the sample standard deviation
    (``n − 1`` in the denominator) — ``mean / standard_error`` is the paired t statistic of
    ``scipy.stats.ttest_rel``. docs/architecture.md, "Claims that can fail": "beats" means ``mean − 1.96 SE > 0``.
    Use it for a model's hole ratios against their null (lecture 02), two models on the same pairs
    (lecture 07: AE vs VAE), or per-seed results.

    Parameters
    ----------
    a, b : torch.Tensor, ndarray or sequence of float
        1-D, the same length ``n >= 2``: ``a[i]`` and ``b[i]`` measured on the same unit ``i``.

    Returns
    -------
    mean, standard_error : float
        In the units of ``a``; the standard error is 0 when every difference is the same.

    Raises
    ------
    TypeError
        If ``a`` or ``b`` is not numeric.
    ValueError
        If they are not 1-D, differ in length, have fewer than 2 entries, or hold NaN/inf.
    """
    a, b = _vector(a, "a"), _vector(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must be paired (the same length), got {len(a)} and {len(b)}")
    if len(a) < 2:
        raise ValueError(f"a paired standard error needs at least 2 pairs, got {len(a)}")
    diff = a - b
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))


def paired_interval(a, b, level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval for the mean paired difference ``a − b``: for comparisons over few seeds.

    ``mean ± t_{(1+level)/2, n−1} · SE`` with ``mean, SE = paired_difference(a, b)``: the interval of the paired
    t-test (``scipy.stats.ttest_rel``). With few pairs the normal quantile 1.96 is too lenient — the 97.5 %
    quantile of Student's t is 4.30 for 3 seeds, 2.78 for 5 and 2.26 for 10, and tends to 1.96 — so a
    claim that "A beats B over n seeds" uses ``paired_interval(a, b)[0] > 0``
    (docs/architecture.md, "Claims that can fail").

    Parameters
    ----------
    a, b : torch.Tensor, ndarray or sequence of float
        1-D, the same length ``n >= 2``: ``a[i]`` and ``b[i]`` measured on the same unit (seed) ``i``.
    level : float
        Confidence level in (0, 1), default 0.95.

    Returns
    -------
    low, high : float
        The interval's ends, in the units of ``a``; ``low == high == mean`` when every difference is the same.

    Raises
    ------
    TypeError
        If ``a``, ``b`` or ``level`` is not numeric.
    ValueError
        As ``paired_difference``, or if ``level`` is not strictly between 0 and 1.
    """
    level = check.real(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    mean, se = paired_difference(a, b)
    import scipy.stats   # lazy: scipy comes with scikit-learn
    half = float(scipy.stats.t.ppf((1.0 + level) / 2.0, len(_vector(a, "a")) - 1)) * se
    return mean - half, mean + half


# --------------------------------------------------------------------------- sparse autoencoders (lecture 08)

def _codes(z, name: str = "codes") -> torch.Tensor:
    check.tensor(z, name, ndim=2)
    if torch.isnan(z).any():
        raise ValueError(f"{name} holds NaN values")
    return z.detach()


def l0(codes: torch.Tensor) -> float:
    """Mean number of active (non-zero) latents per input: the sparsity of a sparse autoencoder's code.

    ``L0 = (1/N) Σ_n #{l : f_l(x_n) ≠ 0}`` — the L0 "norm" of each code averaged over inputs (SAELens'
    ``metrics/l0``, which counts ``f > 0``: the same for ReLU and TopK codes, which are >= 0). A TopK
    SAE has ``L0 <= k`` by construction (Gao et al. 2024). Lecture 08.

    Parameters
    ----------
    codes : torch.Tensor
        ``(N, L)`` float latent activations ``f(x)`` of ``N`` inputs.

    Returns
    -------
    float
        Active latents per input, in ``[0, L]``.

    Raises
    ------
    TypeError
        If ``codes`` is not a floating-point tensor.
    ValueError
        If it is not 2-D, is empty or holds NaN.
    """
    z = _codes(codes)
    return (z != 0).sum(1).double().mean().item()


def explained_variance(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Fraction of the inputs' variance the reconstruction explains: ``1 − Σ‖x − x̂‖² / Σ‖x − x̄‖²``.

    Sums over inputs ``n`` and dimensions; ``x̄`` is the mean input of the set. This is SAELens'
    ``metrics/explained_variance`` (``1 − mean_n ‖x_n − x̂_n‖² / mean_n ‖x_n − x̄‖²``; its
    ``explained_variance_legacy`` averages a per-input ratio instead) and 1 − Gao et al.'s (2024)
    normalized MSE; it equals scikit-learn's ``r2_score(x, x_hat, multioutput="variance_weighted")``.
    1: perfect; 0: no better than always answering the mean input; negative: worse. Lecture 08.

    Parameters
    ----------
    x, x_hat : torch.Tensor
        ``(N, ...)`` float of the same shape, ``N >= 2``: inputs (e.g. activations) and reconstructions.

    Returns
    -------
    float
        Dimensionless, ``<= 1``.

    Raises
    ------
    TypeError
        If either is not a floating-point tensor.
    ValueError
        If the shapes differ, ``N < 2``, values are not finite, or ``x`` has no variance (all rows equal).
    """
    check.tensor(x, "x", finite=True)
    check.tensor(x_hat, "x_hat", finite=True)
    if x.shape != x_hat.shape or x.ndim < 2:
        raise ValueError(f"x and x_hat must have the same shape (N, ...), got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    if len(x) < 2:
        raise ValueError(f"explained variance needs at least 2 inputs (a variance), got {len(x)}")
    xs, xh = x.detach().flatten(1).double(), x_hat.detach().flatten(1).double()
    total = (xs - xs.mean(0)).pow(2).sum()
    if total == 0:
        raise ValueError("x has no variance (every input is the same): the explained variance is undefined")
    return (1 - (xs - xh).pow(2).sum() / total).item()


def dead_latents(codes: torch.Tensor) -> torch.Tensor:
    """Which latents are never active (exactly 0 for every input) on a set — measure it on held-out inputs.

    A latent is *dead* on a set if ``f_l(x) = 0`` for every ``x`` in it (strictly: any non-zero value,
    however small, makes it alive). Practitioners count dead latents over many held-out inputs (SAELens'
    ``sparsity/dead_features`` over a window of training tokens; Gao et al. 2024 over 10M tokens);
    a latent dead on one training batch may be alive on the next. Lecture 08.

    Parameters
    ----------
    codes : torch.Tensor
        ``(N, L)`` float latent activations of ``N`` inputs.

    Returns
    -------
    torch.Tensor
        bool, ``(L,)``, on ``codes``' device: True where the latent is 0 on every input.

    Raises
    ------
    TypeError, ValueError
        As :func:`l0`.
    """
    z = _codes(codes)
    return (z == 0).all(0)


def dead_fraction(codes: torch.Tensor) -> float:
    """Fraction of latents never active on a set: ``dead_latents(codes).float().mean()``, in [0, 1] (lecture 08).

    Raises
    ------
    TypeError, ValueError
        As :func:`l0`.
    """
    return dead_latents(codes).double().mean().item()


def mean_max_cosine_similarity(learned: torch.Tensor, true: torch.Tensor, *, absolute: bool = False) -> float:
    """MMCS: for each true direction, the cosine of the closest learned one, averaged over the true directions.

    ``MMCS = (1/F) Σ_f max_l cos(true[:, f], learned[:, l])`` (Sharkey, Braun & Millidge 2022, "Taking
    features out of superposition with sparse autoencoders"; lecture 08). Columns are compared, so pass
    a decoder's ``W_d`` (``nn.Linear(L, D).weight`` is ``(D, L)``: column ``l`` is latent ``l``'s
    direction) and the generator's directions as columns. 1 means every true direction is recovered
    (up to order and positive scale); the maximum is over the *learned* axis and the mean over the
    *true* one, so extra learned columns do not lower it. Signed by default: an SAE's features are
    non-negative, so a column pointing the opposite way does not represent a feature; ``absolute=True``
    compares sign-free directions (e.g. PCA's, whose signs are arbitrary).

    Parameters
    ----------
    learned : torch.Tensor
        ``(D, L)`` float: learned dictionary, one direction per column (need not be unit length).
    true : torch.Tensor
        ``(D, F)`` float: ground-truth directions, one per column.
    absolute : bool
        Use ``|cos|``.

    Returns
    -------
    float
        In ``[-1, 1]`` (``[0, 1]`` with ``absolute``).

    Raises
    ------
    TypeError
        If either is not a floating-point tensor, or ``absolute`` not a bool.
    ValueError
        If either is not 2-D, not finite, they differ in ``D`` (rows), or a column has length 0.
    """
    absolute = check.flag(absolute, "absolute")
    check.tensor(learned, "learned", ndim=2, finite=True)
    check.tensor(true, "true", ndim=2, finite=True)
    if learned.shape[0] != true.shape[0]:
        raise ValueError(f"learned and true must hold directions of the same space as COLUMNS (D, L) and (D, F), "
                         f"got shapes {tuple(learned.shape)} and {tuple(true.shape)} (transpose row-wise dictionaries)")
    cols = []
    for m, name in ((learned, "learned"), (true, "true")):
        m = m.detach().cpu().double()
        norms = m.norm(dim=0)
        if (norms == 0).any():
            raise ValueError(f"{name} has {int((norms == 0).sum())} column(s) of length 0: their direction is undefined")
        cols.append(m / norms)
    cos = cols[1].T @ cols[0]                                         # (F, L)
    if absolute:
        cos = cos.abs()
    return cos.max(1).values.mean().clamp(-1.0, 1.0).item()


def loss_recovered(clean, spliced, ablated) -> float:
    """Fraction of the downstream loss an SAE's reconstruction recovers: ``(L_abl − L_sae) / (L_abl − L_clean)``.

    Splice the sparse autoencoder's reconstruction ``x̂`` into the network in place of the layer's
    activations ``x`` and measure the network's loss (e.g. its test cross-entropy) three ways: with the
    original activations (``clean``), with ``x̂`` (``spliced``) and with the layer *ablated* — replaced by
    zeros or by its mean activation (``ablated``). Then

        ``loss recovered = (L_ablated − L_spliced) / (L_ablated − L_clean)``.

    1: the reconstruction serves the network as well as the original activations; 0: no better than
    ablating the layer; negative: worse than ablating it; above 1: the splice lowers the loss below the
    clean network's. Bricken et al. (2023, "Towards Monosemanticity") report this fraction of the
    layer's loss reduction with zero ablation as the 0 point, and SAELens' ``metrics/ce_loss_score`` is
    the same ratio of cross-entropies; a mean ablation (every input gets the layer's average
    activation) is a stricter 0 point. Gao et al. (2024) report the downstream loss itself. Which
    ablation is the 0 point changes the number: state it. Lecture 08.

    Parameters
    ----------
    clean, spliced, ablated : float
        The same loss of the same network on the same inputs (any units: nats, bits, squared error),
        with the original activations, with the SAE's reconstruction spliced in, and with the layer
        ablated. Python or NumPy numbers, 0-d arrays or one-element tensors.

    Returns
    -------
    float
        Dimensionless; 1 for a perfect splice, 0 for one as bad as the ablation.

    Raises
    ------
    TypeError
        If a loss is not a real number (``bool`` included).
    ValueError
        If a loss is NaN or infinite, or ``ablated <= clean``: the ratio is undefined when ablating the
        layer costs nothing (``ablated == clean``) and meaningless when it lowers the loss.
    """
    clean = check.real(clean, "loss_recovered: clean")
    spliced = check.real(spliced, "loss_recovered: spliced")
    ablated = check.real(ablated, "loss_recovered: ablated")
    if not ablated > clean:
        raise ValueError(f"loss_recovered needs the ablated loss above the clean one (ablating the layer must "
                         f"cost something), got ablated {ablated:g} <= clean {clean:g}: the ratio is undefined")
    return (ablated - spliced) / (ablated - clean)


# --------------------------------------------------------------------------- vector quantization (lecture 09)

def _code_counts(indices, num_codes, owner: str) -> torch.Tensor:
    num_codes = check.integer(num_codes, f"{owner}: num_codes", minimum=1)
    if not isinstance(indices, torch.Tensor) or indices.is_floating_point() or indices.dtype == torch.bool:
        got = indices.dtype if isinstance(indices, torch.Tensor) else type(indices).__name__
        raise TypeError(f"{owner}: indices must be an integer tensor of code indices, got {got}")
    if indices.numel() == 0:
        raise ValueError(f"{owner}: indices is empty (shape {tuple(indices.shape)})")
    if indices.min() < 0 or indices.max() >= num_codes:
        raise ValueError(f"{owner}: indices must lie in [0, {num_codes}), got [{int(indices.min())}, "
                         f"{int(indices.max())}]")
    return torch.bincount(indices.detach().flatten().long().cpu(), minlength=num_codes)


def codebook_perplexity(indices: torch.Tensor, num_codes: int) -> float:
    """Perplexity of a codebook's usage: ``exp(H)``, ``H = −Σ_k p_k log p_k`` with ``p_k`` the fraction of picks of code k.

    The effective number of codes in use (van den Oord et al. 2017 and the common VQ-VAE code log it, e.g.
    keras-io's ``vq_vae.py`` / ``vector-quantize-pytorch``): ``K`` when every code is picked equally often,
    1 when one code takes every pick. Count over many vectors (all grid positions of a held-out set).
    Lecture 09.

    Parameters
    ----------
    indices : torch.Tensor
        Integer code indices of any shape (e.g. ``(N, 7, 7)``), values in ``[0, num_codes)``.
    num_codes : int
        K >= 1.

    Returns
    -------
    float
        In ``[1, K]``.

    Raises
    ------
    TypeError
        If ``indices`` is not an integer tensor or ``num_codes`` not an integer.
    ValueError
        If ``indices`` is empty or out of range, or ``num_codes < 1``.
    """
    counts = _code_counts(indices, num_codes, "codebook_perplexity").double()
    p = counts / counts.sum()
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return float(entropy.exp().clamp(1.0, float(len(counts))))


def dead_codes(indices: torch.Tensor, num_codes: int) -> int:
    """Number of codes of a codebook that no vector picks: ``#{k : count_k = 0}`` over ``indices`` (lecture 09).

    As :func:`dead_latents` for a sparse autoencoder, a code dead on one batch may be alive on another:
    count over a held-out set. A dead code gets no gradient from the codebook loss and stays where it is.

    Returns
    -------
    int
        In ``[0, K − 1]`` (at least one code is picked).

    Raises
    ------
    TypeError, ValueError
        As :func:`codebook_perplexity`.
    """
    return int((_code_counts(indices, num_codes, "dead_codes") == 0).sum())
