"""The latent explorer builds headless, one frame renders, bad input errors."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import subprocess  # noqa: E402
import sys  # noqa: E402

from aelab import widgets  # noqa: E402
from aelab.models import VAE, LinearAutoencoder, MLPAutoencoder  # noqa: E402
from aelab.widgets import MAX_SLIDERS, LatentFrame, decode_image, latent_explorer, render_frame  # noqa: E402

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


def test_linear_autoencoder_explorer_uses_its_code_size():
    torch.manual_seed(0)
    ex = latent_explorer(LinearAutoencoder(784, 5, input_shape=IMG))
    assert ex.frame.k == 5 and len(ex.sliders) == 5


def test_explicit_code_size_for_a_hand_built_decoder():
    class Decoder(torch.nn.Module):  # no code_size attribute
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(3, 784), torch.nn.Sigmoid())

        def decode(self, z):
            return self.net(z)

    torch.manual_seed(0)
    dec = Decoder()
    with pytest.raises(TypeError, match="code_size"):
        decode_image(dec, [0.0, 0.0, 0.0])
    img = decode_image(dec, [0.0, 1.0, 0.0], code_size=3)
    assert img.shape == (28, 28)
    np.testing.assert_allclose(img, dec.decode(torch.tensor([[0.0, 1.0, 0.0]])).detach().reshape(28, 28).numpy())
    with pytest.raises(TypeError, match="code_size"):
        decode_image(dec, [0.0, 1.0, 0.0], code_size=3.0)
    with pytest.raises(ValueError, match="code_size"):
        LatentFrame(dec, code_size=0)


def test_decode_image_follows_the_model_device(vae2, monkeypatch):
    """The code goes to aelab.runtime.device_of(model): the one device helper."""
    seen = []
    monkeypatch.setattr(widgets.frame, "device_of", lambda m: seen.append(m) or torch.device("cpu"))
    decode_image(vae2, [0.0, 0.0])
    assert seen == [vae2]


def test_public_names_are_reexported():
    from aelab.widgets import frame, latent

    assert widgets.LatentFrame is frame.LatentFrame and widgets.render_frame is frame.render_frame
    assert widgets.decode_image is frame.decode_image and widgets.latent_explorer is latent.latent_explorer
    assert not hasattr(widgets, "code_size_of")  # aelab.models.code_size is the one helper


def test_matplotlib_and_ipywidgets_are_imported_lazily():
    code = ("import sys, aelab.models, aelab.widgets; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'ipywidgets')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


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


# --------------------------------------------------------------------------- lecture 07's explorers
from aelab.widgets import (interpolation_explorer, interpolation_figure, latent_plane, latent_traversal,  # noqa: E402
                           plane_figure, traversal_grid)


@pytest.fixture
def vae5():
    torch.manual_seed(1)
    return VAE(784, 32, 5, input_shape=IMG)


def test_traversal_sliders_change_the_image_and_refuse_codes_out_of_range(vae5):
    ex = latent_traversal(vae5, dims=[0, 3])
    assert all(not s.continuous_update for s in ex.sliders)  # redraw on release
    first, arr = ex.images[0].value, ex.frame.image.get_array().copy()
    ex.sliders[1].value = 2.5  # as if dragged and released
    assert ex.images[0].value != first and not np.allclose(ex.frame.image.get_array(), arr)
    np.testing.assert_allclose(ex.current_code(), [0, 0, 0, 2.5, 0], atol=1e-6)
    np.testing.assert_allclose(ex.frame.image.get_array(), decode_image(vae5, ex.current_code()), rtol=1e-6)
    assert ex.timing.value.startswith("update:") and ex.last_seconds > 0
    with pytest.raises(ValueError, match=r"z\[3\] = 4 is outside the slider range \[-3, 3\]"):
        ex.set_code([0, 0, 0, 4.0, 0])
    assert ex.sliders[1].value == 2.5  # nothing changed
    ex.set_code([0.1, 9.0, 0, -1.0, 0])  # units not on sliders may be anything
    assert ex.frame.code[1] == 9.0
    with pytest.raises(ValueError, match="dims"):
        latent_traversal(vae5, dims=[7])
    with pytest.raises(ValueError, match="outside"):
        latent_traversal(vae5, z0=[5.0, 0, 0, 0, 0])


def test_traversal_grid_static_figure(vae5):
    fig = traversal_grid(vae5, dims=[1, 2], values=[-2, 0, 2])
    assert len(fig.axes) == 6 and fig.axes[0].get_ylabel() == "z[1]"
    a, b = (fig.axes[i].images[0].get_array() for i in (0, 2))
    assert not np.allclose(a, b)  # the unit changes the image


def test_plane_marker_and_image_follow_the_sliders(vae2):
    codes, labels = torch.randn(300, 2), torch.randint(0, 10, (300,))
    ex = latent_plane(vae2, codes, labels)
    plane0, img0 = ex.images[0].value, ex.images[1].value
    ex.sliders[0].value = 1.5
    ex.sliders[1].value = -2.0
    assert ex.images[0].value != plane0 and ex.images[1].value != img0
    assert list(ex.plane.marker.get_xdata()) == [1.5] and list(ex.plane.marker.get_ydata()) == [-2.0]
    np.testing.assert_allclose(ex.frame.code, [1.5, -2.0])
    with pytest.raises(ValueError, match=r"z\[0\] = -3.5 is outside the slider range"):
        ex.set_code([-3.5, 0.0])
    with pytest.raises(ValueError, match="2-D code"):
        latent_plane(VAE(784, 8, 3, input_shape=IMG), torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        latent_plane(vae2, torch.zeros(5, 3))
    fig = plane_figure(vae2, codes, labels, z=(1.0, 1.0))
    assert fig.axes[1].images and "z = (+1.00, +1.00)" in fig.axes[0].get_legend().texts[0].get_text()


def test_interpolation_slider_moves_both_models(vae5):
    torch.manual_seed(2)
    ae = MLPAutoencoder((784, 16, 4), input_shape=IMG)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, *IMG, generator=g)
    ex = interpolation_explorer({"AE": ae, "VAE": vae5}, x[:1], x[1:])
    assert len(ex.images) == 2 and ex.sliders[0].min == 0.0 and ex.sliders[0].max == 1.0
    before = [im.value for im in ex.images]
    ex.sliders[0].value = 1.0
    assert all(im.value != b for im, b in zip(ex.images, before))
    with torch.no_grad():
        za = vae5.encode(x[1:])[0][0].numpy()
    np.testing.assert_allclose(ex.frames[1].code, za, rtol=1e-5, atol=1e-6)  # t = 1 is x_b's mean
    with pytest.raises(ValueError, match=r"t = 1.5 is outside the slider range \[0, 1\]"):
        ex.set_t(1.5)
    with pytest.raises(ValueError, match="one image"):
        interpolation_explorer({"AE": ae}, x, x[:1])
    fig = interpolation_figure({"AE": ae, "VAE": vae5}, x[:1], x[1:], steps=4)
    assert len(fig.axes) == 8


def test_explorer_updates_are_fast_enough(vae2):
    """One update (decode + draw + PNG) well under the 50 ms budget (generous bound: shared CI CPUs)."""
    ex = latent_plane(vae2, torch.randn(1000, 2), torch.randint(0, 10, (1000,)))
    times = [ex.set_code([0.1 * i - 1, 0.5]) for i in range(10)]
    assert sorted(times)[5] < 0.25
