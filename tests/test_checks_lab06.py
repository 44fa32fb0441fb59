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
    return y_true, y_score, _mw(y_score[y_true == 0], y_score[y_true == 1])


def _mw(normal, anomaly, tie=0.5):
    n, a = np.asarray(normal, dtype=np.float64), np.asarray(anomaly, dtype=np.float64)
    return ((a[:, None] > n[None, :]).sum() + tie * (a[:, None] == n[None, :]).sum()) / (len(n) * len(a))


def test_auroc_accepts_equivalent_answers(capsys):
    checks.auroc_from_errors(lambda n, a: _auroc(n, a))
    checks.auroc_from_errors(lambda n, a: tuple(torch.as_tensor(v) for v in _auroc(n.double(), a.double())))
    checks.auroc_from_errors(lambda n, a: (_auroc(n, a)[0], np.log1p(np.r_[n, a]), _auroc(n, a)[2]))   # increasing
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

    def masked(codes, labels, k):                                    # the diagonal removed, not overwritten
        unit = torch.nn.functional.normalize(codes.double(), dim=1)
        n = len(codes)
        off = ~torch.eye(n, dtype=torch.bool)
        sim = (unit @ unit.T)[off].reshape(n, n - 1)
        others = torch.arange(n).expand(n, n).masked_select(off).reshape(n, n - 1)
        nearest = others.gather(1, sim.topk(k, dim=1).indices)
        return np.float32((labels[nearest] == labels[:, None]).double().mean().item())
    for seed in SEEDS:
        checks.leave_one_out_precision(sklearn_numpy, seed=seed)
        checks.leave_one_out_precision(masked, seed=seed)
    assert capsys.readouterr().out.count("✔") == 2 * len(SEEDS)


def test_auroc_accepts_a_hand_written_mann_whitney_and_lists(capsys):
    def mann_whitney(normal, anomaly):                               # P(anomaly > normal), a tie counting half
        n, a = np.asarray(normal, dtype=np.float64), np.asarray(anomaly, dtype=np.float64)
        wins = (a[:, None] > n[None, :]).sum() + 0.5 * (a[:, None] == n[None, :]).sum()
        return [0] * len(n) + [1] * len(a), list(n) + list(a), wins / (len(n) * len(a))

    def booleans(normal, anomaly):                                   # ranks (scipy's rankdata gives ties their mean)
        from scipy.stats import rankdata
        y_true = torch.cat([torch.zeros(len(normal), dtype=torch.bool), torch.ones(len(anomaly), dtype=torch.bool)])
        y_score = torch.cat([normal, anomaly]).double()
        r, m = rankdata(y_score.numpy()), len(anomaly)
        return y_true, y_score, torch.tensor((r[len(normal):].sum() - m * (m + 1) / 2) / (m * len(normal)))
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


# ---------------------------------------------------------------- issue 20, items 12-16: answers that passed before
def _top_k_plus_one(codes, labels, k):                               # assumes the query is its own first neighbor
    unit = torch.nn.functional.normalize(codes, dim=1)
    nearest = (unit @ unit.T).topk(k + 1, dim=1).indices[:, 1:]
    return (labels[nearest] == labels[:, None]).sum() / (len(codes) * k)


def _diagonal(value):
    def answer(codes, labels, k):
        unit = codes / codes.norm(dim=1, keepdim=True)
        sim = unit @ unit.T
        sim.fill_diagonal_(value)
        return (labels[sim.topk(k, dim=1).indices] == labels[:, None]).float().mean().item()
    return answer


@pytest.mark.parametrize("seed", SEEDS)
def test_precision_rejects_top_k_plus_one_on_duplicate_rows(seed):    # passed before: no duplicate rows
    with pytest.raises(CheckFailed, match="duplicate rows.*by its index"):
        checks.leave_one_out_precision(_top_k_plus_one, seed=seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_precision_rejects_a_diagonal_set_to_zero(seed):             # passed before: k was never close to N
    with pytest.raises(CheckFailed, match="setting the diagonal to a number"):
        checks.leave_one_out_precision(_diagonal(0.0), seed=seed)


def _unnormalized(codes, labels, k):
    sim = codes @ codes.T
    sim.fill_diagonal_(-float("inf"))
    return (labels[sim.topk(k, dim=1).indices] == labels[:, None]).float().mean().item()


def _columns_normalized(codes, labels, k):                          # each column to length 1, not each row
    unit = codes / codes.norm(dim=0, keepdim=True)
    sim = unit @ unit.T
    sim.fill_diagonal_(-float("inf"))
    return (labels[sim.topk(k, dim=1).indices] == labels[:, None]).float().mean().item()


def _in_place(codes, labels, k):
    codes /= codes.norm(dim=1, keepdim=True)
    return _precision(codes, labels, k)


def _one_too_few(codes, labels, k):
    return _precision(codes, labels, max(k - 1, 1)) if k > 1 else 0.0


def _self_subtracted(codes, labels, k):                              # top k with itself, minus its own hit
    unit = torch.nn.functional.normalize(codes, dim=1)
    nearest = (unit @ unit.T).topk(k, dim=1).indices
    return (((labels[nearest] == labels[:, None]).sum(1) - 1) / k).float().mean().item()


def _library(codes, labels, k):
    from aelab import baselines
    return baselines.precision_at_k(codes, codes, labels, labels, k=k, exclude_self=True)


def _library_metrics(codes, labels, k):
    from aelab import metrics
    nearest = metrics.cosine_neighbors(codes, codes, k, exclude_self=True)
    return (labels[nearest] == labels[:, None]).float().mean().item()


PRECISION_WRONG = [
    (_top_k_plus_one, "by its index"), (_diagonal(0.0), "diagonal to a number"),
    (_columns_normalized, "wrong precision"), (lambda c, y, k: _precision(c, y, k, keep_self=True), "counted it"),
    (lambda c, y, k: _precision(c, y, k, cosine=False), "Euclidean"), (_unnormalized, "wrong precision"),
    (_in_place, "changed its inputs"), (_one_too_few, "wrong precision"), (_self_subtracted, "wrong precision"),
    (_library, "aelab.metrics.precision_at_k|aelab.baselines.precision_at_k"),
    (_library_metrics, "cosine_neighbors"), (lambda c, y, k: torch.zeros(len(c)), "one number"),
]


@pytest.mark.parametrize("answer, match", PRECISION_WRONG)
def test_precision_rejects_wrong_answers(answer, match):
    for seed in range(3):
        with pytest.raises(CheckFailed, match=match):
            checks.leave_one_out_precision(answer, seed=seed)


def _loop_precision(codes, labels, k):
    hits = 0
    for i in range(len(codes)):
        sims = torch.nn.functional.cosine_similarity(codes[i:i + 1].double(), codes.double(), dim=1)
        sims[i] = -float("inf")
        hits += (labels[sims.topk(k).indices] == labels[i]).sum().item()
    return hits / (len(codes) * k)


def _numpy_precision(codes, labels, k):
    x = codes.numpy().astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    return np.float64((labels.numpy()[nearest] == labels.numpy()[:, None]).mean())


PRECISION_RIGHT = [_loop_precision, _numpy_precision, lambda c, y, k: torch.tensor(_precision(c, y, k)),
                   lambda c, y, k: _precision(c.double(), y, k), _diagonal(-float("inf"))]


@pytest.mark.parametrize("answer", PRECISION_RIGHT)
def test_precision_accepts_right_answers(answer, capsys):
    for seed in SEEDS:
        checks.leave_one_out_precision(answer, seed=seed)
    assert capsys.readouterr().out.count("✔") == len(SEEDS)


def _labels(n, a):
    return np.r_[np.zeros(len(n)), np.ones(len(a))]


def _with(value):
    return lambda n, a: (_labels(n, a), np.r_[n, a], value(np.asarray(n, np.float64), np.asarray(a, np.float64)))


@pytest.mark.parametrize("seed", SEEDS)
def test_auroc_rejects_ties_counted_as_losses_at_every_seed(seed):   # passed before at seed 1: no ties
    with pytest.raises(CheckFailed, match="counted as losses"):
        checks.auroc_from_errors(_with(lambda n, a: _mw(n, a, 0.0)), seed=seed)


def test_auroc_every_case_has_a_normal_anomaly_tie(monkeypatch):
    seen = []

    def spy(normal, anomaly):
        seen.append(np.isin(np.asarray(anomaly), np.asarray(normal)).any())
        return _with(_mw)(normal, anomaly)
    for seed in SEEDS:
        checks.auroc_from_errors(spy, seed=seed)
    assert seen and all(seen)


def _sklearn(n, a):
    return _labels(n, a), np.r_[n, a], roc_auc_score(_labels(n, a), np.r_[n, a])


def _scipy(n, a):
    from scipy.stats import mannwhitneyu
    u = mannwhitneyu(np.asarray(a), np.asarray(n)).statistic
    return _labels(n, a), np.r_[n, a], u / (len(n) * len(a))


AUROC_WRONG = [
    (_with(lambda n, a: _mw(n, a, 0.0)), "counted as losses"), (_with(lambda n, a: _mw(n, a, 1.0)), "counted as wins"),
    (_sklearn, "roc_auc_score"), (_scipy, "mannwhitneyu"), (lambda n, a: _auroc(n, a, swap=True), "swapped"),
    (lambda n, a: _auroc(n, a, invert=True), "inverted"), (_with(lambda n, a: 1 - _mw(n, a)), "1 − the right value"),
    (_with(lambda n, a: _mw(n, a) * len(n) * len(a)), "number of .anomaly, normal. pairs"),
    (_with(lambda n, a: float(a.mean() > n.mean())), "auroc is"),
    (_with(lambda n, a: ((a[:, None] > n).sum() + 0.5 * (a[:, None] == n).sum()) / (len(n) + len(a))), "auroc is"),
    (lambda n, a: (_labels(n, a), np.r_[a, n], _mw(n, a)), "does not rank"),
]


@pytest.mark.parametrize("answer, match", AUROC_WRONG)
def test_auroc_rejects_wrong_answers(answer, match):
    for seed in range(3):
        with pytest.raises(CheckFailed, match=match):
            checks.auroc_from_errors(answer, seed=seed)


def _auroc_loop(normal, anomaly):
    wins = 0.0
    for x in anomaly.tolist():
        for y in normal.tolist():
            wins += 1.0 if x > y else 0.5 if x == y else 0.0
    return [0] * len(normal) + [1] * len(anomaly), normal.tolist() + anomaly.tolist(), wins / (len(normal) * len(anomaly))


def _auroc_torch(normal, anomaly):
    diff = anomaly[:, None] - normal[None, :]
    value = ((diff > 0).double() + 0.5 * (diff == 0).double()).mean()
    return torch.cat([torch.zeros(len(normal)), torch.ones(len(anomaly))]), torch.cat([normal, anomaly]), value


def _auroc_sorted(normal, anomaly):                                  # count normals below each anomaly
    n = np.sort(np.asarray(normal, np.float64))
    a = np.asarray(anomaly, np.float64)
    below, upto = np.searchsorted(n, a, "left"), np.searchsorted(n, a, "right")
    return _labels(normal, anomaly), np.r_[normal, anomaly], (below + 0.5 * (upto - below)).sum() / (len(n) * len(a))


AUROC_RIGHT = [_with(_mw), _auroc_loop, _auroc_torch, _auroc_sorted,
               lambda n, a: (_labels(n, a), np.exp(np.r_[n, a]), np.float32(_mw(n, a)))]


@pytest.mark.parametrize("answer", AUROC_RIGHT)
def test_auroc_accepts_right_answers(answer, capsys):
    for seed in SEEDS:
        checks.auroc_from_errors(answer, seed=seed)
    assert capsys.readouterr().out.count("✔") == len(SEEDS)


def _swapped_units(decode, u1, u2, *, transpose=False, flip=True):
    return _mosaic(lambda z: decode(z.flip(1)), u1, u2, transpose=transpose, flip=flip)


@pytest.mark.parametrize("seed", SEEDS)
def test_grid_mosaic_names_swapped_code_units(seed):                 # was told to "permute"
    with pytest.raises(CheckFailed, match="two code units are swapped"):
        checks.grid_mosaic(_swapped_units, seed=seed)
    with pytest.raises(CheckFailed, match="two code units are swapped"):
        checks.grid_mosaic(lambda d, u1, u2: _swapped_units(d, u1, u2, flip=False), seed=seed)


def test_tfidf_svd_forbids_the_package_version():
    from aelab import baselines

    def library(train, query, k):
        codes_train, codes_query = baselines.tfidf_lsa(train, query, k, seed=0)
        return codes_train, codes_query
    reject(checks.tfidf_svd_codes, library, match="tfidf_lsa")
