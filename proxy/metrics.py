"""Prometheus text exposition for /metrics: calls by outcome, latency/overhead/ttft.

Hand-written (a dozen lines of format) rather than a client library: the proxy keeps
counters in plain dicts on its one event loop, which costs nothing per call.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

from yarl import URL

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

    @property
    def n(self) -> int:
        return sum(self.counts)

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(_BUCKETS_S, seconds)] += 1
        self.sum += seconds

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        acc = 0
        for bound, count in zip(_BUCKETS_S, self.counts, strict=False):
            acc += count
            out.append(f'{self.name}_bucket{{le="{bound}"}} {acc}')
        n = self.n
        out.append(f'{self.name}_bucket{{le="+Inf"}} {n}')
        out.append(f"{self.name}_sum {self.sum:.6f}")
        out.append(f"{self.name}_count {n}")
        return out


class Metrics:
    def __init__(self) -> None:
        self.calls: dict[tuple[str, str, str], int] = defaultdict(int)
        self.tokens: dict[tuple[str, str], int] = defaultdict(int)
        self._labels: dict[str | None, str] = {}
        self.latency = Histogram(
            "cab_proxy_latency_seconds", "Whole call time as the client saw it."
        )
        self.overhead = Histogram("cab_proxy_overhead_seconds", "Time the proxy itself added.")
        self.ttft = Histogram("cab_proxy_ttft_seconds", "Time to the first output token.")

    def upstream_label(self, upstream: str | None) -> str:
        """The upstream base URL without credentials, quoted for a label (cached)."""
        label = self._labels.get(upstream)
        if label is None:
            url = URL(upstream) if upstream else None
            text = str(url.with_user(None)) if url is not None and url.host else "none"
            label = self._labels[upstream] = text.replace("\\", "\\\\").replace('"', '\\"')
        return label

    def record(self, call: ModelCall, upstream: str | None = None) -> None:
        up = self.upstream_label(upstream)
        self.calls[(call.outcome, call.api, up)] += 1
        self.latency.observe(call.latency_ms / 1000)
        if call.proxy_overhead_ms is not None:
            self.overhead.observe(call.proxy_overhead_ms / 1000)
        if call.ttft_ms is not None:
            self.ttft.observe(call.ttft_ms / 1000)
        if call.prompt_tokens:
            self.tokens[("prompt", up)] += call.prompt_tokens
        if call.completion_tokens:
            self.tokens[("completion", up)] += call.completion_tokens

    def render(self, in_flight: int = 0) -> str:
        out = [
            "# HELP cab_proxy_calls_in_flight Requests received and not yet recorded.",
            "# TYPE cab_proxy_calls_in_flight gauge",
            f"cab_proxy_calls_in_flight {in_flight}",
            "# HELP cab_proxy_calls_total Upstream attempts and rejected requests, by outcome.",
            "# TYPE cab_proxy_calls_total counter",
        ]
        for (outcome, api, up), n in sorted(self.calls.items()):
            out.append(
                f'cab_proxy_calls_total{{outcome="{outcome}",api="{api}",upstream="{up}"}} {n}'
            )
        out += [
            "# HELP cab_proxy_tokens_total Tokens by kind.",
            "# TYPE cab_proxy_tokens_total counter",
        ]
        for (kind, up), n in sorted(self.tokens.items()):
            out.append(f'cab_proxy_tokens_total{{kind="{kind}",upstream="{up}"}} {n}')
        for h in (self.latency, self.overhead, self.ttft):
            out += h.render()
        return "\n".join(out) + "\n"
