"""Baselines the autoencoders are compared with, and the retrieval measure they share.

PCA is the best linear autoencoder (lecture 01): encoding is the projection of the centred
image onto the top-k principal directions, decoding maps the k numbers back and adds the
mean. Hinton & Salakhutdinov (2006) compare their deep autoencoder with PCA-30 on MNIST
(squared error per test image 13.87); lectures and labs use :func:`fit_pca` and
:func:`pca_reconstruct` so that every notebook computes that number the same way.

Retrieval (lectures 02 and 06): :func:`cosine_neighbors` finds each query's most
cosine-similar database rows, a block of queries at a time, so that 10,000 queries against
60,000 images never hold the whole 10,000 × 60,000 similarity matrix (2.4 GB) in memory;
:func:`precision_at_k` is the fraction of those neighbors that share the query's label.
Cosine similarity, as in Hinton & Salakhutdinov's retrieval experiments, compares the
directions of two vectors and ignores their lengths.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["fit_pca", "pca_reconstruct", "cosine_neighbors", "precision_at_k"]

#: Largest number of similarities :func:`cosine_neighbors` holds at once (float32: 64 MiB).
MAX_BLOCK_ENTRIES = 2**24


def _as_rows(X: torch.Tensor, name: str) -> np.ndarray:
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of images (N, ...), got {type(X).__name__}")
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty batch (N, ...), got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        raise TypeError(f"{name} must be floating point (float32 images in [0, 1]), got {X.dtype}")
    return X.detach().cpu().flatten(1).numpy()


def fit_pca(X: torch.Tensor, n_components: int):
    """Fit scikit-learn's PCA with ``n_components`` components to the images ``X``.

    Uses the ``covariance_eigh`` solver (the eigendecomposition of the D × D covariance: the
    same subspace as lecture 01's SVD, and fast when N ≫ D = 784).

    Parameters
    ----------
    X : torch.Tensor
        ``(N, ...)`` float images, flattened to ``(N, D)``.
    n_components : int
        k, with ``1 <= k <= min(N, D)``.

    Returns
    -------
    sklearn.decomposition.PCA
        Fitted; its ``components_`` are ``(k, D)``, ``mean_`` is ``(D,)``.

    Raises
    ------
    TypeError
        If ``X`` is not a float tensor or ``n_components`` not an integer.
    ValueError
        If ``X`` is not a non-empty batch or ``n_components`` is out of range.
    """
    from sklearn.decomposition import PCA

    rows = _as_rows(X, "X")
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise TypeError(f"n_components must be an integer, got {n_components!r}")
    if not 1 <= n_components <= min(rows.shape):
        raise ValueError(f"n_components must be in [1, min(N, D)] = [1, {min(rows.shape)}] for X of shape "
                         f"{tuple(X.shape)}, got {n_components}")
    return PCA(n_components=int(n_components), svd_solver="covariance_eigh").fit(rows)


def pca_reconstruct(pca, X: torch.Tensor) -> torch.Tensor:
    """Encode and decode images with a fitted PCA: ``mean + (x - mean) W^T W``.

    Parameters
    ----------
    pca : sklearn.decomposition.PCA
        Fitted (e.g. by :func:`fit_pca`) on images with as many pixels as ``X``'s.
    X : torch.Tensor
        ``(N, ...)`` float images, e.g. ``(N, 1, 28, 28)``.

    Returns
    -------
    torch.Tensor
        float32, ``X``'s shape, on the CPU. Values can leave [0, 1] slightly (clamp to show them).

    Raises
    ------
    TypeError
        If ``X`` is not a float tensor or ``pca`` is not a fitted PCA.
    ValueError
        If ``X`` has another number of pixels than ``pca`` was fitted on.
    """
    rows = _as_rows(X, "X")
    mean = getattr(pca, "mean_", None)
    if mean is None or not hasattr(pca, "inverse_transform"):
        raise TypeError(f"pca must be a fitted sklearn PCA (see aelab.baselines.fit_pca), got {type(pca).__name__}")
    if rows.shape[1] != len(mean):
        raise ValueError(f"X has {rows.shape[1]} values per image but the PCA was fitted on {len(mean)}")
    return torch.from_numpy(pca.inverse_transform(pca.transform(rows))).float().reshape(X.shape)


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


def _labels(labels: torch.Tensor, n: int, name: str, rows: str) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"{name} must be an integer torch.Tensor (N,), got "
                        f"{labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__}")
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one label per row of {rows}, got {tuple(labels.shape)}")
    return labels


def cosine_neighbors(query: torch.Tensor, database: torch.Tensor, k: int, *, exclude_self: bool = False,
                      block: int | None = None) -> torch.Tensor:
    """Indices of each query's ``k`` most cosine-similar database rows, most similar first.

    ``cos(a, b) = a·b / (‖a‖ ‖b‖)`` of the flattened vectors: the angle between them, whatever
    their lengths (an image's total ink, a code's scale), as in Hinton & Salakhutdinov (2006)'s
    retrieval experiments. Rows are normalized to length 1, and the similarities of ``block``
    queries at a time are one matrix product, so memory stays at ``block × M`` numbers: the same
    neighbors as the full ``Q × M`` matrix (each query's row is complete in its block).

    Parameters
    ----------
    query : torch.Tensor
        ``(Q, ...)`` float: vectors ``(Q, D)`` or images ``(Q, 1, 28, 28)``, flattened per row.
    database : torch.Tensor
        ``(M, ...)`` float with as many numbers per row as ``query``.
    k : int
        Neighbours per query, ``1 <= k <= M`` (``M - 1`` with ``exclude_self``).
    exclude_self : bool
        The query and database are the same rows (query ``i`` is database row ``i``, so
        ``Q == M``): never return a query as its own neighbor.
    block : int, optional
        Queries per block; default: as many as keep a block under :data:`MAX_BLOCK_ENTRIES`
        similarities (64 MiB).

    Returns
    -------
    torch.Tensor
        int64, ``(Q, k)``, on the CPU: row ``i`` holds database indices by decreasing
        cosine similarity to query ``i``.

    Raises
    ------
    TypeError
        If ``query`` or ``database`` is not a float tensor, or ``k``/``block`` not an integer.
    ValueError
        On empty inputs, different row sizes, a row of length 0 (its cosine is undefined),
        ``k`` out of range, ``exclude_self`` with ``Q != M``, or ``block < 1``.
    """
    q, db = _unit_rows(query, "query").cpu(), _unit_rows(database, "database").cpu()
    if q.shape[1] != db.shape[1]:
        raise ValueError(f"query rows have {q.shape[1]} numbers but database rows have {db.shape[1]}")
    if exclude_self and len(q) != len(db):
        raise ValueError(f"exclude_self=True needs the query to be the database (Q == M), got Q={len(q)}, M={len(db)}")
    for value, what in ((k, "k"), (block, "block")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
            raise TypeError(f"{what} must be an integer, got {value!r}")
    most = len(db) - 1 if exclude_self else len(db)
    if not 1 <= k <= most:
        raise ValueError(f"k must be in [1, {most}] for a database of {len(db)} rows"
                         f"{' (the query itself left out)' if exclude_self else ''}, got {k}")
    if block is None:
        block = max(1, MAX_BLOCK_ENTRIES // len(db))
    elif block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    out = torch.empty(len(q), int(k), dtype=torch.int64)
    for start in range(0, len(q), block):
        similarity = q[start:start + block] @ db.T                      # (b, M) cosines
        if exclude_self:
            rows = torch.arange(len(similarity))
            similarity[rows, rows + start] = -float("inf")              # never the query itself
        out[start:start + block] = similarity.topk(int(k), dim=1).indices
    return out


def precision_at_k(query: torch.Tensor, database: torch.Tensor, query_labels: torch.Tensor,
                   database_labels: torch.Tensor, k: int = 10, *, exclude_self: bool = False,
                   block: int | None = None) -> float:
    """Mean fraction of each query's ``k`` most cosine-similar database rows that share its label.

    The retrieval measure of lecture 02 (and lab 02's exercise 3, where the query set is the
    database and each query is left out): "precision@k", with neighbors from
    :func:`cosine_neighbors`.

    Parameters
    ----------
    query, database : torch.Tensor
        ``(Q, ...)`` and ``(M, ...)`` float, as :func:`cosine_neighbors`.
    query_labels, database_labels : torch.Tensor
        Integer, ``(Q,)`` and ``(M,)``.
    k : int
        Neighbours per query.
    exclude_self, block
        As :func:`cosine_neighbors`.

    Returns
    -------
    float
        In [0, 1]: the mean over queries and neighbors of ``label(neighbor) == label(query)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`cosine_neighbors`; also if the labels are not integer tensors with one
        label per row.
    """
    for X, name in ((query, "query"), (database, "database")):
        if not isinstance(X, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (N, ...), got {type(X).__name__}")
    _labels(query_labels, len(query), "query_labels", "query")
    _labels(database_labels, len(database), "database_labels", "database")
    nearest = cosine_neighbors(query, database, k, exclude_self=exclude_self, block=block)   # (Q, k)
    same = database_labels.cpu()[nearest] == query_labels.cpu()[:, None]
    return same.double().mean().item()
