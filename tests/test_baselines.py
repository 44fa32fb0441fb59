"""aelab.baselines: PCA-k reconstruction equals the SVD's (lecture 01); cosine retrieval equals the brute force."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from aelab.baselines import fit_pca, pca_reconstruct


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    z = torch.rand(300, 5, generator=g)
    flat = torch.sigmoid(z @ torch.randn(5, 36, generator=g)) + 0.01 * torch.rand(300, 36, generator=g)
    return flat.reshape(300, 1, 6, 6)


def test_reconstruction_equals_the_svd_projection(images):
    flat = images.flatten(1).double()
    mean = flat.mean(0)
    _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    w = vh[:3]  # top-3 principal directions, (3, 36)
    expected = ((flat - mean) @ w.T @ w + mean).reshape(images.shape)
    got = pca_reconstruct(fit_pca(images, 3), images)
    assert got.shape == images.shape and got.dtype == torch.float32
    torch.testing.assert_close(got.double(), expected, atol=1e-5, rtol=0)


def test_more_components_reconstruct_better_and_all_exactly(images):
    errors = [((pca_reconstruct(fit_pca(images, k), images) - images) ** 2).sum().item() for k in (1, 3, 10)]
    assert errors[0] > errors[1] > errors[2]
    torch.testing.assert_close(pca_reconstruct(fit_pca(images, 36), images), images, atol=1e-5, rtol=0)


def test_bad_input(images):
    with pytest.raises(ValueError, match=r"\[1, 36\]"):
        fit_pca(images, 37)
    with pytest.raises(ValueError, match="n_components"):
        fit_pca(images, 0)
    with pytest.raises(TypeError, match="n_components"):
        fit_pca(images, 2.0)
    with pytest.raises(TypeError, match="floating point"):
        fit_pca((images * 255).to(torch.uint8), 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        fit_pca(images.numpy(), 2)
    with pytest.raises(ValueError, match="36"):
        pca_reconstruct(fit_pca(images, 2), torch.rand(4, 1, 28, 28))
    with pytest.raises(TypeError, match="fitted"):
        pca_reconstruct(object(), images)


# --------------------------------------------------------------------------- retrieval
from aelab.baselines import (cosine_neighbors, fit_vocabulary, nearest_distance, precision_at_k,  # noqa: E402
                             retrieval_precision, tfidf_lsa)


def _brute_force_neighbors(query, database, k, exclude_self=False):
    """Every cosine from its definition, in float64, one pair at a time; then sort."""
    q, db = query.flatten(1).double(), database.flatten(1).double()
    rows = []
    for i, a in enumerate(q):
        sims = [-float("inf") if exclude_self and i == j else float(a @ b / (a.norm() * b.norm()))
                for j, b in enumerate(db)]
        rows.append(sorted(range(len(db)), key=lambda j: -sims[j])[:k])
    return torch.tensor(rows)


@pytest.fixture(scope="module")
def retrieval_data():
    g = torch.Generator().manual_seed(1)
    database = torch.randn(40, 1, 3, 3, generator=g) * (10 ** (2 * torch.rand(40, 1, 1, 1, generator=g) - 1))
    query = torch.randn(13, 9, generator=g)
    return query, database, torch.randint(0, 3, (13,), generator=g), torch.randint(0, 3, (40,), generator=g)


@pytest.mark.parametrize("block", [None, 1, 4, 13, 100])
def test_cosine_neighbors_equal_the_brute_force_in_any_block_size(retrieval_data, block):
    query, database, _, _ = retrieval_data
    got = cosine_neighbors(query, database, 5, block=block)
    assert got.shape == (13, 5) and got.dtype == torch.int64
    assert torch.equal(got, _brute_force_neighbors(query, database, 5))


@pytest.mark.parametrize("block", [None, 3])
def test_exclude_self_never_returns_the_query(retrieval_data, block):
    _, database, _, labels = retrieval_data
    got = cosine_neighbors(database, database, 39, exclude_self=True, block=block)
    assert not (got == torch.arange(40)[:, None]).any()
    assert torch.equal(got, _brute_force_neighbors(database, database, 39, exclude_self=True))
    # without exclude_self each row's best match is itself (cosine 1)
    assert torch.equal(cosine_neighbors(database, database, 1)[:, 0], torch.arange(40))


def test_lengths_do_not_matter_only_directions():
    # a long vector at 30 degrees and a short one at 10 degrees: Euclidean distance picks the short one
    # for a query of length 5 at 0 degrees only if lengths counted; cosine picks the 10-degree one either way
    angles = torch.deg2rad(torch.tensor([10.0, 30.0]))
    database = torch.stack([angles.cos(), angles.sin()], 1) * torch.tensor([[0.1], [5.0]])
    query = torch.tensor([[5.0, 0.0]])
    assert cosine_neighbors(query, database, 1).item() == 0
    assert torch.cdist(query, database).argmin().item() == 1   # the ranking cosine is meant to differ from
    assert torch.equal(cosine_neighbors(query * 100, database * 0.01, 2), cosine_neighbors(query, database, 2))


def test_precision_at_k_equals_the_definition(retrieval_data):
    query, database, q_labels, db_labels = retrieval_data
    nearest = _brute_force_neighbors(query, database, 7)
    expected = sum(int(db_labels[j] == q_labels[i]) for i in range(13) for j in nearest[i]) / (13 * 7)
    assert precision_at_k(query, database, q_labels, db_labels, 7, block=5) == pytest.approx(expected, abs=1e-12)
    nearest = _brute_force_neighbors(database, database, 3, exclude_self=True)
    expected = sum(int(db_labels[j] == db_labels[i]) for i in range(40) for j in nearest[i]) / (40 * 3)
    assert precision_at_k(database, database, db_labels, db_labels, 3, exclude_self=True) == pytest.approx(expected)
    # a labelled cluster structure retrieves perfectly, labels drawn at random do not
    centres = torch.eye(3) * 10
    clustered = centres[torch.arange(30) % 3] + torch.rand(30, 3, generator=torch.Generator().manual_seed(0))
    assert precision_at_k(clustered, clustered, torch.arange(30) % 3, torch.arange(30) % 3, 5, exclude_self=True) == 1.0


def test_retrieval_rejects_bad_input(retrieval_data):
    query, database, q_labels, db_labels = retrieval_data
    with pytest.raises(ValueError, match="8 numbers but database rows have 9"):
        cosine_neighbors(torch.rand(3, 8), database, 2)
    with pytest.raises(ValueError, match=r"\[1, 40\]"):
        cosine_neighbors(query, database, 41)
    with pytest.raises(ValueError, match=r"\[1, 39\]"):
        cosine_neighbors(database, database, 40, exclude_self=True)
    with pytest.raises(ValueError, match="Q == M"):
        cosine_neighbors(query, database, 2, exclude_self=True)
    with pytest.raises(ValueError, match="length 0"):
        cosine_neighbors(torch.cat([query, torch.zeros(1, 9)]), database, 2)
    with pytest.raises(ValueError, match="block"):
        cosine_neighbors(query, database, 2, block=0)
    with pytest.raises(TypeError, match="k must be an integer"):
        cosine_neighbors(query, database, 2.0)
    with pytest.raises(TypeError, match="floating point"):
        cosine_neighbors(query.long(), database, 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        precision_at_k(query.numpy(), database, q_labels, db_labels)
    with pytest.raises(ValueError, match=r"query_labels must have shape \(13,\)"):
        precision_at_k(query, database, db_labels, db_labels)
    with pytest.raises(TypeError, match="database_labels must be an integer"):
        precision_at_k(query, database, q_labels, db_labels.float())


# --- text retrieval (lecture 06) --------------------------------------------------------------

def _brute_precision_recall(query, database, q_labels, db_labels, ks):
    """Precision and recall at each k by sorting every query's cosine similarities in Python."""
    q = torch.as_tensor(query, dtype=torch.float64).flatten(1)
    db = torch.as_tensor(database, dtype=torch.float64).flatten(1)
    precision, recall = [], []
    for k in ks:
        p_sum = r_sum = 0.0
        for i, a in enumerate(q):
            sims = [float(a @ b / (a.norm() * b.norm())) for b in db]
            top = sorted(range(len(db)), key=lambda j: -sims[j])[:k]
            hits = sum(int(db_labels[j] == q_labels[i]) for j in top)
            p_sum += hits / k
            r_sum += hits / max(1, int((db_labels == q_labels[i]).sum()))
        precision.append(p_sum / len(q))
        recall.append(r_sum / len(q))
    return np.array(precision), np.array(recall)


@pytest.mark.parametrize("block", [None, 1, 5])
def test_retrieval_precision_equals_the_brute_force(retrieval_data, block):
    query, database, q_labels, db_labels = retrieval_data
    ks = [1, 3, 10, 40]                                    # 40 = M: the whole database, recall 1
    precision, recall = retrieval_precision(query, database.flatten(1), q_labels, db_labels, ks, block=block)
    want_p, want_r = _brute_precision_recall(query, database, q_labels, db_labels, ks)
    np.testing.assert_allclose(precision, want_p, atol=1e-9)
    np.testing.assert_allclose(recall, want_r, atol=1e-9)
    present = torch.isin(q_labels, db_labels).double().mean().item()
    assert recall[-1] == pytest.approx(present)
    assert precision[1] == pytest.approx(precision_at_k(query, database, q_labels, db_labels, k=3))


def test_retrieval_precision_accepts_sparse_and_numpy(retrieval_data):
    query, database, q_labels, db_labels = retrieval_data
    q_abs, db_abs = query.abs().numpy(), database.flatten(1).abs().numpy()
    dense = retrieval_precision(q_abs, db_abs, q_labels, db_labels, [5])
    sparse = retrieval_precision(sp.csr_matrix(q_abs), sp.csr_matrix(db_abs), q_labels, db_labels, [5], block=4)
    np.testing.assert_allclose(dense, sparse, atol=1e-6)


def test_retrieval_precision_rejects_bad_input(retrieval_data):
    query, database, q_labels, db_labels = retrieval_data
    db = database.flatten(1)
    with pytest.raises(ValueError, match=r"ks must be .* \[1, 40\]"):
        retrieval_precision(query, db, q_labels, db_labels, [0, 5])
    with pytest.raises(ValueError, match=r"ks must be"):
        retrieval_precision(query, db, q_labels, db_labels, [41])
    with pytest.raises(ValueError, match="length 0"):
        retrieval_precision(sp.csr_matrix(np.zeros((2, 9))), sp.csr_matrix(db.numpy()), q_labels[:2], db_labels, [1])
    with pytest.raises(ValueError, match="8 numbers but database rows have 9"):
        retrieval_precision(query[:, :8], db, q_labels, db_labels, [1])
    with pytest.raises(ValueError, match=r"query_labels must have shape"):
        retrieval_precision(query, db, db_labels, db_labels, [1])
    with pytest.raises(TypeError, match="both be sparse"):
        retrieval_precision(sp.csr_matrix(query.abs().numpy()), db, q_labels, db_labels, [1])


DOCS = ["the dog barked at the cat", "a cat chased the mouse", "dogs and cats are pets",
        "bread is baked from dough", "the baker sells bread and cake", "cake with sugar and flour"]


def test_fit_vocabulary_counts_words_without_stop_words():
    vocab = fit_vocabulary(DOCS, max_features=5)
    words = list(vocab.get_feature_names_out())
    assert len(words) == 5 and "the" not in words and "and" not in words
    assert "bread" in words and "cake" in words                      # the most frequent (twice each)
    counts = vocab.transform(["bread bread cake"]).toarray()[0]
    assert counts[words.index("bread")] == 2 and counts[words.index("cake")] == 1
    with pytest.raises(TypeError, match="sequence of strings"):
        fit_vocabulary("one document")
    with pytest.raises(ValueError, match="max_features"):
        fit_vocabulary(DOCS, max_features=0)


def test_tfidf_lsa_fits_on_the_training_documents_only():
    vocab = fit_vocabulary(DOCS)
    train, query = vocab.transform(DOCS[:4]), vocab.transform(DOCS[4:])
    t_train, t_query = tfidf_lsa(train, query)
    assert sp.issparse(t_query) and t_query.shape == (2, train.shape[1])
    # the idf comes from the training documents: a word absent from them gets the largest idf
    from sklearn.feature_extraction.text import TfidfTransformer
    want = TfidfTransformer().fit(train).transform(query).toarray()
    np.testing.assert_allclose(t_query.toarray(), want)
    codes_train, codes_query = tfidf_lsa(train, query, 2, seed=0)
    assert codes_train.shape == (4, 2) and codes_query.shape == (2, 2) and codes_query.dtype == torch.float32
    # the SVD's directions come from the training TF-IDF: the queries are projected onto them. Only the
    # first direction is compared: the 2nd and 3rd singular values of these 4 documents tie (both 1.0), so
    # the 2nd direction is any unit vector of a 2-D subspace and differs between SVD solvers.
    _, s, vt = np.linalg.svd(t_train.toarray(), full_matrices=False)
    assert s[0] > s[1] + 0.1
    np.testing.assert_allclose(np.abs(codes_query[:, 0].numpy()), np.abs(want @ vt[0]), atol=1e-5)
    again = tfidf_lsa(train, vocab.transform(DOCS), 2, seed=0)[1]       # other queries: same training codes
    np.testing.assert_allclose(np.abs(again[4:].numpy()), np.abs(codes_query.numpy()), atol=1e-6)
    with pytest.raises(ValueError, match="one vocabulary"):
        tfidf_lsa(train, query[:, :3])
    with pytest.raises(ValueError, match="n_components"):
        tfidf_lsa(train, query, train.shape[1])


@pytest.mark.parametrize("block", [None, 1, 7])
def test_nearest_distance_equals_the_brute_force(retrieval_data, block):
    _, database, _, _ = retrieval_data
    images = torch.randn(9, 1, 3, 3, generator=torch.Generator().manual_seed(3))
    got = nearest_distance(images, database, block=block)
    want = [min(float((a - b).norm()) for b in database.flatten(1)) for a in images.flatten(1)]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)
    scale = database.flatten(1).norm(dim=1).max()
    assert nearest_distance(database, database).abs().max() < 1e-3 * scale   # each row's nearest is itself
    with pytest.raises(ValueError, match="numbers per row"):
        nearest_distance(images[:, :, :2], database)


# --- bad input to the retrieval baselines names what was expected --------------------------

from aelab import baselines  # noqa: E402

def _counts():
    import scipy.sparse as sp

    return sp.csr_matrix(np.array([[1, 0, 2], [0, 1, 0], [1, 1, 1]]))


@pytest.mark.parametrize("call, error, match", [
    (lambda: baselines.fit_vocabulary(None), TypeError, "sequence"),
    (lambda: baselines.fit_vocabulary([1, 2, 3]), TypeError, "string"),
    (lambda: baselines.fit_vocabulary(d for d in ["a cat", "a dog"]), TypeError, "sequence"),
    (lambda: baselines.tfidf_lsa(-_counts(), _counts()), ValueError, "negative"),
    (lambda: baselines.tfidf_lsa(_counts()[:1], _counts(), 2), ValueError, "n_components"),
    (lambda: baselines.retrieval_precision(torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0, -1, 0]),
                                           torch.tensor([0, 1, 0]), [1]), ValueError, "label"),
    (lambda: baselines.retrieval_precision(torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0, 1, 0]),
                                           torch.tensor([0, 1, 0]), [1], block=0), ValueError, "block"),
    (lambda: baselines.nearest_distance(torch.full((1, 4), float("nan")), torch.randn(3, 4)), ValueError, "finite"),
    (lambda: baselines.nearest_distance(torch.randn(2, 4), torch.randn(3, 4), block=1.5), TypeError, "block"),
    (lambda: baselines.nearest_distance(torch.randn(2, 4), torch.randn(3, 4), block=0), ValueError, "block"),
])
def test_retrieval_baselines_reject_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --------------------------------------------------------------------------- the optimal denoiser on the circle

def test_circle_denoiser_field_equals_the_posterior_mean_by_quadrature():
    import math

    from aelab.baselines import circle_denoiser_field

    points = torch.tensor([[0.3, 0.1], [1.1, -0.4], [0.0, 0.9], [-1.5, 0.2], [0.05, -0.02]])
    theta = torch.linspace(0, 2 * math.pi, 20001, dtype=torch.float64)[:-1]
    circle = torch.stack([theta.cos(), theta.sin()], 1)
    for sigma in (0.1, 0.3, 1.0):
        field = circle_denoiser_field(points, sigma)
        assert field.dtype == torch.float32 and field.shape == (5, 2)
        for p, f in zip(points.double(), field.double()):
            logw = -((p - circle) ** 2).sum(1) / (2 * sigma ** 2)
            w = (logw - logw.max()).exp()
            posterior_mean = (w[:, None] * circle).sum(0) / w.sum()
            torch.testing.assert_close(f, posterior_mean - p, atol=1e-6, rtol=0)
    # small noise: from far outside, the optimal arrow lands (almost) on the circle
    far = circle_denoiser_field(torch.tensor([[3.0, 4.0]]), 0.01)
    torch.testing.assert_close(far, torch.tensor([[0.6 - 3.0, 0.8 - 4.0]]), atol=1e-4, rtol=0)


def test_circle_denoiser_field_rejects_bad_input():
    from aelab.baselines import circle_denoiser_field

    with pytest.raises(ValueError, match="origin"):
        circle_denoiser_field(torch.tensor([[0.0, 0.0], [1.0, 0.0]]), 0.1)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        circle_denoiser_field(torch.zeros(3, 3) + 1, 0.1)
    with pytest.raises(ValueError, match="sigma"):
        circle_denoiser_field(torch.ones(3, 2), 0.0)
    with pytest.raises(TypeError):
        circle_denoiser_field(torch.ones(3, 2, dtype=torch.long), 0.1)


def _two_blobs(n=200, seed=0):
    """Two classes of 4x4 'images': bright top half vs bright bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, 4, 4, generator=g) * 0.3
    x[y == 0, :, :2] += 0.7
    x[y == 1, :, 2:] += 0.7
    return x, y


def test_digit_classifier_learns_is_seeded_and_leaves_the_global_rng_alone():
    from aelab.baselines import classifier_confidence, digit_classifier

    x, y = _two_blobs()
    state = torch.get_rng_state()
    a = digit_classifier(x, y, steps=60, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    b = digit_classifier(x, y, steps=60, seed=3)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert not a.training
    with torch.no_grad():
        assert (a(x).argmax(1) == y).float().mean() > 0.95
    conf = classifier_confidence(a, x)
    assert conf.shape == (len(x),) and conf.dtype == torch.float32 and not conf.requires_grad
    assert bool(((conf >= 0.5) & (conf <= 1)).all())            # two classes: the top probability is >= 1/2
    untrained = digit_classifier(x, y, steps=1, seed=3)
    assert classifier_confidence(untrained, x).mean() < conf.mean()  # training makes it surer


@pytest.mark.parametrize("kw, error, match", [
    (dict(images=[[0.0]]), TypeError, "images"),
    (dict(labels=torch.zeros(200)), TypeError, "labels must be an integer tensor"),
    (dict(labels=torch.zeros(199, dtype=torch.long)), ValueError, "matching images"),
    (dict(labels=-torch.ones(200, dtype=torch.long)), ValueError, ">= 0"),
    (dict(steps=0), ValueError, "steps"),
    (dict(lr=0.0), ValueError, "lr"),
])
def test_digit_classifier_rejects_bad_input(kw, error, match):
    from aelab.baselines import digit_classifier

    x, y = _two_blobs()
    args = dict(images=x, labels=y) | kw
    with pytest.raises(error, match=match):
        digit_classifier(args.pop("images"), args.pop("labels"), **args)


def test_classifier_confidence_rejects_bad_input():
    from aelab.baselines import classifier_confidence

    with pytest.raises(TypeError, match="torch.nn.Module"):
        classifier_confidence(lambda x: x, torch.zeros(2, 4))
    with pytest.raises(TypeError, match="images"):
        classifier_confidence(torch.nn.Linear(4, 2), torch.zeros(2, 4, dtype=torch.long))
