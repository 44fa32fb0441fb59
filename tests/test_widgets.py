"""The latent explorer builds headless, one frame renders, bad input errors."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from aelab.models import VAE, LinearAutoencoder, MLPAutoencoder  # noqa: E402
from aelab.widgets import (MAX_SLIDERS, LatentFrame, code_size_of, decode_image, latent_explorer,  # noqa: E402
                           render_frame)

IMG = (1, 28, 28)


@pytest.fixture
def vae2():
    torch.manual_seed(0)
    return VAE(784, 32, 2, input_shape=IMG)


def test_decode_image(vae2):
    img = decode_image(vae2, [0.5, -1.0])
    assert img.shape == (28, 28) and img.dtype == np.float32
    expected = vae2.decode(torch.tensor([[0.5, -1.0]])).detach().reshape(28, 28).numpy()
    np.testing.assert_allclose(img, expected, rtol=1e-6)
    assert vae2.training  # the mode is restored


def test_frame_updates_in_place(vae2):
    frame = LatentFrame(vae2)
    im, fig = frame.image, frame.fig
    arr = frame.update(np.array([1.0, 2.0]))
    assert frame.image is im and frame.fig is fig  # no new figure or imshow
    np.testing.assert_allclose(frame.image.get_array(), arr)
    png = frame.png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(frame.code, [1.0, 2.0])


def test_render_frame_static_figure(vae2):
    fig = render_frame(vae2, torch.tensor([[0.0, 1.0]]))
    assert fig.axes and fig.axes[0].images
    assert "z = (+0.00, +1.00)" in fig.texts[0].get_text()


def test_explorer_builds_headless_and_redraws(vae2):
    ex = latent_explorer(vae2)
    assert len(ex.sliders) == 2 and ex.sliders[0].min == -3.0 and ex.sliders[0].max == 3.0
    first = ex.image.value
    assert first[:4] == b"\x89PNG"
    ex.sliders[1].value = 2.0  # as if dragged
    np.testing.assert_allclose(ex.frame.code, [0.0, 2.0])
    assert ex.image.value != first
    assert ex.timing.value.startswith("decode + draw")
    ex.set_code([5.0, -1.0])  # outside the range: the slider widens
    assert ex.sliders[0].max >= 5.0 and ex.frame.code[0] == 5.0
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_explorer_ranges_from_codes_and_dims():
    torch.manual_seed(0)
    ae = MLPAutoencoder((784, 16, 20), input_shape=IMG)
    codes = 100 + 10 * torch.randn(200, 20)
    ex = latent_explorer(ae, codes=codes, dims=[3, 7])
    assert [s.description for s in ex.sliders] == ["z[3]", "z[7]"]
    assert 50 < ex.sliders[0].min < 100 < ex.sliders[0].max < 150
    np.testing.assert_allclose(ex.current_code(), codes.mean(0).numpy(), rtol=1e-5)


def test_linear_autoencoder_code_size():
    assert code_size_of(LinearAutoencoder(784, 5, input_shape=IMG)) == 5


def test_bad_input(vae2):
    with pytest.raises(TypeError, match="decode"):
        latent_explorer(torch.nn.Linear(2, 784))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        decode_image(vae2, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        decode_image(vae2, [float("nan"), 0.0])
    with pytest.raises(ValueError, match="dims"):
        latent_explorer(VAE(784, 8, MAX_SLIDERS + 1, input_shape=IMG))
    with pytest.raises(ValueError, match="dims"):
        latent_explorer(vae2, dims=[0, 2])
    with pytest.raises(ValueError, match="span"):
        latent_explorer(vae2, span=0)
    with pytest.raises(ValueError, match="codes"):
        latent_explorer(vae2, codes=torch.zeros(10, 3))
    with pytest.raises(ValueError, match="ranges"):
        latent_explorer(vae2, ranges=[(0, 1)])
    with pytest.raises(ValueError, match="z0"):
        latent_explorer(vae2, z0=[0.0])
