"""Lab 06's checks reject each wrong answer the issue lists, each with its own hint.

The right answers are tested in tests/test_checks.py (the solution cells under many seeds); here each
plausible mistake is written out and must be rejected with the hint meant for it, and equivalent
right answers (another loop order, float64, NumPy instead of torch) must pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.metrics import roc_auc_score

from aelab import checks
from aelab.checks import CheckFailed, ExerciseNotDone


def reject(check, fn, match):
    with pytest.raises(CheckFailed, match=match) as info:
        check(fn)
    assert not isinstance(info.value, ExerciseNotDone)
    return str(info.value)


# ---------------------------------------------------------------- exercise 1: grid mosaic
def _mosaic(decode, u1, u2, *, transpose=False, flip=True):
    rows = u2.flip(0) if flip else u2
    if transpose:                                    # code unit 1 down the rows, unit 2 across the columns
        tiles = [[decode(torch.stack([a, b])[None])[0, 0] for b in rows] for a in u1]
    else:
        tiles = [[decode(torch.stack([a, b])[None])[0, 0] for a in u1] for b in rows]
    return torch.cat([torch.cat(row, dim=1) for row in tiles], dim=0)


def test_grid_mosaic_accepts_a_loop(capsys):
    checks.grid_mosaic(_mosaic)
    checks.grid_mosaic(lambda decode, u1, u2: _mosaic(decode, u1.double().float(), u2).double().unsqueeze(0))
    assert capsys.readouterr().out.count("✔") == 2


def test_grid_mosaic_rejects_transposed_rows_and_columns():
    reject(checks.grid_mosaic, lambda d, u1, u2: _mosaic(d, u1, u2, transpose=True), match="transposed")


def test_grid_mosaic_rejects_an_upside_down_y_axis():
    reject(checks.grid_mosaic, lambda d, u1, u2: _mosaic(d, u1, u2, flip=False), match="y axis is upside down")


def test_grid_mosaic_rejects_scrambled_tiles():
    def wrong_permute(decode, u1, u2):
        rows = u2.flip(0)
        codes = torch.stack([u1.repeat(len(rows)), rows.repeat_interleave(len(u1))], dim=1)
        images = decode(codes)
        r, c, (h, w) = len(rows), len(u1), images.shape[-2:]
        return images.reshape(r * h, c * w)                      # no permute: tiles cut into strips
    reject(checks.grid_mosaic, wrong_permute, match="wrong pixels.*permute")


def test_grid_mosaic_not_done():
    def stub(decode, u1, u2):
        raise NotImplementedError()
    with pytest.raises(ExerciseNotDone):
        checks.grid_mosaic(stub)


# ---------------------------------------------------------------- exercise 2: precision@k by cosine
def _precision(codes, labels, k, *, cosine=True, keep_self=False):
    x = codes.double()
    if cosine:
        x = x / x.norm(dim=1, keepdim=True)
        score = x @ x.T
    else:
        score = -torch.cdist(x, x)
    if not keep_self:
        score.fill_diagonal_(-float("inf"))
    return (labels[score.topk(k, dim=1).indices] == labels[:, None]).double().mean().item()


def test_precision_accepts_a_loop_and_a_tensor_result(capsys):
    def loop(codes, labels, k):
        hits = 0
        for i in range(len(codes)):
            sims = torch.nn.functional.cosine_similarity(codes[i:i + 1], codes, dim=1)
            sims[i] = -2.0
            hits += (labels[sims.argsort(descending=True)[:k]] == labels[i]).sum().item()
        return hits / (len(codes) * k)
    checks.leave_one_out_precision(loop)
    checks.leave_one_out_precision(lambda c, y, k: torch.tensor(_precision(c, y, k)))
    assert capsys.readouterr().out.count("✔") == 2


def test_precision_rejects_counting_the_query_itself():
    reject(checks.leave_one_out_precision, lambda c, y, k: _precision(c, y, k, keep_self=True),
           match="you counted it")


def test_precision_rejects_euclidean_distance():
    reject(checks.leave_one_out_precision, lambda c, y, k: _precision(c, y, k, cosine=False),
           match="Euclidean distance")
    reject(checks.leave_one_out_precision, lambda c, y, k: _precision(c, y, k, cosine=False, keep_self=True),
           match="Euclidean distance")


def test_precision_rejects_a_vector_result():
    reject(checks.leave_one_out_precision, lambda c, y, k: torch.zeros(len(c)), match="one number")


# ---------------------------------------------------------------- exercise 3: AUROC
def _auroc(normal, anomaly, *, invert=False, swap=False):
    y_true = np.r_[np.zeros(len(normal)), np.ones(len(anomaly))]
    y_score = np.r_[np.asarray(normal), np.asarray(anomaly)]
    if swap:
        y_true = 1 - y_true
    if invert:
        y_score = -y_score
    return y_true, y_score, roc_auc_score(y_true, y_score)


def test_auroc_accepts_equivalent_answers(capsys):
    checks.auroc_from_errors(lambda n, a: _auroc(n, a))
    checks.auroc_from_errors(lambda n, a: tuple(torch.as_tensor(v) for v in _auroc(n.double(), a.double())))
    checks.auroc_from_errors(lambda n, a: (_auroc(n, a)[0], np.log(np.r_[n, a]), _auroc(n, a)[2]))   # increasing
    assert capsys.readouterr().out.count("✔") == 3


def test_auroc_rejects_inverted_scores():
    reject(checks.auroc_from_errors, lambda n, a: _auroc(n, a, invert=True), match="scores are inverted")


def test_auroc_rejects_swapped_labels():
    reject(checks.auroc_from_errors, lambda n, a: _auroc(n, a, swap=True), match="labels are swapped")


def test_auroc_rejects_a_value_that_does_not_match():
    def flipped_value(n, a):
        y_true, y_score, auc = _auroc(n, a)
        return y_true, y_score, 1 - auc
    reject(checks.auroc_from_errors, flipped_value, match="1 − the right value")


# ---------------------------------------------------------------- exercise 4: TF-IDF + SVD
def _lsa(train, query, k, *, fit_svd_on="train", fit_idf_on="train"):
    import scipy.sparse as sp
    fits = {"train": train, "query": query, "both": sp.vstack([train, query])}
    tfidf = TfidfTransformer().fit(fits[fit_idf_on])
    svd = TruncatedSVD(k, random_state=0).fit(tfidf.transform(fits[fit_svd_on]))
    return svd.transform(tfidf.transform(train)), svd.transform(tfidf.transform(query))


def test_tfidf_svd_accepts_other_solvers_and_signs(capsys):
    def arpack(train, query, k):
        tfidf = TfidfTransformer().fit(train)
        svd = TruncatedSVD(k, algorithm="arpack").fit(tfidf.transform(train))
        return -svd.transform(tfidf.transform(train)), torch.from_numpy(-svd.transform(tfidf.transform(query)))
    checks.tfidf_svd_codes(lambda tr, q, k: _lsa(tr, q, k))
    checks.tfidf_svd_codes(arpack)
    assert capsys.readouterr().out.count("✔") == 2


def test_tfidf_svd_rejects_fitting_the_svd_on_the_queries():
    reject(checks.tfidf_svd_codes, lambda tr, q, k: _lsa(tr, q, k, fit_svd_on="query"),
           match="SVD was fitted on the query documents")
    reject(checks.tfidf_svd_codes, lambda tr, q, k: _lsa(tr, q, k, fit_svd_on="query", fit_idf_on="query"),
           match="SVD was fitted on the query documents")


def test_tfidf_svd_rejects_fitting_on_training_and_queries_together():
    reject(checks.tfidf_svd_codes, lambda tr, q, k: _lsa(tr, q, k, fit_svd_on="both", fit_idf_on="both"),
           match="training and query documents together")


def test_tfidf_svd_rejects_raw_counts_and_wrong_shapes():
    def no_tfidf(train, query, k):
        svd = TruncatedSVD(k, random_state=0).fit(train)
        return svd.transform(train), svd.transform(query)
    reject(checks.tfidf_svd_codes, no_tfidf, match="fit TfidfTransformer on train_counts")
    reject(checks.tfidf_svd_codes, lambda tr, q, k: tuple(c.T for c in _lsa(tr, q, k)), match="shapes")


# ---------------------------------------------------------------- more right answers, written other ways
SEEDS = range(8)


def test_grid_mosaic_accepts_meshgrid_numpy_and_float64(capsys):
    def meshgrid(decode, u1, u2):
        yy, xx = torch.meshgrid(u2.flip(0).double(), u1.double(), indexing="ij")     # (R, C) each
        images = decode(torch.stack([xx.flatten(), yy.flatten()], 1).float())       # row-major over the grid
        r, c, h, w = len(u2), len(u1), images.shape[-2], images.shape[-1]
        return images.reshape(r, c, h, w).permute(0, 2, 1, 3).reshape(r * h, c * w).double().numpy()

    def blocks(decode, u1, u2):
        rows = [torch.cat([decode(torch.tensor([[a.item(), b.item()]]))[0, 0] for a in u1], dim=1)
                for b in reversed(u2)]
        return torch.cat(rows, dim=0)
    for seed in SEEDS:
        checks.grid_mosaic(meshgrid, seed=seed)
        checks.grid_mosaic(blocks, seed=seed)
    assert capsys.readouterr().out.count("✔") == 2 * len(SEEDS)


def test_precision_accepts_float32_numpy_and_top_k_plus_one(capsys):
    from sklearn.metrics.pairwise import cosine_similarity

    def sklearn_numpy(codes, labels, k):
        sim = cosine_similarity(codes.numpy())                       # float32, (N, N)
        np.fill_diagonal(sim, -np.inf)
        nearest = np.argsort(-sim, axis=1, kind="stable")[:, :k]
        return float((labels.numpy()[nearest] == labels.numpy()[:, None]).mean())

    def top_k_plus_one(codes, labels, k):                            # the query is its own first neighbor
        unit = torch.nn.functional.normalize(codes, dim=1)
        nearest = (unit @ unit.T).topk(k + 1, dim=1).indices[:, 1:]
        return (labels[nearest] == labels[:, None]).sum() / (len(codes) * k)
    for seed in SEEDS:
        checks.leave_one_out_precision(sklearn_numpy, seed=seed)
        checks.leave_one_out_precision(top_k_plus_one, seed=seed)
    assert capsys.readouterr().out.count("✔") == 2 * len(SEEDS)


def test_auroc_accepts_a_hand_written_mann_whitney_and_lists(capsys):
    def mann_whitney(normal, anomaly):                               # P(anomaly > normal), a tie counting half
        n, a = np.asarray(normal, dtype=np.float64), np.asarray(anomaly, dtype=np.float64)
        wins = (a[:, None] > n[None, :]).sum() + 0.5 * (a[:, None] == n[None, :]).sum()
        return [0] * len(n) + [1] * len(a), list(n) + list(a), wins / (len(n) * len(a))

    def booleans(normal, anomaly):
        y_true = torch.cat([torch.zeros(len(normal), dtype=torch.bool), torch.ones(len(anomaly), dtype=torch.bool)])
        y_score = torch.cat([normal, anomaly]).double()
        return y_true, y_score, torch.tensor(roc_auc_score(y_true.numpy(), y_score.numpy()))
    for seed in SEEDS:
        checks.auroc_from_errors(mann_whitney, seed=seed)
        checks.auroc_from_errors(booleans, seed=seed)
    assert capsys.readouterr().out.count("✔") == 2 * len(SEEDS)


def test_auroc_hints_at_ties_when_they_do_not_count_half():
    def strict(normal, anomaly):
        n, a = np.asarray(normal, dtype=np.float64), np.asarray(anomaly, dtype=np.float64)
        return _auroc(n, a)[0], np.r_[n, a], (a[:, None] > n[None, :]).mean()
    reject(checks.auroc_from_errors, strict, match="tie")


def test_tfidf_svd_accepts_a_dense_numpy_svd_and_any_random_state(capsys):
    def exact(train, query, k):
        tfidf = TfidfTransformer().fit(train)
        a, b = tfidf.transform(train).toarray(), tfidf.transform(query).toarray()
        vt = np.linalg.svd(a, full_matrices=False)[2][:k]
        return (a @ vt.T).astype(np.float32), b @ vt.T

    def unseeded(train, query, k):
        tfidf = TfidfTransformer().fit(train)
        svd = TruncatedSVD(n_components=k).fit(tfidf.transform(train))
        return svd.transform(tfidf.transform(train)), svd.transform(tfidf.transform(query))
    for seed in SEEDS:
        checks.tfidf_svd_codes(exact, seed=seed)
        checks.tfidf_svd_codes(unseeded, seed=seed)
        checks.tfidf_svd_codes(lambda tr, q, k: _lsa(tr.astype(np.float32), q.astype(np.float32), k), seed=seed)
    assert capsys.readouterr().out.count("✔") == 3 * len(SEEDS)
