"""metrics.retrieval_precision(ties=...) and retrieval_precision_per_query: equal similarities at the cut.

The references below are lecture 06's original cell code (a sort-based expected precision, and a
per-query count without a sort), kept here so that moving them into the package changed no number.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from aelab import metrics


def _reference_expected(query, database, query_labels, database_labels, ks, tol=1e-6):
    q = torch.nn.functional.normalize(query.double(), dim=1)
    db = torch.nn.functional.normalize(database.double(), dim=1)
    sim = q @ db.T
    total = torch.bincount(database_labels, minlength=int(database_labels.max()) + 1)[query_labels].double()
    ordered, order = sim.sort(dim=1, descending=True)
    relevant = (database_labels[order] == query_labels[:, None]).double()
    found = torch.cat([torch.zeros(len(relevant), 1, dtype=torch.float64), relevant.cumsum(1)], 1)
    precision, recall = [], []
    for k in ks:
        cut = ordered[:, k - 1:k]
        above, upto = (ordered > cut + tol).sum(1), (ordered >= cut - tol).sum(1)
        hit_above, hit_upto = found.gather(1, above[:, None])[:, 0], found.gather(1, upto[:, None])[:, 0]
        expected = hit_above + (k - above) * (hit_upto - hit_above) / (upto - above)
        precision.append((expected / k).mean().item())
        recall.append((expected / total.clamp(min=1)).mean().item())
    return np.array(precision), np.array(recall)


def _tied_data(seed=0, n_db=300, n_q=40, dim=6, n_labels=4):
    """Integer count vectors with many exact duplicates: cosine ties at every depth."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randint(0, 3, (60, dim), generator=g).float()
    base[base.sum(1) == 0, 0] = 1.0
    db = base[torch.randint(0, len(base), (n_db,), generator=g)]
    q = base[torch.randint(0, len(base), (n_q,), generator=g)]
    return q, db, torch.randint(0, n_labels, (n_q,), generator=g), torch.randint(0, n_labels, (n_db,), generator=g)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expected_matches_the_sort_based_reference(seed):
    q, db, yq, ydb = _tied_data(seed)
    ks = [1, 5, 10, 37, 150, 300]
    p, r = metrics.retrieval_precision(q, db, yq, ydb, ks, ties="expected")
    p_ref, r_ref = _reference_expected(q, db, yq, ydb, ks)
    np.testing.assert_allclose(p, p_ref, atol=1e-12)
    np.testing.assert_allclose(r, r_ref, atol=1e-12)


def test_expected_does_not_depend_on_the_database_order_but_arbitrary_can():
    q, db, yq, ydb = _tied_data(3)
    perm = torch.randperm(len(db), generator=torch.Generator().manual_seed(0))
    exp_a = metrics.retrieval_precision(q, db, yq, ydb, [10], ties="expected")[0]
    exp_b = metrics.retrieval_precision(q, db[perm], yq, ydb[perm], [10], ties="expected")[0]
    np.testing.assert_allclose(exp_a, exp_b, atol=1e-12)
    arb = {metrics.retrieval_precision(q, db[p], yq, ydb[p], [10])[0][0]
           for p in (torch.randperm(len(db), generator=torch.Generator().manual_seed(s)) for s in range(8))}
    assert len(arb) > 1, "ties exist in this data, so topk's order must matter for the arbitrary rule"


def test_without_ties_both_rules_agree():
    g = torch.Generator().manual_seed(0)
    q, db = torch.randn(30, 8, generator=g), torch.randn(200, 8, generator=g)
    yq, ydb = torch.randint(0, 3, (30,), generator=g), torch.randint(0, 3, (200,), generator=g)
    ks = [1, 10, 50, 200]
    a = metrics.retrieval_precision(q, db, yq, ydb, ks)
    e = metrics.retrieval_precision(q, db, yq, ydb, ks, ties="expected")
    np.testing.assert_allclose(a[0], e[0], atol=1e-12)
    np.testing.assert_allclose(a[1], e[1], atol=1e-12)
    assert a[0][0] == pytest.approx(metrics.precision_at_k(q, db, yq, ydb, 1))


def test_hand_computed_tie():
    # one query; database: one row strictly closest (relevant), then three identical rows (one relevant)
    q = torch.tensor([[1.0, 0.0]])
    db = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [0.0, 1.0]])
    yq, ydb = torch.tensor([0]), torch.tensor([0, 0, 1, 1, 0])
    p, tied = metrics.retrieval_precision_per_query(q, db, yq, ydb, k=2)
    assert p.item() == pytest.approx((1 + 1 * 1 / 3) / 2)        # the 2nd place: 1 of the 3 tied is relevant
    assert tied.item()
    p3, _ = metrics.retrieval_precision_per_query(q, db, yq, ydb, k=3)
    assert p3.item() == pytest.approx((1 + 2 / 3) / 3)
    p1, tied1 = metrics.retrieval_precision_per_query(q, db, yq, ydb, k=1)
    assert p1.item() == 1.0 and not tied1.item()
    _, recall = metrics.retrieval_precision(q, db, yq, ydb, [2], ties="expected")
    assert recall[0] == pytest.approx((1 + 1 / 3) / 3)             # 3 relevant rows in the database


def test_per_query_mean_is_the_aggregate_and_sparse_equals_dense():
    q, db, yq, ydb = _tied_data(4)
    p, tied = metrics.retrieval_precision_per_query(q, db, yq, ydb, k=10, block=7)
    agg = metrics.retrieval_precision(q, db, yq, ydb, [10], ties="expected")[0][0]
    assert p.shape == (40,) and p.dtype == torch.float64 and tied.dtype == torch.bool
    assert p.mean().item() == pytest.approx(agg, abs=1e-12)
    assert tied.any()
    ps, tied_s = metrics.retrieval_precision_per_query(sp.csr_matrix(q.numpy()), sp.csr_matrix(db.numpy()),
                                                       yq, ydb, k=10)
    torch.testing.assert_close(ps, p, atol=1e-6, rtol=0)
    assert torch.equal(tied_s, tied)


def test_bad_arguments():
    q, db, yq, ydb = _tied_data(0)
    with pytest.raises(ValueError, match="ties"):
        metrics.retrieval_precision(q, db, yq, ydb, [10], ties="random")
    with pytest.raises(ValueError, match="tol"):
        metrics.retrieval_precision(q, db, yq, ydb, [10], ties="expected", tol=-1.0)
    with pytest.raises(ValueError, match=r"\[1, M\]"):
        metrics.retrieval_precision_per_query(q, db, yq, ydb, k=len(db) + 1)
    with pytest.raises(ValueError, match="k"):
        metrics.retrieval_precision_per_query(q, db, yq, ydb, k=0)
    with pytest.raises(TypeError, match="labels"):
        metrics.retrieval_precision_per_query(q, db, yq.float(), ydb)
