"""The fault vocabulary: one small language for "what the provider does to this call".

Shared by the fake upstream's per-session sequences (`faults/<sequence>/<model>`) and by
fault injection (`--inject`), so a scenario reads the same wherever it is written.

A fault is a name with optional `:key=value` parameters:

    ok                    answer normally
    429                   rate limited; `429:retry_after=8` asks for 8 s (default 1)
    500 502 503 504 ...   that 5xx with an OpenAI-shaped error body
    401 403               the key is refused
    404                   the model does not exist (`model_not_found`)
    400 ...               any other 4xx with a generic error body
    context               400 context_length_exceeded
    hang                  never answer (`hang:s=N` answers 500 after N s instead)
    cut                   start the answer, then drop the connection mid-body
    drop                  close the connection before any response
    junk                  200 whose body is HTML, not the API's JSON
    slow                  answer normally after a pause (`slow:s=2`)

A sequence is faults separated by commas, each optionally repeated with `*N`; its last
step repeats for ever: "3 ok, then 429 with Retry-After 8" is `ok*3,429:retry_after=8`,
"hang after 2" is `ok*2,hang`, and `ok*2,503*3,ok` recovers after three failures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Fault names that are not a bare status code.
NAMED = frozenset({"ok", "context", "hang", "cut", "drop", "junk", "slow"})
#: Parameters each fault accepts (status codes take `retry_after` only when 429).
PARAMS: dict[str, frozenset[str]] = {
    "429": frozenset({"retry_after"}),
    "hang": frozenset({"s"}),
    "slow": frozenset({"s"}),
}
_STATUS = re.compile(r"^[45]\d\d$")
_REPEAT = re.compile(r"^(?P<fault>.+?)\*(?P<n>\d+)$")
MAX_REPEAT = 10_000


class FaultSyntaxError(ValueError):
    """A fault or sequence that does not parse: the message quotes it and says why."""


@dataclass(frozen=True)
class Fault:
    name: str
    params: dict[str, float] = field(default_factory=dict)

    @property
    def status(self) -> int | None:
        """The HTTP status this fault answers with, when it is a status fault."""
        if self.name == "context":
            return 400
        return int(self.name) if _STATUS.match(self.name) else None

    def param(self, key: str, default: float) -> float:
        return self.params.get(key, default)

    def __str__(self) -> str:
        extra = "".join(f":{k}={v:g}" for k, v in sorted(self.params.items()))
        return self.name + extra


def parse_fault(text: str) -> Fault:
    """`429:retry_after=8` -> Fault("429", {"retry_after": 8.0})."""
    name, *pairs = text.strip().split(":")
    if name not in NAMED and not _STATUS.match(name):
        raise FaultSyntaxError(
            f"fault {text!r}: unknown name {name!r} (use a 4xx/5xx status or one of "
            f"{', '.join(sorted(NAMED))})"
        )
    params: dict[str, float] = {}
    allowed = PARAMS.get(name, frozenset())
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in allowed:
            raise FaultSyntaxError(
                f"fault {text!r}: parameter {pair!r} not understood"
                + (f" (it takes {', '.join(sorted(allowed))}=N)" if allowed else "")
            )
        try:
            params[key] = float(value)
        except ValueError:
            raise FaultSyntaxError(f"fault {text!r}: {key} must be a number") from None
        if params[key] < 0:
            raise FaultSyntaxError(f"fault {text!r}: {key} must not be negative")
    return Fault(name, params)


@dataclass(frozen=True)
class Sequence:
    """Faults in order; `at(i)` is the fault for the i-th call (0-based)."""

    steps: tuple[Fault, ...]

    def at(self, index: int) -> Fault:
        return self.steps[min(index, len(self.steps) - 1)]

    def __str__(self) -> str:
        return ",".join(str(s) for s in self.steps)


def parse_sequence(text: str) -> Sequence:
    """`ok*3,429:retry_after=8` -> ok, ok, ok, then 429 (Retry-After 8 s) for ever."""
    steps: list[Fault] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise FaultSyntaxError(f"sequence {text!r}: empty step")
        n = 1
        m = _REPEAT.match(part)
        if m:
            part, n = m.group("fault"), int(m.group("n"))
            if not 1 <= n <= MAX_REPEAT:
                raise FaultSyntaxError(f"sequence {text!r}: repeat count must be 1..{MAX_REPEAT}")
        try:
            fault = parse_fault(part)
        except FaultSyntaxError as exc:
            raise FaultSyntaxError(f"sequence {text!r}: {exc}") from None
        steps.extend([fault] * n)
    return Sequence(tuple(steps))
