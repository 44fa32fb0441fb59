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


# --- text retrieval (lecture 06): bag of words, TF-IDF, LSA, precision-recall ---------------

def fit_vocabulary(train_documents, max_features: int = 2000):
    """The ``max_features`` most frequent words of the training documents, English stop words removed.

    scikit-learn's ``CountVectorizer(max_features=..., stop_words="english")`` fitted on the
    training documents only; its ``transform(documents)`` gives the ``(N, V)`` sparse matrix of
    word counts (the *bag of words*: which words occur how often, their order forgotten).

    Parameters
    ----------
    train_documents : sequence of str
    max_features : int
        V, the vocabulary size (Hinton & Salakhutdinov 2006 use 2,000).

    Returns
    -------
    sklearn.feature_extraction.text.CountVectorizer
        Fitted; ``get_feature_names_out()`` lists the V words.

    Raises
    ------
    TypeError
        If ``train_documents`` is a single string rather than a sequence of them.
    ValueError
        If ``max_features`` is not a positive integer or there are no documents.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if isinstance(train_documents, str):
        raise TypeError("train_documents must be a sequence of strings (one per document), got one string")
    if not hasattr(train_documents, "__len__") or not all(isinstance(d, str) for d in train_documents):
        raise TypeError("train_documents must be a sequence (list, tuple, array) of strings, one per document, got "
                        f"{type(train_documents).__name__}" + ("" if not hasattr(train_documents, "__len__") else
                        f" holding {type(next(d for d in train_documents if not isinstance(d, str))).__name__}"))
    if isinstance(max_features, bool) or not isinstance(max_features, numbers.Integral) or max_features < 1:
        raise ValueError(f"max_features must be a positive integer, got {max_features!r}")
    if len(train_documents) == 0:
        raise ValueError("train_documents is empty")
    return CountVectorizer(max_features=int(max_features), stop_words="english").fit(train_documents)


def _counts(X, name: str):
    import scipy.sparse as sp

    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not (sp.issparse(X) or isinstance(X, np.ndarray)) or X.ndim != 2:
        raise TypeError(f"{name} must be a 2-D count matrix (N, V): scipy sparse, NumPy or torch, got "
                        f"{type(X).__name__}{'' if not hasattr(X, 'shape') else f' of shape {X.shape}'}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}")
    if X.min() < 0:
        raise ValueError(f"{name} holds negative values: word counts are >= 0")
    return X


def tfidf_lsa(train_counts, query_counts, n_components: int | None = None, *, seed: int = 0):
    """TF-IDF vectors, or their LSA codes, with everything fitted on the training documents only.

    TF-IDF weighs each count by the word's *inverse document frequency*
    ``idf_w = log((1 + N) / (1 + df_w)) + 1`` (rare words count more) and scales each document to
    length 1 (scikit-learn's ``TfidfTransformer``). Latent semantic analysis (LSA; Deerwester et
    al. 1990) keeps the top ``n_components`` directions of the truncated SVD of the training
    TF-IDF matrix (``TruncatedSVD``): the linear baseline of Hinton & Salakhutdinov (2006, Fig. 4).
    The queries are transformed with the idf and the directions of the *training* documents.

    Parameters
    ----------
    train_counts, query_counts : sparse matrix, ndarray or torch.Tensor
        ``(N, V)`` and ``(Q, V)`` word counts (e.g. from :func:`fit_vocabulary`'s ``transform``).
    n_components : int, optional
        k, the LSA code size (``1 <= k < V``); None gives the TF-IDF vectors themselves.
    seed : int
        Seed of the randomized SVD.

    Returns
    -------
    train_codes, query_codes
        With ``n_components``: float32 torch tensors ``(N, k)`` and ``(Q, k)``. Without: the
        TF-IDF vectors as scipy CSR matrices ``(N, V)`` and ``(Q, V)`` (float64, rows of length 1
        or 0), which :func:`retrieval_precision` accepts.

    Raises
    ------
    TypeError
        If a count matrix is not 2-D.
    ValueError
        If the vocabularies differ or ``n_components`` is out of range.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfTransformer

    train_counts, query_counts = _counts(train_counts, "train_counts"), _counts(query_counts, "query_counts")
    if train_counts.shape[1] != query_counts.shape[1]:
        raise ValueError(f"train_counts has {train_counts.shape[1]} words per row but query_counts has "
                         f"{query_counts.shape[1]}: use one vocabulary for both")
    tfidf = TfidfTransformer().fit(train_counts)
    train_tfidf, query_tfidf = tfidf.transform(train_counts).tocsr(), tfidf.transform(query_counts).tocsr()
    if n_components is None:
        return train_tfidf, query_tfidf
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise TypeError(f"n_components must be an integer or None, got {n_components!r}")
    if not 1 <= n_components < train_counts.shape[1]:
        raise ValueError(f"n_components must be in [1, V) = [1, {train_counts.shape[1]}), got {n_components}")
    if n_components > train_counts.shape[0]:
        raise ValueError(f"n_components={n_components} is more than the {train_counts.shape[0]} training documents")
    svd = TruncatedSVD(int(n_components), random_state=seed).fit(train_tfidf)
    return (torch.from_numpy(svd.transform(train_tfidf)).float(),
            torch.from_numpy(svd.transform(query_tfidf)).float())


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


def retrieval_precision(query, database, query_labels: torch.Tensor, database_labels: torch.Tensor,
                        ks, *, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall after retrieving each query's ``k`` most cosine-similar database rows.

    For each query the database is ranked by cosine similarity; a retrieved row is *relevant*
    if it has the query's label. Precision@k = relevant among the top k / k; recall@k = relevant
    among the top k / all relevant rows in the database. Both are averaged over the queries
    (queries with no relevant row count as recall 0). With ``ks`` spread over the fractions of
    the database retrieved this gives Hinton & Salakhutdinov's (2006) Fig. 4 and Salakhutdinov
    & Hinton's (2009) precision-recall curves; ``ks=[10]`` gives :func:`precision_at_k`'s number.

    Parameters
    ----------
    query, database : torch.Tensor, ndarray or scipy sparse matrix
        ``(Q, D)`` and ``(M, D)``; no row of length 0. Sparse TF-IDF rows (from
        :func:`tfidf_lsa`) stay sparse until each block's similarities.
    query_labels, database_labels : torch.Tensor
        Integer, ``(Q,)`` and ``(M,)``.
    ks : sequence of int
        Retrieval depths, each in ``[1, M]``.
    block : int, optional
        Queries per block (default: about :data:`MAX_BLOCK_ENTRIES` similarities at once).

    Returns
    -------
    precision, recall : np.ndarray
        float64, ``(len(ks),)`` each, in [0, 1].

    Raises
    ------
    TypeError, ValueError
        On non-matrix inputs, different row sizes, a row of length 0, labels that are not one
        integer per row, or a ``k`` out of range.
    """
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
    n_q, m = q.shape[0], db.shape[0]
    _labels(query_labels, n_q, "query_labels", "query")
    _labels(database_labels, m, "database_labels", "database")
    ks = np.asarray(ks)
    if ks.ndim != 1 or len(ks) == 0 or not np.issubdtype(ks.dtype, np.integer) or ks.min() < 1 or ks.max() > m:
        raise ValueError(f"ks must be a non-empty sequence of integers in [1, M] = [1, {m}], got {ks.tolist()}")
    qy, dby = query_labels.cpu(), database_labels.cpu()
    if min(qy.min(), dby.min()) < 0:
        raise ValueError("labels must be >= 0 (category indices), got a negative label")
    if block is not None and (isinstance(block, bool) or not isinstance(block, numbers.Integral) or block < 1):
        raise ValueError(f"block must be a positive integer, got {block!r}")
    relevant_total = torch.bincount(dby, minlength=int(max(qy.max(), dby.max())) + 1)[qy].double()   # (Q,)
    kmax, idx = int(ks.max()), torch.as_tensor(ks - 1)
    block = max(1, MAX_BLOCK_ENTRIES // m) if block is None else int(block)
    hits = torch.zeros(len(ks), dtype=torch.float64)
    recall = torch.zeros(len(ks), dtype=torch.float64)
    db_t = db.T.tocsr() if sp.issparse(db) else db.T
    for start in range(0, n_q, block):
        qb = q[start:start + block]
        sim = torch.from_numpy((qb @ db_t).toarray()) if sp.issparse(qb) else qb @ db_t      # (b, M) cosines
        order = sim.topk(kmax, dim=1).indices if kmax < m else sim.argsort(dim=1, descending=True)
        found = (dby[order] == qy[start:start + block, None]).double().cumsum(1)[:, idx]   # (b, len(ks))
        hits += found.sum(0)
        recall += (found / relevant_total[start:start + block, None].clamp(min=1)).sum(0)
    return (hits / n_q / torch.as_tensor(ks, dtype=torch.float64)).numpy(), (recall / n_q).numpy()


def nearest_distance(images: torch.Tensor, data: torch.Tensor, *, block: int | None = None) -> torch.Tensor:
    """Euclidean distance from each image to its nearest row of ``data``: "how far from the data is it?".

    Lectures 02 and 06 measure decoded images with it (an image on the data manifold is close
    to some training image; a decoded "hole" is far from all of them). The distances of
    ``block`` images at a time are one ``torch.cdist``, so memory stays at ``block × M``.

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
        float32, ``(P,)``, on the CPU: ``min_m ‖images[p] − data[m]‖`` (not squared).

    Raises
    ------
    TypeError
        If either is not a float tensor.
    ValueError
        On empty inputs or different row sizes.
    """
    a, b = _as_rows(images, "images"), _as_rows(data, "data")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"images have {a.shape[1]} numbers per row but data rows have {b.shape[1]}")
    a, b = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("images and data must be finite (no NaN or infinity)")
    if block is not None and (isinstance(block, bool) or not isinstance(block, numbers.Integral) or block < 1):
        raise ValueError(f"block must be a positive integer, got {block!r}")
    block = max(1, MAX_BLOCK_ENTRIES // len(b)) if block is None else int(block)
    return torch.cat([torch.cdist(a[i:i + block], b).min(1).values for i in range(0, len(a), block)])


__all__ += ["fit_vocabulary", "tfidf_lsa", "retrieval_precision", "nearest_distance"]
