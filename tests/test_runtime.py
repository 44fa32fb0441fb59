"""aelab.runtime: environment flags, quick mode, sized, seeding, device choice, setup."""

import os
import subprocess
import sys
import random

import numpy as np
import pytest
import torch
from torch import nn

import aelab
from aelab import runtime


# --- environment flags ----------------------------------------------------------------------

@pytest.mark.parametrize("name", [runtime.QUICK_ENV, runtime.OFFLINE_ENV, runtime.ZOO_ENV])
@pytest.mark.parametrize("raw, expected", [("1", True), ("TRUE", True), (" yes ", True), ("on", True),
                                           ("0", False), ("False", False), ("no", False), ("off", False)])
def test_env_flag_words(monkeypatch, name, raw, expected):
    monkeypatch.setenv(name, raw)
    assert runtime.env_flag(name, default=not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_env_flag_unset_or_empty_is_the_default(monkeypatch, default):
    monkeypatch.delenv("AELAB_SOMETHING", raising=False)
    assert runtime.env_flag("AELAB_SOMETHING", default) is default
    monkeypatch.setenv("AELAB_SOMETHING", "  ")
    assert runtime.env_flag("AELAB_SOMETHING", default) is default


@pytest.mark.parametrize("raw", ["2", "maybe", "quick", "-1", "y"])
def test_env_flag_other_values_are_an_error_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("AELAB_ZOO", raw)
    with pytest.raises(runtime.EnvFlagError, match=r"AELAB_ZOO=.* is not a boolean: set AELAB_ZOO=1"):
        runtime.env_flag("AELAB_ZOO", True)
    assert issubclass(runtime.EnvFlagError, ValueError)


def test_no_other_module_parses_boolean_flags():
    """One parser: no module of the package compares an environment value with boolean words itself."""
    root = os.path.dirname(aelab.__file__)
    offenders = []
    for folder, _, files in os.walk(root):
        for f in files:
            if f.endswith(".py") and os.path.join(folder, f) != runtime.__file__:
                text = open(os.path.join(folder, f), encoding="utf-8").read()
                if '"true", "yes"' in text or "'true', 'yes'" in text or '("0", "false"' in text:
                    offenders.append(f)
    assert not offenders, offenders


# --- quick mode -------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " 1 "])
def test_is_quick_true_words(monkeypatch, raw):
    monkeypatch.setenv("AELAB_QUICK", raw)
    assert runtime.is_quick() is True
    assert aelab.sized(full=60, quick=3) == 3


@pytest.mark.parametrize("raw", ["", "0", "false", "no", "off", "False"])
def test_is_quick_false_words(monkeypatch, raw):
    monkeypatch.setenv("AELAB_QUICK", raw)
    assert runtime.is_quick() is False
    assert aelab.sized(full=60, quick=3) == 60


def test_is_quick_unset_is_full(monkeypatch):
    monkeypatch.delenv("AELAB_QUICK", raising=False)
    assert runtime.is_quick() is False
    assert aelab.sized(full="big", quick="small") == "big"


@pytest.mark.parametrize("raw", ["2", "maybe", "quick"])
def test_is_quick_bad_value_raises(monkeypatch, raw):
    monkeypatch.setenv("AELAB_QUICK", raw)
    with pytest.raises(ValueError, match="AELAB_QUICK"):
        runtime.is_quick()
    with pytest.raises(ValueError, match="AELAB_QUICK"):
        aelab.sized(full=1, quick=2)


# --- seeding, device, setup -------------------------------------------------------------

def _draw():
    return random.random(), np.random.rand(), torch.rand(3)


def test_seed_everything_is_deterministic():
    runtime.seed_everything(123)
    a = _draw()
    runtime.seed_everything(123)
    b = _draw()
    runtime.seed_everything(124)
    c = _draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    assert a[0] != c[0] and a[1] != c[1] and not torch.equal(a[2], c[2])


@pytest.mark.parametrize("seed, exc", [(-1, ValueError), (2**63, ValueError), (1.5, TypeError), (2.0, TypeError),
                                       ("0", TypeError), (True, TypeError), (None, TypeError)])
def test_seed_everything_rejects_bad_seed(seed, exc):
    with pytest.raises(exc, match="seed"):
        runtime.seed_everything(seed)
    with pytest.raises(exc, match="seed"):
        with runtime.seeded_rng(seed):
            pass


def test_numpy_seeds_are_accepted():
    runtime.seed_everything(np.int64(5))
    a = torch.rand(2)
    runtime.seed_everything(5)
    assert torch.equal(a, torch.rand(2))
    assert aelab.setup(seed=np.int32(5), style=False).seed == 5


def test_seeded_rng_is_repeatable_and_restores_the_state():
    before = torch.get_rng_state()
    with runtime.seeded_rng(np.int64(3)):
        a = torch.rand(3)
    with runtime.seeded_rng(3):
        b = torch.rand(3)
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("device, exc", [(0.5, TypeError), ("gpu-please", ValueError)])
def test_pick_device_bad_names(device, exc):
    with pytest.raises(exc, match="device"):
        runtime.pick_device(device)


@pytest.mark.parametrize("kwargs, exc, match", [({"style": 1}, TypeError, "style"), ({"seed": 1.0}, TypeError, "seed")])
def test_setup_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        aelab.setup(**kwargs)


def test_env_flag_bad_arguments():
    with pytest.raises(TypeError, match="default"):
        runtime.env_flag("AELAB_SOMETHING", default="yes")
    with pytest.raises(TypeError, match="name"):
        runtime.env_flag(3)


def test_pick_device():
    assert runtime.pick_device("cpu") == torch.device("cpu")
    assert runtime.pick_device(torch.device("cpu")).type == "cpu"
    auto = runtime.pick_device()
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if hasattr(torch.backends, "mps") and torch.backends.mps.is_available() else "cpu")
    assert auto.type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_pick_device_missing_cuda_raises():
    with pytest.raises(ValueError, match="CUDA is not available"):
        runtime.pick_device("cuda")


def test_setup_seeds_and_reports(monkeypatch):
    import matplotlib as mpl

    monkeypatch.setenv("AELAB_QUICK", "1")
    old = dict(mpl.rcParams)
    try:
        s = aelab.setup(seed=7, device="cpu")
        a = torch.rand(2)
        aelab.setup(seed=7, device="cpu")
        assert torch.equal(a, torch.rand(2))
        assert s == aelab.Session(seed=7, device=torch.device("cpu"), quick=True)
        assert "QUICK" in str(s) and "seed=7" in str(s)
        assert mpl.rcParams["image.cmap"] == "gray"
    finally:
        mpl.rcParams.update(old)


class _NoParams(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("b", torch.zeros(2, dtype=torch.float64))


def test_device_of():
    assert runtime.device_of(nn.Linear(2, 3)) == torch.device("cpu")
    assert runtime.device_of(nn.Linear(2, 3).to("meta")) == torch.device("meta")
    assert runtime.device_of(_NoParams().to("meta")) == torch.device("meta")  # buffers only
    assert runtime.device_of(nn.ReLU()) == torch.device("cpu")  # nothing at all


def test_seed_offset_shifts_setup_and_fit_seeds(monkeypatch):
    """aelab build --seed N / aelab seeds: AELAB_SEED shifts every seed; unset changes nothing (issue 21.19)."""
    import torch
    from aelab import runtime, train

    monkeypatch.delenv("AELAB_SEED", raising=False)
    assert runtime.seed_offset() == 0
    assert train.check_fit_arguments(torch.rand(8, 4), epochs=1, seed=0).seed == 0
    monkeypatch.setenv("AELAB_SEED", "3")
    assert runtime.seed_offset() == 3
    assert train.check_fit_arguments(torch.rand(8, 4), epochs=1, seed=0).seed == 3
    assert runtime.setup(seed=1, style=False).seed == 4
    monkeypatch.setenv("AELAB_SEED", "-1")
    with pytest.raises(ValueError, match="AELAB_SEED must be a non-negative integer"):
        runtime.seed_offset()


_FAULTS_SCRIPT = """
import ctypes, resource
from aelab import runtime
tuned = runtime.keep_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, (ctypes.c_size_t,), (ctypes.c_void_p,)
SIZE = 30 << 20
def step():  # a training step's pattern (torch's CPU tensors come from malloc): three 30 MB maps written, freed
    blocks = [libc.malloc(SIZE) for _ in range(3)]
    for b in blocks:
        ctypes.memset(b, 1, SIZE)
    for b in blocks:
        libc.free(b)
step()
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(tuned, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 5)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt (Linux only)")
def test_keep_freed_memory_stops_the_page_faults_between_steps():
    """Issue 26's cause: glibc gives a step's freed maps back to the kernel and faults them in again.

    With the default allocator each step re-faults its 90 MB (about 23,000 4-KiB pages); after
    keep_freed_memory, none. The blocks come from malloc directly: through torch, other small
    allocations between steps can pin the heap's top, which makes the default's faults depend on the
    thread count (with one thread they stop after a few steps), not on this setting. Each allocator runs in a fresh process (the setting is per process).
    """
    def faults(default: bool) -> tuple[str, float]:
        env = dict(os.environ, AELAB_DEFAULT_MALLOC="1" if default else "0")
        out = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT], env=env, capture_output=True, text=True,
                             check=True, timeout=120).stdout.split()
        return out[0], float(out[1])

    default_tuned, default_faults = faults(default=True)
    tuned, tuned_faults = faults(default=False)
    assert default_tuned == "False" and tuned == "True"
    assert default_faults > 10_000, "glibc's default no longer trims after each step: re-measure issue 26"
    assert tuned_faults < 0.02 * default_faults


def test_keep_freed_memory_reads_its_flag_once(monkeypatch):
    monkeypatch.setattr(runtime, "_allocator_tuned", None)
    monkeypatch.setenv(runtime.ALLOCATOR_ENV, "maybe")
    with pytest.raises(runtime.EnvFlagError, match="AELAB_DEFAULT_MALLOC"):
        runtime.keep_freed_memory()
    monkeypatch.setattr(runtime, "_allocator_tuned", None)
    monkeypatch.setenv(runtime.ALLOCATOR_ENV, "1")
    assert runtime.keep_freed_memory() is False
    monkeypatch.setenv(runtime.ALLOCATOR_ENV, "0")
    assert runtime.keep_freed_memory() is False  # decided once per process
