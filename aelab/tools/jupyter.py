"""``aelab jupyter``: set up this environment's JupyterLab for students or for instructors.

Two things a student's JupyterLab must not do, and how they are fixed here:

- **Show nbgrader's instructor tools** (the *Nbgrader* menu, *Create Assignment*, *Validate*,
  the formgrader). nbgrader is a dependency (``aelab release`` uses its preprocessors), and
  installing it enables its JupyterLab extension and server extensions for everyone.
  ``aelab jupyter --student`` disables them in this environment; ``aelab jupyter --instructor``
  (the one command an instructor runs) enables them again. They are the same switches as
  ``jupyter labextension disable --level=sys_prefix @jupyter/nbgrader`` and
  ``jupyter server extension disable --sys-prefix nbgrader.server_extensions.<name>``, written
  to the same files (``labconfig/page_config.json`` and ``jupyter_server_config.json``).
- **Mark a notebook unsaved as soon as it opens.** Measured in JupyterLab 4.6 (headless
  Chromium): opening ``labs/01_…`` marks it dirty, with or without nbgrader's extension, and
  saving it right away changes only ``metadata.language_info``: the kernel's ``kernel_info``
  reply carries the full ``language_info`` (``version``, ``mimetype``, ``codemirror_mode``, …)
  and JupyterLab replaces the stored one (the course stores a short one) with it. A notebook
  whose stored ``language_info`` equals the kernel's opens clean — but the Python version in it
  differs between machines, so it cannot be fixed in the files. :class:`NotebookContentsManager`
  fills in this Python's ``language_info`` (ipykernel's, exactly what the ``python3`` kernel of
  this environment reports) when the server *reads* a Python notebook, so the kernel's reply
  changes nothing. ``aelab jupyter`` (either mode) makes it the server's contents manager.

The student setup is the default: ``scripts/setup.sh`` runs ``aelab jupyter --student --if-unset``
(:func:`current_mode` tells whether a setup was chosen already, so an instructor's switch
survives a re-run) and Binder's ``postBuild`` ``aelab jupyter --student``.

Nothing here is imported by notebooks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from ..files import atomic_write_text

__all__ = ["NBGRADER_LABEXTENSION", "NBGRADER_SERVER_EXTENSIONS", "CONTENTS_MANAGER", "NotebookContentsManager",
           "kernel_language_info", "fill_language_info", "default_config_dir", "current_mode", "configure"]

#: nbgrader's JupyterLab extension (all its plugins: menu, create assignment, validate, formgrader, lists).
NBGRADER_LABEXTENSION = "@jupyter/nbgrader"
#: nbgrader's server extensions (the formgrader and the endpoints behind the lab plugins).
NBGRADER_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader",
                              "nbgrader.server_extensions.validate_assignment",
                              "nbgrader.server_extensions.assignment_list",
                              "nbgrader.server_extensions.course_list")
#: The contents manager that keeps a notebook clean when it opens.
CONTENTS_MANAGER = "aelab.tools.jupyter.NotebookContentsManager"


def kernel_language_info() -> dict:
    """The ``language_info`` this Python's ``python3`` kernel reports (ipykernel's), as a new dict."""
    from ipykernel.ipkernel import IPythonKernel

    return json.loads(json.dumps(IPythonKernel.language_info))


def fill_language_info(nb: dict) -> bool:
    """Replace a Python notebook's ``metadata.language_info`` by what this environment's kernel reports.

    Parameters
    ----------
    nb : dict
        A notebook's content (``nbformat.NotebookNode`` or plain dict), changed in place.

    Returns
    -------
    bool
        Whether it was a Python notebook (kernelspec language, or a stored language_info name,
        ``"python"``) and its ``language_info`` changed. Notebooks of other languages are left
        alone.
    """
    meta = nb.get("metadata")
    if not isinstance(meta, dict):
        return False
    spec = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
    info = meta.get("language_info") if isinstance(meta.get("language_info"), dict) else {}
    language = spec.get("language") or info.get("name")
    if language != "python" or spec.get("name", "python3") != "python3":
        return False
    full = kernel_language_info()
    if info == full:
        return False
    meta["language_info"] = full
    return True


class NotebookContentsManager(AsyncLargeFileManager):
    """jupyter_server's default contents manager, which also fills in a Python notebook's ``language_info``.

    Without it JupyterLab marks a notebook unsaved as soon as its kernel starts (see the module
    docstring). Only what the server sends is changed; the file changes when the user saves.
    """

    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
            fill_language_info(model["content"])
        return model


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or remove it, then run `aelab jupyter` again") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object; fix or remove it, then run `aelab jupyter` again")
    return data


def default_config_dir() -> Path:
    """This environment's Jupyter configuration folder, ``sys.prefix/etc/jupyter`` (``--sys-prefix``'s)."""
    return Path(sys.prefix) / "etc" / "jupyter"


def current_mode(config_dir: str | Path | None = None) -> str | None:
    """The setup :func:`configure` last wrote into ``config_dir``: ``"student"``, ``"instructor"`` or ``None``.

    ``None`` when ``aelab jupyter`` has not run there (our contents manager is not configured),
    so ``scripts/setup.sh`` can choose the student setup on a fresh environment and keep an
    instructor's choice on a re-run.

    Raises
    ------
    ValueError
        If an existing configuration file is not a JSON object.
    """
    folder = Path(config_dir) if config_dir is not None else default_config_dir()
    app = _read_json(folder / "jupyter_server_config.json").get("ServerApp", {})
    if not isinstance(app, dict) or app.get("contents_manager_class") != CONTENTS_MANAGER:
        return None
    extensions = app.get("jpserver_extensions", {}) if isinstance(app.get("jpserver_extensions"), dict) else {}
    return "instructor" if any(extensions.get(n) is True for n in NBGRADER_SERVER_EXTENSIONS) else "student"


def configure(mode: str, config_dir: str | Path | None = None) -> list[Path]:
    """Write the JupyterLab settings of ``mode`` into ``config_dir``; return the files written.

    Parameters
    ----------
    mode : {"student", "instructor"}
        ``"student"``: nbgrader's lab extension and server extensions off; ``"instructor"``: on
        (written as explicit ``true``/``false``, so the folder overrides a lower-priority one).
        Both: :class:`NotebookContentsManager` as the contents manager.
    config_dir : path, optional
        A Jupyter configuration folder; default this environment's, ``sys.prefix/etc/jupyter``
        (what ``--level=sys_prefix`` / ``--sys-prefix`` write to).

    Returns
    -------
    list of Path
        ``labconfig/page_config.json`` and ``jupyter_server_config.json`` under ``config_dir``;
        other keys in them are kept.

    Raises
    ------
    ValueError
        For another ``mode``, or an existing file that is not a JSON object.
    """
    from .._validation import choice

    mode = choice(mode, "mode", ("student", "instructor"))
    folder = Path(config_dir) if config_dir is not None else default_config_dir()
    page_path = folder / "labconfig" / "page_config.json"
    server_path = folder / "jupyter_server_config.json"
    page, server = _read_json(page_path), _read_json(server_path)
    disabled = page.setdefault("disabledExtensions", {})
    if isinstance(disabled, list):  # JupyterLab 3's form
        disabled = page["disabledExtensions"] = dict.fromkeys(disabled, True)
    # False, not absent, for instructors (as `jupyter labextension enable` writes it): it overrides a lower
    # level's True, e.g. this environment's student setup when an instructor configures their own folder
    disabled[NBGRADER_LABEXTENSION] = mode == "student"
    app = server.setdefault("ServerApp", {})
    extensions = app.setdefault("jpserver_extensions", {})
    for name in NBGRADER_SERVER_EXTENSIONS:
        extensions[name] = mode == "instructor"
    app["contents_manager_class"] = CONTENTS_MANAGER
    atomic_write_text(page_path, json.dumps(page, indent=2, sort_keys=True) + "\n")
    atomic_write_text(server_path, json.dumps(server, indent=2, sort_keys=True) + "\n")
    return [page_path, server_path]
