"""aelab.data.fashion_mnist: Debian's package unpacked (damaged sources refused, stale temporaries
removed), damaged raw files, unwritable data roots, and the real data where installed."""

import gzip
import os
import re
import stat
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from _data_files import check_images, fake_labels, full_raw, header, offline, part_files, umask, write_labels
from torchvision.datasets import FashionMNIST

from aelab import data
from aelab.data import DataError, fashion_mnist
from aelab.data._idx import _RAW_FILES

__all__ = ["offline"]  # the fixture, imported

HAS_DEBIAN_FASHION = (data.DEBIAN_FASHION_DIR / "train-images-idx3-ubyte.gz").exists()


def _append(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"extra")


@pytest.fixture(scope="module")
def fake_debian(tmp_path_factory):
    """A folder shaped like Debian's dataset-fashion-mnist: the four IDX files, gzipped."""
    src = tmp_path_factory.mktemp("fake-debian")
    for prefix, n in (("train", 60000), ("t10k", 10000)):
        pixels = bytearray(n * 784)
        pixels[3 * 784 + 5 * 28 + 7] = 255
        (src / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(header(2051, n, 28, 28) + bytes(pixels), compresslevel=1))
        (src / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(header(2049, n) + fake_labels(n).astype(np.uint8).tobytes(), compresslevel=1))
    return src


def test_damaged_fashion_raw_file(offline):
    raw = full_raw(offline, "FashionMNIST")
    target = raw / "train-labels-idx1-ubyte"
    _append(target)
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*Fix: delete it.*dataset-fashion-mnist"):
        data.load_fashion_mnist("train")


def test_damaged_fashion_file_then_deleted_is_unpacked_again(offline, monkeypatch, fake_debian):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FASHION_DIR", fake_debian)
    raw = full_raw(offline, "FashionMNIST")
    target = raw / "train-labels-idx1-ubyte"
    write_labels(target, np.full(60000, 200))
    with pytest.raises(DataError) as info:
        data.load_fashion_mnist("test")
    assert str(target) in str(info.value) and "label 200 at index 0" in str(info.value)
    target.unlink()
    images, labels = data.load_fashion_mnist("train")
    check_images(images, labels, 60000)
    assert target.read_bytes() == gzip.decompress((fake_debian / f"{target.name}.gz").read_bytes())
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask()
    assert part_files(raw) == []


def test_fashion_without_any_source_says_how_to_install(offline, monkeypatch, tmp_path):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FASHION_DIR", tmp_path / "no-such-dir")
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
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FASHION_DIR", fake_debian)
    root, blocker = make_root(tmp_path)
    monkeypatch.setenv("AELAB_DATA", str(root))
    with pytest.raises(DataError) as info:  # not a bare NotADirectoryError / FileExistsError
        data.load_fashion_mnist("train")
    msg = str(info.value)
    assert f"{blocker} is a file, not a folder" in msg
    assert "Fix: set AELAB_DATA to a writable folder" in msg
    assert not isinstance(info.value, OSError)


def test_fashion_with_a_read_only_root_names_the_fix(offline, monkeypatch, tmp_path, fake_debian):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FASHION_DIR", fake_debian)
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

    monkeypatch.setattr(fashion_mnist, "atomic_write", full_disk)
    with pytest.raises(DataError, match=rf"{re.escape(str(raw))}: No space left on device\. Fix: free"):
        data.unpack_debian_fashion_mnist(raw, source=fake_debian)


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
        _gz(src / name, b"\0" * (_RAW_FILES["train-images-idx3-ubyte"] + 5))
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
    assert part_files(raw) == []
    assert not (raw / "train-images-idx3-ubyte").exists()


def test_unpack_removes_stale_temporaries_and_keeps_sound_files(tmp_path, fake_debian):
    raw = tmp_path / "raw"
    raw.mkdir()
    stale = raw / ".train-images-idx3-ubyte.abc123.part"  # what a killed unpack leaves
    stale.write_bytes(b"\0" * 100)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    kept = raw / "t10k-labels-idx1-ubyte"
    kept.write_bytes(b"\1" * _RAW_FILES[kept.name])  # right size: kept as it is
    data.unpack_debian_fashion_mnist(raw, source=fake_debian)
    assert not stale.exists()
    assert kept.read_bytes() == b"\1" * _RAW_FILES[kept.name]
    assert sorted(p.name for p in raw.iterdir()) == sorted(_RAW_FILES)


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
    check_images(images, labels, n)
    assert torch.bincount(labels).tolist() == [n // 10] * 10  # Fashion-MNIST is balanced
    raw = fashion_root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(_RAW_FILES)  # decompressed, no .gz
    assert part_files(fashion_root) == []
    for p in raw.iterdir():  # readable by others (atomic_write), not mkstemp's owner-only 0600
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask()


def test_fashion_matches_torchvision_reader(fashion_root, monkeypatch):
    """The loaders' own IDX reader gives exactly what torchvision's FashionMNIST reads."""
    monkeypatch.setenv("AELAB_OFFLINE", "1")
    images, labels = data.load_fashion_mnist("test", root=fashion_root)
    ds = FashionMNIST(str(fashion_root), train=False, download=False)
    assert torch.equal(images, ds.data.unsqueeze(1).to(torch.float32) / 255.0)
    assert torch.equal(labels, ds.targets.to(torch.int64))

