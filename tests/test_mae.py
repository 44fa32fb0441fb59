"""Tests of the masked autoencoder (He et al. 2021): patches, random masking, the masked-patch loss, the model."""

import pytest
import torch

from aelab.models import Autoencoder, MaskedAutoencoder
from aelab.models.mae import (encoder_flops, fit_mae, masked_patch_loss, patchify, random_masking,
                              sincos_position_embedding, unpatchify)

pytestmark = pytest.mark.usefixtures("one_thread")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- patchify / unpatchify ----------------------------------------------------------------------

@pytest.mark.parametrize("shape, p", [((3, 1, 28, 28), 7), ((2, 3, 8, 8), 4), ((2, 2, 6, 6), 3), ((1, 1, 4, 4), 1)])
def test_unpatchify_inverts_patchify(shape, p):
    x = torch.rand(*shape, generator=_gen())
    patches = patchify(x, p)
    n, c, h, w = shape
    assert patches.shape == (n, (h // p) * (w // p), p * p * c)
    assert torch.equal(unpatchify(patches, p, c), x)


def test_patch_order_on_a_known_image():
    # pixel value = its flat index: patch l is (row i, column j) of the 4x4 grid, row-major inside the patch
    x = torch.arange(28 * 28, dtype=torch.float32).reshape(1, 1, 28, 28)
    patches = patchify(x, 7)
    assert patches.shape == (1, 16, 49)
    for l in range(16):
        i, j = divmod(l, 4)
        expected = x[0, 0, 7 * i:7 * i + 7, 7 * j:7 * j + 7].reshape(-1)
        assert torch.equal(patches[0, l], expected), l
    assert patches[0, 1, 0] == 7 and patches[0, 4, 0] == 7 * 28 and patches[0, 0, 1] == 1 and patches[0, 0, 7] == 28


def test_channels_are_last_inside_a_patch():
    # as facebookresearch/mae: 'nchpwq->nhwpqc' — the channel varies fastest
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0], x[0, 1], x[0, 2] = 1.0, 2.0, 3.0
    assert patchify(x, 2)[0, 0].tolist() == [1.0, 2.0, 3.0] * 4


@pytest.mark.parametrize("call, error, match", [
    (lambda: patchify(torch.rand(2, 1, 28, 27), 7), ValueError, "divisible"),
    (lambda: patchify(torch.rand(2, 28, 28), 7), ValueError, "4 dimensions"),
    (lambda: patchify(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), 7), TypeError, "floating"),
    (lambda: patchify([[0.0]], 7), TypeError, "torch.Tensor"),
    (lambda: patchify(torch.rand(2, 1, 28, 28), 7.0), TypeError, "patch_size"),
    (lambda: patchify(torch.rand(2, 1, 28, 28), 0), ValueError, "patch_size"),
    (lambda: unpatchify(torch.rand(2, 16, 48), 7), ValueError, "49"),
    (lambda: unpatchify(torch.rand(2, 15, 49), 7), ValueError, "perfect square"),
    (lambda: unpatchify(torch.rand(2, 16 * 49), 7), ValueError, "3 dimensions"),
])
def test_patch_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- random_masking -----------------------------------------------------------------------------

@pytest.mark.parametrize("ratio, keep", [(0.0, 16), (0.25, 12), (0.5, 8), (0.75, 4), (0.9, 1)])
def test_random_masking_counts_per_image(ratio, keep):
    tokens = torch.rand(6, 16, 5, generator=_gen())
    visible, mask, ids_restore = random_masking(tokens, ratio, generator=_gen(1))
    assert visible.shape == (6, keep, 5)
    assert mask.shape == (6, 16) and mask.dtype == torch.float32
    assert ids_restore.shape == (6, 16) and ids_restore.dtype == torch.int64
    assert mask.sum(1).tolist() == [16 - keep] * 6
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


def test_each_image_gets_its_own_mask():
    tokens = torch.rand(32, 16, 3, generator=_gen())
    _, mask, _ = random_masking(tokens, 0.75, generator=_gen(2))
    assert len({tuple(row.tolist()) for row in mask}) > 1


def test_ids_restore_is_the_inverse_permutation_and_the_mask_marks_the_removed_tokens():
    n, L, d = 5, 16, 4
    tokens = torch.randn(n, L, d, generator=_gen())
    visible, mask, ids_restore = random_masking(tokens, 0.75, generator=_gen(3))
    # a permutation of 0..L-1 per row
    assert torch.equal(ids_restore.sort(1).values, torch.arange(L).expand(n, -1))
    ids_shuffle = torch.argsort(ids_restore, dim=1)
    assert torch.equal(torch.gather(ids_shuffle, 1, ids_restore), torch.arange(L).expand(n, -1))
    k = visible.shape[1]
    for i in range(n):
        kept = ids_shuffle[i, :k]
        assert torch.equal(visible[i], tokens[i, kept])                 # visible = tokens at the kept ids
        assert mask[i, kept].sum() == 0                                  # 0 = visible, in original order
        removed = ids_shuffle[i, k:]
        assert mask[i, removed].sum() == L - k                           # 1 = removed
    # un-shuffling visible + placeholders with ids_restore puts each visible token back in its place
    full = torch.cat([visible, torch.zeros(n, L - k, d)], dim=1)
    restored = torch.gather(full, 1, ids_restore.unsqueeze(-1).expand(-1, -1, d))
    assert torch.equal(restored * (1 - mask).unsqueeze(-1), tokens * (1 - mask).unsqueeze(-1))


def test_random_masking_follows_the_reference_recipe_and_the_generator():
    tokens = torch.randn(4, 16, 2, generator=_gen())
    noise = torch.rand(4, 16, generator=_gen(7))
    ids_shuffle = torch.argsort(noise, dim=1)
    visible, mask, ids_restore = random_masking(tokens, 0.5, generator=_gen(7))
    assert torch.equal(ids_restore, torch.argsort(ids_shuffle, dim=1))
    assert torch.equal(visible, torch.gather(tokens, 1, ids_shuffle[:, :8].unsqueeze(-1).expand(-1, -1, 2)))
    again = random_masking(tokens, 0.5, generator=_gen(7))
    assert all(torch.equal(a, b) for a, b in zip((visible, mask, ids_restore), again))


@pytest.mark.parametrize("ratio, error", [(1.0, ValueError), (-0.1, ValueError), (float("nan"), ValueError),
                                          ("0.5", TypeError), (True, TypeError)])
def test_random_masking_bad_ratio(ratio, error):
    with pytest.raises(error, match="mask_ratio"):
        random_masking(torch.rand(2, 16, 3), ratio)


def test_random_masking_bad_tokens():
    with pytest.raises(ValueError, match="3 dimensions"):
        random_masking(torch.rand(2, 16), 0.5)
    with pytest.raises(TypeError, match="torch.Tensor"):
        random_masking([[1.0]], 0.5)


# --- masked_patch_loss --------------------------------------------------------------------------

def test_masked_loss_ignores_visible_patches():
    target = torch.rand(3, 16, 49, generator=_gen())
    mask = torch.zeros(3, 16)
    mask[:, :12] = 1
    pred = target.clone()
    pred[:, 12:] += 100.0                       # visible patches: wildly wrong, must not count
    assert masked_patch_loss(pred, target, mask) == 0
    pred[:, :12] += 0.5                         # masked patches off by 0.5 everywhere: per-patch MSE 0.25
    assert torch.allclose(masked_patch_loss(pred, target, mask), torch.tensor(0.25))
    assert torch.allclose(masked_patch_loss(pred, target, mask, reduction="sum"), torch.tensor(0.25 * 36))
    assert torch.allclose(masked_patch_loss(pred, target, mask, reduction="none"), torch.full((3,), 0.25))


def test_masked_loss_is_the_mean_over_masked_patches_not_all_patches():
    target = torch.zeros(2, 4, 3)
    pred = torch.zeros(2, 4, 3)
    pred[0, 0] = 1.0                                     # one masked patch with per-patch MSE 1
    mask = torch.tensor([[1.0, 1.0, 0, 0], [1.0, 0, 0, 0]])  # 3 masked patches in all
    assert torch.allclose(masked_patch_loss(pred, target, mask), torch.tensor(1 / 3))
    assert torch.allclose(masked_patch_loss(pred, target, mask.bool()), torch.tensor(1 / 3))
    assert torch.allclose(masked_patch_loss(pred, target, mask, reduction="none"), torch.tensor([0.5, 0.0]))


def test_masked_loss_gradient_only_on_masked_patches():
    pred = torch.rand(2, 16, 49, requires_grad=True)
    target = torch.rand(2, 16, 49)
    _, mask, _ = random_masking(torch.zeros(2, 16, 1), 0.75, generator=_gen())
    masked_patch_loss(pred, target, mask).backward()
    grad_per_patch = pred.grad.abs().sum(-1)
    assert (grad_per_patch[mask == 0] == 0).all() and (grad_per_patch[mask == 1] > 0).all()


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((torch.rand(2, 4, 3), torch.rand(2, 4, 3), torch.zeros(2, 4)), {}, ValueError, "no masked patch"),
    ((torch.rand(2, 4, 3), torch.rand(2, 4, 3), torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0]])), {"reduction": "none"},
     ValueError, "an image has no masked patch"),
    ((torch.rand(2, 4, 3), torch.rand(2, 4, 2), torch.ones(2, 4)), {}, ValueError, "same shape"),
    ((torch.rand(2, 4, 3), torch.rand(2, 4, 3), torch.ones(2, 5)), {}, ValueError, r"\(N, L\)"),
    ((torch.rand(2, 4, 3), torch.rand(2, 4, 3), torch.full((2, 4), 0.5)), {}, ValueError, "only 0"),
    ((torch.rand(2, 4, 3), torch.rand(2, 4, 3), torch.ones(2, 4)), {"reduction": "avg"}, ValueError, "reduction"),
    ((torch.rand(2, 12), torch.rand(2, 12), torch.ones(2, 4)), {}, ValueError, "3 dimensions"),
    (([[1.0]], torch.rand(2, 4, 3), torch.ones(2, 4)), {}, TypeError, "torch.Tensor"),
])
def test_masked_loss_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        masked_patch_loss(*args, **kwargs)


# --- the model ----------------------------------------------------------------------------------

def test_sincos_position_embedding():
    pe = sincos_position_embedding(4, 64)
    assert pe.shape == (16, 64) and pe.dtype == torch.float32
    assert len({tuple(row.tolist()) for row in pe}) == 16           # every position distinct
    assert sincos_position_embedding(4, 3).shape == (16, 3)


def test_model_shapes_and_contract():
    m = MaskedAutoencoder(seed=0)
    assert isinstance(m, Autoencoder) and m.code_size == 64 and m.num_patches == 16 and m.patch_dim == 49
    x = torch.rand(5, 1, 28, 28, generator=_gen())
    loss, pred, mask = m.forward_loss(x, generator=_gen())
    assert loss.ndim == 0 and pred.shape == (5, 16, 49) and mask.shape == (5, 16)
    assert mask.sum(1).tolist() == [12.0] * 5                      # default mask ratio 0.75
    assert m.encode(x).shape == (5, 64) and m(x).shape == (5, 1, 28, 28)
    assert m.decode(m.encode(x)).shape == (5, 1, 28, 28)
    recon, masked = m.reconstruct(x, 0.5, generator=_gen())
    assert recon.shape == masked.shape == (5, 1, 28, 28)
    assert (masked.flatten(1).sum(1) == 8 * 49).all()


def test_the_encoder_sees_only_visible_patches():
    m = MaskedAutoencoder(seed=0)
    x = torch.rand(3, 1, 28, 28, generator=_gen())
    latent, mask, ids_restore = m.forward_encoder(x, 0.75, generator=_gen(4))
    assert latent.shape == (3, 4, 64)
    # changing the masked patches' pixels changes neither the encoder's output nor the visible-patch tokens
    y = x.clone()
    pixel_mask = unpatchify(mask.unsqueeze(-1).expand(-1, -1, 49).contiguous(), 7)
    y[pixel_mask.bool()] = torch.rand(int(pixel_mask.sum()), generator=_gen(5))
    latent_y, mask_y, _ = m.forward_encoder(y, 0.75, generator=_gen(4))
    assert torch.equal(mask, mask_y) and torch.allclose(latent, latent_y)


def test_same_seed_same_model_and_the_global_rng_is_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = MaskedAutoencoder(seed=1), MaskedAutoencoder(seed=1)
    assert torch.equal(torch.rand(1), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(MaskedAutoencoder(seed=2).patch_embed.weight, a.patch_embed.weight)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(code_size=30, heads=4), ValueError, "divisible by heads"),
    (dict(decoder_dim=30, decoder_heads=4), ValueError, "divisible by decoder_heads"),
    (dict(input_shape=(1, 28, 27)), ValueError, "square"),
    (dict(patch_size=5), ValueError, "divisible"),
    (dict(input_shape=(784,)), ValueError, r"\(C, H, W\)"),
    (dict(mask_ratio=1.0), ValueError, "mask_ratio"),
    (dict(depth=0), ValueError, "depth"),
    (dict(heads=2.0), TypeError, "heads"),
])
def test_model_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MaskedAutoencoder(**kwargs)


def test_model_bad_input():
    m = MaskedAutoencoder()
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        m.forward_loss(torch.rand(2, 784))
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        m.forward_loss(torch.rand(2, 1, 28, 28).double())
    with pytest.raises(ValueError, match="no visible patch"):
        m.forward_loss(torch.rand(2, 1, 28, 28), 0.95)
    with pytest.raises(ValueError, match="no masked patch"):
        m.forward_loss(torch.rand(2, 1, 28, 28), 0.0)


def test_flop_saving_of_the_visible_only_encoder():
    m = MaskedAutoencoder(seed=0).eval()
    x = torch.rand(4, 1, 28, 28, generator=_gen())
    full = encoder_flops(m, x, 0.0)
    assert full > 0 and not m.training                              # counted in training mode, mode restored
    for ratio in (0.25, 0.5, 0.75):
        assert encoder_flops(m, x, ratio) / full == pytest.approx(1 - ratio, abs=0.02)
    # the fast inference path is invisible to the counter: the reason encoder_flops switches to training mode
    from torch.utils.flop_counter import FlopCounterMode
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        m.forward_encoder(x, 0.0)
    assert counter.get_total_flops() < full / 2


def test_a_few_training_steps_lower_the_masked_loss():
    x = torch.rand(64, 1, 28, 28, generator=_gen()) * (torch.rand(64, 1, 1, 1, generator=_gen(1)) > 0.5)
    m = MaskedAutoencoder(code_size=16, heads=2, decoder_dim=16, seed=0)
    before = [p.detach().clone() for p in m.parameters()]
    with torch.no_grad():
        start = m.forward_loss(x, generator=_gen(9))[0].item()
    history = fit_mae(m, x, steps=40, batch_size=32, lr=3e-3, seed=0)
    with torch.no_grad():
        end = m.forward_loss(x, generator=_gen(9))[0].item()
    assert len(history) == 40 and end < 0.7 * start
    assert any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))
    assert not m.training
