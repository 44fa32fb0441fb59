"""aelab.baselines: PCA-k reconstruction equals the SVD's (lecture 01), keeps shapes, rejects bad input."""

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
