"""Self-checks for the labs: ``aelab.checks.<name>(student_fn)``, the entry point the notebooks call.

Each check runs the student's function on several inputs and compares the result with a float64
reference: it prints one line of praise on success, raises :class:`CheckFailed` (an
``AssertionError`` naming the input and the property that failed, never the answer) on a wrong
answer, and :class:`ExerciseNotDone` while the function still raises ``NotImplementedError``.
Every check takes ``seed`` (default 0) to draw other random inputs; the inputs of each exercise
come from a seed derived from (lab, exercise, ``seed``), never from torch's global RNG.

Layout: one module per lab, ``aelab/checks/labNN.py`` (:mod:`aelab.checks.lab01`, PCA as a linear
autoencoder; :mod:`aelab.checks.lab02`, deep autoencoders; ...), each listing its checks in
``__all__``; the machinery they share is the private :mod:`aelab.checks._machinery`. This
module finds every ``labNN`` module of the package and re-exports its checks, so a new lab
only adds its file: ``aelab.checks.pca_svd`` and ``from aelab.checks import pca_svd`` both work.
:data:`EXERCISES` maps each check's name to its :class:`~aelab.checks._machinery.Exercise`
(lab, number, function), in lab order.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from ._machinery import EXERCISES, CheckFailed, ExerciseNotDone

__all__ = ["CheckFailed", "ExerciseNotDone", "EXERCISES"]

#: The lab modules of the package, in lab order (``lab01``, ``lab02``, ...).
LAB_MODULES: list[str] = sorted(info.name for info in pkgutil.iter_modules(__path__)
                                if re.fullmatch(r"lab\d\d", info.name))


def _export(module_name: str) -> None:
    """Import ``aelab.checks.<module_name>`` and re-export the checks its ``__all__`` lists.

    Raises
    ------
    ImportError
        If a listed name is not a check registered for this module's lab, or another lab
        module already exports that name.
    """
    module = importlib.import_module(f"{__name__}.{module_name}")
    lab = module_name[len("lab"):]
    for name in getattr(module, "__all__", ()):
        check = getattr(module, name, None)
        exercise = getattr(check, "exercise", None)
        if exercise is None or EXERCISES.get(name) is not exercise:
            raise ImportError(f"aelab/checks/{module_name}.py lists {name!r} in __all__, but it is not a check "
                              "registered with @_exercise(lab, number, function)")
        if exercise.lab != lab:
            raise ImportError(f"aelab/checks/{module_name}.py registers {name!r} for lab {exercise.lab!r}; "
                              f"checks of lab {lab!r} belong in this module with @_exercise({lab!r}, ...)")
        if name in globals():
            raise ImportError(f"aelab/checks/{module_name}.py exports {name!r}, a name aelab.checks already has")
        globals()[name] = check
        __all__.append(name)


for _module_name in LAB_MODULES:
    _export(_module_name)
del _module_name
if set(EXERCISES) - set(__all__):
    raise ImportError(f"checks registered with @_exercise but missing from their lab module's __all__: "
                      f"{sorted(set(EXERCISES) - set(__all__))}")
