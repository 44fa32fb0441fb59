"""aelab.files: atomic writes with ordinary permissions, and cleaning what a killed write left."""

import os
import stat
import time

import numpy as np
import pytest

from aelab import files


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_write_text_gives_ordinary_permissions(tmp_path, umask022):
    path = files.atomic_write_text(tmp_path / "sub" / "index.html", "<p>hi</p>")
    assert path.read_text(encoding="utf-8") == "<p>hi</p>"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o644, oct(mode)  # readable by a web server running as another user
    assert mode & stat.S_IROTH


def test_atomic_write_respects_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        path = files.atomic_write_bytes(tmp_path / "private.bin", b"\x00\x01")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == b"\x00\x01"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = files.atomic_write_text(tmp_path / "report.json", "old")

    def broken(tmp):
        with open(tmp, "w") as fh:
            fh.write("half of the new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        files.atomic_write(path, broken)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


def test_replacing_a_file_keeps_ordinary_permissions(tmp_path, umask022):
    path = tmp_path / "a.txt"
    files.atomic_write_text(path, "one")
    files.atomic_write_text(path, "two")
    assert path.read_text() == "two" and stat.S_IMODE(path.stat().st_mode) == 0o644


def test_clean_stale_temporaries_removes_only_old_part_files(tmp_path):
    old_part = tmp_path / ".model.pt.abc123.part"
    new_part = tmp_path / ".model.pt.def456.part"
    keep = [tmp_path / "model.pt", tmp_path / "notes.part", tmp_path / ".hidden"]
    for p in [old_part, new_part, *keep]:
        p.write_bytes(b"x")
    long_ago = time.time() - 7200
    os.utime(old_part, (long_ago, long_ago))
    os.utime(keep[1], (long_ago, long_ago))  # not hidden: not ours
    removed = files.clean_stale_temporaries(tmp_path)
    assert removed == [old_part]
    assert not old_part.exists() and new_part.exists() and all(p.exists() for p in keep)


def test_clean_stale_temporaries_on_a_missing_folder(tmp_path):
    assert files.clean_stale_temporaries(tmp_path / "nope") == []


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(TypeError, match="write must be a function"):
        files.atomic_write(tmp_path / "a", "text")
    with pytest.raises(TypeError, match="mode must be an integer"):
        files.atomic_write(tmp_path / "a", lambda p: None, mode=6.0)
    with pytest.raises(ValueError, match="mode must be between 0 and 4095"):
        files.atomic_write(tmp_path / "a", lambda p: None, mode=-1)
    with pytest.raises(ValueError, match="older_than"):
        files.clean_stale_temporaries(tmp_path, older_than=-1)
    assert files.clean_stale_temporaries(tmp_path, older_than=np.float32(10)) == []


@pytest.mark.parametrize("name, exc, match", [
    ("a\0b", ValueError, "NUL byte"), ("a/b", ValueError, "'/'"), (".hidden", ValueError, "starting with"),
    ("", ValueError, "not empty"), (3, TypeError, "string"), ("x" * 250, ValueError, "bytes long"),
    ("\ud800", ValueError, "cannot be written"),
])
def test_check_file_name_refuses_what_the_filesystem_would(tmp_path, name, exc, match):
    with pytest.raises(exc, match=match):
        files.check_file_name(name, folder=tmp_path)


def test_check_file_name_counts_the_temporary_and_the_callers_suffix(tmp_path):
    limit = files.name_max(tmp_path)
    longest = "n" * (limit - 10 - len(".") - len(".12345678") - len(".part"))  # the temporary: .<name>.<8>.part
    assert files.check_file_name(longest, folder=tmp_path, extra=10) == longest
    files.atomic_write_text(tmp_path / (longest + "0123456789"), "fits")  # really writable
    with pytest.raises(ValueError, match="bytes long"):
        files.check_file_name(longest + "n", folder=tmp_path, extra=10)
    assert files.name_max(tmp_path / "not" / "yet") == limit  # the nearest existing folder's limit
