"""aelab.baselines: PCA-k reconstruction equals the SVD's (lecture 01); cosine retrieval equals the brute force."""

import pytest
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
from aelab.baselines import cosine_neighbors, precision_at_k  # noqa: E402


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
