"""aelab.models: shapes, layer structure, bad input, and the linear AE learning PCA's subspace."""

import numpy as np
import pytest
import torch
from torch import nn

from aelab import models
from aelab.models import VAE, LinearAutoencoder, MLPAutoencoder

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


@pytest.mark.parametrize("args, kwargs, match", [((784, 0), {}, "code_size"), ((784, 785), {}, "code_size <="),
                                                 ((0, 0), {}, "n_features"),
                                                 ((784, 10), {"input_shape": (1, 28, 27)}, "input_shape")])
def test_linear_bad_sizes_are_value_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        LinearAutoencoder(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, match", [((784.0, 10), {}, "n_features"), ((784, True), {}, "code_size"),
                                                 ((784, "10"), {}, "code_size"),
                                                 ((784, 10), {"tied": "yes"}, "tied"),
                                                 ((784, 10), {"input_shape": (1, 28.0, 28)}, r"input_shape\[1\]")])
def test_linear_non_integer_sizes_are_type_errors(args, kwargs, match):
    with pytest.raises(TypeError, match=match):
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


@pytest.mark.parametrize("dims", [(784,), (), (784, 0), (784, -3, 2)])
def test_mlp_bad_dims(dims):
    with pytest.raises(ValueError, match="dims"):
        MLPAutoencoder(dims)


@pytest.mark.parametrize("dims, match", [((784, 30.0), r"dims\[1\]"), ((784, "30"), r"dims\[1\]"),
                                         ((784, True), r"dims\[1\].*bool"), ((False, 2), r"dims\[0\]"),
                                         (784, "sequence"), ("784", "sequence")])
def test_mlp_non_integer_dims_are_type_errors(dims, match):
    with pytest.raises(TypeError, match=match):
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


# --- the shared checks, for every model ---------------------------------------------------

BUILDERS = {
    "linear": lambda shape=None: LinearAutoencoder(784, 6, input_shape=shape),
    "mlp": lambda shape=None: MLPAutoencoder((784, 16, 6), input_shape=shape),
    "vae": lambda shape=None: VAE(784, 16, 6, input_shape=shape),
}


def _encode(model, x):
    out = model.encode(x)
    return out[0] if isinstance(out, tuple) else out  # a VAE's encode gives (mu, logvar)


@pytest.mark.parametrize("name", BUILDERS)
def test_code_size_of_every_model(name):
    model = BUILDERS[name](IMG)
    assert models.code_size(model) == model.code_size == 6
    assert type(models.code_size(model)) is int
    assert _encode(model, torch.rand(2, *IMG)).shape == (2, models.code_size(model))


def test_code_size_of_other_modules():
    class Hand(nn.Module):
        code_size = np.int64(3)

    assert models.code_size(Hand()) == 3 and type(models.code_size(Hand())) is int
    Hand.code_size = True
    with pytest.raises(TypeError, match="code_size"):
        models.code_size(Hand())
    with pytest.raises(TypeError, match="Linear.*code_size"):
        models.code_size(nn.Linear(2, 3))


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_float_dtypes_name_the_expected_dtype(name, dtype):
    """Issue 7: float64 images used to reach torch's 'mat1 and mat2 must have the same dtype'."""
    model = BUILDERS[name](IMG)
    with pytest.raises(TypeError, match=rf"expects dtype torch.float32 .*got {dtype}.*x\.float\(\)"):
        model(torch.rand(2, *IMG, dtype=dtype))
    with pytest.raises(TypeError, match=r"decode expects dtype torch.float32"):
        model.decode(torch.zeros(2, 6, dtype=dtype))


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32, torch.int64, torch.bool])
def test_integer_tensors_are_type_errors(name, dtype):
    model = BUILDERS[name](IMG)
    with pytest.raises(TypeError, match=r"floating-point tensor of dtype torch.float32.*got torch\."):
        model(torch.zeros(2, *IMG, dtype=dtype))
    with pytest.raises(TypeError, match="floating-point"):
        model.decode(torch.zeros(2, 6, dtype=dtype))


def test_uint8_images_hint_at_scaling():
    with pytest.raises(TypeError, match=r"x\.float\(\) / 255"):
        MLPAutoencoder((784, 6), input_shape=IMG)(torch.zeros(2, *IMG, dtype=torch.uint8))


@pytest.mark.parametrize("name", BUILDERS)
def test_the_check_follows_the_model_dtype(name):
    """The expected dtype is the parameters' dtype: a float64 model takes float64 and names it."""
    model = BUILDERS[name](IMG).double()
    assert _encode(model, torch.rand(2, *IMG, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(TypeError, match=r"expects dtype torch.float64.*x\.to\(torch.float64\)"):
        model(torch.rand(2, *IMG))


@pytest.mark.parametrize("name", BUILDERS)
def test_images_into_a_flat_model_name_the_input_shape_fix(name):
    model = BUILDERS[name]()  # built without input_shape: takes (N, 784)
    assert _encode(model, torch.rand(3, 784)).shape == (3, 6)
    with pytest.raises(ValueError, match=r"expects shape \(N, 784\).*build it with input_shape=\(1, 28, 28\)"):
        model(torch.rand(3, *IMG))


@pytest.mark.parametrize("name", BUILDERS)
def test_flat_rows_into_an_image_model_name_the_reshape(name):
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\).*x\.reshape\(-1, 1, 28, 28\)"):
        BUILDERS[name](IMG)(torch.rand(3, 784))


@pytest.mark.parametrize("name", BUILDERS)
def test_a_code_without_batch_dimension_names_unsqueeze(name):
    with pytest.raises(ValueError, match=r"\(N, 6\), got \(6,\).*unsqueeze\(0\)"):
        BUILDERS[name](IMG).decode(torch.zeros(6))


@pytest.mark.parametrize("name", BUILDERS)
def test_input_on_another_device_is_a_value_error(name):
    model = BUILDERS[name](IMG)
    with pytest.raises(ValueError, match=r"on cpu.*got one on meta.*device_of"):
        model(torch.empty(2, *IMG, device="meta"))
    with pytest.raises(ValueError, match="on cpu"):
        model.decode(torch.empty(2, 6, device="meta"))


@pytest.mark.parametrize("int_type", [np.int64, np.int32, np.uint16])
def test_numpy_integer_sizes_are_accepted_as_python_ints(int_type):
    mlp = MLPAutoencoder(tuple(int_type(d) for d in (784, 16, 6)), input_shape=tuple(int_type(d) for d in IMG))
    assert mlp.dims == (784, 16, 6) and all(type(d) is int for d in mlp.dims + mlp.input_shape)
    assert mlp.input_shape == IMG and mlp.code_size == 6
    assert MLPAutoencoder(np.array([784, 16, 6])).dims == (784, 16, 6)
    lin = LinearAutoencoder(int_type(784), int_type(6))
    assert type(lin.n_features) is int and type(lin.code_size) is int and lin.code_size == 6
    vae = VAE(int_type(784), int_type(16), int_type(6))
    assert vae.hidden == (16,) and type(vae.latent) is int and vae.code_size == 6
    assert _encode(mlp, torch.rand(2, *IMG)).shape == (2, 6)


@pytest.mark.parametrize("build, argument", [
    (lambda: LinearAutoencoder(True, 1), "n_features"),
    (lambda: LinearAutoencoder(784, True), "code_size"),
    (lambda: LinearAutoencoder(784, np.bool_(True)), "code_size"),
    (lambda: MLPAutoencoder((784, 16, True)), r"dims\[2\]"),
    (lambda: VAE(784, True, 2), "hidden"),
    (lambda: VAE(784, (16, True), 2), r"hidden\[1\]"),
    (lambda: VAE(784, 16, True), "code_size"),
    (lambda: VAE(784, 16, 2.0), "code_size"),
    (lambda: MLPAutoencoder((784, 16), input_shape=(True, 784)), r"input_shape\[0\]"),
])
def test_true_is_not_a_size(build, argument):
    with pytest.raises(TypeError, match=rf"{argument} must be an integer, got (np.True_|True|2.0)"):
        build()


def test_activation_error_names_class_and_argument():
    with pytest.raises(ValueError, match=r"MLPAutoencoder: output_activation must be one of .*'softmax'"):
        MLPAutoencoder((4, 2), output_activation="softmax")


# --- the base classes and the one code-size keyword ---------------------------------------

from aelab.models import Autoencoder, VariationalAutoencoder  # noqa: E402

AUTOENCODERS = {
    "LinearAutoencoder": lambda: models.LinearAutoencoder(784, 3, input_shape=IMG),
    "MLPAutoencoder": lambda: models.MLPAutoencoder((784, 16, 3), input_shape=IMG),
    "ShallowAutoencoder": lambda: models.ShallowAutoencoder(784, 3, input_shape=IMG),
    "ConvAutoencoder": lambda: models.ConvAutoencoder(code_size=3, channels=(2, 4)),
    "StackedAutoencoder": lambda: models.StackedAutoencoder((784, 16, 3), input_shape=IMG),
    "DocumentAutoencoder": lambda: models.DocumentAutoencoder((784, 16, 3)),
    "VAE": lambda: models.VAE(784, 16, 3, input_shape=IMG),
    "ConvVAE": lambda: models.ConvVAE(code_size=3, channels=(2, 4)),
    "SparseAutoencoder": lambda: models.SparseAutoencoder(784, 3, input_shape=IMG),
    "MaskedAutoencoder": lambda: models.MaskedAutoencoder(code_size=3, heads=1, decoder_dim=4, decoder_heads=1),
}


def test_every_autoencoder_in_the_package_is_listed_here():
    """A new family must inherit the base; this list (and the test below) must grow with it."""
    classes = {name for name in models.__all__ if isinstance(getattr(models, name), type)
               and issubclass(getattr(models, name), nn.Module)}
    # VQVAE's code is a 7 x 7 grid (code_size = D * 49, never 3): its contract is tested in tests/test_vqvae.py
    assert classes - {"Autoencoder", "VariationalAutoencoder", "RBM", "VQVAE"} == set(AUTOENCODERS)


@pytest.mark.parametrize("name", sorted(AUTOENCODERS))
def test_every_model_inherits_the_base_and_keeps_its_contract(name):
    m = AUTOENCODERS[name]()
    assert isinstance(m, Autoencoder) and m.code_size == 3 and models.code_size(m) == 3
    shape = (784,) if name == "DocumentAutoencoder" else IMG
    assert m.input_shape == shape
    x = torch.rand(2, *shape)
    code = m.encode(x)
    z = code[0] if isinstance(m, VariationalAutoencoder) else code
    assert z.shape == (2, 3)
    if name != "ConvAutoencoder":  # its max-unpool decode needs switches (tests/test_conv.py)
        assert m.decode(z).shape == (2, *shape)
    # checked encode/decode: one message style everywhere, naming the class and the expected shape
    with pytest.raises(ValueError, match=rf"{name}\.encode expects shape \(N, {', '.join(map(str, shape))}\)"):
        m.encode(torch.rand(2, 5))
    with pytest.raises(ValueError, match=rf"{name}\.decode expects shape \(N, 3\)"):
        m.decode(torch.rand(2, 4))
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        m.encode(x.double())
    with pytest.raises(AttributeError):
        m.code_size = 5  # read-only


def test_the_rbm_is_not_an_autoencoder_but_has_a_code_size():
    rbm = models.RBM(6, 3)
    assert not isinstance(rbm, Autoencoder) and rbm.code_size == 3 == rbm.n_hidden


def test_vaes_share_one_implementation():
    for cls in (models.VAE, models.ConvVAE):
        assert issubclass(cls, VariationalAutoencoder)
        for method in ("encode", "decode", "reparameterize", "forward", "decoder_logvar"):
            assert getattr(cls, method) is getattr(VariationalAutoencoder, method), (cls, method)
    # the Gaussian likelihood comes with the base: the convolutional VAE has it too
    cvae = models.ConvVAE(code_size=2, channels=(2, 4), decoder="gaussian")
    assert cvae.likelihood == "gaussian" and cvae.decoder_logvar().shape == (1, 28, 28)
    with pytest.raises(AttributeError, match="Bernoulli"):
        models.ConvVAE(code_size=2, channels=(2, 4)).decoder_logvar()


def test_a_new_family_gets_the_checks_from_the_base():
    class Tiny(Autoencoder):
        def __init__(self):
            super().__init__(code_size=2, input_shape=(4,))
            self.enc, self.dec = nn.Linear(4, 2), nn.Linear(2, 4)

        def _encode(self, x):
            return self.enc(x)

        def _decode(self, z):
            return self.dec(z)

    m = Tiny()
    assert m(torch.rand(3, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match=r"Tiny\.encode expects shape \(N, 4\)"):
        m(torch.rand(3, 5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        m.decode([[0.0, 1.0]])

    class Unfinished(Autoencoder):
        pass

    with pytest.raises(NotImplementedError, match="_encode"):
        Unfinished(code_size=2, input_shape=(4,)).encode(torch.rand(1, 4))


#: (old call, new call): the deprecated keyword and its replacement build the same model.
RENAMED = [
    ("LinearAutoencoder", lambda: models.LinearAutoencoder(8, n_components=3), lambda: models.LinearAutoencoder(8, code_size=3)),
    ("ShallowAutoencoder", lambda: models.ShallowAutoencoder(8, hidden=3), lambda: models.ShallowAutoencoder(8, code_size=3)),
    ("VAE", lambda: models.VAE(8, 4, latent=3), lambda: models.VAE(8, 4, code_size=3)),
    ("ConvVAE", lambda: models.ConvVAE(latent=3, channels=(2, 4)), lambda: models.ConvVAE(code_size=3, channels=(2, 4))),
    ("RBM", lambda: models.RBM(8, n_hidden=3), lambda: models.RBM(8, code_size=3)),
]


@pytest.mark.parametrize("name, old, new", RENAMED, ids=[r[0] for r in RENAMED])
def test_old_code_size_keywords_still_work_with_a_deprecation_warning(name, old, new):
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match=rf"{name}\(\w+=\.\.\.\) is deprecated.*code_size=3"):
        a = old()
    torch.manual_seed(0)
    b = new()
    assert a.code_size == b.code_size == 3
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_old_attribute_names_still_read():
    assert models.LinearAutoencoder(8, 3).n_components == 3
    assert models.ShallowAutoencoder(8, 3).hidden == 3
    assert models.VAE(8, 4, 3).latent == 3 and models.ConvVAE(code_size=3, channels=(2, 4)).latent == 3


def test_code_size_given_twice_or_missing_is_a_type_error():
    with pytest.raises(TypeError, match="given twice.*code_size and n_components"):
        models.LinearAutoencoder(8, 3, n_components=3)
    with pytest.raises(TypeError, match="missing the code size"):
        models.ShallowAutoencoder(8)
    with pytest.raises(TypeError, match="unexpected keyword"):
        models.LinearAutoencoder(8, latent=3)  # an alias belongs to the model it was the keyword of


def test_dims_and_code_size_build_the_same_network():
    torch.manual_seed(0)
    a = models.MLPAutoencoder((784, 32, 4), input_shape=IMG)
    torch.manual_seed(0)
    b = models.MLPAutoencoder((784, 32), code_size=4, input_shape=IMG)
    assert a.dims == b.dims == (784, 32, 4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert models.StackedAutoencoder((20, 10), code_size=5).dims == (20, 10, 5)
    assert models.DocumentAutoencoder((50, 10), code_size=2).code_size == 2
    with pytest.raises(ValueError, match="at least 1 size"):
        models.MLPAutoencoder((), code_size=4)


def test_the_old_layers_module_name_still_imports():
    from aelab.models import _layers, layers

    assert _layers.check_size is layers.check_size and _layers.__all__ == layers.__all__
