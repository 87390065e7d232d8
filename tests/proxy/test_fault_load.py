"""A hostile load, smaller than the benchmark's 10,000 calls (benchmarks/proxy_faults.py):
every call has exactly one record whose outcome and status are what the upstream did
and the client saw."""

from __future__ import annotations

import asyncio
import time

from proxy.fake.faultload import FAULTS, check, drive, plan
from proxy.records import ModelCall
from proxy.server import ProxyServer

from .conftest import KEY_ENV


def test_fault_load_loses_and_duplicates_nothing(fake, upstream_key, record_dir):
    kinds = plan(600, seed=1, fault_rate=0.3)
    assert {k for k in kinds} >= set(FAULTS)  # every kind of fault occurs
    with ProxyServer(upstream=fake.base_url + "/v1", upstream_key_env=KEY_ENV,
                     record_dir=record_dir, require_session=False, timeout=3,
                     governor=False) as proxy:  # fmt: skip
        seen = asyncio.run(drive(proxy.base_url, kinds, concurrency=64))
        deadline = time.monotonic() + 10  # the last records (clients that left) settle
        while time.monotonic() < deadline:
            lines = (record_dir / "calls.jsonl").read_text().splitlines()
            if len(lines) >= len(kinds):
                break
            time.sleep(0.05)
    report = check(kinds, seen, map(ModelCall.model_validate_json, lines))
    assert report.lost == [] and report.duplicated == []
    assert report.wrong == []
    assert report.records == len(kinds)
