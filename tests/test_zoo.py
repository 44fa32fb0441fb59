"""aelab.zoo: fit_cached — what the key sees, hits, full histories, damaged entries, unwritable roots, NaN."""

import functools
import os
import time
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import aelab.train
from aelab import zoo
from aelab.data import add_noise
from aelab.losses import bce_per_image, squared_error_per_image, vae_loss
from aelab.models import VAE, LinearAutoencoder, MLPAutoencoder
from aelab.runtime import EnvFlagError
from aelab.train import History, KLWarmup, TrainingDiverged, denoising, loss_objective


@pytest.fixture(autouse=True)
def tmp_data(monkeypatch, tmp_path):
    monkeypatch.setenv("AELAB_DATA", str(tmp_path))
    monkeypatch.delenv("AELAB_ZOO", raising=False)
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(old)


@pytest.fixture
def x():
    return torch.rand(64, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def fits(monkeypatch):
    """Counts the calls of aelab.train.fit (fit_cached must call it only on a miss)."""
    calls = []
    real = aelab.train.fit

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(aelab.train, "fit", spy)
    return calls


def build(dims=(8, 4, 2)):
    return MLPAutoencoder(dims, activation="tanh")


def build_vae():
    return VAE(8, 4, 2)


FIT = {"epochs": 2, "batch_size": 16, "lr": 1e-2, "device": "cpu", "progress": False}


def _key(**changes):
    """The key of FIT with ``changes``; ``model`` is a builder, called after seeding (same initial weights)."""
    kw = {**FIT, **changes}
    data = kw.pop("data", _X)
    builder = kw.pop("model", build)
    torch.manual_seed(0)
    return zoo.cache_key(builder(), data, **kw)


_X = torch.rand(64, 8, generator=torch.Generator().manual_seed(0))


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _entries(tmp_data):
    folder = tmp_data / "zoo"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_zoo_dir_under_data_root(tmp_data):
    assert zoo.zoo_dir() == tmp_data / "zoo"


# --------------------------------------------------------------------------- hits and misses
def test_second_call_loads_instead_of_training(x, tmp_data, fits, capsys):
    m1, h1 = zoo.fit_cached("tiny", build, x, **FIT, val_data=x[:16])
    assert len(fits) == 1 and isinstance(h1, History)
    assert fits[0]["desc"] == "tiny"  # the name labels the progress bar
    (entry,) = _entries(tmp_data)
    assert entry.startswith("tiny-") and entry.endswith(".pt")

    m2, h2 = zoo.fit_cached("tiny", build, x, **FIT, val_data=x[:16])
    assert len(fits) == 1  # not trained again
    assert "zoo: loaded" in capsys.readouterr().out
    assert all(torch.equal(a, b) for a, b in zip(_state(m1).values(), _state(m2).values()))
    assert h2 == h1  # the full history: every part, seconds, images seen
    assert h2.images_per_second > 0 and h2.val_loss and h2.parts["total"] == h1.train_loss


def test_a_hit_returns_the_vae_parts(x, fits):
    _, h1 = zoo.fit_cached("vae", build_vae, x, loss=vae_loss, **FIT)
    _, h2 = zoo.fit_cached("vae", build_vae, x, loss=vae_loss, **FIT)
    assert len(fits) == 1 and set(h2.parts) == {"total", "recon", "kl"} and h2.parts == h1.parts


def test_initial_weights_are_seeded_by_fits_seed(x):
    """build_model runs under fit's seed: what cells ran before does not change the key or the weights."""
    torch.rand(17)
    m1, _ = zoo.fit_cached("tiny", build, x, **FIT, seed=3)
    torch.rand(5)
    m2, _ = zoo.fit_cached("tiny", build, x, **{**FIT, "progress": True}, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(_state(m1).values(), _state(m2).values()))


def test_hit_and_miss_leave_the_global_rng_alike(x):
    torch.manual_seed(123)
    zoo.fit_cached("vae", build_vae, x, loss=vae_loss, **FIT)  # miss
    after_miss = torch.get_rng_state()
    torch.manual_seed(123)
    zoo.fit_cached("vae", build_vae, x, loss=vae_loss, **FIT)  # hit
    assert torch.equal(torch.get_rng_state(), after_miss)
    torch.manual_seed(123)
    assert torch.equal(torch.get_rng_state(), after_miss)  # and both equal the state before the call


def test_zoo_off_always_trains(x, fits, monkeypatch):
    zoo.fit_cached("tiny", build, x, **FIT)
    monkeypatch.setenv("AELAB_ZOO", "0")
    zoo.fit_cached("tiny", build, x, **FIT)
    assert len(fits) == 2
    monkeypatch.setenv("AELAB_ZOO", "maybe")
    with pytest.raises(EnvFlagError, match="AELAB_ZOO"):
        zoo.fit_cached("tiny", build, x, **FIT)


def test_different_arguments_train_again(x, fits):
    zoo.fit_cached("tiny", build, x, **FIT)
    zoo.fit_cached("tiny", build, x, **{**FIT, "epochs": 3})
    zoo.fit_cached("tiny", build, x[:32], **FIT)
    zoo.fit_cached("tiny", build, x, **FIT, loss=bce_per_image)
    assert len(fits) == 4


# --------------------------------------------------------------------------- the key
def _noise(level):
    return denoising(functools.partial(add_noise, kind="masking", level=level))


def _make_scaled(scale):
    def scaled(x_hat, x):  # a closure: keyed by the value it closes over
        return scale * squared_error_per_image(x_hat, x)
    return scaled


def test_every_fit_argument_changes_the_key():
    val = torch.rand(300, 8, generator=torch.Generator().manual_seed(1))
    val_98 = val.clone()
    val_98[3:-3] = torch.rand(294, 8, generator=torch.Generator().manual_seed(2))  # 98 % of rows, repr alike
    assert repr(val_98) == repr(val)  # what the old key used
    keys = [
        _key(),
        _key(epochs=3),
        _key(lr=2e-2),
        _key(seed=1),
        _key(batch_size=32),
        _key(optimizer="sgd"),
        _key(weight_decay=1e-4),
        _key(loss=bce_per_image),
        _key(loss=functools.partial(vae_loss, beta=1.0), model=build_vae),
        _key(loss=functools.partial(vae_loss, beta=4.0), model=build_vae),
        _key(objective=KLWarmup(2), model=build_vae),
        _key(objective=KLWarmup(3), model=build_vae),
        _key(objective=_noise(0.1)),
        _key(objective=_noise(0.2)),
        _key(loss=_make_scaled(1.0)),
        _key(loss=_make_scaled(2.0)),
        _key(val_data=val),
        _key(val_data=val_98),
        _key(val_data=(val, val_98)),
        _key(data=_X + 1e-6),  # one changed value suffices
        _key(data=_X[:63]),
        _key(data=_X.double()),
        _key(data=(_X, _X.flip(0))),
        _key(model=functools.partial(build, (8, 4, 3))),
        _key(model=functools.partial(MLPAutoencoder, (8, 4, 2), activation="relu")),
    ]
    assert len(set(keys)) == len(keys)


def test_the_same_training_gets_the_same_key():
    base = _key()
    assert base == _key(data=_X.clone())  # content, not identity
    assert base == _key(lr=1e-2, epochs=2)  # keyword order
    assert base == _key(seed=0, optimizer="adam", loss=squared_error_per_image)  # defaults spelled out
    assert base == _key(objective=loss_objective(squared_error_per_image))  # loss=f is objective=loss_objective(f)
    assert base == _key(progress=True, desc="other label", device=None)  # presentation and place only
    assert base == _key(lr=np.float64(1e-2), epochs=np.int64(2))
    assert _key(objective=_noise(0.1)) == _key(objective=_noise(0.1))
    assert _key(loss=functools.partial(vae_loss, beta=4.0), model=build_vae) == \
        _key(loss=functools.partial(vae_loss, beta=4.0), model=build_vae)


def test_key_sees_what_repr_hides():
    """LinearAutoencoder's repr shows neither k nor tying; the key must still tell them apart."""
    torch.manual_seed(0)
    keys = {zoo.cache_key(LinearAutoencoder(8, k, tied=t), _X, epochs=1) for k in (2, 3) for t in (False, True)}
    assert len(keys) == 4


def test_key_changes_with_initial_weights():
    torch.manual_seed(0)
    a = build()
    torch.manual_seed(1)
    b = build()
    assert zoo.cache_key(a, _X, epochs=1) != zoo.cache_key(b, _X, epochs=1)


def test_functions_are_keyed_by_name_and_code_never_by_address():
    def local_loss(x_hat, x):
        return squared_error_per_image(x_hat, x)

    for f in (squared_error_per_image, functools.partial(vae_loss, beta=2.0), local_loss, torch.sigmoid, nn.MSELoss()):
        k = str(zoo.key_of(f))
        assert " at 0x" not in k and "0x7" not in k

    def edited_loss(x_hat, x):  # same name in another notebook cell, another body
        return 2 * squared_error_per_image(x_hat, x)
    edited_loss.__qualname__ = local_loss.__qualname__
    assert zoo.key_of(edited_loss) != zoo.key_of(local_loss)
    assert zoo.key_of(squared_error_per_image) == zoo.key_of(squared_error_per_image)


def test_lambdas_are_refused_naming_the_argument(x, fits):
    with pytest.raises(TypeError, match=r"loss is a lambda.*def.*functools.partial"):
        zoo.fit_cached("tiny", build, x, **FIT, loss=lambda a, b: squared_error_per_image(a, b))
    with pytest.raises(TypeError, match=r"objective.corrupt is a lambda"):
        zoo.fit_cached("tiny", build, x, **FIT, objective=denoising(lambda t: t))
    assert fits == []  # refused before training


def test_unkeyable_values_are_refused():
    with pytest.raises(TypeError, match=r"val_data\[1\]: the model cache cannot key"):
        zoo.key_of((_X, object()), "val_data")


@pytest.mark.parametrize("kwargs, match", [
    ({}, "epochs"),  # required
    ({"epochs": 1, "learning_rate": 0.1}, "learning_rate"),
    ({"epochs": 1, "model": None}, "positional"),
])
def test_arguments_fit_would_refuse(x, fits, kwargs, match):
    with pytest.raises(TypeError, match=match):
        zoo.fit_cached("tiny", build, x, **kwargs)
    assert fits == []


def test_bad_builder(x):
    with pytest.raises(TypeError, match="build_model"):
        zoo.fit_cached("tiny", build(), x, **FIT)
    with pytest.raises(TypeError, match="nn.Module"):
        zoo.fit_cached("tiny", lambda: "not a model", x, **FIT)


@pytest.mark.parametrize("name", ["", "a/b", f"a{os.sep}b", ".hidden"])
def test_bad_name(x, name):
    with pytest.raises(ValueError, match="name"):
        zoo.fit_cached(name, build, x, **FIT)
    with pytest.raises(TypeError, match="name must be a string"):
        zoo.fit_cached(3, build, x, **FIT)


def test_fingerprint():
    t = torch.arange(6.0)
    assert zoo.fingerprint(t) == zoo.fingerprint(t.clone())
    assert zoo.fingerprint(t) != zoo.fingerprint(t.reshape(2, 3))
    assert zoo.fingerprint(t) != zoo.fingerprint(t.double())
    assert zoo.fingerprint(t.reshape(2, 3).T) == zoo.fingerprint(t.reshape(2, 3).T.contiguous())
    assert zoo.fingerprint(t.bfloat16()) != zoo.fingerprint(t.half())
    assert zoo.fingerprint(np.arange(6.0)) == zoo.fingerprint(np.arange(6.0))
    assert zoo.fingerprint(np.arange(6.0)) != zoo.fingerprint(np.arange(6.0)[::-1])
    with pytest.raises(TypeError):
        zoo.fingerprint([1.0, 2.0])


# --------------------------------------------------------------------------- what is never stored
def test_a_diverging_training_is_not_cached(x, tmp_data):
    bad = x.clone()
    bad[5, 3] = float("nan")
    with pytest.raises(TrainingDiverged, match="row 5"):
        zoo.fit_cached("nan", build, bad, **FIT)
    assert _entries(tmp_data) == []


def test_save_refuses_non_finite_weights(tmp_data):
    m = build()
    with torch.no_grad():
        m.encoder[1].weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        zoo.save(tmp_data / "zoo" / "m.pt", m, History())
    assert _entries(tmp_data) == []


def test_failed_write_leaves_nothing(tmp_data, monkeypatch):
    def broken_save(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(zoo.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        zoo.save(tmp_data / "zoo" / "m.pt", build(), History())
    assert _entries(tmp_data) == []


def test_saved_entries_are_readable_by_others(x, tmp_data):
    old = os.umask(0o022)
    try:
        zoo.fit_cached("tiny", build, x, **FIT)
    finally:
        os.umask(old)
    (entry,) = (tmp_data / "zoo").iterdir()
    assert entry.stat().st_mode & 0o044 == 0o044


# --------------------------------------------------------------------------- damaged entries, bad roots
def _cache_one(x, tmp_data):
    zoo.fit_cached("tiny", build, x, **FIT)
    (path,) = (tmp_data / "zoo").iterdir()
    return path


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong_state", "nan_weights", "old_format"])
def test_damaged_cache_entry_is_retrained(x, tmp_data, fits, damage, capsys):
    path = _cache_one(x, tmp_data)
    good = path.read_bytes()
    blob = torch.load(path, weights_only=True)
    if damage == "garbage":
        path.write_bytes(b"not a checkpoint at all")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "wrong_state":  # a readable file holding another model's weights: partially matching keys
        state = dict(blob["state_dict"])
        state["encoder.1.weight"] = torch.full_like(state["encoder.1.weight"], 7.0)
        state["extra"] = torch.zeros(1)
        torch.save({**blob, "state_dict": state}, path)
    elif damage == "nan_weights":
        state = {k: torch.full_like(v, float("nan")) for k, v in blob["state_dict"].items()}
        torch.save({**blob, "state_dict": state}, path)
    else:  # an entry of the old layout
        torch.save({"state_dict": blob["state_dict"], "history": None}, path)

    m, h = zoo.fit_cached("tiny", build, x, **FIT)
    assert len(fits) == 2 and isinstance(h, History) and h.images_per_second > 0
    assert "retraining" in capsys.readouterr().out
    assert torch.isfinite(m.encoder[1].weight).all() and not (m.encoder[1].weight == 7.0).any()
    # the retrained model equals a clean training run from the same initial weights, and is cached again
    with aelab.train.seeded_rng(0):
        ref = build()
    aelab.train.fit(ref, x, **FIT)
    assert all(torch.equal(a, b) for a, b in zip(_state(m).values(), _state(ref).values()))
    blob = torch.load(path, weights_only=True)
    assert all(torch.equal(blob["state_dict"][k], v) for k, v in _state(m).items())


def test_unwritable_data_root_warns_and_returns_the_model(x, tmp_path, monkeypatch):
    root = tmp_path / "a_file"
    root.write_text("not a folder")
    monkeypatch.setenv("AELAB_DATA", str(root))
    with pytest.warns(UserWarning, match="could not store the trained model.*AELAB_DATA"):
        m, h = zoo.fit_cached("tiny", build, x, **FIT)
    assert isinstance(m, nn.Module) and h.epochs == 2 and torch.isfinite(m.encoder[1].weight).all()


def test_read_only_zoo_warns_and_returns_the_model(x, tmp_data, monkeypatch):
    def read_only(path, write, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(zoo, "atomic_write", read_only)
    with pytest.warns(UserWarning, match="Permission denied"):
        m, h = zoo.fit_cached("tiny", build, x, **FIT)
    assert h.epochs == 2 and _entries(tmp_data) == []


def test_stale_temporaries_are_cleaned_before_writing(x, tmp_data):
    folder = tmp_data / "zoo"
    folder.mkdir()
    stale, fresh = folder / ".tiny-old.pt.abc123.part", folder / ".tiny-new.pt.def456.part"
    for p in (stale, fresh):
        p.write_bytes(b"half a model")
    hour_ago = time.time() - 2 * 3600
    os.utime(stale, (hour_ago, hour_ago))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.fit_cached("tiny", build, x, **FIT)
    names = _entries(tmp_data)
    assert stale.name not in names  # a killed save's leftover, removed
    assert fresh.name in names  # possibly another process's write in progress, kept
    assert len([n for n in names if n.endswith(".pt")]) == 1


# --------------------------------------------------------------------------- issue 18 item 7: one binding, cache=False
def test_fit_arguments_are_bound_once_per_call(x, monkeypatch):
    binds = []
    real = zoo._FIT_SIGNATURE

    class Spy:
        parameters = real.parameters

        def bind(self, *args, **kwargs):
            binds.append(1)
            return real.bind(*args, **kwargs)

    monkeypatch.setattr(zoo, "_FIT_SIGNATURE", Spy())
    zoo.fit_cached("tiny", build, x, **FIT)
    assert len(binds) == 1
    binds.clear()
    zoo.fit_cached("tiny", build, x, **FIT)  # a hit
    assert len(binds) == 1


def test_cache_false_trains_every_time_and_writes_nothing(x, tmp_data, fits):
    m1, h1 = zoo.fit_cached("stage 1", build, x, cache=False, **FIT, loss=lambda a, b: squared_error_per_image(a, b))
    m2, h2 = zoo.fit_cached("stage 1", build, x, cache=False, **FIT)
    assert len(fits) == 2 and _entries(tmp_data) == []
    m3, h3 = zoo.fit_cached("tiny", build, x, **FIT)  # the same seeded build and training, cached
    assert h1.train_loss == h2.train_loss == h3.train_loss
    assert all(torch.equal(a, b) for a, b in zip(_state(m2).values(), _state(m3).values()))
    with pytest.raises(TypeError, match="cache must be True or False"):
        zoo.fit_cached("tiny", build, x, cache=0, **FIT)


# --------------------------------------------------------------------------- issue 18 item 2 / 22 item 12: one vocabulary
def test_numpy_scalars_hit_the_entry_python_numbers_made(x, fits):
    zoo.fit_cached("tiny", build, x, **FIT)
    zoo.fit_cached("tiny", build, x, **{**FIT, "epochs": np.int64(2), "batch_size": np.int32(16)})
    assert len(fits) == 1


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"epochs": 2.0}, TypeError, "epochs must be an integer"),
    ({"epochs": True}, TypeError, "epochs must be an integer"),
    ({"epochs": 0}, ValueError, "epochs must be at least 1"),
    ({"lr": float("inf")}, ValueError, "lr must be finite"),
    ({"seed": -1}, ValueError, "seed"),
    ({"loss": functools.partial(vae_loss, beta=float("nan"))}, ValueError, r"loss.keywords\['beta'\] is nan"),
])
def test_values_fit_would_refuse_are_refused_before_building(x, fits, kwargs, exc, match):
    built = []
    with pytest.raises(exc, match=match):
        zoo.fit_cached("tiny", lambda: built.append(1) or build(), x, **{**FIT, **kwargs})
    assert fits == [] and built == []


# --------------------------------------------------------------------------- issue 22 item 1: saving never loses the model
def _initial():
    torch.manual_seed(0)
    return _state(build())


def test_a_full_disk_while_saving_warns_and_returns_the_trained_model(x, tmp_data, monkeypatch):
    """torch.save on a full disk raises RuntimeError (not OSError): the trained model must come back."""
    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"PK\x03\x04 half a zip")
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")

    monkeypatch.setattr(zoo.torch, "save", full_disk)
    with pytest.warns(UserWarning, match="could not store the trained model.*RuntimeError.*inline_container"):
        m, h = zoo.fit_cached("tiny", build, x, **FIT)
    assert h.epochs == 2 and not all(torch.equal(a, b) for a, b in zip(_initial().values(), _state(m).values()))
    assert _entries(tmp_data) == []  # neither an entry nor a temporary


def test_a_writer_that_fails_with_enospc_warns(x, tmp_data, monkeypatch):
    import errno

    def no_space(path, write, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(zoo, "atomic_write", no_space)
    with pytest.warns(UserWarning, match="No space left"):
        m, h = zoo.fit_cached("tiny", build, x, **FIT)
    assert h.epochs == 2 and isinstance(m, nn.Module)


@pytest.mark.parametrize("name, match", [("a\0b", "NUL byte"), ("x" * 300, "bytes long"), ("é" * 120, "bytes long")])
def test_names_the_filesystem_would_refuse_are_refused_before_training(x, fits, name, match):
    built = []
    with pytest.raises(ValueError, match=match):
        zoo.fit_cached(name, lambda: built.append(1) or build(), x, **FIT)
    assert fits == [] and built == []


def test_the_longest_accepted_name_can_be_stored(x, tmp_data):
    from aelab.files import name_max
    longest = "n" * (name_max(tmp_data) - len("-") - 16 - len(".pt") - 15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoo.fit_cached(longest, build, x, **FIT)
    assert len(_entries(tmp_data)) == 1
    with pytest.raises(ValueError, match="bytes long"):
        zoo.fit_cached(longest + "n", build, x, **FIT)


# --------------------------------------------------------------------------- issue 22 item 2: the model's code is keyed
_NOTEBOOK_MODEL = '''
SCALE = {scale}

def squash(t):
    return torch.sigmoid({inner})

class Base(nn.Module):
    def shape_of(self, x):
        return x.flatten(1){base_extra}

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x){block_extra}

class Net(Base):
    def __init__(self):
        super().__init__()
        self.block = Block()

    def forward(self, x):
        return squash(SCALE * self.block(self.shape_of(x))){forward_extra}
'''
_DEFAULT_CODE = {"scale": "1.0", "inner": "t", "base_extra": "", "block_extra": "", "forward_extra": ""}


def _notebook_class(**changes):
    """``Net`` defined as a notebook cell defines it: in ``__main__``'s namespace, without a source file."""
    ns = {"__name__": "__main__", "torch": torch, "nn": nn}
    exec(compile(_NOTEBOOK_MODEL.format(**{**_DEFAULT_CODE, **changes}), "<ipython-input-7>", "exec"), ns)
    return ns


def _model_key(ns, **kw):
    torch.manual_seed(0)
    return zoo.cache_key(ns["Net"](), _X, **{**FIT, **kw})


def test_notebook_classes_have_no_source_but_a_stable_key():
    ns = _notebook_class()
    with pytest.raises((OSError, TypeError)):
        import inspect
        inspect.getsource(ns["Net"].forward)
    assert _model_key(ns) == _model_key(_notebook_class())  # same code in another cell: same key


@pytest.mark.parametrize("change", [
    {"forward_extra": " * 0.5"},  # forward() edited
    {"scale": "2.0"},  # a module-level value forward() reads
    {"inner": "2 * t"},  # a global helper function forward() calls
    {"base_extra": " + 0"},  # a method of a base class
    {"block_extra": " + 1"},  # the class of a submodule
])
def test_editing_the_models_code_changes_the_key(change):
    """Issue 22 item 2: editing forward() of a notebook-defined model served the old model."""
    assert _model_key(_notebook_class(**change)) != _model_key(_notebook_class())


def test_a_module_level_value_the_loss_reads_is_keyed():
    ns = {"__name__": "__main__", "squared_error_per_image": squared_error_per_image}
    src = "WEIGHT = {w}\ndef weighted(a, b):\n    return WEIGHT * squared_error_per_image(a, b)\n"
    exec(src.format(w=1.0), ns)
    k1 = zoo.key_of(ns["weighted"])
    ns["WEIGHT"] = 3.0
    assert zoo.key_of(ns["weighted"]) != k1
    ns["WEIGHT"] = 1.0
    assert zoo.key_of(ns["weighted"]) == k1


def test_a_function_stored_on_a_module_instance_is_keyed():
    def double(x):
        return 2 * x

    def triple(x):
        return 3 * x

    a, b = build(), build()
    a.post, b.post = double, triple
    assert zoo.model_code_key(a) != zoo.model_code_key(b)


# what the key does not see (documented in aelab.zoo's docstring), one test each
def test_not_seen_library_code(monkeypatch):
    """1. torch's own code is keyed by name: patching nn.Linear.forward keeps the key."""
    k = _key()
    monkeypatch.setattr(nn.Linear, "forward", lambda self, x: x)
    assert _key() == k


def test_not_seen_an_object_read_as_a_global():
    """2. A global holding an object (not data, a function or a class) is keyed by its type only."""
    class Config:
        def __init__(self, beta):
            self.beta = beta

    ns = {"__name__": "__main__", "CFG": Config(1.0), "squared_error_per_image": squared_error_per_image}
    exec("def loss(a, b):\n    return CFG.beta * squared_error_per_image(a, b)\n", ns)
    k = zoo.key_of(ns["loss"])
    ns["CFG"].beta = 4.0
    assert zoo.key_of(ns["loss"]) == k
    # passed as an argument instead, it is seen
    assert zoo.key_of(functools.partial(ns["loss"], Config(1.0))) != zoo.key_of(functools.partial(ns["loss"],
                                                                                                 Config(4.0)))


def test_not_seen_a_value_reached_through_a_module_attribute():
    """3. ``config.BETA`` after ``import config``: the module is keyed by its name only."""
    import types as _types
    config = _types.ModuleType("config")
    config.BETA = 1.0
    ns = {"__name__": "__main__", "config": config, "squared_error_per_image": squared_error_per_image}
    exec("def loss(a, b):\n    return config.BETA * squared_error_per_image(a, b)\n", ns)
    k = zoo.key_of(ns["loss"])
    config.BETA = 4.0
    assert zoo.key_of(ns["loss"]) == k


def test_closures_are_seen_and_an_unkeyable_closure_is_refused():
    """4. A closure's values are keyed; one that cannot be keyed is refused, naming it."""
    def make(weight):
        def loss(a, b):
            return weight * squared_error_per_image(a, b)
        return loss

    assert zoo.key_of(make(1.0)) != zoo.key_of(make(2.0))
    with pytest.raises(TypeError, match="closure.*cannot key"):
        zoo.key_of(make(object()), "loss")
