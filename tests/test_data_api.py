"""aelab.data as a package: every public name of the old one-file module still imports, each
module lists its public definitions in one ``__all__``, the moved names are the same objects."""

import importlib
import inspect

import pytest
import torch

from aelab import data

#: Every public name ``aelab.data`` defined before it became a package (issue 18, item 1).
OLD_PUBLIC_NAMES = [
    "DATA_ENV", "DEBIAN_FASHION_DIR", "DEBIAN_WORDNET_DIR", "DOWNLOAD_DEADLINE", "DOWNLOAD_READ_TIMEOUT", "DataError",
    "FASHION_CLASSES", "IMAGE_SHAPE", "OFFLINE_ENV", "SPLITS", "WORDNET_NOUN_LEXNAMES", "add_noise", "circle_manifold",
    "curved_manifold", "data_root", "gaussian_noise", "is_online", "jitter", "load_fashion_mnist", "load_mnist",
    "load_wordnet_glosses", "masking_noise", "mnist_is_subset", "psnr", "salt_and_pepper", "train_val_split",
    "unpack_debian_fashion_mnist",
]
MODULES = ["aelab.data", "aelab.data._fetch", "aelab.data._idx", "aelab.data.mnist",
           "aelab.data.fashion_mnist", "aelab.data.wordnet", "aelab.data.toy", "aelab.data.splits", "aelab.noise"]


@pytest.mark.parametrize("name", OLD_PUBLIC_NAMES)
def test_every_old_public_name_still_imports(name):
    namespace = {}
    exec(f"from aelab.data import {name}", namespace)  # the import statement notebooks use
    assert namespace[name] is getattr(data, name)
    assert name in data.__all__


@pytest.mark.parametrize("module", MODULES)
def test_each_module_lists_exactly_its_public_definitions_once(module):
    mod = importlib.import_module(module)
    names = mod.__all__
    assert len(names) == len(set(names)), "a name is listed twice"
    assert all(hasattr(mod, name) for name in names)
    source = inspect.getsource(mod)
    assert source.count("__all__") == 1, "one __all__ list per module, no __all__ +="
    if module != "aelab.data":  # the package re-exports; the modules list what they define
        defined = {n for n, v in vars(mod).items() if not n.startswith("_") and getattr(v, "__module__", module) == module
                   and (inspect.isfunction(v) or inspect.isclass(v))}
        assert defined <= set(names), f"public but not in __all__: {sorted(defined - set(names))}"


@pytest.mark.parametrize("module", MODULES[1:])
def test_each_module_docstring_names_the_lectures_that_use_it(module):
    doc = importlib.import_module(module).__doc__
    assert doc and ("lecture" in doc.lower()), module


def test_the_package_exports_everything_its_modules_export():
    for module in MODULES[1:-1]:
        mod = importlib.import_module(module)
        for name in mod.__all__:
            assert getattr(data, name) is getattr(mod, name), (module, name)


def test_moved_names_are_the_same_objects():
    from aelab import metrics, noise

    assert data.psnr is metrics.psnr
    assert data.masking_noise is noise.masking_noise and data.jitter is noise.jitter
