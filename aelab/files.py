"""Files written safely, once: every file aelab writes goes through :func:`atomic_write`.

A file is written to a hidden temporary name beside its destination and renamed over it, so a
reader sees the old file or the whole new one, never half of one, and a crash leaves at most a
hidden ``.<name>.<random>.part`` file, which :func:`clean_stale_temporaries` removes later.
Unlike :func:`tempfile.mkstemp` (owner-only ``0600``), the result gets the usual permissions of a
new file, ``0666`` minus the process's umask, so a web server running as another user can serve
``_build/`` and another user can read the model cache. :func:`check_file_name` refuses, before any
work is done, a name the filesystem would refuse after it (a NUL byte, a separator, too many bytes).

No lecture teaches this module; it is the package's plumbing (used by :mod:`aelab.zoo`, lecture 02's
model cache, and by the site build).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import _validation as check

__all__ = ["TEMP_SUFFIX", "atomic_write", "atomic_write_text", "atomic_write_bytes", "clean_stale_temporaries",
           "check_file_name", "name_max"]

#: Suffix of the temporary files :func:`atomic_write` creates (``.<name>.<random>.part``).
TEMP_SUFFIX = ".part"
#: Bytes a temporary name adds to its destination's: the leading dot, mkstemp's dot and 8 random characters, the suffix.
_TEMP_EXTRA = 1 + 1 + 8 + len(TEMP_SUFFIX)


def name_max(folder: str | Path) -> int:
    """The longest file name, in bytes, the filesystem of ``folder`` (or of its nearest existing parent) accepts.

    ``os.pathconf(..., "PC_NAME_MAX")`` where the platform has it, else 255 (ext4, APFS, NTFS).
    """
    folder = Path(folder).absolute()
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return 255


def check_file_name(name, what: str = "name", *, folder: str | Path | None = None, extra: int = 0) -> str:
    """Refuse, before any work is done, a file name the filesystem would refuse when writing.

    Parameters
    ----------
    name : str
        A plain file name (or prefix of one): no folder separator, not hidden (``.`` first).
    what : str
        The argument's name, used in the error message.
    folder : str or Path, optional
        Where the file will be written: its filesystem's name limit is used (default 255 bytes).
    extra : int
        Bytes the caller will add to ``name`` (e.g. ``"-<key>.pt"``); the temporary name of
        :func:`atomic_write` is counted too.

    Returns
    -------
    str
        ``name``.

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If it is empty, starts with ``.``, holds a NUL byte, a ``/`` or the platform's separator, cannot
        be encoded for the filesystem, or is too long (the message gives the limit in bytes).
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string (a plain file-name prefix), got {type(name).__name__}")
    extra = check.integer(extra, "extra", minimum=0)
    if not name or name.startswith("."):
        raise ValueError(f"{what} must be a plain file-name prefix (not empty, not starting with '.'), got {name!r}")
    bad = [c for c in ("\0", "/", os.sep, os.altsep) if c and c in name]
    if bad:
        shown = {"\0": "a NUL byte"}.get(bad[0], repr(bad[0]))
        raise ValueError(f"{what} must be a plain file-name prefix, without {shown}: got {name!r}")
    try:
        size = len(os.fsencode(name))
    except UnicodeError as exc:
        raise ValueError(f"{what} {name!r} cannot be written as a file name on this system ({exc})") from None
    limit = name_max(folder if folder is not None else ".") - extra - _TEMP_EXTRA
    if size > limit:
        raise ValueError(f"{what} is {size} bytes long; the file system allows at most {limit} here "
                         f"(file names are limited to {limit + extra + _TEMP_EXTRA} bytes): use a shorter name")
    return name


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read the umask is to set it
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[str], None], *, mode: int = 0o666) -> Path:
    """Create or replace ``path`` atomically: ``write(tmp_path)`` fills a temporary file, then it is renamed.

    Parameters
    ----------
    path : str or Path
        The destination; its parent folders are created.
    write : callable
        ``write(tmp_path: str) -> None`` writes the whole content to ``tmp_path`` (e.g.
        ``lambda p: torch.save(obj, p)``). If it raises, ``path`` is left as it was and the
        temporary file is removed.
    mode : int
        Permission bits before the umask is applied (default ``0o666``: readable by all users
        under the usual umask 022).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        If the folder cannot be created or written (read-only, a file in the way, ...).
    TypeError
        If ``write`` is not callable or ``mode`` not an integer.
    ValueError
        If ``mode`` is outside [0, 0o7777].
    Exception
        Whatever ``write`` raises.
    """
    if not callable(write):
        raise TypeError(f"write must be a function write(tmp_path), got {type(write).__name__}")
    mode = check.integer(mode, "mode", minimum=0, maximum=0o7777)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically with ordinary permissions (see :func:`atomic_write`)."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return atomic_write(path, write)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically with ordinary permissions (see :func:`atomic_write`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def clean_stale_temporaries(folder: str | Path, *, older_than: float = 3600.0) -> list[Path]:
    """Remove temporary files a killed :func:`atomic_write` left in ``folder`` (not recursive).

    Only hidden files named ``.<name>.<random>.part`` last modified more than ``older_than``
    seconds ago are removed, so a write in progress in another process is never touched.

    Returns
    -------
    list of Path
        The files removed. A folder that does not exist or cannot be listed gives ``[]``.

    Raises
    ------
    TypeError, ValueError
        If ``older_than`` is not a number >= 0.
    """
    older_than = check.real(older_than, "older_than", low=0.0, allow_inf=True)
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for p in entries:
        if not (p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            if p.is_file() and now - p.stat().st_mtime > older_than:
                p.unlink()
                removed.append(p)
        except OSError:
            pass
    return removed
