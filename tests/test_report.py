"""aelab.report: claims, records and the JSON-lines report file."""

import json
import math

import numpy as np
import pytest
import torch

import aelab
from aelab import report


@pytest.fixture(autouse=True)
def _fresh_report(monkeypatch):
    """Keep CLAIMS/RECORDS and the report file private to each test."""
    monkeypatch.setattr(report, "CLAIMS", [])
    monkeypatch.setattr(report, "RECORDS", [])
    monkeypatch.delenv(report.REPORT_ENV, raising=False)


# --- claims -----------------------------------------------------------------------------

def test_claim_held(monkeypatch, capsys):
    monkeypatch.setenv("AELAB_QUICK", "0")
    assert aelab.claim(3 < 4, "three is less than four", detail="3 < 4") is True
    assert report.CLAIMS == [{"kind": "claim", "text": "three is less than four", "status": "held",
                              "detail": "3 < 4", "needs_full": False}]
    assert "three is less than four" in capsys.readouterr().out


@pytest.mark.parametrize("quick", ["0", "1"])
def test_claim_failed_raises_without_needs_full(monkeypatch, quick):
    monkeypatch.setenv("AELAB_QUICK", quick)
    with pytest.raises(aelab.ClaimError, match="five is less than four"):
        aelab.claim(5 < 4, "five is less than four", detail="5 vs 4")
    assert report.CLAIMS[-1]["status"] == "failed"
    assert issubclass(aelab.ClaimError, AssertionError)


def test_claim_needs_full_is_skipped_only_in_quick_mode(monkeypatch, capsys):
    monkeypatch.setenv("AELAB_QUICK", "1")
    assert aelab.claim(False, "deep AE beats PCA", needs_full=True) is False
    assert report.CLAIMS[-1]["status"] == "skipped"
    assert "skipped" in capsys.readouterr().out

    monkeypatch.setenv("AELAB_QUICK", "0")
    with pytest.raises(aelab.ClaimError):
        aelab.claim(False, "deep AE beats PCA", needs_full=True)
    assert report.CLAIMS[-1]["status"] == "failed"


def test_claim_needs_full_that_holds_is_held_in_quick_mode(monkeypatch):
    monkeypatch.setenv("AELAB_QUICK", "1")
    assert aelab.claim(np.float64(1.0) < 2.0, "numpy bools work", needs_full=True) is True
    assert report.CLAIMS[-1]["status"] == "held"


def test_claims_and_records_go_to_the_report_file(monkeypatch, tmp_path):
    path = tmp_path / "report.jsonl"
    monkeypatch.setenv(report.REPORT_ENV, str(path))
    monkeypatch.setenv("AELAB_QUICK", "1")
    aelab.claim(True, "a held claim")
    aelab.claim(False, "a skipped claim", needs_full=True)
    with pytest.raises(aelab.ClaimError):
        aelab.claim(False, "a failed claim")
    assert aelab.record("deep_ae_test_sse", np.float32(3.5), paper=3.00, unit="squared error per image",
                        note="4,000 training images", source="Hinton & Salakhutdinov 2006, Fig. 2") == 3.5
    lines = path.read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["kind"] for e in entries] == ["claim", "claim", "claim", "record"]
    assert [e["status"] for e in entries[:3]] == ["held", "skipped", "failed"]
    assert entries[3] == {"kind": "record", "name": "deep_ae_test_sse", "value": 3.5, "paper": 3.0,
                          "unit": "squared error per image", "note": "4,000 training images",
                          "source": "Hinton & Salakhutdinov 2006, Fig. 2", "bound": False}
    assert report.RECORDS == [entries[3]]


def test_without_report_file_only_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    aelab.record("x", 1)
    assert report.RECORDS[-1]["value"] == 1.0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, float("nan")])
def test_record_rejects_non_finite(value, tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    monkeypatch.setenv(report.REPORT_ENV, str(path))
    with pytest.raises(ValueError, match=r"record\('bad'\): value must be (finite|a number)"):
        aelab.record("bad", value)
    assert not path.exists() and report.RECORDS == []


@pytest.mark.parametrize("name", ["", None, 3])
def test_record_rejects_bad_name(name):
    with pytest.raises(ValueError, match="name"):
        aelab.record(name, 1.0)


def test_record_accepts_a_scalar_tensor():
    assert aelab.record("t", torch.tensor(2.5)) == 2.5


def test_record_says_bound_or_estimate_and_the_site_prints_what_it_said():
    from aelab.tools.site_pages import bound_or_estimate

    aelab.record("neg_elbo", 90.0, unit="nats per image", bound=True)
    assert report.RECORDS[-1]["bound"] is True
    assert bound_or_estimate(report.RECORDS[-1]) == "bound"
    # wording is not evidence: a note that mentions a bound does not make the number one, and back
    aelab.record("prior_bits", 140.0, unit="bits", note="below the bound of 294 bits (an ELBO would be higher)")
    assert report.RECORDS[-1]["bound"] is False
    assert bound_or_estimate(report.RECORDS[-1]) == "estimate"
    assert bound_or_estimate({"name": "iwae_nll", "note": "IWAE lower bound"}) == "estimate"   # old entries
    with pytest.raises(TypeError, match="bound must be True or False"):
        aelab.record("x", 1.0, bound="yes")




def test_read_report_round_trip_and_damaged_lines(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    monkeypatch.setenv(report.REPORT_ENV, str(path))
    monkeypatch.setenv("AELAB_QUICK", "0")
    aelab.claim(True, "held one")
    aelab.record("n", 2.0)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"kind": "claim", "text": "cut sh')  # a kernel killed mid-write
    claims, records = report.read_report(path)
    assert [c["text"] for c in claims] == ["held one"]
    assert [r["name"] for r in records] == ["n"]
    assert report.read_report(tmp_path / "missing.jsonl") == ([], [])


def test_record_accepts_numpy_scalars_and_refuses_bools_and_text():
    assert aelab.record("n", np.float32(1.5), paper=np.int64(2)) == 1.5
    assert report.RECORDS[-1]["paper"] == 2.0 and type(report.RECORDS[-1]["paper"]) is float
    with pytest.raises(TypeError, match="value must be a real number"):
        aelab.record("b", True)
    with pytest.raises(TypeError, match="value must be a real number"):
        aelab.record("s", "1.5")
    with pytest.raises(ValueError, match="paper"):
        aelab.record("p", 1.0, paper=float("nan"))
    with pytest.raises(TypeError, match="unit must be a string"):
        aelab.record("u", 1.0, unit=3)


def test_claim_accepts_numpy_and_torch_truth_values(capsys):
    assert aelab.claim(np.bool_(True), "numpy") and aelab.claim(torch.tensor(True), "torch")
    assert aelab.claim(np.array([True]), "one-element array")


@pytest.mark.parametrize("kwargs, match", [
    ({"condition": None}, "condition is None"),
    ({"condition": torch.tensor([True, False])}, r"shape \(2,\).*\.all\(\)"),
    ({"condition": np.array([True, True])}, r"shape \(2,\)"),
    ({"text": ""}, "text"),
    ({"needs_full": 1}, "needs_full must be True or False"),
    ({"detail": 3.5}, "detail must be a string"),
])
def test_claim_bad_arguments(kwargs, match):
    args = {"condition": True, "text": "a sentence", **kwargs}
    condition, text = args.pop("condition"), args.pop("text")
    with pytest.raises(TypeError, match=match):
        aelab.claim(condition, text, **args)
