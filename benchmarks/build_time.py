"""Course build time: ``aelab build --quick`` and every notebook in full mode.

Runs ``python -m aelab.tools.cli build`` in a subprocess (into a temporary output folder, so the
course's own ``_build/`` is left alone) and reads each notebook's seconds from its
``report.json``. By default the model cache is bypassed (``AELAB_ZOO=0``: every model is
trained, as on a student's first run); ``zoo=True`` times a run with the cache as it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_build(root: Path, *, quick: bool, zoo: bool = False, timeout: int = 3600, dirs=None) -> dict:
    """Execute ``aelab build`` once; return wall seconds, exit code and per-notebook results.

    Returns
    -------
    dict
        ``{"mode", "seconds", "returncode", "notebooks": [{"path", "status", "seconds", "cpu_seconds",
        "peak_rss_mb", "reference_seconds", "machine_gflops"}], "stderr_tail"}`` (the kernel's CPU seconds,
        peak resident memory in MB, and the run time scaled to the reference machine speed with the
        speed measured around the notebook, as ``report.json`` gives them);
        ``notebooks`` is empty when no report was written (e.g. no notebooks exist yet).
    """
    root = Path(root).resolve()
    env = dict(os.environ)
    env["AELAB_ZOO"] = "1" if zoo else "0"
    with tempfile.TemporaryDirectory(prefix="aelab-bench-build-") as out:
        cmd = [sys.executable, "-m", "aelab.tools.cli", "build", "--root", str(root), "--out", out]
        if quick:
            cmd.append("--quick")
        if dirs:
            cmd += ["--dirs", *dirs]
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
            rc, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc, err = -1, f"timed out after {timeout} s\n{exc.stderr or ''}"
        seconds = time.perf_counter() - start
        report = Path(out) / "report.json"
        notebooks = []
        if report.exists():
            data = json.loads(report.read_text(encoding="utf-8"))
            notebooks = [{"path": n["path"], "status": n["status"], "seconds": n["seconds"],
                          "cpu_seconds": n.get("cpu_seconds"), "peak_rss_mb": n.get("peak_rss_mb"),
                          "reference_seconds": n.get("reference_seconds"), "machine_gflops": n.get("machine_gflops")}
                         for n in data.get("notebooks", [])]
    return {"mode": "quick" if quick else "full", "zoo": zoo, "seconds": seconds, "returncode": rc,
            "notebooks": notebooks, "stderr_tail": "\n".join(str(err).splitlines()[-30:])}
