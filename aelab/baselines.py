"""Baselines the autoencoders are compared with: PCA (lecture 01, 02) and TF-IDF / LSA (lecture 06).

PCA is the best linear autoencoder (lecture 01): encoding is the projection of the centred
image onto the top-k principal directions, decoding maps the k numbers back and adds the
mean. Hinton & Salakhutdinov (2006) compare their deep autoencoder with PCA-30 on MNIST
(squared error per test image 13.87); lectures and labs use :func:`fit_pca` and
:func:`pca_reconstruct` so that every notebook computes that number the same way.
:func:`fit_vocabulary` and :func:`tfidf_lsa` are lecture 06's text-retrieval baselines (bag of
words, TF-IDF, latent semantic analysis), fitted on the training documents only.
:func:`circle_denoiser_field` is the optimal denoiser's vector field for data on the unit circle
(Tweedie's formula): the reference lecture and lab 03 hold a trained denoising autoencoder's field to.
:func:`digit_classifier` and :func:`classifier_confidence` score decoded images (lectures 06 and 07):
does an image look like *some* digit? The nearest-training-image distance cannot say (it rewards blur).

The retrieval and distance measures (:func:`cosine_neighbors`, :func:`precision_at_k`,
:func:`retrieval_precision`, :func:`nearest_distance`) now live in :mod:`aelab.metrics`; they are
re-exported here so that ``aelab.baselines.precision_at_k`` and the other old names keep working.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _validation as check
from .metrics import (MAX_BLOCK_ENTRIES, _as_rows, cosine_neighbors, nearest_distance,  # noqa: F401
                      precision_at_k, retrieval_precision)

__all__ = ["fit_pca", "pca_reconstruct", "fit_vocabulary", "tfidf_lsa", "circle_denoiser_field",
           "digit_classifier", "classifier_confidence",
           # moved to aelab.metrics, re-exported for compatibility:
           "cosine_neighbors", "precision_at_k", "retrieval_precision", "nearest_distance"]


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
    if not 1 <= check.integer(n_components, "n_components") <= min(rows.shape):
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
    max_features = check.integer(max_features, "max_features", minimum=1)
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
    n_components = check.integer(n_components, "n_components")
    if not 1 <= n_components < train_counts.shape[1]:
        raise ValueError(f"n_components must be in [1, V) = [1, {train_counts.shape[1]}), got {n_components}")
    if n_components > train_counts.shape[0]:
        raise ValueError(f"n_components={n_components} is more than the {train_counts.shape[0]} training documents")
    svd = TruncatedSVD(n_components, random_state=check.seed(seed)).fit(train_tfidf)
    return (torch.from_numpy(svd.transform(train_tfidf)).float(),
            torch.from_numpy(svd.transform(query_tfidf)).float())


def circle_denoiser_field(points: torch.Tensor, sigma: float) -> torch.Tensor:
    """The optimal denoiser's vector field ``E[x | x̃] − x̃`` for data uniform on the unit circle (lecture and lab 03).

    With ``x`` uniform on the unit circle and ``x̃ = x + σ ε`` (``ε ~ N(0, I₂)``), the posterior of
    ``x``'s angle given ``x̃`` is a von Mises distribution centred on ``x̃``'s angle with concentration
    ``κ = |x̃| / σ²``, so

        ``E[x | x̃] = (I₁(κ) / I₀(κ)) · x̃ / |x̃|``

    (``I₀, I₁``: modified Bessel functions of the first kind, computed as ``scipy.special.i1e / i0e``,
    which do not overflow). By Tweedie's formula this is also ``x̃ + σ² ∇ log p_σ(x̃)`` with
    ``p_σ`` the circle smoothed by the noise: the output of the best possible denoising autoencoder
    under squared error, for any σ (Vincent 2011; Alain & Bengio 2014). The returned arrows point
    to the circle from outside and towards it from inside, with length ``|E[x | x̃] − x̃|``.

    Parameters
    ----------
    points : torch.Tensor
        ``(N, 2)`` float, the noisy inputs ``x̃``; none at the origin (the direction is undefined there).
    sigma : float
        Noise standard deviation σ > 0 (the training corruption's).

    Returns
    -------
    torch.Tensor
        ``(N, 2)``, ``points``' dtype: ``E[x | x̃] − x̃`` (computed in float64).

    Raises
    ------
    TypeError
        If ``points`` is not a floating-point tensor.
    ValueError
        If ``points`` is not ``(N, 2)``, is not finite or has a point at the origin, or ``sigma`` is not > 0.
    """
    from scipy.special import i0e, i1e

    check.tensor(points, "points", ndim=2, floating=True)
    sigma = check.real(sigma, "sigma", low=0.0, low_open=True)
    if points.shape[1] != 2:
        raise ValueError(f"points must be (N, 2) points in the plane, got shape {tuple(points.shape)}")
    x = points.detach().cpu().double()
    if not torch.isfinite(x).all():
        raise ValueError("points must be finite (no NaN or infinity)")
    radius = x.norm(dim=1)
    if (radius == 0).any():
        raise ValueError("a point at the origin has no direction to the circle; leave the origin out of the grid")
    kappa = (radius / sigma ** 2).numpy()
    mean = torch.from_numpy(i1e(kappa) / i0e(kappa))[:, None] * x / radius[:, None]     # E[x | x̃], (N, 2)
    return (mean - x).to(points.dtype)


def digit_classifier(images: torch.Tensor, labels: torch.Tensor, *, steps: int = 600, batch_size: int = 128,
                     lr: float = 1e-3, seed: int = 0) -> torch.nn.Sequential:
    """A small classifier (``Flatten``, ``Linear(D, 256)``, ReLU, ``Linear(256, C)``) to score decoded images.

    Trained with Adam (``lr``) on ``steps`` mini-batches of ``batch_size`` images drawn with
    replacement (a generator seeded with ``seed``); the initial weights come from ``seed`` too, with
    torch's global generator left as it was. 600 steps on MNIST take a few seconds on a CPU and
    classify about 95 % of the test digits right. Lecture 07 counts recognizable samples with it;
    lecture 06 compares grid codes where digits overlap with codes inside one digit's region.

    Parameters
    ----------
    images : torch.Tensor
        ``(N, ...)`` float32, e.g. ``(N, 1, 28, 28)`` in [0, 1].
    labels : torch.Tensor
        ``(N,)`` int64 class labels ``0 .. C-1`` (C = the largest label + 1).
    steps, batch_size : int
        Optimizer steps and images per step, both >= 1.
    lr : float
        Adam's learning rate, > 0.
    seed : int

    Returns
    -------
    torch.nn.Sequential
        In eval mode, on the CPU: ``(B, ...) -> (B, C)`` logits.

    Raises
    ------
    TypeError
        If ``images`` is not a float tensor or ``labels`` not an integer tensor, or a size is not an integer.
    ValueError
        If they are empty or their lengths differ, a label is negative, or a size or ``lr`` is out of range.
    """
    check.tensor(images, "digit_classifier: images of shape (N, ...)", floating=True)
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"digit_classifier: labels must be an integer tensor of shape (N,), "
                        f"got {type(labels).__name__}{'' if not isinstance(labels, torch.Tensor) else ' ' + str(labels.dtype)}")
    if labels.ndim != 1 or len(labels) != len(images) or len(images) == 0:
        raise ValueError(f"digit_classifier: labels must have shape ({len(images)},) matching images, and images "
                         f"must not be empty; got images {tuple(images.shape)}, labels {tuple(labels.shape)}")
    if int(labels.min()) < 0:
        raise ValueError(f"digit_classifier: labels must be >= 0, got {int(labels.min())}")
    steps = check.integer(steps, "digit_classifier: steps", minimum=1)
    batch_size = check.integer(batch_size, "digit_classifier: batch_size", minimum=1)
    lr = check.real(lr, "digit_classifier: lr", low=0.0, low_open=True)
    seed = check.seed(seed, "digit_classifier: seed")
    images, labels = images.detach().cpu(), labels.detach().cpu().long()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(images[0].numel(), 256), torch.nn.ReLU(),
                                         torch.nn.Linear(256, int(labels.max()) + 1))
    optimizer, g = torch.optim.Adam(classifier.parameters(), lr=lr), torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = torch.randint(len(images), (batch_size,), generator=g)
        loss = torch.nn.functional.cross_entropy(classifier(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return classifier.eval()


def classifier_confidence(classifier: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The classifier's largest class probability for each image: how sure it is that the image is *some* class.

    Parameters
    ----------
    classifier : torch.nn.Module
        ``(B, ...) -> (B, C)`` logits, e.g. from :func:`digit_classifier`.
    images : torch.Tensor
        ``(N, ...)`` float, shaped as the classifier's training images.

    Returns
    -------
    torch.Tensor
        float32 ``(N,)`` in [1/C, 1] (no gradient): ``max_c softmax(classifier(images))_c``.

    Raises
    ------
    TypeError
        If ``classifier`` is not a module or ``images`` not a float tensor.
    """
    if not isinstance(classifier, torch.nn.Module):
        raise TypeError(f"classifier_confidence: classifier must be a torch.nn.Module, got {type(classifier).__name__}")
    check.tensor(images, "classifier_confidence: images of shape (N, ...)", floating=True)
    with torch.no_grad():
        return classifier(images).softmax(1).max(1).values
