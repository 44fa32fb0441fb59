"""Lab 09's checks (masked and vector-quantized autoencoders) tested both ways: the reference passes under many
seeds and in other correct styles; each wrong answer is rejected with its own hint; the package's versions are
forbidden."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from aelab import checks
from aelab.checks import CheckFailed, ExerciseNotDone


def reject(check, *fns, match, seeds=(0, 1, 2)):
    """The check rejects ``fns`` with the hint ``match`` on each of ``seeds`` (the hint is not an accident of one input)."""
    for seed in seeds:
        with pytest.raises(CheckFailed, match=match) as info:
            check(*fns, seed=seed)
        assert not isinstance(info.value, ExerciseNotDone)
    return str(info.value)


# ------------------------------------------------------------------------------------------ references
def patchify(images, p):
    n, c, hh, ww = images.shape
    h, w = hh // p, ww // p
    x = torch.einsum("nchpwq->nhwpqc", images.reshape(n, c, h, p, w, p))
    return x.reshape(n, h * w, p * p * c)


def unpatchify(patches, p, channels=1):
    n, length, _ = patches.shape
    h = w = int(round(length ** 0.5))
    x = torch.einsum("nhwpqc->nchpwq", patches.reshape(n, h, w, p, p, channels))
    return x.reshape(n, channels, h * p, w * p)


def random_masking(tokens, mask_ratio, generator=None):
    n, length, d = tokens.shape
    len_keep = int(length * (1 - mask_ratio))
    ids_shuffle = torch.argsort(torch.rand(n, length, generator=generator), dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    visible = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
    mask = torch.ones(n, length)
    mask[:, :len_keep] = 0
    return visible, torch.gather(mask, 1, ids_restore), ids_restore


def masked_patch_loss(pred, target, mask):
    per_patch = ((pred - target) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum()


def vector_quantize(z, codebook):
    indices = (z.unsqueeze(-2) - codebook).pow(2).sum(-1).argmin(-1)
    e = codebook[indices]
    return z + (e - z).detach(), indices


# ------------------------------------------------------------------------------------------ the references pass
@pytest.mark.parametrize("seed", range(20))
def test_references_pass_under_many_seeds(seed, capsys):
    torch.manual_seed(100 + seed)   # the global RNG state must not matter
    checks.patchify_check(patchify, unpatchify, seed=seed)
    checks.random_masking_check(random_masking, seed=seed)
    checks.masked_patch_loss_check(masked_patch_loss, seed=seed)
    checks.vector_quantize_check(vector_quantize, seed=seed)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("✔ Exercise") for line in lines)


def test_checks_leave_the_global_rng_alone():
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    checks.random_masking_check(random_masking)
    checks.vector_quantize_check(vector_quantize)
    assert torch.equal(torch.rand(3), expected)


def test_unfinished_exercises_say_so():
    def todo(*args, **kwargs):
        raise NotImplementedError()
    for check, n_fns in ((checks.patchify_check, 2), (checks.random_masking_check, 1),
                         (checks.masked_patch_loss_check, 1), (checks.vector_quantize_check, 1)):
        with pytest.raises(ExerciseNotDone, match="of lab 09"):
            check(*(todo,) * n_fns)


# ------------------------------------------------------------------------------------------ other correct styles
def patchify_unfold(images, p):  # F.unfold gives (N, C·p·p, L) ordered (c, p, q): reorder to (p, q, c)
    n, c = images.shape[:2]
    cols = F.unfold(images, kernel_size=p, stride=p)                   # (N, C*p*p, L)
    return cols.view(n, c, p * p, -1).permute(0, 3, 2, 1).reshape(n, -1, p * p * c)


def unpatchify_fold(patches, p, channels=1):
    n, length, _ = patches.shape
    side = int(round(length ** 0.5)) * p
    cols = patches.view(n, length, p * p, channels).permute(0, 3, 2, 1).reshape(n, channels * p * p, length)
    return F.fold(cols, output_size=(side, side), kernel_size=p, stride=p)


def patchify_numpy(images, p):  # NumPy transpose, back to torch at the end
    x = images.numpy()
    n, c, hh, ww = x.shape
    x = x.reshape(n, c, hh // p, p, ww // p, p).transpose(0, 2, 4, 3, 5, 1)
    return torch.as_tensor(x.reshape(n, -1, p * p * c))


def unpatchify_numpy(patches, p, channels=1):
    x = patches.numpy()
    n, length, _ = x.shape
    h = int(np.sqrt(length))
    return torch.from_numpy(x.reshape(n, h, h, p, p, channels).transpose(0, 5, 1, 3, 2, 4)
                            .reshape(n, channels, h * p, h * p).copy())


def patchify_loops(images, p):  # one patch at a time, channel-last inside each patch
    n, c, hh, ww = images.shape
    out = []
    for i in range(hh // p):
        for j in range(ww // p):
            out.append(images[:, :, i * p:(i + 1) * p, j * p:(j + 1) * p].permute(0, 2, 3, 1).reshape(n, -1))
    return torch.stack(out, dim=1)


def unpatchify_loops(patches, p, channels=1):
    n, length, _ = patches.shape
    h = int(round(length ** 0.5))
    images = patches.new_zeros(n, channels, h * p, h * p)
    for l in range(length):
        i, j = divmod(l, h)
        images[:, :, i * p:(i + 1) * p, j * p:(j + 1) * p] = patches[:, l].reshape(n, p, p, channels).permute(0, 3, 1, 2)
    return images


def random_masking_randperm_sorted(tokens, mask_ratio, generator=None):
    """One torch.randperm per image, visible tokens kept in their ORIGINAL order, ids_restore consistent with it."""
    n, length, d = tokens.shape
    keep = int(length * (1 - mask_ratio))
    visible, mask, restore = [], torch.ones(n, length, dtype=torch.bool), []
    for i in range(n):
        perm = torch.randperm(length, generator=generator)
        kept = perm[:keep].sort().values
        dropped = perm[keep:]
        visible.append(tokens[i, kept])
        mask[i, kept] = False
        restore.append(torch.argsort(torch.cat([kept, dropped])))
    return torch.stack(visible), mask, torch.stack(restore)


def random_masking_numpy(tokens, mask_ratio, generator=None):
    """NumPy's generator, seeded from the torch generator; a bool mask and int64 indices from NumPy."""
    rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=generator)))
    n, length, d = tokens.shape
    keep = int(length * (1 - mask_ratio))
    ids_shuffle = np.argsort(rng.random((n, length)), axis=1)
    ids_restore = np.argsort(ids_shuffle, axis=1)
    ids_keep = torch.from_numpy(ids_shuffle[:, :keep])
    mask = np.ones((n, length), dtype=bool)
    np.put_along_axis(mask, ids_shuffle[:, :keep], False, axis=1)
    return tokens[torch.arange(n)[:, None], ids_keep], torch.from_numpy(mask), torch.from_numpy(ids_restore)


def masked_patch_loss_indexing(pred, target, mask):  # boolean indexing: the masked entries' mean
    return ((pred - target) ** 2)[mask.bool()].mean()


def masked_patch_loss_per_image(pred, target, mask):  # per-image masked means, then the batch mean (equal counts)
    per_patch = F.mse_loss(pred, target, reduction="none").mean(-1)
    return ((per_patch * mask).sum(1) / mask.sum(1)).mean()


def masked_patch_loss_float64_einsum(pred, target, mask):  # float64 throughout, einsum for the weighted sum
    diff = (pred - target).double()
    return torch.einsum("nlp,nl->", diff * diff, mask.double()) / (mask.double().sum() * pred.shape[-1])


def vector_quantize_cdist(z, codebook):  # Euclidean (not squared) distance: the same argmin
    flat = z.reshape(-1, z.shape[-1])
    indices = torch.cdist(flat, codebook).argmin(1)
    quantized = codebook[indices].view_as(z)
    return z + (quantized - z).detach(), indices.view(z.shape[:-1])


def vector_quantize_onehot(z, codebook):  # ‖z‖² − 2 z·e + ‖e‖² with einsum, codes picked by a one-hot matmul
    dist = (z ** 2).sum(-1, keepdim=True) - 2 * torch.einsum("...d,kd->...k", z, codebook) + (codebook ** 2).sum(1)
    indices = dist.argmin(-1)
    e = F.one_hot(indices, len(codebook)).to(z.dtype) @ codebook
    return z + (e - z).detach(), indices


def vector_quantize_numpy_float64(z, codebook):  # NumPy float64 argmin, the straight-through output in torch
    zd, cd = z.detach().double().numpy().reshape(-1, z.shape[-1]), codebook.detach().double().numpy()
    idx = ((zd[:, None, :] - cd[None]) ** 2).sum(-1).argmin(1).reshape(z.shape[:-1])
    indices = torch.from_numpy(idx)
    return z + (codebook.detach()[indices] - z.detach()), indices


def vector_quantize_loop(z, codebook):  # a loop over codes keeping the best so far; int32 indices
    flat = z.detach().reshape(-1, z.shape[-1])
    best = torch.full((len(flat),), float("inf"), dtype=torch.float64)
    indices = torch.zeros(len(flat), dtype=torch.int32)
    for k, code in enumerate(codebook.detach()):
        d = ((flat - code) ** 2).sum(1).double()
        better = d < best
        best[better], indices[better] = d[better], k
    e = codebook.detach()[indices.long()].view_as(z)
    return z + (e - z).detach(), indices.view(z.shape[:-1])


@pytest.mark.parametrize("fns", [(patchify_unfold, unpatchify_fold), (patchify_numpy, unpatchify_numpy),
                                 (patchify_loops, unpatchify_loops), (patchify_unfold, unpatchify)],
                         ids=["unfold-fold", "numpy", "loops", "unfold-einsum"])
def test_patchify_accepts_other_correct_styles(fns):
    for seed in range(3):
        checks.patchify_check(*fns, seed=seed)


@pytest.mark.parametrize("fn", [random_masking_randperm_sorted, random_masking_numpy])
def test_random_masking_accepts_other_correct_styles(fn):
    for seed in range(3):
        checks.random_masking_check(fn, seed=seed)


@pytest.mark.parametrize("fn", [masked_patch_loss_indexing, masked_patch_loss_per_image,
                                masked_patch_loss_float64_einsum])
def test_masked_patch_loss_accepts_other_correct_styles(fn):
    for seed in range(3):
        checks.masked_patch_loss_check(fn, seed=seed)


@pytest.mark.parametrize("fn", [vector_quantize_cdist, vector_quantize_onehot, vector_quantize_numpy_float64,
                                vector_quantize_loop])
def test_vector_quantize_accepts_other_correct_styles(fn):
    for seed in range(3):
        checks.vector_quantize_check(fn, seed=seed)


# ------------------------------------------------------------------------------------------ patchify: wrong answers
def _patchify_order(order):
    def fn(images, p):
        n, c, hh, ww = images.shape
        x = torch.einsum(f"nchpwq->{order}", images.reshape(n, c, hh // p, p, ww // p, p))
        return x.reshape(n, -1, p * p * c)
    return fn


def patchify_channel_last_input(images, p):  # MAE's code for (N, H, W, C) images run on (N, C, H, W) ones
    n, c, hh, ww = images.shape
    x = images.reshape(n, hh // p, p, ww // p, p, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, -1, p * p * c)


def patchify_reshape_only(images, p):
    n, c, hh, ww = images.shape
    return images.reshape(n, (hh // p) * (ww // p), p * p * c)


def patchify_square_only(images, p):  # assumes H == W
    n, c, hh, _ = images.shape
    h = hh // p
    return torch.einsum("nchpwq->nhwpqc", images.reshape(n, c, h, p, h, p)).reshape(n, h * h, p * p * c)


def _unpatchify_order(order):
    def fn(patches, p, channels=1):
        n, length, _ = patches.shape
        h = int(round(length ** 0.5))
        sizes = dict(n=n, h=h, w=h, p=p, q=p, c=channels)
        x = torch.einsum(f"{order}->nchpwq", patches.reshape(*(sizes[a] for a in order)))
        return x.reshape(n, channels, h * p, h * p)
    return fn


def unpatchify_channel_last_output(patches, p, channels=1):
    n, length, _ = patches.shape
    h = int(round(length ** 0.5))
    x = torch.einsum("nhwpqc->nhpwqc", patches.reshape(n, h, h, p, p, channels))
    return x.reshape(n, h * p, h * p, channels)


def test_patchify_package_agrees_with_the_reference():
    mae = pytest.importorskip("aelab.models.mae", reason="aelab/models/mae.py not written yet")
    g = torch.Generator().manual_seed(0)
    for shape, p in (((3, 1, 28, 28), 7), ((2, 3, 12, 12), 4), ((2, 3, 8, 12), 4)):
        x = torch.rand(*shape, generator=g)
        assert torch.equal(mae.patchify(x, p), patchify(x, p))
        if shape[2] == shape[3]:
            assert torch.equal(mae.unpatchify(patchify(x, p), p, channels=shape[1]), x)


@pytest.mark.parametrize("fns, match", [
    # the wrong answers
    ((_patchify_order("nwhpqc"), unpatchify), "column-major \\(transposed\\) order"),
    ((patchify_channel_last_input, unpatchify), "treats the input as channel-last"),
    ((_patchify_order("nhwcpq"), unpatchify), "channel first \\(c, p, q\\)"),
    # more mistakes
    ((_patchify_order("nhwqpc"), unpatchify), "pixels inside each patch are transposed"),
    ((_patchify_order("nwhqpc"), unpatchify), "transposed image"),
    ((patchify_reshape_only, unpatchify), "strips"),
    ((patchify_square_only, unpatchify), "patchify` raised RuntimeError on non-square"),
    ((patchify, _unpatchify_order("nwhpqc")), "unpatchify is not the inverse.*column-major"),
    ((patchify, _unpatchify_order("nhwcpq")), "unpatchify is not the inverse.*channel first"),
    ((patchify, unpatchify_channel_last_output), "channel-last images \\(N, H, W, C\\)"),
    ((lambda x, p: patchify(x, p)[:, :, :p * p], unpatchify), "should have shape"),
])
def test_patchify_rejects_each_wrong_answer_with_its_hint(fns, match):
    reject(checks.patchify_check, *fns, match=match)


def test_patchify_forbids_the_package_version():
    mae = pytest.importorskip("aelab.models.mae", reason="aelab/models/mae.py not written yet")
    reject(checks.patchify_check, lambda x, p: mae.patchify(x, p), unpatchify,
           match="write it yourself.*aelab.models.mae.patchify")
    reject(checks.patchify_check, patchify, lambda t, p, c=1: mae.unpatchify(t, p, channels=c),
           match="write it yourself.*aelab.models.mae.unpatchify")
    namespace = {}
    exec("from aelab.models.mae import patchify as pf\ndef mine(x, p):\n    return pf(x, p)\n", namespace)
    reject(checks.patchify_check, namespace["mine"], unpatchify, match="write it yourself.*aelab.models.mae.patchify")


# ------------------------------------------------------------------------------------------ masking: wrong answers
def _masking(*, shared=False, keep_fn=None, restore="inverse", sample="argsort", mask_order="original",
             invert=False, use_generator=True, reseed=False):
    def fn(tokens, mask_ratio, generator=None):
        n, length, d = tokens.shape
        keep = keep_fn(length, mask_ratio) if keep_fn else int(length * (1 - mask_ratio))
        gen = generator if use_generator else None
        if reseed:
            gen = torch.Generator().manual_seed(0)
        if sample == "arange":
            ids_shuffle = torch.arange(length).expand(n, length)
        elif shared:
            ids_shuffle = torch.argsort(torch.rand(length, generator=gen)).expand(n, length)
        elif sample == "block":
            start = torch.randint(0, length - keep + 1, (n, 1), generator=gen)
            kept = start + torch.arange(keep)
            rank = torch.ones(n, length).scatter(1, kept, 0.0) * 2 + torch.rand(n, length, generator=gen)
            ids_shuffle = torch.argsort(rank, dim=1)
        elif sample == "dim0":
            ids_shuffle = torch.argsort(torch.rand(n, length, generator=gen), dim=0)
        else:
            ids_shuffle = torch.argsort(torch.rand(n, length, generator=gen), dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1) if restore == "inverse" else ids_shuffle
        if sample == "randint":
            ids_keep = torch.randint(0, length, (n, keep), generator=gen)
        else:
            ids_keep = ids_shuffle[:, :keep]
        visible = torch.gather(tokens, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
        mask = torch.ones(n, length)
        mask[:, :keep] = 0
        if mask_order == "original":
            mask = torch.gather(mask, 1, torch.argsort(ids_shuffle, dim=1))
        return visible, (1 - mask) if invert else mask, ids_restore
    return fn


def masking_other_image(tokens, mask_ratio, generator=None):  # image n gets the kept patches of image n - 1
    visible, mask, ids_restore = random_masking(tokens, mask_ratio, generator)
    ids_keep = torch.argsort(ids_restore, dim=1)[:, :visible.shape[1]]
    rows = torch.arange(len(tokens)).roll(1)[:, None]
    return tokens[rows, ids_keep], mask, ids_restore


def test_random_masking_package_agrees_with_the_contract():
    mae = pytest.importorskip("aelab.models.mae", reason="aelab/models/mae.py not written yet")
    tokens = torch.randn(6, 16, 3)
    visible, mask, ids_restore = mae.random_masking(tokens, 0.75, generator=torch.Generator().manual_seed(1))
    ref = random_masking(tokens, 0.75, generator=torch.Generator().manual_seed(1))
    assert visible.shape == (6, 4, 3) and mask.dtype == torch.float32 and ids_restore.dtype == torch.int64
    for got, want in zip((visible, mask, ids_restore), ref):
        assert torch.equal(got, want)


@pytest.mark.parametrize("fn, match", [
    # the wrong answers
    (_masking(shared=True), "SAME mask"),
    (_masking(keep_fn=lambda l, r: l - int(l * r)), "keep 12 of 16 patches.*int\\(L \\* \\(1 - mask_ratio\\)\\) = 11"),
    (_masking(keep_fn=lambda l, r: round(l * (1 - r))), "keep 8 of 10 patches.*= 7"),
    (_masking(keep_fn=lambda l, r: int(l * (1 - r)) - 1), "keep 3 of 16.*one less"),
    (_masking(restore="shuffle"), "ids_restore is the shuffle itself"),
    # more mistakes
    (_masking(keep_fn=lambda l, r: int(l * r)), "fraction REMOVED"),
    (_masking(sample="arange"), "not random"),
    (_masking(sample="randint"), "same patch is kept twice"),
    (_masking(sample="dim0"), "same patch is kept twice|not a permutation"),
    (_masking(mask_order="shuffled"), "SHUFFLED order"),
    (_masking(invert=True), "inverted"),
    (_masking(use_generator=False), "ignores `generator`"),
    (_masking(reseed=True), "reseed torch"),
    (_masking(sample="block"), "masked far more often"),
    (masking_other_image, "patches of another image"),
    (lambda t, r, generator=None: random_masking(t, r, generator)[:2], "tuple of 3"),
    (lambda t, r, generator=None: (*random_masking(t, r, generator)[:2],
                                   random_masking(t, r, generator)[2].float()), "integer indices"),
])
def test_random_masking_rejects_each_wrong_answer_with_its_hint(fn, match):
    reject(checks.random_masking_check, fn, match=match)


def test_random_masking_forbids_the_package_version():
    mae = pytest.importorskip("aelab.models.mae", reason="aelab/models/mae.py not written yet")
    reject(checks.random_masking_check, lambda t, r, generator=None: mae.random_masking(t, r, generator=generator),
           match="write it yourself.*aelab.models.mae.random_masking")


# ------------------------------------------------------------------------------------------ loss: wrong answers
def _loss(kind):
    def fn(pred, target, mask):
        sq = (pred - target) ** 2
        per_patch = sq.mean(-1)
        if kind == "all":
            return per_patch.mean()
        if kind == "visible":
            return (per_patch * (1 - mask)).sum() / (1 - mask).sum()
        if kind == "sum_p":
            return (sq.sum(-1) * mask).sum() / mask.sum()
        if kind == "all_count":
            return (per_patch * mask).sum() / mask.numel()
        if kind == "no_division":
            return (per_patch * mask).sum()
        if kind == "l1":
            return ((pred - target).abs().mean(-1) * mask).sum() / mask.sum()
        if kind == "rmse":
            return ((per_patch * mask).sum() / mask.sum()).sqrt()
        if kind == "norm_pix":
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            return ((((pred - (target - mean) / (var + 1e-6) ** 0.5) ** 2).mean(-1)) * mask).sum() / mask.sum()
        if kind == "item":
            return ((per_patch * mask).sum() / mask.sum()).item()
        if kind == "detached":
            return ((per_patch * mask).sum() / mask.sum()).detach()
        if kind == "per_patch":
            return per_patch * mask
        raise ValueError(kind)
    return fn


def test_masked_patch_loss_package_agrees_with_the_reference():
    mae = pytest.importorskip("aelab.models.mae", reason="aelab/models/mae.py not written yet")
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(4, 16, 49, generator=g), torch.rand(4, 16, 49, generator=g)
    mask = random_masking(torch.zeros(4, 16, 1), 0.75, torch.Generator().manual_seed(2))[1]
    torch.testing.assert_close(mae.masked_patch_loss(pred, target, mask), masked_patch_loss(pred, target, mask))


@pytest.mark.parametrize("kind, match", [
    # the wrong answers
    ("all", "averaged over ALL patches"),
    ("visible", "VISIBLE patches"),
    # more mistakes
    ("sum_p", "summed the squared error over a patch's P values"),
    ("all_count", "divided by the number of ALL patches"),
    ("no_division", "summed over the masked patches"),
    ("l1", "absolute error"),
    ("rmse", "square root"),
    ("norm_pix", "norm_pix_loss"),
    ("item", "got float.*no .item\\(\\)"),
    ("detached", "does not carry the gradient"),
    ("per_patch", "one number"),
])
def test_masked_patch_loss_rejects_each_wrong_answer_with_its_hint(kind, match):
    reject(checks.masked_patch_loss_check, _loss(kind), match=match)


def test_masked_patch_loss_forbids_the_package_version():
    mae = pytest.importorskip("aelab.models.mae", reason="aelab/models/mae.py not written yet")
    reject(checks.masked_patch_loss_check, lambda p, t, m: mae.masked_patch_loss(p, t, m),
           match="write it yourself.*aelab.models.mae.masked_patch_loss")


# ------------------------------------------------------------------------------------------ VQ: wrong answers
def _vq(*, pick="argmin", output="straight_through", index_dtype=None, flat=False):
    def fn(z, codebook):
        d = (z.unsqueeze(-2) - codebook).pow(2).sum(-1)
        if pick == "argmax":
            indices = d.argmax(-1)
        elif pick == "dot":
            indices = (z @ codebook.T).argmax(-1)
        elif pick == "plus":
            indices = ((z ** 2).sum(-1, keepdim=True) + 2 * z @ codebook.T + (codebook ** 2).sum(1)).argmin(-1)
        elif pick == "no_two":
            indices = ((codebook ** 2).sum(1) - z @ codebook.T).argmin(-1)
        else:
            indices = d.argmin(-1)
        e = codebook[indices]
        quantized = {"straight_through": lambda: z + (e - z).detach(),
                     "codes": lambda: e,
                     "no_detach": lambda: z + (e - z),
                     "codebook_grad": lambda: e + z - z.detach(),
                     "codebook_grad_2": lambda: z + (e - z.detach()),
                     "wrong_sign": lambda: z + (z - e).detach(),
                     "detached_codes": lambda: e.detach(),
                     "z": lambda: z,
                     "scaled_grad": lambda: 0.5 * z + (e - 0.5 * z).detach()}[output]()
        if index_dtype is not None:
            indices = indices.to(index_dtype)
        if flat:
            indices = indices.reshape(-1)
        return quantized, indices
    return fn


def test_vector_quantize_package_agrees_with_the_contract():
    vqvae = pytest.importorskip("aelab.models.vqvae", reason="aelab/models/vqvae.py not written yet")
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 7, 7, 8, generator=g, requires_grad=True)
    codebook = torch.randn(32, 8, generator=g, requires_grad=True)
    quantized, indices = vqvae.vector_quantize(z, codebook)
    want_q, want_i = vector_quantize(z.detach(), codebook.detach())
    assert torch.equal(indices, want_i) and indices.dtype == torch.int64
    torch.testing.assert_close(quantized.detach(), want_q)
    upstream = torch.randn(z.shape, generator=g)
    (quantized * upstream).sum().backward()
    torch.testing.assert_close(z.grad, upstream)
    assert codebook.grad is None or not codebook.grad.any()


@pytest.mark.parametrize("fn, match", [
    # the wrong answers
    (_vq(output="codes"), "no gradient reaches z"),
    (_vq(output="codebook_grad"), "codebook receives a gradient through the straight-through path"),
    (_vq(pick="argmax"), "argmax of the distance"),
    # more mistakes
    (_vq(output="codebook_grad_2"), "codebook receives a gradient through the straight-through path"),
    (_vq(output="no_detach"), "no gradient reaches z"),
    (_vq(output="detached_codes"), "no gradient reaches z"),
    (_vq(output="wrong_sign"), "wrong sign"),
    (_vq(output="z"), "quantized is z itself"),
    (_vq(output="scaled_grad"), "not the incoming gradient"),
    (_vq(pick="dot"), "largest dot product"),
    (_vq(pick="plus"), "nearest to −z"),
    (_vq(pick="no_two"), "factor 2"),
    (_vq(index_dtype=torch.float32), "must be integers"),
    (_vq(flat=True), "reshape them back to z.shape\\[:-1\\]"),
    (lambda z, cb: _vq()(z, cb)[0], "tuple of 2"),
])
def test_vector_quantize_rejects_each_wrong_answer_with_its_hint(fn, match):
    reject(checks.vector_quantize_check, fn, match=match)


def test_vector_quantize_forbids_the_package_version():
    vqvae = pytest.importorskip("aelab.models.vqvae", reason="aelab/models/vqvae.py not written yet")
    reject(checks.vector_quantize_check, lambda z, cb: vqvae.vector_quantize(z, cb),
           match="write it yourself.*aelab.models.vqvae.vector_quantize")


def test_in_place_changes_of_the_inputs_are_rejected():
    def patchify_in_place(images, p):
        out = patchify(images, p).clone()
        images.mul_(2)
        return out

    def quantize_in_place(z, codebook):
        with torch.no_grad():
            codebook[0] += 1
        return vector_quantize(z, codebook)

    def quantize_freezing_the_codebook(z, codebook):
        codebook.requires_grad_(False)
        return vector_quantize(z, codebook)

    reject(checks.patchify_check, patchify_in_place, unpatchify, match="changed its input images in place")
    reject(checks.vector_quantize_check, quantize_freezing_the_codebook, match="switched off codebook.requires_grad")
    reject(checks.vector_quantize_check, quantize_in_place, match="changed its input codebook in place")
