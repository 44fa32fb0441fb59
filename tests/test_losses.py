"""aelab.losses: the course's units (per-image sums averaged over the batch), checked by hand and against torch."""

import pytest
import torch
import torch.nn.functional as F

from aelab.losses import bce_per_image, squared_error_per_image


def test_squared_error_per_image_by_hand():
    x = torch.zeros(2, 1, 2, 2)
    x_hat = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]],  # image 0: 1 pixel off by 1 -> 1
                          [[[0.5, 0.5], [0.5, 0.5]]]])  # image 1: 4 pixels off by 0.5 -> 1
    assert squared_error_per_image(x_hat, x).item() == pytest.approx(1.0)
    x_hat[1] = 1.0  # image 1 -> 4
    assert squared_error_per_image(x_hat, x).item() == pytest.approx((1 + 4) / 2)


def test_squared_error_per_image_is_sum_over_pixels_mean_over_images():
    g = torch.Generator().manual_seed(0)
    x, x_hat = torch.rand(7, 1, 28, 28, generator=g), torch.rand(7, 1, 28, 28, generator=g)
    got = squared_error_per_image(x_hat, x)
    assert got.shape == ()
    assert got.item() == pytest.approx(784 * F.mse_loss(x_hat, x).item(), rel=1e-5)
    per_image = [((x_hat[i] - x[i]) ** 2).sum().item() for i in range(7)]
    assert got.item() == pytest.approx(sum(per_image) / 7, rel=1e-5)
    # the same number for flattened images: the unit does not depend on the layout
    assert squared_error_per_image(x_hat.flatten(1), x.flatten(1)).item() == pytest.approx(got.item(), rel=1e-6)


def test_squared_error_per_image_gradient():
    x = torch.rand(3, 4)
    x_hat = torch.rand(3, 4, requires_grad=True)
    squared_error_per_image(x_hat, x).backward()
    assert torch.allclose(x_hat.grad, 2 * (x_hat.detach() - x) / 3)


def test_bce_per_image_matches_torch():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(5, 1, 28, 28, generator=g)
    p = torch.rand(5, 1, 28, 28, generator=g).clamp(0.01, 0.99)
    got = bce_per_image(p, x)
    assert got.item() == pytest.approx(784 * F.binary_cross_entropy(p, x).item(), rel=1e-5)
    by_hand = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(1).mean()
    assert got.item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert got.item() > 0


def test_bce_per_image_known_value():
    x = torch.tensor([[1.0, 0.0]])
    p = torch.tensor([[0.5, 0.5]])
    assert bce_per_image(p, x).item() == pytest.approx(2 * torch.log(torch.tensor(2.0)).item())


@pytest.mark.parametrize("loss", [squared_error_per_image, bce_per_image])
def test_shape_mismatch_names_both_shapes(loss):
    with pytest.raises(ValueError, match=r"\(4, 784\).*\(4, 1, 28, 28\)"):
        loss(torch.rand(4, 784), torch.rand(4, 1, 28, 28))


@pytest.mark.parametrize("loss", [squared_error_per_image, bce_per_image])
def test_unbatched_input(loss):
    with pytest.raises(ValueError, match="batch"):
        loss(torch.rand(784), torch.rand(784))


@pytest.mark.parametrize("loss", [squared_error_per_image, bce_per_image])
def test_non_tensor_input(loss):
    with pytest.raises(TypeError):
        loss([[0.5]], torch.rand(1, 1))
