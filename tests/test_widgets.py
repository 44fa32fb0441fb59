"""The explorers build headless, frames render with captions that fit, sliders coalesce, bad input is refused alike."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import re  # noqa: E402
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
    fig = render_frame(vae2, torch.tensor([[0.0, -1.0]]))
    assert fig.axes and fig.axes[0].images
    assert fig.texts[0].get_text() == "VAE (2-D code)\nz = (+0.00, \u22121.00)"  # which model, then the code
    assert "VAE (2-D code)" in widgets.alt_text(fig) and widgets.text_overflow(fig) == []


def test_explorer_builds_headless_and_redraws(vae2):
    ex = latent_explorer(vae2)
    assert len(ex.sliders) == 2 and ex.sliders[0].min == -3.0 and ex.sliders[0].max == 3.0
    first = ex.image.value
    assert first[:4] == b"\x89PNG"
    ex.sliders[1].value = 2.0  # as if dragged
    np.testing.assert_allclose(ex.frame.code, [0.0, 2.0])
    assert ex.image.value != first
    assert ex.status.value.startswith("drawn: z[1] = +2.00")
    with pytest.raises(ValueError, match=r"z\[0\] = 5 is outside the slider range \[-3, 3\]"):
        ex.set_code([5.0, -1.0])  # refused like lecture 07's explorers: never widened or clipped
    assert ex.sliders[0].max == 3.0 and ex.sliders[1].value == 2.0
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_explorer_ranges_from_codes_and_dims():
    torch.manual_seed(0)
    ae = MLPAutoencoder((784, 16, 20), input_shape=IMG)
    codes = 100 + 10 * torch.randn(200, 20)
    ex = latent_explorer(ae, codes=codes, dims=[3, 7])
    assert [s.description for s in ex.sliders] == ["z[3]", "z[7]"]
    assert 50 < ex.sliders[0].min < 100 < ex.sliders[0].max < 150
    step = ex.sliders[0].step
    np.testing.assert_allclose(ex.current_code(), codes.mean(0).numpy(), atol=step / 2)  # rounded to the readout
    for s in ex.sliders:  # round numbers: no 16-digit value reaches an output
        assert all(len(repr(v)) <= 7 for v in (s.min, s.max, s.step, s.value)), (s.min, s.max, s.step, s.value)


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
    with pytest.raises(ValueError, match=r"z0's z\[1\] = 4 is outside the slider range"):
        latent_explorer(vae2, z0=[0.0, 4.0])  # refused, not clipped into the range
    with pytest.raises(TypeError, match="z"):
        decode_image(vae2, ["0.5", "1"])


# --------------------------------------------------------------------------- lecture 07's explorers
from aelab.widgets import (interpolation_explorer, interpolation_figure, latent_plane, latent_traversal,  # noqa: E402
                           plane_figure, traversal_grid)


@pytest.fixture
def vae5():
    torch.manual_seed(1)
    return VAE(784, 32, 5, input_shape=IMG)


def test_traversal_sliders_change_the_image_and_refuse_codes_out_of_range(vae5):
    ex = latent_traversal(vae5, dims=[0, 3])
    assert all(s.continuous_update for s in ex.sliders)  # redraw while dragged (newest value only)
    first, arr = ex.images[0].value, ex.frame.image.get_array().copy()
    ex.sliders[1].value = 2.5  # as if dragged and released
    assert ex.images[0].value != first and not np.allclose(ex.frame.image.get_array(), arr)
    np.testing.assert_allclose(ex.current_code(), [0, 0, 0, 2.5, 0], atol=1e-6)
    np.testing.assert_allclose(ex.frame.image.get_array(), decode_image(vae5, ex.current_code()), rtol=1e-6)
    assert ex.status.value.startswith("drawn: z[3] = +2.50σ") and ex.last_seconds > 0
    assert ex.frame.caption == "VAE (5-D code)\nz[3] = +2.50σ"  # the slider unit that moved, not z[0..5]
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
    assert "z[1], z[2]" in widgets.alt_text(fig) and "VAE (5-D code)" in widgets.alt_text(fig)
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
    assert fig.axes[1].images and "z = (+1.00, +1.00)" in fig.axes[1].get_title()
    assert [t.get_text() for t in fig.axes[0].get_legend().texts] == [str(c) for c in range(10)]  # the class key
    assert "cross at z = (1.00, 1.00)" in widgets.alt_text(fig)


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
    assert [f.caption for f in ex.frames] == ["AE\nt = 1.00 (0: image a, 1: image b)",
                                              "VAE\nt = 1.00 (0: image a, 1: image b)"]
    with pytest.raises(ValueError, match="one image"):
        interpolation_explorer({"AE": ae}, x, x[:1])
    fig = interpolation_figure({"AE": ae, "VAE": vae5}, x[:1], x[1:], steps=4)
    assert len(fig.axes) == 8 and "2 rows (AE and VAE)" in widgets.alt_text(fig)


def test_explorer_updates_are_fast_enough(vae2):
    """One update (decode + draw + PNG) well under the 50 ms budget (generous bound: shared CI CPUs)."""
    ex = latent_plane(vae2, torch.randn(1000, 2), torch.randint(0, 10, (1000,)))
    times = [ex.set_code([0.1 * i - 1, 0.5]) for i in range(10)]
    assert sorted(times)[5] < 0.25


# --------------------------------------------------------------------------- issues 25 (9, 10, 12) and 21 (7)
import asyncio  # noqa: E402

import matplotlib.colors as mcolors  # noqa: E402

from aelab.widgets import CLASS_COLORS, alt_text, text_overflow  # noqa: E402
from aelab.widgets._alt import figure_html  # noqa: E402
from aelab.widgets._panel import decimals, nice_step  # noqa: E402
from aelab.widgets.frame import fit_caption  # noqa: E402


@pytest.fixture
def lecture_sized():
    """The lecture's shapes (untrained): a 20-D VAE, a 2-D VAE, a 20-D AE, two test images."""
    torch.manual_seed(3)
    x = torch.rand(2, *IMG, generator=torch.Generator().manual_seed(0))
    return VAE(784, 32, 20, input_shape=IMG), VAE(784, 32, 2, input_shape=IMG), MLPAutoencoder((784, 32, 20),
                                                                                                input_shape=IMG), x


def _all_explorers(lecture_sized):
    vae20, vae2, ae, x = lecture_sized
    pts = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32) * 1.6
    return {
        "latent_explorer": latent_explorer(ae, codes=torch.randn(200, 20) * 4 - 7, dims=range(8),
                                           title="deep autoencoder decoder"),
        "latent_traversal": latent_traversal(vae20, dims=[12, 3, 17, 5, 8, 1, 0, 19, 4, 6], title="VAE decoder"),
        "latent_plane": latent_plane(vae2, pts, np.arange(300) % 10),
        "interpolation_explorer": interpolation_explorer({"plain AE": ae, "VAE": vae20}, x[:1], x[1:]),
    }


def _frames(ex):
    return ex.frames if hasattr(ex, "frames") else [ex.frame]


def test_every_caption_fits_its_figure_and_names_the_model(lecture_sized):
    """Issue 25.9: measured with matplotlib's renderer, no caption text leaves its figure, at any slider value."""
    explorers = _all_explorers(lecture_sized)
    rng = np.random.default_rng(1)
    for name, ex in explorers.items():
        for _ in range(3):
            ex.set_values([rng.uniform(lo, hi) for lo, hi in ex.ranges])  # every unit moved: the longest caption
            for frame in _frames(ex):
                assert text_overflow(frame.fig) == [], (name, frame.caption)
        if name == "latent_plane":
            assert text_overflow(ex.plane.fig) == []
    first_lines = {name: [f.caption.splitlines()[0] for f in _frames(ex)] for name, ex in explorers.items()}
    assert first_lines == {"latent_explorer": ["deep autoencoder decoder"], "latent_traversal": ["VAE decoder"],
                           "latent_plane": ["VAE (2-D code)"], "interpolation_explorer": ["plain AE", "VAE"]}
    assert "σ" in explorers["latent_traversal"].frame.caption and "t = " in explorers["interpolation_explorer"].frames[0].caption


def test_text_overflow_finds_the_old_one_line_caption(vae5):
    """The measure can fail: the caption the explorers had before (model and six values on one line) overflows."""
    frame = LatentFrame(vae5, title="VAE decoder")
    frame._caption.set_text("VAE decoder: z = (+0.00, +0.00, +0.00, +0.00, +0.00, +0.00, …)")
    frame._caption.set_fontsize(8)
    assert text_overflow(frame.fig) and text_overflow(frame.fig)[0][1] > 20  # ~50 px cut on each side


def test_fit_caption_shrinks_then_drops_trailing_items(vae5):
    frame = LatentFrame(vae5, size=1.5)
    line = ", ".join(f"z[{i}] = +1.00σ" for i in range(10))
    text = fit_caption(frame._caption, ["a model", line])
    assert text.startswith("a model\nz[0] = +1.00σ") and text.endswith(", …") and text_overflow(frame.fig) == []
    assert frame._caption.get_fontsize() >= 6.5
    text = fit_caption(frame._caption, ["x" * 200, "short"])  # no commas: cut by characters
    assert text.split("\n")[0].endswith("…") and text_overflow(frame.fig) == []


@pytest.mark.parametrize("bad, error", [("0.5", TypeError), (True, TypeError), (None, TypeError),
                                        (float("nan"), ValueError), (-0.1, ValueError), (1.01, ValueError)])
def test_set_t_refuses_strings_bools_and_values_outside(vae5, bad, error):
    """Issue 21.7: set_t("0.5") and set_t(True) were accepted; aelab._validation refuses them."""
    ae = MLPAutoencoder((784, 16, 4), input_shape=IMG)
    x = torch.rand(2, *IMG)
    ex = interpolation_explorer({"AE": ae, "VAE": vae5}, x[:1], x[1:])
    ex.set_t(np.float32(0.25))  # NumPy scalars are numbers
    with pytest.raises(error, match="t "):
        ex.set_t(bad)
    assert ex.sliders[0].value == 0.25 and ex.drawn == [0.25]  # nothing changed


def test_every_explorer_refuses_codes_outside_its_range_alike(lecture_sized):
    """Issue 21.7: latent_explorer widened its range and clipped; now all four refuse with the same message."""
    for name, ex in _all_explorers(lecture_sized).items():
        before = ex.values()
        (lo, hi), unit = ex.ranges[0], ex.names[0]
        outside = [hi + 1.0] + [v for v in before[1:]]
        with pytest.raises(ValueError, match=rf"{re.escape(unit)} = .* is outside the slider range"):
            ex.set_values(outside)
        with pytest.raises(TypeError, match="must be a real number"):
            ex.set_values(["1"] + before[1:])
        assert ex.values() == before and ex.sliders[0].max == hi, name  # nothing widened, nothing moved


def test_slider_bursts_draw_only_the_newest_value(vae5):
    """Issue 25.10: inside an event loop (the kernel's), a burst of slider events draws one frame, of the last value."""
    ex = latent_traversal(vae5, dims=[0, 3])
    draws0 = ex.draws

    async def drag():
        for v in np.linspace(-2, 2, 25):
            ex.sliders[1].value = round(float(v), 2)  # 25 events, as a fast drag sends them
        assert ex.draws == draws0  # nothing drawn yet: the events only asked for a frame
        await asyncio.sleep(0.05)
        ex.sliders[0].value = 1.0  # a later move: one more frame
        await asyncio.sleep(0.05)

    asyncio.run(drag())
    assert ex.requests >= 26 and ex.draws == draws0 + 2
    assert ex.drawn == [1.0, 2.0]
    np.testing.assert_allclose(ex.frame.code[[0, 3]], [1.0, 2.0])
    ex.sliders[1].value = 0.5  # outside an event loop: drawn at once
    assert ex.draws == draws0 + 3 and ex.drawn == [1.0, 0.5]


def test_a_failing_frame_shows_its_error_in_the_status_line(vae5):
    ex = latent_traversal(vae5, dims=[0])

    def broken(values):
        raise RuntimeError("decoder exploded")

    ex.draw = broken

    async def move():
        ex.sliders[0].value = 1.0
        await asyncio.sleep(0.05)

    asyncio.run(move())
    assert ex.status.value == "error: RuntimeError: decoder exploded"


def test_round_steps_and_readouts():
    assert [nice_step(x) for x in (0.03, 0.06, 0.005, 0.13, 1.0)] == [0.02, 0.05, 0.005, 0.1, 1.0]
    assert [decimals(s) for s in (0.02, 0.5, 5.0, 0.005)] == [2, 1, 0, 3]


def test_sliders_have_round_values_and_readouts(lecture_sized):
    """Issue 21.7: no 16-digit slider value in outputs; every slider steps by a round number (keyboard too)."""
    for name, ex in _all_explorers(lecture_sized).items():
        ex.set_values([lo + (hi - lo) / 3 for lo, hi in ex.ranges])  # 1/3: a value with 16 digits
        for s in ex.sliders:
            assert all(len(repr(v)) <= 7 for v in (s.min, s.max, s.step, s.value)), (name, s)
            assert s.readout_format == f".{decimals(s.step)}f" and s.continuous_update


def test_plane_uses_a_colour_blind_safe_palette_with_a_key_and_counts_hidden_means(vae2):
    """Issue 25.12 and 21.7: Petroff's ten colors, a class key, and points outside the square are counted."""
    try:
        from matplotlib import color_sequences
        assert [mcolors.to_hex(c) for c in color_sequences["petroff10"]] == list(CLASS_COLORS)
    except KeyError:  # matplotlib < 3.10 has no petroff10: the constant stands alone
        pass
    codes = np.concatenate([np.random.default_rng(0).normal(size=(100, 2)) * 0.5, [[5.0, 0.0], [0.0, -4.0]]])
    labels = np.arange(102) % 10
    ex = latent_plane(vae2, codes, labels)
    ax = ex.plane.ax
    face = {mcolors.to_hex(c) for coll in ax.collections for c in coll.get_facecolors()}
    assert face <= set(CLASS_COLORS) and len(face) == 10
    assert [t.get_text() for t in ax.get_legend().texts] == [str(c) for c in range(10)]
    assert ex.plane.n_outside == 2
    assert any("2 of 102 means lie outside ±3 (not shown)" == t.get_text() for t in ax.texts)
    assert {t.get_text() for t in ax.texts} >= {str(c) for c in range(10)}  # each class's digit at its median
    with pytest.raises(ValueError, match="integer classes"):
        latent_plane(vae2, codes, labels + 0.5)


def test_static_figures_carry_alt_text_and_show_it_as_html(vae2):
    fig = render_frame(vae2, [0.0, 0.0])
    html = figure_html(fig)
    assert html.startswith('<img src="data:image/png;base64,') and f'alt="{alt_text(fig)}"' in html
    import matplotlib.pyplot as plt

    plain = plt.figure()
    assert alt_text(plain) is None and figure_html(plain) is None  # other figures are left alone
    plt.close("all")


def test_static_figure_alt_text_reaches_ipython_display(vae2):
    """In IPython, a figure with alt text is displayed as <img alt=...> (text/html) beside its PNG."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        widgets._alt._registered = False
        fig = render_frame(vae2, [0.5, 0.5])
        data, _ = shell.display_formatter.format(fig)
        assert 'alt="The image VAE (2-D code) decodes' in data["text/html"]
        import matplotlib.pyplot as plt

        plain = plt.figure()
        data, _ = shell.display_formatter.format(plain)
        assert "text/html" not in data
        plt.close("all")
    finally:
        InteractiveShell.clear_instance()


def test_widget_images_have_accessible_names(lecture_sized):
    import html

    for name, ex in _all_explorers(lecture_sized).items():
        assert len(ex.alts) == len(ex.images) and all(html.escape(a) in ex.description.value for a in ex.alts), name
        assert all(img.tooltip is None for img in ex.images)  # an Image's tooltip breaks its view in JupyterLab
        assert all("arrow keys" in s.tooltip for s in ex.sliders), name


def test_each_widget_module_has_one_all_and_names_its_lecture():
    import ast
    import importlib
    from pathlib import Path

    folder = Path(widgets.__file__).parent
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text())
        alls = [n for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AugAssign))
                and any(getattr(t, "id", None) == "__all__" for t in getattr(n, "targets", [getattr(n, "target", None)]))]
        assert len(alls) == 1, f"{path.name}: {len(alls)} __all__ statements"
        mod = importlib.import_module(f"aelab.widgets.{path.stem}" if path.stem != "__init__" else "aelab.widgets")
        assert re.search(r"lectures? 0[27]", mod.__doc__, re.IGNORECASE), path.name
        for public in mod.__all__:
            assert getattr(mod, public) is not None
    assert "_layers" not in "".join(p.read_text() for p in folder.glob("*.py"))


def test_benchmark_drag_burst_coalesces(vae5):
    """benchmarks.widget_updates.drag_burst: a 20-event burst draws fewer frames when coalesced, always the newest."""
    from benchmarks.widget_updates import drag_burst

    ex = latent_traversal(vae5, dims=[0, 1])
    values = [[round(v, 2), 0.0] for v in np.linspace(-2, 2, 20)]
    fast = drag_burst(ex, values, interval_s=0.002, coalesce=True)
    ex.set_values([0.0, 0.0])
    every = drag_burst(ex, values, interval_s=0.002, coalesce=False)
    assert every.frames == 20 and fast.frames < 20 and fast.newest_drawn and every.newest_drawn
    assert "redraw" not in vars(ex) and "request_redraw" not in vars(ex)  # the explorer is left as it was
