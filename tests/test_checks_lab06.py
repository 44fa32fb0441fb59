"""Lab 06's checks reject each wrong answer the issue lists, each with its own hint.

The right answers are tested in tests/test_checks.py (the solution cells under many seeds); here each
plausible mistake is written out and must be rejected with the hint meant for it, and equivalent
right answers (another loop order, float64, NumPy instead of torch) must pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import scipy.sparse as sp
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import normalize

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
    reject(checks.tfidf_svd_codes, no_tfidf, match="SVD of the raw word counts")
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

# ---------------------------------------------------------------- "ten wrong, five right" for exercises 1 and 4
# Each wrong answer is one plausible mistake, with the words its hint must contain; the right answers are other styles.


def _right(decode, u1, u2):
    rows = u2.flip(0)
    codes = torch.stack([u1.repeat(len(rows)), rows.repeat_interleave(len(u1))], dim=1)
    images = decode(codes)
    r, c, (h, w) = len(rows), len(u1), images.shape[-2:]
    return images.reshape(r, c, h, w).permute(0, 2, 1, 3).reshape(r * h, c * w)


def _tiles(decode, u1, u2):
    rows = u2.flip(0)
    codes = torch.stack([u1.repeat(len(rows)), rows.repeat_interleave(len(u1))], dim=1)
    images = decode(codes)
    return images.reshape(len(rows), len(u1), *images.shape[-2:])


def m_colmajor(decode, u1, u2):
    # codes built column by column, reshaped row by row
    rows = u2.flip(0)
    codes = torch.stack([u1.repeat_interleave(len(rows)), rows.repeat(len(u1))], 1)
    images = decode(codes)
    r, c, (h, w) = len(rows), len(u1), images.shape[-2:]
    return images.reshape(r, c, h, w).permute(0, 2, 1, 3).reshape(r * h, c * w)


def m_xflip(decode, u1, u2):
    return _right(decode, u1.flip(0), u2)


def m_bothflip(decode, u1, u2):
    return _right(decode, u1.flip(0), u2.flip(0))


def m_tile_T(decode, u1, u2):
    t = _tiles(decode, u1, u2)
    r, c, h, w = t.shape
    return t.transpose(2, 3).permute(0, 2, 1, 3).reshape(r * w, c * h)        # each (H, W) tile placed as (W, H)


def m_whole_flip(decode, u1, u2):
    # y axis "fixed" by flipping the finished image
    return _right(decode, u1, u2.flip(0)).flip(0)


def m_pad(decode, u1, u2):
    # a 1-pixel border between tiles
    t = _tiles(decode, u1, u2)
    r, c, h, w = t.shape
    out = torch.zeros(r * (h + 1) - 1, c * (w + 1) - 1)
    for i in range(r):
        for j in range(c):
            out[i * (h + 1):i * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = t[i, j]
    return out


def m_make_grid(decode, u1, u2):
    # torchvision's default: padding 2, 3 channels
    from torchvision.utils import make_grid
    t = _tiles(decode, u1, u2)
    r, c, h, w = t.shape
    return make_grid(t.reshape(r * c, 1, h, w), nrow=c)


def m_minmax(decode, u1, u2):
    m = _right(decode, u1, u2)
    return (m - m.min()) / (m.max() - m.min())


def m_clip(decode, u1, u2):
    return _right(decode, u1, u2).clamp(0, 1)


def m_uint8(decode, u1, u2):
    return (_right(decode, u1, u2).clamp(0, 1) * 255).to(torch.uint8)


def m_list(decode, u1, u2):
    return [row for row in _right(decode, u1, u2)]


def m_list_tiles(decode, u1, u2):
    return list(_tiles(decode, u1, u2).reshape(-1, *_tiles(decode, u1, u2).shape[-2:]))


def m_unflat(decode, u1, u2):
    return _tiles(decode, u1, u2)


def m_linspace(decode, u1, u2):
    # re-spaced grid instead of the given values
    return _right(decode, torch.linspace(u1.min(), u1.max(), len(u1)), torch.linspace(u2.min(), u2.max(), len(u2)))


def m_per_tile_norm(decode, u1, u2):
    t = _tiles(decode, u1, u2)
    lo = t.amin((2, 3), keepdim=True)
    hi = t.amax((2, 3), keepdim=True)
    t = (t - lo) / (hi - lo)
    r, c, h, w = t.shape
    return t.permute(0, 2, 1, 3).reshape(r * h, c * w)


MOSAIC_WRONG = dict(colmajor=m_colmajor, xflip=m_xflip, bothflip=m_bothflip, tile_T=m_tile_T, whole_flip=m_whole_flip,
                    pad=m_pad, make_grid=m_make_grid, minmax=m_minmax, clip=m_clip, uint8=m_uint8, list=m_list,
                    list_tiles=m_list_tiles, unflat=m_unflat, linspace=m_linspace, per_tile_norm=m_per_tile_norm)


def r_numpy_block(decode, u1, u2):
    imgs = [[decode(torch.tensor([[float(a), float(b)]]))[0, 0].numpy() for a in u1] for b in u2.tolist()[::-1]]
    return np.block(imgs)


def r_make_grid(decode, u1, u2):
    from torchvision.utils import make_grid
    t = _tiles(decode, u1, u2)
    r, c, h, w = t.shape
    return make_grid(t.reshape(r * c, 1, h, w), nrow=c, padding=0)[0]


def r_loop_fill(decode, u1, u2):
    r, c = len(u2), len(u1)
    out = None
    for i in range(r):
        for j in range(c):
            img = decode(torch.stack([u1[j], u2[r - 1 - i]])[None])[0, 0]
            h, w = img.shape
            if out is None: out = torch.empty(r * h, c * w, dtype=torch.float64)
            out[i * h:(i + 1) * h, j * w:(j + 1) * w] = img
    return out


def r_flip_then_build(decode, u1, u2):
    # build with u2 increasing (bottom row first), then reverse the block rows
    codes = torch.cartesian_prod(u2, u1)[:, [1, 0]]
    images = decode(codes)
    r, c, (h, w) = len(u2), len(u1), images.shape[-2:]
    return images.reshape(r, c, h, w).flip(0).permute(0, 2, 1, 3).reshape(r * h, c * w)


def r_einsum(decode, u1, u2):
    yy, xx = torch.meshgrid(u2.flip(0), u1, indexing="ij")
    images = decode(torch.stack([xx, yy], -1).reshape(-1, 2))[:, 0]
    r, c = xx.shape
    h, w = images.shape[-2:]
    return torch.einsum("rchw->rhcw", images.reshape(r, c, h, w)).reshape(1, 1, r * h, c * w)


MOSAIC_RIGHT = dict(numpy_block=r_numpy_block, make_grid0=r_make_grid, loop_fill=r_loop_fill,
                    flip_then_build=r_flip_then_build, einsum=r_einsum)

# ------------------------------------------------------------ TF-IDF + SVD


def _fit(train, query, k, tfidf=None, svd=None):
    tfidf = tfidf or TfidfTransformer()
    svd = svd or TruncatedSVD(k, random_state=0)
    a = tfidf.fit_transform(train)
    return svd.fit_transform(a), svd.transform(tfidf.transform(query))


def t_stacked(train, query, k):
    tfidf = TfidfTransformer().fit(sp.vstack([train, query]))
    svd = TruncatedSVD(k, random_state=0)
    svd.fit(tfidf.transform(sp.vstack([train, query])))
    return svd.transform(tfidf.transform(train)), svd.transform(tfidf.transform(query))


def t_raw(train, query, k):
    svd = TruncatedSVD(k, random_state=0).fit(train)
    return svd.transform(train), svd.transform(query)


def t_no_idf(train, query, k):
    return _fit(train, query, k, tfidf=TfidfTransformer(use_idf=False))


def t_no_norm(train, query, k):
    return _fit(train, query, k, tfidf=TfidfTransformer(norm=None))


def t_col_norm(train, query, k):
    tfidf = TfidfTransformer(norm=None).fit(train)
    a, b = normalize(tfidf.transform(train), axis=0), normalize(tfidf.transform(query), axis=0)
    svd = TruncatedSVD(k, random_state=0).fit(a)
    return svd.transform(a), svd.transform(b)


def t_k_plus_1(train, query, k):
    return _fit(train, query, k + 1)


def t_pca(train, query, k):
    tfidf = TfidfTransformer().fit(train)
    p = PCA(k, random_state=0).fit(tfidf.transform(train).toarray())
    return p.transform(tfidf.transform(train).toarray()), p.transform(tfidf.transform(query).toarray())


def t_refit_query(train, query, k):
    tfidf = TfidfTransformer()
    svd = TruncatedSVD(k, random_state=0)
    a = svd.fit_transform(tfidf.fit_transform(train))
    b = svd.fit_transform(tfidf.transform(query))
    return a, b


def t_components(train, query, k):
    tfidf = TfidfTransformer().fit(train)
    svd = TruncatedSVD(k, random_state=0).fit(tfidf.transform(train))
    return svd.components_, svd.transform(tfidf.transform(query))


def t_idf_query(train, query, k):
    tr = TfidfTransformer().fit(train)
    svd = TruncatedSVD(k, random_state=0).fit(tr.transform(train))
    return svd.transform(tr.transform(train)), svd.transform(TfidfTransformer().fit_transform(query))


def t_normalized_codes(train, query, k):
    a, b = _fit(train, query, k)
    return normalize(a), normalize(b)


def t_U_only(train, query, k):
    tfidf = TfidfTransformer().fit(train)
    a = tfidf.transform(train).toarray()
    b = tfidf.transform(query).toarray()
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return u[:, :k], b @ vt[:k].T / s[:k]


def t_swapped(train, query, k):
    return _fit(train, query, k)[::-1]


def t_tfidf_only(train, query, k):
    tfidf = TfidfTransformer().fit(train)
    return tfidf.transform(train), tfidf.transform(query)


def t_V_not_VT(train, query, k):
    # numpy's vt used untransposed: codes on the wrong axis
    tfidf = TfidfTransformer().fit(train)
    a = tfidf.transform(train).toarray()
    b = tfidf.transform(query).toarray()
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    v = vt.T
    return a @ v[:k].T, b @ v[:k].T


TFIDF_WRONG = dict(stacked=t_stacked, raw=t_raw, no_idf=t_no_idf, no_norm=t_no_norm, col_norm=t_col_norm,
                   k_plus_1=t_k_plus_1, pca=t_pca, refit_query=t_refit_query, components=t_components,
                   idf_query=t_idf_query, normalized_codes=t_normalized_codes, U_only=t_U_only, swapped=t_swapped,
                   tfidf_only=t_tfidf_only, V_not_VT=t_V_not_VT)


def rt_pipeline(train, query, k):
    p = make_pipeline(TfidfTransformer(), TruncatedSVD(k, random_state=0)).fit(train)
    return p.transform(train), p.transform(query)


def rt_manual_numpy(train, query, k):
    a, b = train.toarray().astype(float), query.toarray().astype(float)
    n = len(a)
    idf = np.log((1 + n) / (1 + (a > 0).sum(0))) + 1
    a, b = a * idf, b * idf
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    vt = np.linalg.svd(a, full_matrices=False)[2][:k]
    return a @ vt.T, b @ vt.T


def rt_torch(train, query, k):
    tfidf = TfidfTransformer().fit(train)
    a = torch.from_numpy(tfidf.transform(train).toarray()).float()
    b = torch.from_numpy(tfidf.transform(query).toarray()).float()
    v = torch.linalg.svd(a, full_matrices=False).Vh[:k].T
    return a @ v, b @ v


def rt_svds(train, query, k):
    from scipy.sparse.linalg import svds
    tfidf = TfidfTransformer().fit(train)
    a = tfidf.transform(train)
    u, s, vt = svds(a, k=k)
    return u * s, tfidf.transform(query) @ vt.T


def rt_svds_sorted(train, query, k):
    # scipy's svds, its columns put in decreasing order
    u, q = rt_svds(train, query, k)
    return u[:, ::-1], q[:, ::-1]


def rt_US(train, query, k):
    # U·S for the training codes, the query projected on V
    tfidf = TfidfTransformer().fit(train)
    a = tfidf.transform(train).toarray()
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return u[:, :k] * s[:k], np.asarray(tfidf.transform(query).todense() @ vt[:k].T)


TFIDF_RIGHT = dict(pipeline=rt_pipeline, manual_numpy=rt_manual_numpy, torch=rt_torch, svds_sorted=rt_svds_sorted,
                   US=rt_US)
TFIDF_WRONG["svds_unsorted"] = rt_svds                      # scipy's svds as it comes: columns in increasing order


MOSAIC_HINTS = dict(colmajor="transposed", xflip="x axis is reversed", bothflip="both axes are reversed",
                    tile_T="each tile is transposed", whole_flip="each tile is upside down", pad="no padding or border",
                    make_grid="Three channels", minmax="rescaled", clip="clipped", uint8="integer pixels",
                    list="one tensor, got a list", list_tiles="one tensor, got a list", unflat=r"\(R, C, H, W\) stack",
                    linspace="not on the grid", per_tile_norm="rescaled")


TFIDF_HINTS = dict(stacked="training and query documents together", raw="raw word counts",
                   no_idf="IDF weights are missing",
                   no_norm="rows are not normalized", col_norm="normalized the columns", k_plus_1="exactly k = ",
                   pca="centered", refit_query="SVD was fitted on the query", components="components_",
                   idf_query="fitted on the queries", normalized_codes="normalized the codes",
                   U_only="without the singular",
                   swapped="wrong order", tfidf_only="TF-IDF vectors themselves", V_not_VT="columns of numpy's vt",
                   svds_unsorted="increasing order of singular value")


# (check, wrong answers, their hints, the check's generic hint) per exercise: each named mistake gets its own hint
NAMED = {"grid_mosaic": (checks.grid_mosaic, MOSAIC_WRONG, MOSAIC_HINTS, "wrong pixels"),
         "tfidf_svd_codes": (checks.tfidf_svd_codes, TFIDF_WRONG, TFIDF_HINTS,
                             "transform both sets with those two fitted objects")}
RIGHT = {"grid_mosaic": (checks.grid_mosaic, MOSAIC_RIGHT), "tfidf_svd_codes": (checks.tfidf_svd_codes, TFIDF_RIGHT)}


@pytest.mark.parametrize("exercise, name", [(e, n) for e, (_, wrong, _, _) in NAMED.items() for n in sorted(wrong)])
@pytest.mark.parametrize("seed", range(3))
def test_each_wrong_answer_gets_its_own_hint(exercise, name, seed):
    check, wrong, hints, generic = NAMED[exercise]
    with pytest.raises(CheckFailed, match=hints[name]) as info:
        check(wrong[name], seed=seed)
    assert not isinstance(info.value, ExerciseNotDone)
    assert generic not in str(info.value)                              # the generic hint never fires for these


@pytest.mark.parametrize("exercise, name", [(e, n) for e, (_, right) in RIGHT.items() for n in sorted(right)])
@pytest.mark.parametrize("seed", range(4))
def test_other_right_styles_pass(exercise, name, seed, capsys):
    check, right = RIGHT[exercise]
    check(right[name], seed=seed)
    assert "✔" in capsys.readouterr().out


# ---------------------------------------------------------------- issue 20, items 12-13: more answers mishandling ties


def _ordinal_ranks(n, a):
    # rank sum with argsort-twice ranks: ties unaveraged
    s = np.r_[n, a]
    r, m = s.argsort(kind="stable").argsort() + 1, len(a)
    return _labels(n, a), s, (r[len(n):].sum() - m * (m + 1) / 2) / (m * len(n))


def _deduplicated(codes, labels, k):
    # drops duplicate rows before retrieving
    x = torch.nn.functional.normalize(codes.double(), dim=1)
    keep = np.sort(np.unique(x.numpy().round(12), axis=0, return_index=True)[1])
    x, y = x[keep], labels[keep]
    s = x @ x.T
    s.fill_diagonal_(-float("inf"))
    return (y[s.topk(min(k, len(x) - 1), dim=1).indices] == y[:, None]).double().mean().item()


def _equal_to_self_left_out(codes, labels, k):
    # leaves out every row equal to the query
    x = torch.nn.functional.normalize(codes.double(), dim=1)
    s = x @ x.T
    s[s > 1 - 1e-12] = -float("inf")
    return (labels[s.topk(k, dim=1).indices] == labels[:, None]).double().mean().item()


@pytest.mark.parametrize("check, answer, match", [
    (checks.auroc_from_errors, _ordinal_ranks, "counted as wins"),
    (checks.leave_one_out_precision, _deduplicated, "duplicate rows"),
    (checks.leave_one_out_precision, _equal_to_self_left_out, "duplicate rows.*by its index"),
])
@pytest.mark.parametrize("seed", range(3))
def test_ties_and_duplicates_are_not_dropped(check, answer, match, seed):
    with pytest.raises(CheckFailed, match=match):
        check(answer, seed=seed)
