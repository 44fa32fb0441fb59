"""aelab.models: shapes, layer structure, bad input, and the linear AE learning PCA's subspace."""

import math

import pytest
import torch
from torch import nn

from aelab.models import LinearAutoencoder, MLPAutoencoder

IMG = (1, 28, 28)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def x_img():
    return torch.rand(5, *IMG, generator=torch.Generator().manual_seed(0))


# --- LinearAutoencoder ------------------------------------------------------------------

@pytest.mark.parametrize("tied", [False, True])
def test_linear_shapes(tied, x_img):
    torch.manual_seed(0)
    m = LinearAutoencoder(784, 30, tied=tied, input_shape=IMG)
    z = m.encode(x_img)
    assert z.shape == (5, 30) and z.dtype == torch.float32
    assert m.decode(z).shape == (5, *IMG)
    assert m(x_img).shape == (5, *IMG)
    assert m.decoder_matrix.shape == (784, 30)
    n_params = sum(p.numel() for p in m.parameters())
    assert n_params == (30 * 784 + 784 if tied else 2 * 30 * 784 + 784)
    if tied:
        assert m.decoder_weight is None
        assert m.decoder_matrix.data_ptr() == m.encoder_weight.data_ptr()  # the transpose, shared


def test_linear_is_affine_with_learned_centre():
    torch.manual_seed(0)
    m = LinearAutoencoder(6, 2)
    with torch.no_grad():
        m.bias.copy_(torch.arange(6.0))
    x = torch.randn(4, 6)
    We, Wd, b = m.encoder_weight, m.decoder_matrix, m.bias
    expected = (x - b) @ We.T @ Wd.T + b
    assert torch.allclose(m(x), expected, atol=1e-6)


def test_linear_gradients_reach_all_parameters():
    m = LinearAutoencoder(8, 3)
    m(torch.randn(4, 8)).pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


@pytest.mark.parametrize("bad", [torch.rand(5, 784), torch.rand(5, 28, 28), torch.rand(1, 28, 28),
                                 torch.rand(5, 1, 28, 27), torch.rand(5, 3, 28, 28)])
def test_linear_wrong_shape_names_expected(bad):
    m = LinearAutoencoder(784, 10, input_shape=IMG)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        m(bad)


def test_linear_decode_wrong_code_size():
    m = LinearAutoencoder(784, 10)
    with pytest.raises(ValueError, match=r"\(N, 10\)"):
        m.decode(torch.zeros(3, 11))


@pytest.mark.parametrize("bad", [torch.zeros(5, 1, 28, 28, dtype=torch.uint8), torch.zeros(5, 1, 28, 28, dtype=torch.int64)])
def test_linear_integer_input_is_type_error(bad):
    m = LinearAutoencoder(784, 10, input_shape=IMG)
    with pytest.raises(TypeError, match="float"):
        m(bad)


def test_linear_non_tensor_is_type_error():
    m = LinearAutoencoder(4, 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        m([[0.0, 1.0, 2.0, 3.0]])


@pytest.mark.parametrize("args, kwargs", [((784, 0), {}), ((784, 785), {}), ((784.0, 10), {}), ((0, 0), {}),
                                          ((784, 10), {"input_shape": (1, 28, 27)})])
def test_linear_bad_dims(args, kwargs):
    with pytest.raises(ValueError):
        LinearAutoencoder(*args, **kwargs)


# --- MLPAutoencoder ---------------------------------------------------------------------

def _linears(seq: nn.Sequential):
    return [(m.in_features, m.out_features) for m in seq if isinstance(m, nn.Linear)]


def test_mlp_hinton_salakhutdinov_architecture(x_img):
    torch.manual_seed(0)
    m = MLPAutoencoder((784, 1000, 500, 250, 30), activation="sigmoid", input_shape=IMG)
    assert _linears(m.encoder) == [(784, 1000), (1000, 500), (500, 250), (250, 30)]
    assert _linears(m.decoder) == [(30, 250), (250, 500), (500, 1000), (1000, 784)]
    assert isinstance(m.encoder[-1], nn.Linear)  # the code layer is linear
    assert isinstance(m.decoder[-2], nn.Sigmoid) and isinstance(m.decoder[-1], nn.Unflatten)
    assert sum(isinstance(l, nn.Sigmoid) for l in m.encoder) == 3
    assert m.code_size == 30
    z = m.encode(x_img)
    assert z.shape == (5, 30)
    out = m(x_img)
    assert out.shape == (5, *IMG) and out.dtype == torch.float32
    assert m.decode(z).shape == (5, *IMG)


def test_mlp_code_is_unbounded_and_output_in_unit_interval():
    torch.manual_seed(0)
    m = MLPAutoencoder((20, 16, 4), activation="relu")
    x = 50 * torch.randn(256, 20)
    z = m.encode(x)
    assert (z < 0).any() and z.abs().max() > 1  # linear code layer: not squashed, not rectified
    out = m.decode(100 * torch.randn(64, 4))
    assert out.min() >= 0 and out.max() <= 1


def test_mlp_identity_output_is_unbounded():
    torch.manual_seed(0)
    m = MLPAutoencoder((2, 8, 1), activation="relu", output_activation="identity")
    out = m.decode(torch.linspace(-100, 100, 11)[:, None])
    assert out.shape == (11, 2) and (out.abs() > 1).any()


def test_mlp_two_dims_is_linear_encoder_plus_output_activation():
    m = MLPAutoencoder((10, 3))
    assert _linears(m.encoder) == [(10, 3)] and _linears(m.decoder) == [(3, 10)]
    assert not any(isinstance(l, nn.ReLU) for l in m.modules())


@pytest.mark.parametrize("bad", [torch.rand(5, 784), torch.rand(5, 1, 28, 28, 1), torch.rand(784)])
def test_mlp_wrong_shape_names_expected(bad):
    m = MLPAutoencoder((784, 64, 8), input_shape=IMG)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        m(bad)
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        m.decode(torch.zeros(2, 9))


def test_mlp_wrong_type():
    m = MLPAutoencoder((4, 2))
    with pytest.raises(TypeError):
        m.encode(torch.zeros(3, 4, dtype=torch.int32))
    import numpy as np

    with pytest.raises(TypeError):
        m(np.zeros((3, 4), dtype=np.float32))


@pytest.mark.parametrize("dims", [(784,), (), (784, 0), (784, -3, 2), (784, 30.0), (784, "30")])
def test_mlp_bad_dims(dims):
    with pytest.raises(ValueError, match="dims"):
        MLPAutoencoder(dims)


@pytest.mark.parametrize("kwargs", [{"activation": "swish"}, {"output_activation": "softmax"},
                                    {"input_shape": (1, 28, 28)}])
def test_mlp_bad_activation_or_input_shape(kwargs):
    with pytest.raises(ValueError) as info:
        MLPAutoencoder((100, 10), **kwargs)
    if "activation" in next(iter(kwargs)):
        assert "relu" in str(info.value)  # lists the valid names


# --- known structure: a linear AE learns the PCA subspace --------------------------------

def _orthonormal_basis(a: torch.Tensor) -> torch.Tensor:
    q, _ = torch.linalg.qr(a)
    return q


def principal_angles_deg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles (degrees) between the column spaces of ``a`` and ``b``."""
    s = torch.linalg.svdvals(_orthonormal_basis(a).T @ _orthonormal_basis(b)).clamp(max=1.0)
    return torch.rad2deg(torch.arccos(s))


def test_principal_angles_helper():
    e = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(principal_angles_deg(e[:, :2], e[:, :2] @ torch.tensor([[2.0, 1], [0, 3]]).double()),
                          torch.zeros(2, dtype=torch.float64), atol=1e-5)
    assert principal_angles_deg(e[:, :1], e[:, 1:2]).item() == pytest.approx(90.0)


@pytest.mark.parametrize("tied", [False, True])
def test_linear_ae_recovers_pca_subspace(tied):
    """Baldi & Hornik (1989): gradient descent on squared error finds PCA's subspace, not its basis."""
    g = torch.Generator().manual_seed(0)
    n, d, k = 512, 12, 3
    scales = torch.tensor([3.0, 2.0, 1.5])
    latent = torch.randn(n, k, generator=g) * scales
    mixing = torch.randn(k, d, generator=g)
    mean = 5 * torch.rand(d, generator=g)
    x = latent @ mixing + mean + 0.3 * torch.randn(n, d, generator=g)

    centred = x - x.mean(0)
    _, _, vt = torch.linalg.svd(centred, full_matrices=False)
    pca = vt[:k].T  # (d, k)
    pca_err = (centred - centred @ pca @ pca.T).pow(2).sum(1).mean().item()

    torch.manual_seed(1)
    model = LinearAutoencoder(d, k, tied=tied)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(1500):
        opt.zero_grad()
        loss = (model(x) - x).pow(2).sum(1).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        ae_err = (model(x) - x).pow(2).sum(1).mean().item()

    angles = principal_angles_deg(model.decoder_matrix.detach(), pca)
    assert angles.max() < 2.0, angles
    assert ae_err < 1.02 * pca_err
    assert torch.allclose(model.bias.detach() @ (torch.eye(d) - pca @ pca.T),
                          x.mean(0) @ (torch.eye(d) - pca @ pca.T), atol=0.05)  # centre off the subspace
    if not tied:  # the basis is not PCA's: W^T W is not the identity
        w = model.decoder_matrix.detach()
        assert not torch.allclose(w.T @ w, torch.eye(k), atol=0.05)
