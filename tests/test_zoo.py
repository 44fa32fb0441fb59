"""aelab.zoo: load-or-train cache — hits, keys, atomic writes, damaged entries."""

import os

import pytest
import torch

from aelab import zoo
from aelab.models import LinearAutoencoder, MLPAutoencoder
from aelab.train import History, fit


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


def _model(seed=0, dims=(8, 4, 2)):
    torch.manual_seed(seed)
    return MLPAutoencoder(dims, activation="tanh")


class Trainer:
    """A train_fn that counts its calls and really trains."""

    def __init__(self, data, epochs=2):
        self.calls, self.data, self.epochs = 0, data, epochs

    def __call__(self, model):
        self.calls += 1
        return fit(model, self.data, epochs=self.epochs, batch_size=16, lr=1e-2, device="cpu", progress=False)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _parts(folder):
    return [f for _, _, files in os.walk(folder) for f in files if f.endswith(".part")]


def test_zoo_dir_under_data_root(tmp_data):
    assert zoo.zoo_dir() == tmp_data / "zoo"


def test_second_call_loads_instead_of_training(x, tmp_data, capsys):
    train = Trainer(x)
    m1, h1 = zoo.load_or_train("tiny", _model(), x, train, epochs=2, lr=1e-2, seed=0)
    trained = _state(m1)
    assert train.calls == 1 and isinstance(h1, History)
    files = list((tmp_data / "zoo").iterdir())
    assert len(files) == 1 and files[0].name.startswith("tiny-") and files[0].suffix == ".pt"

    m2, h2 = zoo.load_or_train("tiny", _model(), x, train, epochs=2, lr=1e-2, seed=0)
    assert train.calls == 1  # not trained again
    assert "zoo: loaded" in capsys.readouterr().out
    s2 = _state(m2)
    assert all(torch.equal(trained[k], s2[k]) for k in trained)
    assert h2.train_loss == h1.train_loss and h2.val_loss == h1.val_loss and h2.seconds == pytest.approx(h1.seconds)


def test_zoo_off_always_trains(x, monkeypatch):
    train = Trainer(x)
    zoo.load_or_train("tiny", _model(), x, train, epochs=2)
    monkeypatch.setenv("AELAB_ZOO", "0")
    zoo.load_or_train("tiny", _model(), x, train, epochs=2)
    assert train.calls == 2


def test_key_changes_with_hyper_parameters_data_and_architecture(x):
    base = zoo.cache_key(_model(), x, epochs=2, lr=1e-2, seed=0)
    assert base == zoo.cache_key(_model(), x.clone(), lr=1e-2, seed=0, epochs=2)  # content, not identity/order
    assert len({
        base,
        zoo.cache_key(_model(), x, epochs=3, lr=1e-2, seed=0),
        zoo.cache_key(_model(), x, epochs=2, lr=1e-3, seed=0),
        zoo.cache_key(_model(), x, epochs=2, lr=1e-2, seed=1),
        zoo.cache_key(_model(), x, epochs=2, lr=1e-2, seed=0, batch_size=32),
        zoo.cache_key(_model(), x + 1e-6, epochs=2, lr=1e-2, seed=0),  # one changed value suffices
        zoo.cache_key(_model(), x[:63], epochs=2, lr=1e-2, seed=0),
        zoo.cache_key(_model(), x.double(), epochs=2, lr=1e-2, seed=0),
        zoo.cache_key(_model(dims=(8, 4, 3)), x, epochs=2, lr=1e-2, seed=0),
        zoo.cache_key(MLPAutoencoder((8, 4, 2), activation="relu"), x, epochs=2, lr=1e-2, seed=0),
    }) == 10


def test_key_sees_what_repr_hides(x):
    """LinearAutoencoder's repr shows neither k nor tying; the key must still tell them apart."""
    torch.manual_seed(0)
    keys = {zoo.cache_key(LinearAutoencoder(8, k, tied=t), x, seed=0) for k in (2, 3) for t in (False, True)}
    assert len(keys) == 4


def test_key_changes_with_initial_weights(x):
    assert zoo.cache_key(_model(seed=0), x) != zoo.cache_key(_model(seed=1), x)
    assert zoo.cache_key(_model(seed=0), x) == zoo.cache_key(_model(seed=0), x)


def test_different_key_trains_again(x):
    train = Trainer(x)
    zoo.load_or_train("tiny", _model(), x, train, epochs=2)
    zoo.load_or_train("tiny", _model(), x, train, epochs=3)
    zoo.load_or_train("tiny", _model(), x[:32], train, epochs=2)
    assert train.calls == 3


def test_atomic_write_leaves_no_part_files(x, tmp_data):
    zoo.load_or_train("tiny", _model(), x, Trainer(x), epochs=2)
    assert _parts(tmp_data) == []
    assert len(list((tmp_data / "zoo").iterdir())) == 1


def test_failed_write_leaves_nothing(x, tmp_data, monkeypatch):
    def broken_save(obj, f, *args, **kwargs):
        with open(f, "wb") as fh:
            fh.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(zoo.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        zoo.save(tmp_data / "zoo" / "m.pt", _model())
    assert list((tmp_data / "zoo").iterdir()) == []


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "wrong_state"])
def test_damaged_cache_entry_is_retrained(x, tmp_data, damage, capsys):
    train = Trainer(x)
    zoo.load_or_train("tiny", _model(), x, train, epochs=2)
    (path,) = (tmp_data / "zoo").iterdir()
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a checkpoint at all")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a readable file holding another model's weights: partially matching keys
        other = _model()
        state = other.state_dict()
        state["encoder.1.weight"] = torch.full_like(state["encoder.1.weight"], 7.0)
        state["extra"] = torch.zeros(1)
        torch.save({"state_dict": state, "history": None}, path)

    fresh = _model()
    m, h = zoo.load_or_train("tiny", fresh, x, train, epochs=2)
    assert train.calls == 2 and isinstance(h, History)
    assert "retraining" in capsys.readouterr().out
    assert not (m.encoder[1].weight == 7.0).any()  # nothing from the bad file was kept
    # the retrained model equals a clean training run from the same initial weights, and is cached again
    ref = _model()
    Trainer(x)(ref)
    assert all(torch.equal(a, b) for a, b in zip(_state(m).values(), _state(ref).values()))
    blob = torch.load(path, weights_only=True)
    assert all(torch.equal(blob["state_dict"][k], v) for k, v in _state(m).items())


def test_train_fn_without_history(x):
    m, h = zoo.load_or_train("plain", _model(), x, lambda model: None, epochs=0)
    assert h is None
    m2, h2 = zoo.load_or_train("plain", _model(), x, lambda model: pytest.fail("should load"), epochs=0)
    assert h2 is None


@pytest.mark.parametrize("name", ["", "a/b", f"a{os.sep}b"])
def test_bad_name(x, name):
    with pytest.raises(ValueError, match="name"):
        zoo.load_or_train(name, _model(), x, Trainer(x))


def test_fingerprint():
    t = torch.arange(6.0)
    assert zoo.fingerprint(t) == zoo.fingerprint(t.clone())
    assert zoo.fingerprint(t) != zoo.fingerprint(t.reshape(2, 3))
    assert zoo.fingerprint(t) != zoo.fingerprint(t.double())
    assert zoo.fingerprint(t.reshape(2, 3).T) == zoo.fingerprint(t.reshape(2, 3).T.contiguous())
