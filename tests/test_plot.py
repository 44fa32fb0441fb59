"""aelab.plot: every figure builds headless, with labelled axes, gray images without ticks, legends."""

import matplotlib

matplotlib.use("Agg")  # headless, whatever the environment says

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from aelab import plot
from aelab.train import History


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture
def imgs():
    return torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


@pytest.mark.parametrize("layout", ["nchw", "nhw", "flat", "numpy"])
def test_image_grid_layouts(imgs, layout):
    data = {"nchw": imgs, "nhw": imgs[:, 0], "flat": imgs.flatten(1), "numpy": imgs.numpy()}[layout]
    fig = plot.image_grid(data, ncols=5, title="digits", labels=list("abcdefghijkl"))
    assert isinstance(fig, Figure)
    shown = _image_axes(fig)
    assert len(shown) == 12 and len(fig.axes) == 15  # 3 rows x 5, three empty
    assert fig._suptitle.get_text() == "digits"
    assert [ax.get_title() for ax in shown] == list("abcdefghijkl")
    for ax in shown:
        im = ax.images[0]
        assert im.get_cmap().name == "gray" and im.get_clim() == (0, 1)
        assert not ax.axison  # no ticks, no frame
    np.testing.assert_allclose(shown[3].images[0].get_array(), imgs[3, 0].numpy(), rtol=1e-6)


def test_image_grid_fewer_images_than_columns(imgs):
    fig = plot.image_grid(imgs[:3], ncols=10)
    assert len(fig.axes) == 3


@pytest.mark.parametrize("bad", [torch.rand(4, 3, 28, 28), torch.rand(4, 783), torch.rand(784), torch.rand(0, 1, 28, 28),
                                 torch.rand(2, 2, 1, 28, 28)])
def test_image_grid_bad_shapes(bad):
    with pytest.raises(ValueError):
        plot.image_grid(bad)


@pytest.mark.parametrize("kwargs", [{"ncols": 0}, {"ncols": -2}, {"labels": ["only one"]}])
def test_image_grid_bad_arguments(imgs, kwargs):
    with pytest.raises(ValueError):
        plot.image_grid(imgs, **kwargs)


def test_reconstruction_rows(imgs):
    recon = {"PCA-30": imgs.flip(0), "deep AE": imgs * 0.5}
    fig = plot.reconstruction_rows(imgs, recon, n=6, title="originals vs reconstructions")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 * 6
    row_labels = [fig.axes[r * 6].get_ylabel() for r in range(3)]
    assert row_labels == ["original", "PCA-30", "deep AE"]
    for ax in fig.axes:
        assert ax.get_xticks().size == 0 and ax.get_yticks().size == 0
        assert ax.images[0].get_cmap().name == "gray"
    assert fig._suptitle.get_text() == "originals vs reconstructions"


def test_reconstruction_rows_single_model_and_short_input(imgs):
    fig = plot.reconstruction_rows(imgs[:4], imgs[:4].flatten(1), n=10)
    assert len(fig.axes) == 2 * 4
    assert fig.axes[4].get_ylabel() == "reconstruction"


@pytest.mark.parametrize("recon, n", [(torch.rand(12, 3, 28, 28), 10), (torch.rand(12, 1, 28, 28), 0),
                                      ({"empty": torch.rand(0, 1, 28, 28)}, 10)])
def test_reconstruction_rows_bad_input(imgs, recon, n):
    with pytest.raises(ValueError):
        plot.reconstruction_rows(imgs, recon, n=n)


def test_code_scatter_labels_and_legend():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(200, 2, generator=g), torch.arange(200) % 10
    fig = plot.code_scatter(z, y, title="2-D codes of a deep AE", xlabel="code 1", ylabel="code 2")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "2-D codes of a deep AE"
    assert ax.get_xlabel() == "code 1" and ax.get_ylabel() == "code 2"
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [str(k) for k in range(10)]
    assert sum(len(c.get_offsets()) for c in ax.collections) == 200


def test_code_scatter_defaults_class_names_and_existing_axes():
    import matplotlib.pyplot as plt

    z, y = np.random.default_rng(0).normal(size=(30, 2)), np.array([0, 1, 2] * 10)
    fig, (a, b) = plt.subplots(1, 2)
    out = plot.code_scatter(z, y, ax=b, class_names=["T-shirt", "Trouser", "Pullover"])
    assert out is fig
    assert b.get_xlabel() == "code unit 1" and b.get_ylabel() == "code unit 2" and b.get_title()
    assert [t.get_text() for t in b.get_legend().get_texts()] == ["T-shirt", "Trouser", "Pullover"]
    assert a.get_legend() is None


@pytest.mark.parametrize("codes, labels", [(torch.randn(10, 3), torch.zeros(10)), (torch.randn(10), torch.zeros(10)),
                                           (torch.randn(10, 2), torch.zeros(9))])
def test_code_scatter_bad_shapes(codes, labels):
    with pytest.raises(ValueError):
        plot.code_scatter(codes, labels)


def test_loss_curves():
    a = History(train_loss=[3.0, 2.0, 1.5], val_loss=[3.5, 2.5, 2.0])
    b = History(train_loss=[4.0, 3.0, 2.0])
    fig = plot.loss_curves({"deep AE": a, "PCA-sized": b}, logy=True)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "squared error per image" and ax.get_title()
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["deep AE (train)", "deep AE (validation)", "PCA-sized (train)"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [3.5, 2.5, 2.0])


def test_loss_curves_single_history_and_unit():
    fig = plot.loss_curves(History(train_loss=[1.0, 0.5]), ylabel="nats per image")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "nats per image"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["model (train)"]
    fig.canvas.draw()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)  # epochs: no 1.5 on a two-epoch axis


def test_reconstruction_rows_top_label(imgs):
    fig = plot.reconstruction_rows(imgs, {"decoded": imgs}, n=3, top_label="code from")
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["code from", "decoded"]
