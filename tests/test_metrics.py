"""aelab.metrics: every number against scipy / scikit-learn / a brute force; the hole measure can fail."""

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
from torch import nn

from aelab import baselines, metrics
from aelab.metrics import (dead_fraction, dead_latents, decoded_line, different_label_pairs, explained_variance,
                           hole_ratio, hole_ratio_null, l0, mean_max_cosine_similarity, paired_difference,
                           path_distances, principal_angles, psnr, same_label_pairs)


def test_all_lists_public_names_and_old_names_still_import():
    public = {n for n, v in vars(metrics).items() if not n.startswith("_") and callable(v)
              and getattr(v, "__module__", None) == "aelab.metrics"}
    assert public == set(metrics.__all__) - {"MAX_BLOCK_ENTRIES", "TIE_RULES"}
    for name in ("cosine_neighbors", "precision_at_k", "retrieval_precision", "nearest_distance"):
        assert getattr(baselines, name) is getattr(metrics, name)
        assert name in baselines.__all__


# --------------------------------------------------------------------------- psnr

def test_psnr_equals_the_definition_and_scikit_image_style_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 4, 4, generator=g)
    x_hat = (x + 0.1 * torch.randn(5, 1, 4, 4, generator=g)).clamp(0, 1)
    want = [10 * math.log10(1 / float(((a - b) ** 2).mean())) for a, b in zip(x_hat.double(), x.double())]
    np.testing.assert_allclose(psnr(x_hat, x).numpy(), want, rtol=1e-5)
    assert torch.isinf(psnr(x, x)).all()                              # an exact copy: infinite PSNR
    assert psnr(x * 0 + 0.5, x * 0 + 0.6).allclose(torch.tensor(20.0))   # MSE 0.01 -> 20 dB
    with pytest.raises(ValueError, match="same shape"):
        psnr(x, x[:4])
    with pytest.raises(TypeError, match="floating"):
        psnr((x * 255).to(torch.uint8), x)


# --------------------------------------------------------------------------- principal angles

@pytest.mark.parametrize("shape_a, shape_b", [((10, 3), (10, 3)), ((8, 3), (8, 2)), ((8, 2), (8, 4)), ((784, 5), (784, 5))])
def test_principal_angles_equal_scipy_in_degrees_ascending(shape_a, shape_b):
    g = torch.Generator().manual_seed(1)
    A = torch.randn(*shape_a, generator=g) * torch.logspace(-2, 2, shape_a[1])   # badly scaled columns
    B = torch.randn(*shape_b, generator=g)
    got = principal_angles(A, B)
    want = np.sort(np.rad2deg(scipy.linalg.subspace_angles(A.double().numpy(), B.double().numpy())))
    assert got.shape == (min(shape_a[1], shape_b[1]),) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want, atol=1e-4)
    assert (got[1:] >= got[:-1]).all() and got.min() >= 0 and got.max() <= 90


def test_principal_angles_known_values_and_small_angles():
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    assert principal_angles(torch.tensor([[1.0], [0.0]]), torch.tensor([[c], [s]])).item() == pytest.approx(30, abs=1e-5)
    assert principal_angles(torch.eye(5)[:, :2], torch.eye(5)[:, 2:4]).tolist() == pytest.approx([90, 90])
    A = torch.randn(6, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    same = principal_angles(A, A @ torch.tensor([[2.0, 1.0], [1.0, 3.0]], dtype=torch.float64))   # another basis
    assert same.abs().max() < 1e-6
    # a tiny angle (1e-6 degrees): arccos of the cosine gives 0 or noise, the sine gives it back
    t = math.radians(1e-6)
    tiny = principal_angles(torch.tensor([[1.0], [0.0]], dtype=torch.float64),
                            torch.tensor([[math.cos(t)], [math.sin(t)]], dtype=torch.float64))
    assert tiny.item() == pytest.approx(1e-6, rel=1e-6)
    # the lecture-01 / lab-01 formula (QR, svdvals, arccos) agrees away from tiny angles
    B = torch.randn(6, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    qa, qb = torch.linalg.qr(A)[0], torch.linalg.qr(B)[0]
    lecture = torch.rad2deg(torch.arccos(torch.linalg.svdvals(qa.T @ qb).clamp(-1, 1)))
    torch.testing.assert_close(principal_angles(A, B), lecture, atol=1e-6, rtol=0)


def test_principal_angles_bad_input():
    with pytest.raises(ValueError, match="same number of rows"):
        principal_angles(torch.randn(5, 2), torch.randn(6, 2))
    with pytest.raises(ValueError, match="linearly"):
        principal_angles(torch.ones(5, 2), torch.randn(5, 2))            # duplicate columns
    with pytest.raises(TypeError, match="floating"):
        principal_angles(torch.ones(5, 2, dtype=torch.long), torch.randn(5, 2))
    with pytest.raises(ValueError, match="2 dimensions"):
        principal_angles(torch.randn(5), torch.randn(5, 2))
    with pytest.raises(ValueError, match="NaN"):
        principal_angles(torch.full((5, 2), float("nan")), torch.randn(5, 2))


# --------------------------------------------------------------------------- retrieval (moved; full tests in test_baselines)

def test_retrieval_matches_scikit_learn_neighbors_with_cosine_metric():
    from sklearn.neighbors import NearestNeighbors

    g = torch.Generator().manual_seed(4)
    db, q = torch.randn(60, 7, generator=g), torch.randn(9, 7, generator=g)
    want = NearestNeighbors(n_neighbors=5, metric="cosine", algorithm="brute").fit(db.numpy()).kneighbors(q.numpy())[1]
    assert torch.equal(metrics.cosine_neighbors(q, db, 5), torch.from_numpy(want))
    with pytest.raises(TypeError, match="block"):
        metrics.cosine_neighbors(q, db, 5, block=2.0)
    with pytest.raises(TypeError, match="exclude_self"):
        metrics.cosine_neighbors(db, db, 5, exclude_self=1)


def test_nearest_distance_duplicates_are_zero_and_ties_agree_with_scipy():
    g = torch.Generator().manual_seed(5)
    data = torch.randn(30, 4, generator=g)
    data = torch.cat([data, data[:5]])                                # duplicate rows
    images = torch.cat([data[:3], torch.randn(6, 4, generator=g)])
    want = scipy.spatial.distance.cdist(images.double().numpy(), data.double().numpy()).min(1)
    got = metrics.nearest_distance(images, data, block=2)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-5)
    assert (got[:3] < 1e-5).all()


# --------------------------------------------------------------------------- pairs

@pytest.mark.parametrize("fn, same", [(different_label_pairs, False), (same_label_pairs, True)])
def test_label_pairs_have_the_right_labels_and_cover_every_partner(fn, same):
    labels = torch.tensor([3, 3, 7, 7, 7, 9, 3, 9])                   # any integers, unsorted
    pairs = fn(labels, 4000, seed=1)
    assert pairs.shape == (4000, 2) and pairs.dtype == torch.int64
    i, j = pairs.unbind(1)
    assert torch.equal(labels[i] == labels[j], torch.full((4000,), same))
    assert (i != j).all()
    # every allowed (i, j) occurs, each about equally often given i (uniform among the partners)
    allowed = {(a, b) for a in range(8) for b in range(8) if a != b and (labels[a] == labels[b]) == same}
    seen = {tuple(p) for p in pairs.tolist()}
    assert seen == allowed
    counts = np.bincount(pairs[:, 0].numpy(), minlength=8)
    assert scipy.stats.chisquare(counts).pvalue > 1e-3                # first image uniform
    assert torch.equal(fn(labels, 50, seed=2), fn(labels, 50, seed=2))   # deterministic, own generator


def test_same_and_different_pairs_share_first_images():
    labels = torch.arange(100) % 10
    a, b = different_label_pairs(labels, 200, seed=3), same_label_pairs(labels, 200, seed=3)
    assert torch.equal(a[:, 0], b[:, 0])


def test_label_pairs_bad_input():
    with pytest.raises(ValueError, match="all labels are equal"):
        different_label_pairs(torch.zeros(5, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="one image"):
        same_label_pairs(torch.arange(5), 3)
    with pytest.raises(TypeError, match="integer"):
        different_label_pairs(torch.rand(5), 3)
    with pytest.raises(TypeError, match="n_pairs"):
        different_label_pairs(torch.arange(5), 3.0)
    with pytest.raises(ValueError, match="n_pairs"):
        different_label_pairs(torch.arange(5), 0)
    with pytest.raises(ValueError, match="shape"):
        different_label_pairs(torch.arange(6).reshape(2, 3), 2)
    # a singleton class: never a first image of a same-class pair, fine for different-class pairs
    labels = torch.tensor([0, 0, 1])
    assert (same_label_pairs(labels, 100)[:, 0] != 2).all()


# --------------------------------------------------------------------------- decoded lines

class _Linear(nn.Module):
    """A toy autoencoder: encode = first 2 pixels, decode = a fixed linear map; optional VAE tuple."""

    def __init__(self, vae=False):
        super().__init__()
        self.dec = nn.Linear(2, 6)
        self.vae = vae

    def encode(self, x):
        z = x.flatten(1)[:, :2]
        return (z, torch.zeros_like(z)) if self.vae else z

    def decode(self, z):
        assert not self.training                                      # decoded_line uses eval mode
        return self.dec(z).reshape(-1, 1, 2, 3)


@pytest.mark.parametrize("vae", [False, True])
def test_decoded_line_equals_decoding_each_point(vae):
    torch.manual_seed(0)
    model = _Linear(vae).train()
    a, b = torch.rand(3, 1, 2, 3), torch.rand(3, 1, 2, 3)
    got = decoded_line(model, a, b, steps=5)
    assert got.shape == (3, 5, 1, 2, 3) and model.training             # mode restored
    with torch.no_grad():
        model.eval()
        for p in range(3):
            za, zb = a[p].flatten()[:2], b[p].flatten()[:2]
            for s, t in enumerate(torch.linspace(0, 1, 5).tolist()):
                torch.testing.assert_close(got[p, s], model.decode((za + t * (zb - za))[None])[0])
        torch.testing.assert_close(got[:, 0], model.decode(a.flatten(1)[:, :2]))    # ends exact
        torch.testing.assert_close(got[:, -1], model.decode(b.flatten(1)[:, :2]))
    # codes given directly (lab 02's interpolate_codes + decoder)
    z0, z1 = torch.randn(1, 2), torch.randn(1, 2)
    line = decoded_line(model, z0, z1, steps=3, codes=True)[0]
    with torch.no_grad():
        torch.testing.assert_close(line[1], model.decode((z0 + z1) / 2)[0])


def test_decoded_line_and_path_distances_bad_input():
    model = _Linear()
    x = torch.rand(2, 1, 2, 3)
    with pytest.raises(ValueError, match="steps"):
        decoded_line(model, x, x, steps=1)
    with pytest.raises(ValueError, match="same shape"):
        decoded_line(model, x, x[:1])
    with pytest.raises(TypeError, match="encode"):
        decoded_line(nn.Linear(2, 2), x, x)
    with pytest.raises(TypeError, match="codes"):
        decoded_line(model, x, x, codes="yes")
    data = torch.rand(20, 6)
    d = path_distances(model, x, x.flip(0), data, steps=4)
    want = metrics.nearest_distance(decoded_line(model, x, x.flip(0), 4).flatten(0, 1), data).reshape(2, 4)
    assert torch.equal(d, want)


# --------------------------------------------------------------------------- the hole measure

def _old_criterion(d):
    """Lecture 02's old test: the largest interior distance exceeds the larger endpoint distance."""
    return d[:, 1:-1].max(1).values > d[:, [0, -1]].max(1).values


def test_hole_ratio_is_the_definition():
    d = torch.tensor([[2.0, 3.0, 5.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    torch.testing.assert_close(hole_ratio(d), torch.tensor([4.0 / 1.5, 1.0], dtype=torch.float64))
    # the null by brute force: every ordering of the path's distances, averaged
    from itertools import permutations
    row = [2.0, 3.0, 5.0, 1.0]
    brute = np.mean([np.mean(p[1:-1]) / np.mean([p[0], p[-1]]) for p in permutations(row)])
    assert hole_ratio_null(d)[0].item() == pytest.approx(brute)
    assert hole_ratio_null(d)[1].item() == pytest.approx(1.0)           # ties: a flat path is its own null
    assert hole_ratio(d[0]).shape == () and hole_ratio_null(d[0]).item() == pytest.approx(brute)


@pytest.mark.parametrize("dist", ["uniform", "lognormal"])
def test_no_hole_old_criterion_fires_82_percent_new_measure_does_not(dist):
    # exchangeable (i.i.d.) distances along 11-point paths: no hole anywhere
    g = torch.Generator().manual_seed(0)
    n = 20_000
    d = torch.rand(n, 11, generator=g) + 4 if dist == "uniform" else torch.exp(0.2 * torch.randn(n, 11, generator=g))
    fires = _old_criterion(d).double().mean().item()
    assert fires == pytest.approx(9 / 11, abs=0.01)                    # 9 chances in 11: ~82 % "have a hole"
    ratio, null = hole_ratio(d), hole_ratio_null(d)
    assert ratio.mean() / null.mean() == pytest.approx(1.0, abs=0.003)  # relative to its null: 1
    mean, se = paired_difference(ratio, null)
    assert abs(mean) < 3 * se                                           # no hole indicated
    # on 50 paths (lecture 02's size) the claim "holes exist" fails in ~97.5 % of draws, not 0 %
    claims = []
    for k in range(0, n, 50):
        m, s = paired_difference(ratio[k:k + 50], null[k:k + 50])
        claims.append(m - 1.96 * s > 0)
    assert np.mean(claims) < 0.06
    assert np.mean([_old_criterion(d[k:k + 50]).double().mean() > 0.6 for k in range(0, n, 50)]) > 0.99


def test_a_real_bump_is_detected():
    g = torch.Generator().manual_seed(1)
    d = torch.rand(50, 11, generator=g) + 4                             # 50 paths, as lecture 02
    bump = 1 + 0.15 * torch.sin(torch.linspace(0, math.pi, 11))          # interior up to +15 %, ends unchanged
    mean, se = paired_difference(hole_ratio(d * bump), hole_ratio_null(d * bump))
    assert mean - 1.96 * se > 0
    # and two "models" on the same paths: the bumpy one has the larger ratio, significantly
    mean, se = paired_difference(hole_ratio(d * bump), hole_ratio(d))
    assert mean - 1.96 * se > 0


def test_hole_ratio_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        hole_ratio(torch.ones(4, 2))
    with pytest.raises(ValueError, match=">= 0"):
        hole_ratio(-torch.ones(4, 5))
    with pytest.raises(ValueError, match="undefined"):
        hole_ratio(torch.tensor([[0.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="undefined"):
        hole_ratio_null(torch.tensor([[0.0, 1.0, 0.0]]))
    with pytest.raises(TypeError, match="floating"):
        hole_ratio(torch.ones(4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        hole_ratio(torch.full((2, 5), float("nan")))


def test_paired_difference_equals_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    a = rng.normal(size=30)
    b = a + rng.normal(0.3, 1, size=30)
    mean, se = paired_difference(torch.from_numpy(a), list(b))
    assert mean == pytest.approx((a - b).mean())
    assert mean / se == pytest.approx(scipy.stats.ttest_rel(a, b).statistic)
    assert paired_difference([1.0, 2.0], [0.0, 1.0]) == (1.0, 0.0)      # identical differences: SE 0
    with pytest.raises(ValueError, match="same length"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="at least 2"):
        paired_difference([1.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        paired_difference([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="1-D"):
        paired_difference(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(TypeError, match="numbers"):
        paired_difference(["a", "b"], [1.0, 2.0])


# --------------------------------------------------------------------------- sparse autoencoders

def test_l0_and_dead_latents_on_a_constructed_case():
    codes = torch.tensor([[0.0, 2.0, 0.0, 1e-30, 0.0],
                          [0.0, 0.5, 0.0, 0.0, 0.0],
                          [0.0, 0.0, 0.0, 3.0, 0.0]])
    assert l0(codes) == pytest.approx(4 / 3)
    assert dead_latents(codes).tolist() == [True, False, True, False, True]   # 1e-30 counts as active
    assert dead_fraction(codes) == pytest.approx(3 / 5)
    topk = torch.zeros(100, 64)
    topk[torch.arange(100)[:, None], torch.randperm(64)[:5]] = 1.0
    assert l0(topk) == 5.0
    with pytest.raises(ValueError, match="2 dimensions"):
        l0(torch.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        dead_latents(torch.full((2, 2), float("nan")))
    with pytest.raises(TypeError, match="floating"):
        dead_fraction(torch.ones(2, 2, dtype=torch.long))


def test_explained_variance_equals_scikit_learn_variance_weighted_r2():
    from sklearn.metrics import r2_score

    g = torch.Generator().manual_seed(6)
    x = torch.randn(200, 8, generator=g) * torch.linspace(0.1, 3, 8) + 5
    x_hat = x + 0.5 * torch.randn(200, 8, generator=g)
    want = r2_score(x.numpy(), x_hat.numpy(), multioutput="variance_weighted")
    assert explained_variance(x, x_hat) == pytest.approx(want, abs=1e-6)
    assert explained_variance(x, x) == 1.0
    assert explained_variance(x, x.mean(0, keepdim=True).expand_as(x)) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="no variance"):
        explained_variance(torch.ones(4, 3), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="same shape"):
        explained_variance(x, x[:10])
    with pytest.raises(ValueError, match="at least 2"):
        explained_variance(x[:1], x[:1])


def test_mmcs_is_one_for_a_permuted_rescaled_dictionary_and_takes_the_right_axes():
    g = torch.Generator().manual_seed(7)
    true = torch.randn(16, 40, generator=g)                           # (D, F): 40 directions in 16-D
    learned = true[:, torch.randperm(40, generator=g)] * (0.1 + torch.rand(40, generator=g))
    learned = torch.cat([learned, torch.randn(16, 20, generator=g)], 1)   # plus 20 extra columns
    assert mean_max_cosine_similarity(learned, true) == pytest.approx(1.0, abs=1e-6)
    # brute force
    cos = lambda u, v: float(u.double() @ v.double() / (u.double().norm() * v.double().norm()))  # noqa: E731
    junk = torch.randn(16, 30, generator=g)
    want = np.mean([max(cos(true[:, f], junk[:, l]) for l in range(30)) for f in range(40)])
    assert mean_max_cosine_similarity(junk, true) == pytest.approx(want, abs=1e-9)
    # the mean is over the TRUE directions: learning one true direction of 40 scores low
    assert mean_max_cosine_similarity(true[:, :1], true) < 0.5
    # signs: a flipped dictionary is not a recovery, unless absolute=True
    assert mean_max_cosine_similarity(-true, true) < 0.9
    assert mean_max_cosine_similarity(-true, true, absolute=True) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="COLUMNS"):
        mean_max_cosine_similarity(learned.T, true.T)
    with pytest.raises(ValueError, match="length 0"):
        mean_max_cosine_similarity(torch.zeros(16, 2), true)
    with pytest.raises(TypeError, match="absolute"):
        mean_max_cosine_similarity(true, true, absolute=1)


def test_cosine_ties_duplicates_are_neighbors_together():
    # two duplicate database rows (and a scaled copy: the same direction) tie with the query's best match
    db = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [3.0, 0.0], [1.0, 1.0]])
    top = metrics.cosine_neighbors(torch.tensor([[2.0, 0.0]]), db, 3)[0]
    assert set(top.tolist()) == {0, 2, 3}                              # all ties at cosine 1, in some order
    labels = torch.tensor([0, 1, 0, 0, 1])
    assert metrics.precision_at_k(torch.tensor([[2.0, 0.0]]), db, torch.tensor([0]), labels, 3) == 1.0
    # exclude_self leaves out only the query's own row, not its duplicate
    got = metrics.cosine_neighbors(db, db, 1, exclude_self=True)[:, 0]
    assert got[0].item() in (2, 3) and got[2].item() in (0, 3)


# --------------------------------------------------------------------------- paired_interval (Student t)

def test_paired_interval_matches_scipy_ttest_rel_interval():
    import scipy.stats
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 5), rng.normal(0.0, 1.0, 5)
    low, high = metrics.paired_interval(a, b)
    ci = scipy.stats.ttest_rel(a, b).confidence_interval(0.95)
    assert low == pytest.approx(ci.low) and high == pytest.approx(ci.high)


def test_paired_interval_is_wider_than_the_normal_one_for_three_seeds():
    a, b = [1.0, 2.0, 4.0], [0.0, 0.5, 1.0]
    mean, se = metrics.paired_difference(a, b)
    low, high = metrics.paired_interval(a, b)
    assert high - mean == pytest.approx(4.303 * se, rel=1e-3)     # t_{0.975, 2}
    assert low < mean - 1.96 * se                                  # the normal interval is too narrow here


def test_paired_interval_rejects_bad_level():
    with pytest.raises(ValueError, match="level"):
        metrics.paired_interval([1.0, 2.0], [0.0, 0.0], level=1.0)
    with pytest.raises(TypeError):
        metrics.paired_interval([1.0, 2.0], [0.0, 0.0], level="0.95")


# --------------------------------------------------------------------------- loss recovered (lecture 08)

class TestLossRecovered:
    def test_exact_values_of_the_definition(self):
        assert metrics.loss_recovered(0.1, 0.1, 2.3) == 1.0                       # the splice is perfect
        assert metrics.loss_recovered(0.1, 2.3, 2.3) == 0.0                       # as bad as the ablation
        assert metrics.loss_recovered(1.0, 1.5, 3.0) == pytest.approx(0.75)       # (3 - 1.5) / (3 - 1)
        assert metrics.loss_recovered(1.0, 4.0, 3.0) == pytest.approx(-0.5)       # worse than ablating
        assert metrics.loss_recovered(1.0, 0.5, 3.0) == pytest.approx(1.25)       # better than clean
        assert metrics.loss_recovered(-2.0, -1.0, 0.0) == pytest.approx(0.5)      # log-likelihood-style losses

    def test_does_not_depend_on_units_or_offset(self):
        a = metrics.loss_recovered(0.2, 0.5, 2.0)
        assert metrics.loss_recovered(0.2 / math.log(2), 0.5 / math.log(2), 2.0 / math.log(2)) == pytest.approx(a)
        assert metrics.loss_recovered(10.2, 10.5, 12.0) == pytest.approx(a)

    def test_matches_cross_entropies_of_a_spliced_linear_readout(self):
        g = torch.Generator().manual_seed(0)
        h = torch.randn(200, 8, generator=g).relu()
        w = torch.randn(8, 3, generator=g)
        y = (h @ w).argmax(1)
        ce = lambda act: torch.nn.functional.cross_entropy(act @ w, y).item()    # noqa: E731
        clean, ablated = ce(h), ce(torch.zeros_like(h))
        assert metrics.loss_recovered(clean, ce(h), ablated) == 1.0
        assert metrics.loss_recovered(clean, ce(torch.zeros_like(h)), ablated) == 0.0
        noisy = ce(h + 0.3 * torch.randn(h.shape, generator=g))
        assert 0 < metrics.loss_recovered(clean, noisy, ablated) < 1

    def test_accepts_numpy_scalars_and_one_element_tensors(self):
        out = metrics.loss_recovered(np.float32(1.0), torch.tensor(1.5), np.array(3.0))
        assert isinstance(out, float) and out == pytest.approx(0.75)

    @pytest.mark.parametrize("clean, ablated", [(1.0, 1.0), (2.0, 1.0)])
    def test_ablation_that_costs_nothing_or_helps_is_an_error(self, clean, ablated):
        with pytest.raises(ValueError, match="ablated loss above the clean"):
            metrics.loss_recovered(clean, 1.5, ablated)

    @pytest.mark.parametrize("bad", [float("nan"), float("inf")])
    def test_non_finite_losses_are_errors(self, bad):
        for args in ((bad, 1.0, 2.0), (0.0, bad, 2.0), (0.0, 1.0, bad)):
            with pytest.raises(ValueError, match="loss_recovered"):
                metrics.loss_recovered(*args)

    @pytest.mark.parametrize("bad", ["1.0", None, True, torch.tensor([1.0, 2.0]), [1.0]])
    def test_non_numbers_are_type_errors(self, bad):
        with pytest.raises(TypeError, match="loss_recovered: spliced"):
            metrics.loss_recovered(0.0, bad, 2.0)
