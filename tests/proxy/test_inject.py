"""The fault vocabulary and injection specs: parsing, replies, seeded determinism."""

from __future__ import annotations

import json

import pytest

from proxy.inject import FaultSpecError, parse_fault, parse_faults, parse_inject


def test_429_reply_carries_both_retry_headers():
    status, headers, body = parse_fault("429:retry_after=8").reply()
    assert status == 429
    assert headers == {"Retry-After": "8", "retry-after-ms": "8000"}
    assert json.loads(body)["error"]["code"] == "rate_limit_exceeded"


def test_429_ms_only_and_default():
    assert parse_fault("429:retry_after_ms=250").reply()[1] == {"retry-after-ms": "250"}
    assert parse_fault("429").reply()[1] == {"Retry-After": "1", "retry-after-ms": "1000"}


@pytest.mark.parametrize(
    ("text", "kind", "status"),
    [("503", "status", 503), ("overloaded", "status", 503), ("500", "status", 500),
     ("hang:s=2.5", "hang", None), ("cut", "cut", None), ("ok", "ok", None)],
)  # fmt: skip
def test_vocabulary(text, kind, status):
    fault = parse_fault(text)
    assert (fault.kind, fault.status, str(fault)) == (kind, status, text)


def test_sequence():
    assert [str(f) for f in parse_faults("429:retry_after=1,503, ok")] == [
        "429:retry_after=1",
        "503",
        "ok",
    ]


@pytest.mark.parametrize(
    "bad", ["42", "teapot", "429:x=1", "hang:s=-1", "hang:s", "cut:s=1", "200"]
)
def test_bad_faults_are_named(bad):
    with pytest.raises(FaultSpecError, match=repr(bad).replace("[", r"\[")):
        parse_fault(bad)


@pytest.mark.parametrize("bad", ["429@200%", "429@0", "429@x", "seed=x", "503@-1"])
def test_bad_inject_specs(bad):
    with pytest.raises(FaultSpecError):
        parse_inject(bad)


def test_chosen_calls_and_first_rule_wins():
    spec = parse_inject("503@2,4; 429:retry_after=3@1.0")
    faults = [str(spec.fault_for("cell", n)) for n in range(1, 6)]
    assert faults == ["429:retry_after=3", "503", "429:retry_after=3", "503", "429:retry_after=3"]


def test_rates_are_seeded_and_reproducible():
    spec = parse_inject("429@30%;seed=7")
    first = [spec.fault_for("sweep/a/m/t", n) is not None for n in range(1, 2001)]
    again = [parse_inject("429@30%;seed=7").fault_for("sweep/a/m/t", n) is not None
             for n in range(1, 2001)]  # fmt: skip
    other = [parse_inject("429@30%;seed=8").fault_for("sweep/a/m/t", n) is not None
             for n in range(1, 2001)]  # fmt: skip
    assert first == again and first != other
    assert 0.25 < sum(first) / len(first) < 0.35
    assert not parse_inject("429@0%").fault_for("c", 1)
    assert not parse_inject("")
