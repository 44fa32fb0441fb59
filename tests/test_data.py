"""aelab.data: loaders (offline fallback, damaged files, Debian Fashion-MNIST), toy data, noise, splits."""

import gzip
import os
import time
import warnings
from pathlib import Path

import pytest
import torch

from aelab import data
from aelab.data import DataError

HAS_DEBIAN_FASHION = (data.DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").exists()


def _part_files(folder: Path) -> list[str]:
    """Temporary files left behind (they start with a dot, so ``glob('*.part')`` would miss them)."""
    return [name for _, _, files in os.walk(folder) for name in files if name.endswith(".part")]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, an empty data root, and the once-per-process warning armed again."""
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    monkeypatch.setenv("AELAB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(data, "_warned", set())
    return tmp_path / "data"


def _load_subset(split):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return data.load_mnist(split)


def _check_images(images, labels, n=None):
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    assert images.ndim == 4 and images.shape[1:] == (1, 28, 28)
    assert labels.shape == (len(images),)
    if n is not None:
        assert len(images) == n
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.max() == 1.0  # scaled by 255, not left in [0, 255] nor squashed
    assert set(labels.unique().tolist()) == set(range(10))


# --- network probe ----------------------------------------------------------------------

def test_data_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_DATA", str(tmp_path))
    assert data.data_root() == tmp_path
    monkeypatch.delenv("AELAB_DATA")
    assert data.data_root() == Path.home() / ".cache" / "aelab" / "data"


def test_is_online_offline_env_is_fast(monkeypatch):
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    t = time.perf_counter()
    assert data.is_online() is False
    assert data.is_online("https://example.com", timeout=30) is False
    assert time.perf_counter() - t < 0.1


def test_is_online_unroutable_returns_within_timeout(monkeypatch):
    monkeypatch.delenv("AELAB_OFFLINE", raising=False)
    t = time.perf_counter()
    data.is_online("http://10.255.255.1:81", timeout=1.0)  # blackholed (some sandboxes accept any TCP)
    assert time.perf_counter() - t < 2.0


def test_is_online_hanging_probe_gives_up_after_timeout(monkeypatch):
    """A name lookup or connect that hangs (not covered by socket timeouts) is abandoned."""
    monkeypatch.delenv("AELAB_OFFLINE", raising=False)

    def hang(*args, **kwargs):
        time.sleep(5)
        raise OSError("too late")

    monkeypatch.setattr(data.socket, "create_connection", hang)
    t = time.perf_counter()
    assert data.is_online("https://example.invalid", timeout=0.5) is False
    assert time.perf_counter() - t < 1.5


# --- MNIST: offline subset --------------------------------------------------------------

def test_offline_mnist_subset_shapes_and_one_warning(offline):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x_tr, y_tr = data.load_mnist("train")
        x_te, y_te = data.load_mnist("test")
        data.load_mnist("train")
    msgs = [str(w.message) for w in caught]
    assert len(msgs) == 1, msgs
    assert issubclass(caught[0].category, UserWarning)
    msg = msgs[0]
    assert "5,000" in msg and "4,000" in msg and "1,000" in msg  # what happened
    assert "network" in msg and "AELAB_DATA" in msg  # how to get the full set
    assert str(offline) in msg  # names the data root that was searched
    _check_images(x_tr, y_tr, 4000)
    _check_images(x_te, y_te, 1000)
    assert data.mnist_is_subset() is True


def test_offline_mnist_subset_is_stratified_and_disjoint(offline):
    x_tr, y_tr = _load_subset("train")
    x_te, y_te = _load_subset("test")
    assert torch.bincount(y_tr, minlength=10).tolist() == [400] * 10
    assert torch.bincount(y_te, minlength=10).tolist() == [100] * 10
    # disjoint: no test image occurs in the training split
    train_rows = {bytes(r) for r in (x_tr.flatten(1) * 255).round().to(torch.uint8).numpy()}
    test_rows = [bytes(r) for r in (x_te.flatten(1) * 255).round().to(torch.uint8).numpy()]
    assert not any(r in train_rows for r in test_rows)


def test_offline_mnist_subset_is_deterministic(offline):
    a = _load_subset("train")
    b = _load_subset("train")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    c = _load_subset("test")
    assert torch.equal(c[1], _load_subset("test")[1])


@pytest.mark.parametrize("loader", [data.load_mnist, data.load_fashion_mnist])
@pytest.mark.parametrize("split", ["val", "training", "", "TRAIN"])
def test_bad_split_lists_valid_names(loader, split, offline):
    with pytest.raises(ValueError) as info:
        loader(split)
    assert "'train'" in str(info.value) and "'test'" in str(info.value)


# --- damaged raw files ------------------------------------------------------------------

def _write_idx(path: Path, magic: int, count: int, size: int) -> None:
    """A sparse file of ``size`` bytes with an IDX header (fast: no 47 MB written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(magic.to_bytes(4, "big") + count.to_bytes(4, "big"))
        fh.truncate(size)


def _fake_raw(root: Path, folder: str = "MNIST") -> Path:
    raw = root / folder / "raw"
    _write_idx(raw / "train-images-idx3-ubyte", 2051, 60000, 16 + 60000 * 784)
    _write_idx(raw / "train-labels-idx1-ubyte", 2049, 60000, 8 + 60000)
    return raw


def test_truncated_raw_file_names_file_and_fix(offline):
    raw = _fake_raw(offline)
    target = raw / "train-images-idx3-ubyte"
    with open(target, "r+b") as fh:
        fh.truncate(16 + 1000 * 784)
    with pytest.raises(DataError) as info:
        data.load_mnist("train")
    msg = str(info.value)
    assert str(target) in msg and "truncated" in msg
    assert "Fix: delete it" in msg


@pytest.mark.parametrize("magic, count", [(0xDEADBEEF, 60000), (2049, 60000), (2051, 12345)])
def test_corrupted_header_names_file_and_fix(offline, magic, count):
    raw = _fake_raw(offline)
    target = raw / "train-images-idx3-ubyte"
    _write_idx(target, magic, count, 16 + 60000 * 784)  # right size, wrong header
    with pytest.raises(DataError) as info:
        data.load_mnist("train")
    assert str(target) in str(info.value) and "Fix: delete it" in str(info.value)


def test_damaged_fashion_raw_file(offline):
    raw = _fake_raw(offline, "FashionMNIST")
    target = raw / "train-labels-idx1-ubyte"
    with open(target, "ab") as fh:
        fh.write(b"extra")
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*Fix"):
        data.load_fashion_mnist("train")


def test_fashion_without_any_source_says_how_to_install(offline, monkeypatch, tmp_path):
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-such-dir")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist("test")


def _gz(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload))


@pytest.mark.parametrize("damage", ["short", "truncated_gz", "corrupted_gz", "missing"])
def test_unpack_debian_bad_source_raises_and_leaves_nothing(tmp_path, damage):
    src, raw = tmp_path / "src", tmp_path / "raw"
    name = "train-images-idx3-ubyte.gz"
    src.mkdir()
    if damage == "short":
        _gz(src / name, b"\0" * 1000)
    elif damage == "truncated_gz":
        _gz(src / name, os.urandom(200_000))
        blob = (src / name).read_bytes()
        (src / name).write_bytes(blob[: len(blob) // 2])
    elif damage == "corrupted_gz":
        _gz(src / name, b"\0" * 200_000)
        blob = bytearray((src / name).read_bytes())
        for i in range(20, len(blob) - 8):
            blob[i] ^= 0x5A
        (src / name).write_bytes(bytes(blob))
    with pytest.raises(DataError) as info:
        data.unpack_debian_fashion_mnist(raw, source=src)
    assert name in str(info.value) and "reinstall dataset-fashion-mnist" in str(info.value)
    assert _part_files(raw) == []
    assert not (raw / "train-images-idx3-ubyte").exists()


# --- real data through torchvision (Debian's Fashion-MNIST) -----------------------------

@pytest.fixture(scope="module")
def fashion_root(tmp_path_factory):
    if not HAS_DEBIAN_FASHION:
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({data.DEBIAN_FASHION_DIR})")
    return tmp_path_factory.mktemp("fashion")


@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_fashion_from_debian_package(fashion_root, monkeypatch, split, n):
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    images, labels = data.load_fashion_mnist(split, root=fashion_root)
    _check_images(images, labels, n)
    assert torch.bincount(labels).tolist() == [n // 10] * 10  # Fashion-MNIST is balanced
    raw = fashion_root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(data._RAW_FILES)  # decompressed, no .gz
    assert _part_files(fashion_root) == []


def test_mnist_loads_full_raw_files(fashion_root, monkeypatch, tmp_path):
    """Full MNIST on disk is used (no fallback, no warning); Fashion's IDX files stand in for it."""
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    monkeypatch.setattr(data, "_warned", set())
    data.load_fashion_mnist("test", root=fashion_root)  # make sure it is unpacked
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data._RAW_FILES:
        os.symlink(fashion_root / "FashionMNIST" / "raw" / name, raw / name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, labels = data.load_mnist("test", root=tmp_path)
    _check_images(images, labels, 10000)
    assert data.mnist_is_subset(tmp_path) is False


# --- toy data, noise, splits ------------------------------------------------------------

def test_curved_manifold_seeded():
    a = data.curved_manifold(300, 0.05, seed=1)
    assert a.shape == (300, 2) and a.dtype == torch.float32
    assert torch.equal(a, data.curved_manifold(300, 0.05, seed=1))
    assert not torch.equal(a, data.curved_manifold(300, 0.05, seed=2))
    x, y = a[:, 0], a[:, 1]
    assert x.min() >= -1 and x.max() <= 1
    resid = y - x**2
    assert abs(resid.std().item() - 0.05) < 0.01 and abs(resid.mean().item()) < 0.02
    clean = data.curved_manifold(50, 0.0, seed=3)
    assert torch.allclose(clean[:, 1], clean[:, 0] ** 2)


def test_curved_manifold_does_not_touch_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    data.curved_manifold(10, seed=5)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kwargs", [{"n": 1}, {"n": 0}, {"n": 2.5}, {"noise": -0.1}])
def test_curved_manifold_bad_args(kwargs):
    with pytest.raises(ValueError):
        data.curved_manifold(**kwargs)


@pytest.fixture
def images():
    return torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("kind", ["gaussian", "masking", "salt_pepper"])
def test_add_noise_kinds(images, kind):
    before = images.clone()
    g = torch.Generator().manual_seed(0)
    noisy = data.add_noise(images, kind, 0.3, generator=g)
    assert noisy.shape == images.shape and noisy.dtype == images.dtype
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert torch.equal(images, before)  # input untouched
    assert not torch.equal(noisy, images)
    again = data.add_noise(images, kind, 0.3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)
    assert torch.equal(data.add_noise(images, kind, 0.0), images)
    changed = (noisy != images).float().mean().item()
    if kind == "masking":
        assert 0.25 < changed < 0.35 and (noisy[noisy != images] == 0).all()
    if kind == "salt_pepper":
        assert 0.25 < changed < 0.35 and ((noisy[noisy != images] == 0) | (noisy[noisy != images] == 1)).all()


def test_add_noise_gaussian_level_is_std():
    x = torch.full((20000,), 0.5)
    noisy = data.add_noise(x, "gaussian", 0.1, generator=torch.Generator().manual_seed(0))
    assert abs((noisy - x).std().item() - 0.1) < 0.005


@pytest.mark.parametrize("kind, level", [("poisson", 0.3), ("gaussian", -0.1), ("masking", 1.5),
                                         ("salt_pepper", float("nan"))])
def test_add_noise_bad_args(images, kind, level):
    with pytest.raises(ValueError):
        data.add_noise(images, kind, level)


def test_train_val_split():
    x = torch.arange(200, dtype=torch.float32).reshape(200, 1)
    y = torch.arange(200) % 4
    (xt, yt), (xv, yv) = data.train_val_split(x, y, 40, seed=0)
    assert len(xt) == 160 and len(xv) == 40
    assert torch.bincount(yv).tolist() == [10] * 4  # stratified
    assert torch.equal(x[xt[:, 0].long(), 0], xt[:, 0]) and torch.equal(y[xt[:, 0].long()], yt)  # pairs kept
    assert set(xt[:, 0].tolist()).isdisjoint(xv[:, 0].tolist())
    assert sorted(xt[:, 0].tolist() + xv[:, 0].tolist()) == x[:, 0].tolist()
    (xt2, _), (xv2, _) = data.train_val_split(x, y, 40, seed=0)
    assert torch.equal(xv, xv2)
    (_, _), (xv3, _) = data.train_val_split(x, y, 40, seed=1)
    assert not torch.equal(xv, xv3)


@pytest.mark.parametrize("val_size", [0, 200, -5])
def test_train_val_split_bad_size(val_size):
    x, y = torch.zeros(200, 1), torch.arange(200) % 4
    with pytest.raises(ValueError, match="val_size"):
        data.train_val_split(x, y, val_size)


def test_train_val_split_length_mismatch():
    with pytest.raises(ValueError, match="differ in length"):
        data.train_val_split(torch.zeros(10, 1), torch.zeros(9, dtype=torch.int64), 2)
