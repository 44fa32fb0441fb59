"""aelab.course: quick mode, sized, claims, records, seeding, device choice, setup."""

import json
import math
import random

import numpy as np
import pytest
import torch

import aelab
from aelab import course


@pytest.fixture(autouse=True)
def _fresh_report(monkeypatch):
    """Keep CLAIMS/RECORDS and the report file private to each test."""
    monkeypatch.setattr(course, "CLAIMS", [])
    monkeypatch.setattr(course, "RECORDS", [])
    monkeypatch.delenv(course.REPORT_ENV, raising=False)


# --- quick mode -------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " 1 "])
def test_is_quick_true_words(monkeypatch, raw):
    monkeypatch.setenv("AELAB_QUICK", raw)
    assert course.is_quick() is True
    assert aelab.sized(full=60, quick=3) == 3


@pytest.mark.parametrize("raw", ["", "0", "false", "no", "off", "False"])
def test_is_quick_false_words(monkeypatch, raw):
    monkeypatch.setenv("AELAB_QUICK", raw)
    assert course.is_quick() is False
    assert aelab.sized(full=60, quick=3) == 60


def test_is_quick_unset_is_full(monkeypatch):
    monkeypatch.delenv("AELAB_QUICK", raising=False)
    assert course.is_quick() is False
    assert aelab.sized(full="big", quick="small") == "big"


@pytest.mark.parametrize("raw", ["2", "maybe", "quick"])
def test_is_quick_bad_value_raises(monkeypatch, raw):
    monkeypatch.setenv("AELAB_QUICK", raw)
    with pytest.raises(ValueError, match="AELAB_QUICK"):
        course.is_quick()
    with pytest.raises(ValueError, match="AELAB_QUICK"):
        aelab.sized(full=1, quick=2)


# --- claims -----------------------------------------------------------------------------

def test_claim_held(monkeypatch, capsys):
    monkeypatch.setenv("AELAB_QUICK", "0")
    assert aelab.claim(3 < 4, "three is less than four", detail="3 < 4") is True
    assert course.CLAIMS == [{"kind": "claim", "text": "three is less than four", "status": "held",
                              "detail": "3 < 4", "needs_full": False}]
    assert "three is less than four" in capsys.readouterr().out


@pytest.mark.parametrize("quick", ["0", "1"])
def test_claim_failed_raises_without_needs_full(monkeypatch, quick):
    monkeypatch.setenv("AELAB_QUICK", quick)
    with pytest.raises(aelab.ClaimError, match="five is less than four"):
        aelab.claim(5 < 4, "five is less than four", detail="5 vs 4")
    assert course.CLAIMS[-1]["status"] == "failed"
    assert issubclass(aelab.ClaimError, AssertionError)


def test_claim_needs_full_is_skipped_only_in_quick_mode(monkeypatch, capsys):
    monkeypatch.setenv("AELAB_QUICK", "1")
    assert aelab.claim(False, "deep AE beats PCA", needs_full=True) is False
    assert course.CLAIMS[-1]["status"] == "skipped"
    assert "skipped" in capsys.readouterr().out

    monkeypatch.setenv("AELAB_QUICK", "0")
    with pytest.raises(aelab.ClaimError):
        aelab.claim(False, "deep AE beats PCA", needs_full=True)
    assert course.CLAIMS[-1]["status"] == "failed"


def test_claim_needs_full_that_holds_is_held_in_quick_mode(monkeypatch):
    monkeypatch.setenv("AELAB_QUICK", "1")
    assert aelab.claim(np.float64(1.0) < 2.0, "numpy bools work", needs_full=True) is True
    assert course.CLAIMS[-1]["status"] == "held"


def test_claims_and_records_go_to_the_report_file(monkeypatch, tmp_path):
    report = tmp_path / "report.jsonl"
    monkeypatch.setenv(course.REPORT_ENV, str(report))
    monkeypatch.setenv("AELAB_QUICK", "1")
    aelab.claim(True, "a held claim")
    aelab.claim(False, "a skipped claim", needs_full=True)
    with pytest.raises(aelab.ClaimError):
        aelab.claim(False, "a failed claim")
    assert aelab.record("deep_ae_test_sse", np.float32(3.5), paper=3.00, unit="squared error per image",
                        note="4,000 training images") == 3.5
    lines = report.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["kind"] for e in entries] == ["claim", "claim", "claim", "record"]
    assert [e["status"] for e in entries[:3]] == ["held", "skipped", "failed"]
    assert entries[3] == {"kind": "record", "name": "deep_ae_test_sse", "value": 3.5, "paper": 3.0,
                          "unit": "squared error per image", "note": "4,000 training images"}
    assert course.RECORDS == [entries[3]]


def test_without_report_file_only_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    aelab.record("x", 1)
    assert course.RECORDS[-1]["value"] == 1.0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, float("nan")])
def test_record_rejects_non_finite(value, tmp_path, monkeypatch):
    report = tmp_path / "r.jsonl"
    monkeypatch.setenv(course.REPORT_ENV, str(report))
    with pytest.raises(ValueError, match="finite"):
        aelab.record("bad", value)
    assert not report.exists() and course.RECORDS == []


@pytest.mark.parametrize("name", ["", None, 3])
def test_record_rejects_bad_name(name):
    with pytest.raises(ValueError, match="name"):
        aelab.record(name, 1.0)


def test_record_accepts_a_scalar_tensor():
    assert aelab.record("t", torch.tensor(2.5)) == 2.5


# --- seeding, device, setup -------------------------------------------------------------

def _draw():
    return random.random(), np.random.rand(), torch.rand(3)


def test_seed_everything_is_deterministic():
    course.seed_everything(123)
    a = _draw()
    course.seed_everything(123)
    b = _draw()
    course.seed_everything(124)
    c = _draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    assert a[0] != c[0] and a[1] != c[1] and not torch.equal(a[2], c[2])


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        course.seed_everything(seed)


def test_pick_device():
    assert course.pick_device("cpu") == torch.device("cpu")
    assert course.pick_device(torch.device("cpu")).type == "cpu"
    auto = course.pick_device()
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if hasattr(torch.backends, "mps") and torch.backends.mps.is_available() else "cpu")
    assert auto.type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_pick_device_missing_cuda_raises():
    with pytest.raises(ValueError, match="CUDA is not available"):
        course.pick_device("cuda")


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
