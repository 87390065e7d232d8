"""Faults by name: the one vocabulary of the proxy's `--inject` and the fake upstream's
per-session fault sequences.

A fault is `NAME[:param=value]...`:

| fault | what the caller gets |
|---|---|
| `ok` | the real answer (no fault) |
| `429[:retry_after=S][:retry_after_ms=MS]` | 429 `rate_limit_exceeded` with `Retry-After` / `retry-after-ms` (1 s when neither is given) |
| `500`, `502`, `503`, … any 5xx, or any other 4xx | that status with an OpenAI-shaped error body |
| `overloaded` | 503 "The server is overloaded" (what providers say when busy) |
| `hang[:s=S]` | nothing for S seconds (default: until the caller gives up), then 504 |
| `cut` | a 200 stream that stops after its first event without ending |

An injection spec (`cab proxy --inject SPEC`, `inject = "SPEC"` on a model) is rules
separated by `;`, each `FAULT[@WHEN]`: `@30%` or `@0.3` injects at that rate, `@1,3`
on those calls of a session (1-based), no `@` on every call; the first rule that
matches a call wins. `seed=N` among the rules seeds the rates. The draw for call n of a
cell is a hash of (seed, cell, n, rule), so a rerun meets the same faults on the same calls.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Literal

from proxy.errors import error_body

FaultKind = Literal["ok", "status", "hang", "cut"]


class FaultSpecError(ValueError):
    """A fault or injection spec that does not parse; the message quotes the bad part."""


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    status: int | None = None
    retry_after_s: float | None = None
    #: retry-after-ms sent alone (no `Retry-After`), when the spec asked for ms only.
    ms_only: bool = False
    hang_s: float | None = None
    overloaded: bool = False
    text: str = "ok"

    def __str__(self) -> str:
        return self.text

    def reply(self) -> tuple[int, dict[str, str], bytes]:
        """(status, headers, body) of a status fault, as a provider would send it."""
        status = self.status or 500
        if status == 429:
            return 429, self._retry_headers(), _RATE_LIMITED
        if self.overloaded:
            return status, {}, _OVERLOADED
        kind = "server_error" if status >= 500 else "invalid_request_error"
        message = f"Injected fault: HTTP {status}."
        return status, {}, error_body(message, kind, None)

    def _retry_headers(self) -> dict[str, str]:
        after = 1.0 if self.retry_after_s is None else self.retry_after_s
        headers = {"retry-after-ms": str(round(after * 1000))}
        if not self.ms_only:
            headers["Retry-After"] = str(max(0, math.ceil(after)))
        return headers


_RATE_LIMITED = error_body(
    "Rate limit reached for requests. Please try again later.",
    "requests",
    "rate_limit_exceeded",
)
_OVERLOADED = error_body("The server is overloaded or not ready yet.", "server_error", "overloaded")
OK = Fault("ok")


def parse_fault(text: str) -> Fault:
    """`429:retry_after=8`, `503`, `overloaded`, `hang:s=5`, `cut`, `ok` -> Fault."""
    name, *params = text.strip().split(":")
    args = dict(_param(text, p) for p in params)
    canon = text.strip()
    if name == "ok" and not args:
        return OK
    if name == "cut" and not args:
        return Fault("cut", text=canon)
    if name == "hang":
        _only(text, args, {"s"})
        return Fault("hang", hang_s=args.get("s"), text=canon)
    if name == "overloaded" and not args:
        return Fault("status", status=503, overloaded=True, text=canon)
    if name == "429":
        _only(text, args, {"retry_after", "retry_after_ms"})
        ms = args.get("retry_after_ms")
        after = ms / 1000 if ms is not None else args.get("retry_after")
        only_ms = ms is not None and "retry_after" not in args
        return Fault("status", status=429, retry_after_s=after, ms_only=only_ms, text=canon)
    if name.isdigit() and 400 <= int(name) <= 599 and not args:
        return Fault("status", status=int(name), text=canon)
    raise FaultSpecError(
        f"fault {text!r}: use ok, 429[:retry_after=S][:retry_after_ms=MS], a 4xx/5xx code, "
        "overloaded, hang[:s=S] or cut"
    )


def parse_faults(text: str) -> list[Fault]:
    """A comma-separated sequence of faults (the fake upstream's per-session sequences)."""
    return [parse_fault(part) for part in text.split(",") if part.strip()]


def _param(text: str, part: str) -> tuple[str, float]:
    key, sep, value = part.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not key or math.isnan(number) or number < 0 or math.isinf(number):
        raise FaultSpecError(f"fault {text!r}: parameter {part!r} must be name=number (>= 0)")
    return key, number


def _only(text: str, args: dict[str, float], allowed: set[str]) -> None:
    extra = sorted(set(args) - allowed)
    if extra:
        raise FaultSpecError(
            f"fault {text!r}: unknown parameter {extra[0]!r} (allowed: {sorted(allowed)})"
        )


@dataclass(frozen=True)
class Rule:
    fault: Fault
    rate: float | None = None
    calls: frozenset[int] = frozenset()

    def __str__(self) -> str:
        if self.calls:
            return f"{self.fault}@{','.join(str(n) for n in sorted(self.calls))}"
        return str(self.fault) if self.rate is None else f"{self.fault}@{self.rate:g}"


@dataclass(frozen=True)
class InjectSpec:
    rules: tuple[Rule, ...] = ()
    seed: int = 0
    text: str = ""

    def __str__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return bool(self.rules)

    def fault_for(self, cell: str, n: int) -> Fault | None:
        """The fault call n (1-based) of this cell meets, or None: a pure function."""
        for i, rule in enumerate(self.rules):
            if rule.calls:
                if n in rule.calls:
                    return rule.fault
            elif rule.rate is None or _draw(self.seed, cell, n, i) < rule.rate:
                return rule.fault
        return None


def _draw(seed: int, cell: str, n: int, rule: int) -> float:
    digest = hashlib.sha256(f"{seed}\0{cell}\0{n}\0{rule}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def parse_inject(text: str) -> InjectSpec:
    """`429:retry_after=2@30%;503@4;seed=7` -> InjectSpec (errors quote the bad rule)."""
    rules: list[Rule] = []
    seed = 0
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        if part.startswith("seed="):
            value = part[len("seed=") :]
            if not value.isdigit():
                raise FaultSpecError(f"inject {text!r}: {part!r} must be seed=<integer>")
            seed = int(value)
            continue
        rules.append(_rule(text, part))
    return InjectSpec(tuple(rules), seed, text.strip())


def _rule(text: str, part: str) -> Rule:
    fault_text, at, when = part.partition("@")
    fault = parse_fault(fault_text)
    if not at:
        return Rule(fault)
    when = when.strip()
    try:
        if when.endswith("%"):
            rate = float(when[:-1]) / 100
        elif "." in when:
            rate = float(when)
        else:
            calls = frozenset(int(n) for n in when.split(","))
            if min(calls) < 1:
                raise ValueError
            return Rule(fault, calls=calls)
    except ValueError:
        rate = math.nan
    if not 0 <= rate <= 1:
        raise FaultSpecError(
            f"inject {text!r}: in {part!r}, after '@' give a rate (30% or 0.3) "
            "or call numbers (1,3)"
        )
    return Rule(fault, rate=rate)
