"""``aelab build``: execute the course's notebooks and publish them as a static HTML site.

Every notebook under ``lectures/`` and ``solutions/`` is executed with nbclient (a fresh kernel
each), then the executed notebooks are published as one Sphinx + MyST-NB site in ``_build/`` by
:mod:`aelab.tools.site` (pages that need no network: MathJax from the site, widgets as static
snapshots; the index, Reproductions and Build report pages from :mod:`aelab.tools.site_pages`).
``_build/report.json`` holds every result: status, run time, the kernel's peak memory and CPU time,
the claims each notebook checked (held / failed / skipped) and the numbers it recorded. While the
build runs, and if a full disk stops it, ``_build/index.html`` is a plain page from the Jinja2
template ``templates/index.html.j2`` (what is queued, or the report so far).

Reliability rules the build keeps:

- The kernel's settings (``AELAB_REPORT_FILE``, ``AELAB_QUICK``) are passed in the kernel's own
  environment (``start_kernel(env=...)``); the parent's ``os.environ`` is never changed.
- One Ctrl-C (SIGINT) or SIGTERM stops the whole build: the running kernel is shut down, the
  report says ``"interrupted": true`` and names the signal, and the notebooks not yet run are
  listed under ``"not_run"``. Later signals during that short clean-up are ignored.
- A cell that runs past ``timeout`` is reported as a timeout naming the cell and the limit.
- Errors in ``report.json`` are plain text (ANSI colour codes removed).
- One notebook's failure is that notebook's: a cell error, a dead kernel, junk in the report file
  (a JSON list, invalid UTF-8, entries that are not aelab's) or a page that cannot be rendered
  fails that notebook and the build goes on. A full disk (``ENOSPC``/``EDQUOT``) ends the build
  with one line naming the folder; the index and ``report.json`` say so (written into space a
  small reserve file held back for them).
- One build at a time per output folder: ``OUT/.aelab-build.lock`` holds the builder's PID under
  an exclusive ``flock``; a second build into the same folder stops at once naming that PID.
- Nothing is read or written outside its place: every ``--dirs`` folder and every notebook
  (symbolic links resolved) must lie inside the course root, and every page inside ``--out``;
  anything else stops the build before it starts, in one line.
- ``seed`` (``aelab build --seed N``) is passed to every kernel as ``AELAB_SEED=N``, so that the
  course's claims can be re-run under other seeds (``scripts/seed_sweep.py``).
- Before any notebook runs, the old ``report.json`` is removed and ``index.html`` says "build in
  progress", so a stale "all ok" page never sits beside new pages; the final index is written at
  the end. Every file is written atomically with ordinary permissions (:mod:`aelab.files`).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..files import atomic_write_text, clean_stale_temporaries
from ..report import REPORT_ENV
from ..runtime import QUICK_ENV
from . import site

__all__ = ["NOTEBOOK_DIRS", "SEED_ENV", "LOCK_NAME", "BuildError", "BuildInterrupt", "DiskFull", "NotebookResult",
           "BuildReport", "find_notebooks", "resolve_inputs", "read_kernel_report", "execute_notebook",
           "render_index", "build", "strip_ansi", "REFERENCE_GFLOPS", "machine_speed"]

NOTEBOOK_DIRS = ("lectures", "solutions")
#: The kernel's seed override (``aelab build --seed N`` sets it in each kernel's environment).
SEED_ENV = "AELAB_SEED"
#: The lock file a build holds in its output folder (its PID inside, an exclusive ``flock`` on it).
LOCK_NAME = ".aelab-build.lock"
#: Bytes held back in ``OUT/.aelab-reserve`` while a build runs, freed to write the final index on a full disk.
RESERVE_BYTES = 1 << 20
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
CLAIM_STATUSES = ("held", "failed", "skipped")
TEMPLATE_DIR = Path(__file__).with_name("templates")
INDEX_TEMPLATE = "index.html.j2"

#: Two quiet cores of the course's reference machine multiply 2048 x 2048 float32 matrices at about
#: this rate (benchmarks/RESULTS.md: 181-204 GFLOP/s). A notebook's ``reference_seconds`` is its
#: wall time scaled by the speed :func:`machine_speed` measured around it: shared machines slow down
#: by up to 3x within an hour, and the 4-minute budget is judged at the reference speed.
REFERENCE_GFLOPS = 200.0

# CSI sequences (colours, cursor moves: ESC [ ... final byte) and two-byte escapes (ESC + one char)
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


class BuildError(ValueError):
    """The build cannot start: no notebooks, an ``out`` that is a file or not writable, a bad timeout."""


class DiskFull(OSError):
    """The disk (or quota) holding the site folder is full: the build cannot go on.

    Attributes
    ----------
    folder : Path
        The folder that could not be written.
    """

    def __init__(self, folder: Path, exc: OSError | None = None):
        self.folder = Path(folder)
        #: what the index and ``report.json`` say stopped the build
        self.short = f"a full disk ({self.folder})"
        why = (exc.strerror if exc is not None and exc.strerror else "No space left on device")
        super().__init__(errno.ENOSPC, f"{why}: the disk holding {self.folder} is full; free space there "
                                       "or pass another --out, then build again")


def _is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, DiskFull) or (isinstance(exc, OSError) and exc.errno in _DISK_FULL)


class BuildInterrupt(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM arrived during a build.

    Attributes
    ----------
    signum : int
        The signal's number (``signal.SIGINT`` or ``signal.SIGTERM``).
    result : NotebookResult or None
        The interrupted notebook's result, once its kernel has been shut down.
    """

    def __init__(self, signum: int, result: NotebookResult | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)
        self.result = result


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (the colour codes in IPython's tracebacks)."""
    return _ANSI.sub("", text)


@dataclass
class NotebookResult:
    """What happened to one notebook.

    ``status`` is ``"ok"``, ``"failed"`` (a cell raised, the kernel died or never started),
    ``"timeout"`` (a cell ran past the limit) or ``"interrupted"`` (SIGINT/SIGTERM).
    ``failed_cell`` is the index of the cell in the notebook's list of cells (0-based, as
    nbformat counts, markdown cells included) and ``failed_cell_source`` its first line.
    ``peak_rss_mb`` is the kernel's peak resident memory in MiB (Linux's ``VmHWM``; elsewhere the
    resident memory at the end) and ``cpu_seconds`` the CPU time of the kernel and its children
    (user + system), both measured just before the kernel shuts down: what one student's
    notebook costs a shared hub. ``machine_gflops`` is :func:`machine_speed` measured just
    before and just after the notebook (their mean), and :attr:`reference_seconds` the run time
    scaled to :data:`REFERENCE_GFLOPS`.
    """

    path: str
    status: str = "ok"
    seconds: float = 0.0
    error: str = ""
    failed_cell: int | None = None
    failed_cell_source: str = ""
    claims: list[dict] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    html: str = ""
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None
    machine_gflops: float | None = None

    @property
    def reference_seconds(self) -> float | None:
        """The run time at the reference speed (``seconds * machine_gflops / REFERENCE_GFLOPS``), or ``None``."""
        if not self.machine_gflops:
            return None
        return self.seconds * self.machine_gflops / REFERENCE_GFLOPS

    @property
    def where(self) -> str:
        """``" at cell 2 (`raise RuntimeError(...)`)"``, or ``""`` when no cell is to blame."""
        if self.failed_cell is None:
            return ""
        src = f" (`{self.failed_cell_source}`)" if self.failed_cell_source else ""
        return f" at cell {self.failed_cell}{src}"

    def claim_counts(self) -> dict[str, int]:
        """``{"held": n, "failed": n, "skipped": n}`` for this notebook's claims."""
        return {s: sum(c.get("status") == s for c in self.claims) for s in CLAIM_STATUSES}


@dataclass
class BuildReport:
    """The whole build: one :class:`NotebookResult` per notebook run, and how the build ended.

    ``interrupted`` is the signal's name (``"SIGINT"``, ``"SIGTERM"``) when the build was
    stopped, else ``None``; ``not_run`` lists the notebooks (relative paths) it never started.
    ``stopped`` says why the build ended early for another reason (a full disk), else ``None``;
    ``seed`` is the ``AELAB_SEED`` the kernels got (``None``: the notebooks' own seeds).
    """

    notebooks: list[NotebookResult]
    quick: bool
    timeout: int
    seconds: float = 0.0
    interrupted: str | None = None
    not_run: list[str] = field(default_factory=list)
    stopped: str | None = None
    seed: int | None = None

    @property
    def claims(self) -> dict[str, int]:
        """Claim counts over all notebooks: ``{"held": n, "failed": n, "skipped": n}``."""
        return {s: sum(r.claim_counts()[s] for r in self.notebooks) for s in CLAIM_STATUSES}

    @property
    def exit_signal(self) -> int | None:
        """The number of the signal that stopped the build (for the exit status 128 + n), or ``None``."""
        return int(signal.Signals[self.interrupted]) if self.interrupted else None

    def to_json(self) -> dict:
        """The content of ``report.json``."""
        return {
            "quick": self.quick,
            "seconds": self.seconds,
            "timeout": self.timeout,
            "interrupted": self.interrupted is not None,
            "signal": self.interrupted,
            "stopped": self.stopped,
            "seed": self.seed,
            "not_run": list(self.not_run),
            "notebooks": [{**asdict(r), "reference_seconds": r.reference_seconds} for r in self.notebooks],
            "claims": self.claims,
        }


def find_notebooks(root: Path, dirs=NOTEBOOK_DIRS) -> list[Path]:
    """All ``*.ipynb`` under ``root/<dir>`` for each dir, sorted, skipping checkpoints."""
    found: list[Path] = []
    for d in dirs:
        found += sorted(p for p in (Path(root) / d).glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return found


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def resolve_inputs(root: Path, dirs=NOTEBOOK_DIRS) -> list[tuple[Path, str]]:
    """The notebooks a build runs, each checked to lie inside the course root.

    Parameters
    ----------
    root : Path
        The course root (resolved: no symbolic links in it).
    dirs : sequence of str
        Folders under ``root`` (relative, or absolute inside ``root``).

    Returns
    -------
    list of (Path, str)
        Each notebook's path and its path relative to ``root`` (POSIX), in ``dirs`` order, sorted
        within a folder, checkpoints skipped.

    Raises
    ------
    BuildError
        One line naming the first folder outside ``root`` (``--dirs ../elsewhere``, or a folder
        that is a link leading out of it) or notebook that is a link to a file outside ``root``
        or not a regular file (a FIFO would block the build).
    """
    root = Path(root)
    found: list[tuple[Path, str]] = []
    for d in dirs:
        folder = (root / d).resolve()
        if not _inside(folder, root):
            raise BuildError(f"--dirs {d} is {folder}, outside the course root {root}; "
                             "name folders inside the root (or pass another --root)")
        for path in sorted(folder.glob("*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            rel = path.relative_to(root).as_posix()
            target = path.resolve()
            if not _inside(target, root):
                raise BuildError(f"{rel} is a link to {target}, outside the course root {root}; the build publishes "
                                 "only files inside it: replace the link by the notebook itself")
            if not target.is_file():
                raise BuildError(f"{rel} is not a regular file; replace it by a notebook or remove it")
            found.append((path, rel))
    return found


def _check_outputs(out: Path, rels: list[str]) -> None:
    """Every page ``out/<rel>.html`` must stay inside ``out`` (a folder in ``out`` may be a link elsewhere)."""
    for rel in rels:
        folder = (out / rel).parent.resolve()
        if not _inside(folder, out):
            raise BuildError(f"the pages of {Path(rel).parent.as_posix()}/ would be written to {folder}, outside --out "
                             f"{out} (a link in the way?); remove the link or pass another --out")


@contextmanager
def _locked(out: Path) -> Iterator[Path]:
    """Hold ``out/.aelab-build.lock`` (this process's PID inside) for the whole build.

    On POSIX an exclusive ``flock``, which the kernel releases when the process dies, so a
    killed build never leaves a lock that blocks the next one; elsewhere the file is created
    exclusively and a lock whose PID is no longer running is taken over.

    Raises
    ------
    BuildError
        If another build holds the lock (naming its PID), or ``out`` cannot be written.
    """
    path = out / LOCK_NAME
    try:
        import fcntl
    except ImportError:  # Windows
        fcntl = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        while True:
            if fcntl is None:
                try:
                    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
                    break
                except FileExistsError:
                    holder = _lock_holder(path)
                    if holder is not None and _pid_alive(holder):
                        raise _locked_error(out, holder) from None
                    path.unlink(missing_ok=True)
                    continue
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise _locked_error(out, _lock_holder(path)) from None
            try:  # the build that held it may have removed the file just before we locked it: retry
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as exc:
        raise BuildError(f"cannot write the site to {out} ({exc.strerror or exc}); pass a writable folder "
                         "with --out") from None
    try:
        yield path
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)


def _lock_holder(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        import psutil

        return psutil.pid_exists(pid)
    except ImportError:
        return True


def _locked_error(out: Path, pid: int | None) -> BuildError:
    who = f"PID {pid}" if pid is not None else "another process"
    return BuildError(f"another aelab build ({who}) is writing to {out}; wait for it to end or pass another --out")


@contextmanager
def _reserve(out: Path) -> Iterator[Path]:
    """Hold :data:`RESERVE_BYTES` of disk in ``out`` while the build runs, so that the final index
    can still be written when the disk fills up (removed before the index is written)."""
    path = out / ".aelab-reserve"
    try:
        with open(path, "wb") as fh:
            fh.write(bytes(RESERVE_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        if _is_disk_full(exc):
            raise BuildError(str(DiskFull(out, exc))) from None
        raise BuildError(f"cannot write the site to {out} ({exc.strerror or exc}); pass a writable folder "
                         "with --out") from None
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- the kernel's report


def read_kernel_report(path: str | Path) -> tuple[list[dict], list[dict], str]:
    """Read the report file a notebook's kernel wrote, without trusting it.

    Parameters
    ----------
    path : path
        The JSON-lines file named by ``AELAB_REPORT_FILE`` in the kernel.

    Returns
    -------
    claims, records : list of dict
        The well-formed entries: claims with a ``text`` and a ``status`` in
        ``("held", "failed", "skipped")``, records with a ``name`` and a ``value``.
    problem : str
        ``""``, or one sentence saying what else the file held (lines that are not JSON objects,
        invalid UTF-8, entries that are not aelab's): the notebook wrote into the report file
        itself. A last line cut short (a kernel killed mid-write) is not a problem.
    """
    claims: list[dict] = []
    records: list[dict] = []
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return claims, records, ""
    except OSError as exc:
        return claims, records, f"its report file could not be read ({exc.strerror or exc})"
    bad: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad.append(f"invalid UTF-8 at byte {exc.start}")
        text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            if no == len(lines) and not text.endswith("\n"):
                continue  # the last line cut short by a killed kernel
            bad.append(f"line {no} is not JSON")
            continue
        kind = entry.get("kind") if isinstance(entry, dict) else None
        if kind == "claim" and isinstance(entry.get("text"), str) and entry.get("status") in CLAIM_STATUSES:
            claims.append(entry)
        elif kind == "record" and isinstance(entry.get("name"), str) and "value" in entry:
            records.append(entry)
        else:
            what = f"a JSON {type(entry).__name__}" if not isinstance(entry, dict) else "not an aelab claim or record"
            bad.append(f"line {no} is {what}")
    if not bad:
        return claims, records, ""
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    return claims, records, (f"the notebook wrote into its report file ({REPORT_ENV}) what aelab.claim and "
                             f"aelab.record do not: {'; '.join(bad[:3])}{more}")


# --------------------------------------------------------------------------- signals


class _Signals:
    """During a build, the first SIGINT or SIGTERM raises :class:`BuildInterrupt`; later ones are ignored.

    Ignoring the later ones lets the build shut its kernel down and write the report after the
    first. A signal ignored when the build starts (``nohup``, a background job) stays ignored.
    Only the main thread can install handlers; elsewhere this does nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._finishing = False
        self._previous: dict[int, object] = {}

    def _handler(self, signum, frame) -> None:
        if self.received is None and not self._finishing:
            self.received = signum
            raise BuildInterrupt(signum)

    def finishing(self) -> None:
        """From now on signals are ignored: the build is writing its report and is about to end."""
        self._finishing = True

    @contextmanager
    def installed(self) -> Iterator[_Signals]:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                old = signal.getsignal(sig)
                if old is signal.SIG_IGN:
                    continue
                self._previous[sig] = signal.SIG_DFL if old is None else old
                signal.signal(sig, self._handler)
        try:
            yield self
        finally:
            for sig, old in self._previous.items():
                signal.signal(sig, old)
            self._previous.clear()


def _signal_of(exc: KeyboardInterrupt) -> int:
    return exc.signum if isinstance(exc, BuildInterrupt) else int(signal.SIGINT)


# --------------------------------------------------------------------------- one notebook


@dataclass
class _Running:
    """Where an execution is: the cell being run and the kernel's process group."""

    cell: int | None = None
    pgid: int | None = None
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None


def machine_speed(n: int = 2048, repeats: int = 2) -> float | None:
    """How fast this machine is right now: GFLOP/s of an ``n`` x ``n`` float32 matrix product.

    Runs on torch's threads (the notebooks' own setting), best of ``repeats`` after one warm-up
    product; about half a second on two quiet cores. Used to put run times measured on a shared,
    noisy machine on one scale (:data:`REFERENCE_GFLOPS`). Returns ``None`` if torch is missing
    or the product fails (e.g. out of memory): the run times are then reported unscaled.
    """
    try:
        import torch

        a = torch.rand(n, n, generator=torch.Generator().manual_seed(0))
        a @ a
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            a @ a
            best = min(best, time.perf_counter() - start)
        return 2 * n ** 3 / best / 1e9
    except Exception:  # no torch, no memory: the figure stays unknown
        return None


def _measure_kernel(running: _Running) -> None:
    """Record the kernel process's peak memory and CPU time in ``running`` (best effort)."""
    if not running.pgid:
        return
    try:
        import psutil

        proc = psutil.Process(running.pgid)
        t = proc.cpu_times()
        running.cpu_seconds = float(t.user + t.system + getattr(t, "children_user", 0.0)
                                    + getattr(t, "children_system", 0.0))
        peak = None
        status = Path(f"/proc/{running.pgid}/status")
        if status.exists():
            match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status.read_text(), re.M)
            peak = int(match.group(1)) * 1024 if match else None
        running.peak_rss_mb = (peak if peak is not None else proc.memory_info().rss) / 2**20
    except Exception:  # psutil missing, the process already gone: the figures stay unknown
        pass


def _cancel_pending_tasks() -> None:
    """Cancel the tasks an interrupted nbclient call left in this thread's event loop."""
    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()
    if loop.is_running():
        return
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _run_cells(client, nb, env: dict, running: _Running) -> None:
    """Start a kernel with ``env``, run every cell in order, shut the kernel down.

    nbclient's ``execute()`` installs its own SIGINT/SIGTERM handlers in the event loop, which
    turn a Ctrl-C into a dead kernel and a failed notebook while the build goes on; this runs the
    same steps with nbclient's synchronous API, so that a signal raises in this thread.
    """
    client.reset_execution_trackers()
    with client.setup_kernel(env=env):  # shuts the kernel down on the way out, whatever happens
        provisioner = getattr(client.km, "provisioner", None)
        running.pgid = getattr(provisioner, "pgid", None) or getattr(provisioner, "pid", None)
        try:
            info = client.wait_for_reply(client.kc.kernel_info())
            if info is not None and "language_info" in info["content"]:
                nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(nb.cells):
                running.cell = index
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
            running.cell = None
            client.set_widgets_metadata()
            _measure_kernel(running)
        except BaseException as exc:
            _measure_kernel(running)
            from nbclient.exceptions import CellExecutionError

            if not isinstance(exc, CellExecutionError):  # a busy or broken kernel: do not wait for it
                client.shutdown_kernel = "immediate"
            if isinstance(exc, KeyboardInterrupt):
                _cancel_pending_tasks()
            raise


def _stop_kernel(client, running: _Running) -> None:
    """Make sure no kernel process (or a child of it) outlives a failed or interrupted notebook."""
    km = client.km
    if km is not None and getattr(km, "has_kernel", False):  # setup did not get to clean up
        from jupyter_core.utils import ensure_async, run_sync

        async def shutdown() -> None:
            await ensure_async(km.shutdown_kernel(now=True))

        try:
            run_sync(shutdown)()
        except Exception:  # already dead, or the loop is gone: the kill below is enough
            pass
    if running.pgid:
        try:  # the kernel runs in its own session: its process group holds it and its children
            os.killpg(running.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _first_line(source: str) -> str:
    line = next((ln.strip() for ln in strip_ansi(source).splitlines() if ln.strip()), "")
    return line if len(line) <= 80 else line[:77] + "..."


def _describe_failure(result: NotebookResult, exc: Exception, timeout: int) -> None:
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if isinstance(exc, CellTimeoutError):
        result.status = "timeout"
        result.error = f"timed out: still running after the {timeout} s limit per cell (raise it with --timeout)"
    elif isinstance(exc, CellExecutionError):
        result.status = "failed"
        result.error = f"{exc.ename}: {exc.evalue}" if exc.evalue else exc.ename
    elif isinstance(exc, DeadKernelError):
        result.status = "failed"
        result.error = "the kernel died (out of memory, or the process was killed)"
    else:  # a kernel that never started, a broken kernelspec, ...
        result.status = "failed"
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        result.error = f"{type(exc).__name__}: {lines[-1]}" if lines else type(exc).__name__
    result.error = strip_ansi(result.error).strip()


def execute_notebook(path: Path, root: Path, out: Path, *, quick: bool, timeout: int,
                     nav: dict | None = None, seed: int | None = None) -> NotebookResult:
    """Execute one notebook in a fresh kernel, write its HTML page, return its result.

    Parameters
    ----------
    path : Path
        The notebook, under ``root``.
    root, out : Path
        The course root and the site folder; the page goes to ``out/<path relative to root>.html``.
    quick : bool
        Run the kernel with ``AELAB_QUICK=1`` (else ``0``).
    timeout : int
        Seconds allowed per cell.
    nav : dict, optional
        This page's links (:func:`aelab.tools.site.page_nav`): index, previous, next.
    seed : int, optional
        Passed to the kernel as ``AELAB_SEED`` (default: not set, the notebooks' own seeds).

    Returns
    -------
    NotebookResult
        A cell error, a timeout, a dead kernel or an unreadable notebook is a result, not an
        exception.

    Raises
    ------
    BuildInterrupt
        On SIGINT/SIGTERM (or ``KeyboardInterrupt``), after the kernel was shut down and the
        page of what ran was written; ``.result`` holds the notebook's result.
    """
    import nbformat
    from nbclient import NotebookClient

    rel = path.relative_to(root).as_posix()
    result = NotebookResult(path=rel)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # not JSON, not a notebook: report it and go on with the others
        first = str(exc).splitlines()[0] if str(exc) else ""
        result.status = "failed"
        result.error = strip_ansi(f"{rel} is not a readable notebook ({type(exc).__name__}: {first}). "
                                  "Fix: restore it from git or re-save it in JupyterLab")
        return result
    try:
        fd, report_file = tempfile.mkstemp(prefix="aelab-report-", suffix=".jsonl")
    except OSError as exc:
        if _is_disk_full(exc):
            raise DiskFull(Path(tempfile.gettempdir()), exc) from None
        raise
    os.close(fd)
    # the kernel's settings go into its own environment; this process's os.environ is untouched
    env = {**os.environ, REPORT_ENV: report_file, QUICK_ENV: "1" if quick else "0"}
    if seed is not None:
        env[SEED_ENV] = str(seed)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    running = _Running()
    interrupt: BuildInterrupt | None = None
    start = time.perf_counter()
    try:
        try:
            _run_cells(client, nb, env, running)
        except Exception as exc:  # a cell error, a timeout, a dead kernel or a kernel that never started
            _describe_failure(result, exc, timeout)
    except KeyboardInterrupt as exc:
        interrupt = BuildInterrupt(_signal_of(exc), result)
        result.status = "interrupted"
        result.error = f"interrupted by {signal.Signals(interrupt.signum).name}; the build stopped here"
    finally:
        if result.status != "ok":
            _stop_kernel(client, running)
        result.seconds = time.perf_counter() - start
        result.peak_rss_mb, result.cpu_seconds = running.peak_rss_mb, running.cpu_seconds
        result.claims, result.records, junk = read_kernel_report(report_file)
        try:
            os.unlink(report_file)
        except OSError:
            pass
    if junk and result.status == "ok":
        result.status = "failed"
        result.error = junk
    if result.status != "ok" and running.cell is not None:
        result.failed_cell = running.cell
        result.failed_cell_source = _first_line(nb.cells[running.cell].get("source", ""))
    body = site.render_page(nb, rel, nav)
    html_rel = rel[:-len(".ipynb")] + ".html"
    atomic_write_text(out / html_rel, body)
    result.html = html_rel
    if interrupt is not None:
        raise interrupt
    return result


# --------------------------------------------------------------------------- the index page


@functools.lru_cache(maxsize=None)
def _template(name: str = INDEX_TEMPLATE):
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _fmt
    return env.get_template(name)


def _fmt(v) -> str:
    if v is None:
        return ""
    return f"{v:#.4g}" if isinstance(v, float) else str(v)


def _anchor(path: str) -> str:
    return "nb-" + re.sub(r"[^A-Za-z0-9_-]+", "-", path).strip("-")


def _mode(report: BuildReport) -> str:
    return ("quick mode (AELAB_QUICK=1: sizes shrunk; claims needing full training skipped)" if report.quick
            else "full mode")


def _course_rows(entries: list[site.CourseEntry], results: dict[str, NotebookResult]) -> list[dict]:
    """The course map: one row per number, its lecture and its lab (title, summary, link, status)."""
    rows: dict[str, dict] = {}
    for e in site.course_order(entries):
        r = results.get(e.rel)
        item = {"title": e.title, "summary": e.summary, "html": r.html if r and r.html else "",
                "status": r.status if r else "not run", "n_claims": len(r.claims) if r else 0,
                "counts": r.claim_counts() if r else {s: 0 for s in CLAIM_STATUSES}}
        row = rows.setdefault(e.number or e.rel, {"number": e.number, "lecture": None, "lab": None})
        row[e.kind] = row[e.kind] or item
    return list(rows.values())


def render_index(report: BuildReport, *, queued: list[str] | None = None,
                 entries: list[site.CourseEntry] | None = None) -> str:
    """The site's index page, rendered from ``templates/index.html.j2``.

    Parameters
    ----------
    report : BuildReport
        The build so far (or finished).
    queued : list of str, optional
        Given while the build runs: the notebooks about to run. The page then says "build in
        progress" and shows no results.
    entries : list of CourseEntry, optional
        Titles and summaries for the course map (:func:`aelab.tools.site.read_entry`); default:
        titles from the notebooks' file names (:func:`aelab.tools.site.entry_from_name`).

    Returns
    -------
    str
        A complete HTML document: the course map (each lecture and lab with its title, summary
        and status), then the build report (one row per notebook: status, run time, peak memory,
        CPU time, held / skipped / failed claims) and every claim grouped by notebook.
    """
    notebooks = []
    for r in report.notebooks:
        notebooks.append({"path": r.path, "html": r.html, "status": r.status, "seconds": r.seconds, "where": r.where,
                          "error": r.error, "counts": r.claim_counts(), "n_claims": len(r.claims),
                          "anchor": _anchor(r.path), "peak_rss_mb": r.peak_rss_mb, "cpu_seconds": r.cpu_seconds,
                          "reference_seconds": r.reference_seconds, "machine_gflops": r.machine_gflops})
    if entries is None:
        entries = [site.entry_from_name(r.path) for r in report.notebooks]
    course = _course_rows(entries, {r.path: r for r in report.notebooks})
    claims = [{"path": r.path, "anchor": _anchor(r.path), "claims": r.claims} for r in report.notebooks if r.claims]
    peaks = [r.peak_rss_mb for r in report.notebooks if r.peak_rss_mb is not None]
    return _template().render(
        in_progress=queued is not None, queued=list(queued or []), mode=_mode(report), seconds=report.seconds,
        timeout=report.timeout, interrupted=report.interrupted or report.stopped, not_run=list(report.not_run),
        counts=report.claims, notebooks=notebooks, claims=claims, course=course, peak_mb=max(peaks, default=None),
        reference_gflops=f"{REFERENCE_GFLOPS:.0f}",
    )


# --------------------------------------------------------------------------- the whole build


def _start_site(out: Path, report: BuildReport, rels: list[str]) -> None:
    """Remove the old report, say "build in progress" and copy MathJax before any notebook runs."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        for folder in {out} | {(out / rel).parent for rel in rels}:  # what killed builds left behind
            clean_stale_temporaries(folder)
        (out / "report.json").unlink(missing_ok=True)
        atomic_write_text(out / "index.html", render_index(report, queued=rels))
        site.install_mathjax(out)
    except site.SiteError as exc:
        raise BuildError(str(exc)) from None
    except OSError as exc:
        raise BuildError(f"cannot write the site to {out} ({exc.strerror or exc}); pass a writable folder "
                         "with --out") from None


def _finish_site(out: Path, report: BuildReport, entries: list[site.CourseEntry],
                 solutions: bool | None = None) -> None:
    atomic_write_text(out / "report.json", json.dumps(report.to_json(), indent=2))
    site.render_site(out, report.to_json(), entries, solutions=solutions)  # Sphinx + MyST-NB: pages, index, Reproductions, Build report


def build(root: str | Path, out: str | Path, *, quick: bool, timeout: int = 1800, dirs=NOTEBOOK_DIRS,
          progress: bool = True, seed: int | None = None, solutions: bool | None = None) -> BuildReport:
    """Execute every notebook, write ``out/index.html``, ``out/report.json`` and one HTML page per notebook.

    Parameters
    ----------
    root : path
        The course root holding ``dirs``.
    out : path
        The site folder (created if missing).
    quick : bool
        Run the kernels in quick mode (``AELAB_QUICK=1``).
    timeout : int
        Seconds allowed per cell (> 0).
    dirs : sequence of str
        Folders under ``root`` whose ``*.ipynb`` are executed, in this order.
    progress : bool
        Show a progress bar and one line per notebook on stderr.
    seed : int, optional
        Given to every kernel as ``AELAB_SEED`` (an integer >= 0); default: not set.
    solutions : bool, optional
        Publish the executed solutions (titled "Solution") beside the student labs; ``aelab build
        --solutions``. Default: the environment variable ``AELAB_SITE_SOLUTIONS`` decides (see
        :func:`aelab.tools.site.render_site`); without it the labs are published unexecuted.

    Returns
    -------
    BuildReport
        Every notebook's result; ``interrupted`` names the signal if SIGINT/SIGTERM stopped the
        build, ``stopped`` says so when the disk filled up (the report and index are written
        either way). The caller decides the exit status.

    Raises
    ------
    BuildError
        Before anything runs: if ``timeout`` is not a positive int, ``out`` is an existing file or
        cannot be written, another build holds ``out``'s lock, a ``dirs`` folder or a notebook
        (links resolved) lies outside ``root``, a page would land outside ``out``, or no notebook
        is found under ``root``'s ``dirs``. After the notebooks ran: if not even the index can be
        written on a full disk.
    TypeError, ValueError
        For a ``seed`` that is not an integer >= 0.
    """
    from tqdm.auto import tqdm

    from .._validation import seed as check_seed

    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise BuildError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if seed is not None:
        seed = check_seed(seed, "seed")
    root, out = Path(root).resolve(), Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out} is a file, not a folder; pass a folder (it is created if missing)")
    inputs = resolve_inputs(root, dirs)
    if not inputs:
        raise BuildError(f"no notebooks under {', '.join(str(root / d) for d in dirs)}")
    notebooks = [p for p, _ in inputs]
    rels = [rel for _, rel in inputs]
    _check_outputs(out, rels)
    entries = [site.read_entry(p, rel) for p, rel in zip(notebooks, rels)]
    nav = site.page_nav(site.course_order(entries))
    report = BuildReport([], quick=quick, timeout=timeout, seed=seed)
    with _locked(out), _reserve(out) as reserve:
        _start_site(out, report, rels)
        start = time.perf_counter()
        with _Signals().installed() as signals:
            bar = tqdm(notebooks, desc="aelab build", unit="notebook", disable=not progress, file=sys.stderr)
            try:
                speed = machine_speed()
                for path, rel in zip(bar, rels):
                    bar.set_postfix_str(rel)
                    r = _run_one(path, rel, root, out, quick=quick, timeout=timeout, nav=nav[rel], seed=seed)
                    after = machine_speed()
                    if speed is not None and after is not None:
                        r.machine_gflops = (speed + after) / 2
                    speed = after
                    report.notebooks.append(r)
                    if progress:
                        c = r.claim_counts()
                        where = "" if r.status == "ok" else f"{r.where}: {r.error}"
                        tqdm.write(f"{'✔' if r.status == 'ok' else '✘'} {rel}  {r.seconds:6.1f} s  claims held "
                                   f"{c['held']}/{len(r.claims)}, skipped {c['skipped']}{where}", file=sys.stderr)
            except KeyboardInterrupt as exc:
                report.interrupted = signal.Signals(_signal_of(exc)).name
                done = {r.path for r in report.notebooks}
                current = next((rel for rel in rels if rel not in done), None)
                if isinstance(exc, BuildInterrupt) and exc.result is not None:
                    report.notebooks.append(exc.result)
                elif current is not None:
                    report.notebooks.append(NotebookResult(path=current, status="interrupted",
                                                           error=f"interrupted by {report.interrupted}"))
                if progress:
                    last = report.notebooks[-1] if report.notebooks else None
                    at = f" in {last.path}{last.where}" if last else ""
                    tqdm.write(f"■ interrupted by {report.interrupted}{at}; kernel shut down, stopping the build",
                               file=sys.stderr)
            except DiskFull as exc:
                report.stopped = exc.short
                if progress:
                    tqdm.write(f"■ stopped by {exc.short}", file=sys.stderr)
            finally:
                bar.close()
            done = {r.path for r in report.notebooks}
            report.not_run = [rel for rel in rels if rel not in done]
            report.seconds = time.perf_counter() - start
            signals.finishing()
            reserve.unlink(missing_ok=True)  # its space is for the final index
            _finish_or_say_full(out, report, entries, solutions)
    return report


def _run_one(path: Path, rel: str, root: Path, out: Path, *, quick: bool, timeout: int, nav: dict,
             seed: int | None) -> NotebookResult:
    """:func:`execute_notebook`, with anything unexpected made this notebook's failure.

    Raises
    ------
    DiskFull
        When the disk is full: the build stops.
    BuildInterrupt
        On SIGINT/SIGTERM.
    """
    extra = {"seed": seed} if seed is not None else {}
    try:
        return execute_notebook(path, root, out, quick=quick, timeout=timeout, nav=nav, **extra)
    except (KeyboardInterrupt, DiskFull):
        raise
    except Exception as exc:  # e.g. a page that cannot be rendered or written: this notebook's failure
        if _is_disk_full(exc):
            raise DiskFull(out, exc) from exc
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        why = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        return NotebookResult(path=rel, status="failed", error=strip_ansi(f"its page could not be published ({why})"))


def _finish_or_say_full(out: Path, report: BuildReport, entries: list[site.CourseEntry],
                        solutions: bool | None = None) -> None:
    """Write the final site files; on a full disk, mark the build stopped and write at least the index."""
    try:
        _finish_site(out, report, entries, solutions)
        return
    except OSError as exc:
        if not _is_disk_full(exc):
            raise
        report.stopped = report.stopped or DiskFull(out, exc).short
    try:
        (out / "reproductions.html").unlink(missing_ok=True)
        atomic_write_text(out / "index.html", render_index(report, entries=entries))
    except OSError as exc:
        raise BuildError(str(DiskFull(out, exc))) from None
