"""Keys out of everything the proxy passes on, records or logs.

A provider may quote the key it was sent (some echo it in a 401). `Redactor` replaces
each secret of a call (the provider key the proxy sent, the client's session key) with
`[redacted]`: whole bodies and headers in one pass each, streams through
`StreamRedactor`, a rolling window that holds back the few bytes at a chunk's end that
could be the start of a secret, so a key split between two chunks is still caught.
Cost: a substring search per chunk per secret (memchr speed), measured by
benchmarks/proxy_overhead.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

MARK = b"[redacted]"
#: shorter strings are not treated as secrets (they would match ordinary text).
MIN_SECRET = 8


class Redactor:
    def __init__(self, secrets: Iterable[str | None]) -> None:
        found = {s.encode() for s in secrets if s and len(s) >= MIN_SECRET}
        self.secrets = tuple(sorted(found, key=len, reverse=True))
        self._texts = tuple(s.decode() for s in self.secrets)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def scrub(self, data: bytes) -> bytes:
        for secret in self.secrets:
            if secret in data:
                data = data.replace(secret, MARK)
        return data

    def scrub_text(self, text: str) -> str:
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, MARK.decode())
        return text

    def headers(self, headers: dict[str, str]) -> dict[str, str]:
        """The same dict when no value holds a secret (one scan of all values), else a
        scrubbed copy."""
        joined = "\n".join(headers.values())
        if not any(secret in joined for secret in self._texts):
            return headers
        return {k: self.scrub_text(v) for k, v in headers.items()}

    def partial_tail(self, data: bytes) -> int:
        """How many bytes at the end of `data` could begin a secret (0 if none)."""
        longest = 0
        for secret in self.secrets:
            i = data.find(secret[:1], max(0, len(data) - len(secret) + 1))
            while i != -1:
                if secret.startswith(data[i:]):
                    longest = max(longest, len(data) - i)
                    break
                i = data.find(secret[:1], i + 1)
        return longest


@lru_cache(maxsize=1024)
def redactor_for(*secrets: str | None) -> Redactor:
    """The (immutable) Redactor of these secrets, built once per distinct set."""
    return Redactor(secrets)


NOTHING = Redactor(())


class StreamRedactor:
    """Feed chunks in order; get back what may be forwarded now. `finish()` at the end."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._held + chunk if self._held else chunk
        data = self.redactor.scrub(data)
        keep = self.redactor.partial_tail(data)
        if keep:
            self._held = data[-keep:]
            return data[:-keep]
        self._held = b""
        return data

    def finish(self) -> bytes:
        rest, self._held = self._held, b""
        return rest
