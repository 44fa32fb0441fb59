"""Files written safely, once: every file aelab writes goes through :func:`atomic_write`.

A file is written to a hidden temporary name beside its destination and renamed over it, so a
reader sees the old file or the whole new one, never half of one, and a crash leaves at most a
hidden ``.<name>.<random>.part`` file, which :func:`clean_stale_temporaries` removes later.
Unlike :func:`tempfile.mkstemp` (owner-only ``0600``), the result gets the usual permissions of a
new file, ``0666`` minus the process's umask, so a web server running as another user can serve
``_build/`` and another user can read the model cache.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_bytes", "clean_stale_temporaries", "TEMP_SUFFIX"]

#: Suffix of the temporary files :func:`atomic_write` creates (``.<name>.<random>.part``).
TEMP_SUFFIX = ".part"


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
    Exception
        Whatever ``write`` raises.
    """
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
    """
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
