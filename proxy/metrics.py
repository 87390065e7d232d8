"""Prometheus text exposition for /metrics: calls by outcome, latency/overhead/ttft.

Hand-written (a dozen lines of format) rather than a client library: the proxy keeps
counters in plain dicts on its one event loop, which costs nothing per call.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

from proxy.records import ModelCall

_BUCKETS_S = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
    300,
)


class Histogram:
    def __init__(self, name: str, help_: str) -> None:
        self.name, self.help = name, help_
        self.counts = [0] * (len(_BUCKETS_S) + 1)
        self.sum = 0.0
        self.n = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(_BUCKETS_S, seconds)] += 1
        self.sum += seconds
        self.n += 1

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        acc = 0
        for bound, count in zip(_BUCKETS_S, self.counts, strict=False):
            acc += count
            out.append(f'{self.name}_bucket{{le="{bound}"}} {acc}')
        out.append(f'{self.name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{self.name}_sum {self.sum:.6f}")
        out.append(f"{self.name}_count {self.n}")
        return out


class Metrics:
    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], int] = defaultdict(int)
        self.tokens: dict[str, int] = defaultdict(int)
        self.latency = Histogram(
            "cab_proxy_latency_seconds", "Whole call time as the client saw it."
        )
        self.overhead = Histogram("cab_proxy_overhead_seconds", "Time the proxy itself added.")
        self.ttft = Histogram("cab_proxy_ttft_seconds", "Time to the first output token.")

    def record(self, call: ModelCall) -> None:
        self.calls[(call.outcome, call.api)] += 1
        self.latency.observe(call.latency_ms / 1000)
        if call.proxy_overhead_ms is not None:
            self.overhead.observe(call.proxy_overhead_ms / 1000)
        if call.ttft_ms is not None:
            self.ttft.observe(call.ttft_ms / 1000)
        if call.prompt_tokens:
            self.tokens["prompt"] += call.prompt_tokens
        if call.completion_tokens:
            self.tokens["completion"] += call.completion_tokens

    def render(self) -> str:
        out = [
            "# HELP cab_proxy_calls_total Upstream attempts and rejected requests, by outcome.",
            "# TYPE cab_proxy_calls_total counter",
        ]
        for (outcome, api), n in sorted(self.calls.items()):
            out.append(f'cab_proxy_calls_total{{outcome="{outcome}",api="{api}"}} {n}')
        out += [
            "# HELP cab_proxy_tokens_total Tokens by kind.",
            "# TYPE cab_proxy_tokens_total counter",
        ]
        for kind, n in sorted(self.tokens.items()):
            out.append(f'cab_proxy_tokens_total{{kind="{kind}"}} {n}')
        for h in (self.latency, self.overhead, self.ttft):
            out += h.render()
        return "\n".join(out) + "\n"
