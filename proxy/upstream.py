"""The send step: one upstream attempt, and the one place aiohttp's errors are mapped.

`send(client, attempt)` performs exactly one HTTP request upstream and returns a typed
`Reply` (status, headers, when they came) whose body is still to be read; it never
retries and never follows a redirect (the key goes to the configured upstream only). It
is the seam for what wraps an attempt: a governor admits around it, a recorded retry
mode loops it.

`upstream_errors(url, during)` is the proxy's `map_exceptions`: aiohttp's and asyncio's
exceptions become the proxy's own tree (`proxy.errors`) at this boundary, so the code
above handles one kind of error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Literal, Protocol

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from proxy.errors import (
    ProxyError,
    UpstreamCut,
    UpstreamMalformed,
    UpstreamTimeout,
    UpstreamUnreachable,
)

Phase = Literal["request", "body", "stream"]


@dataclass(slots=True)
class Attempt:
    """One request to send upstream, exactly as it will go (not changed once made: a
    changed request is a new Attempt, `dataclasses.replace`)."""

    method: str
    url: URL
    headers: Mapping[str, str]
    data: bytes
    #: the session's own upstream timeout (shorter than its agent's client timeout), else
    #: the proxy's.
    timeout_s: float | None = None
    #: the client sent no User-Agent: aiohttp must not add its own (the upstream sees
    #: what the agent sent, nothing more)
    no_user_agent: bool = False


class BodySource(Protocol):
    """What the relay reads a reply's body from: aiohttp's response, or a recorded one."""

    @property
    def url(self) -> Any: ...
    @property
    def content(self) -> Any: ...  # .iter_any() yields the body's chunks

    async def read(self) -> bytes: ...
    def release(self) -> None: ...
    def close(self) -> None: ...


@dataclass(slots=True)
class Reply:
    """The upstream's answer up to its headers; read or stream `response` for the body."""

    response: BodySource
    status: int
    headers: CIMultiDictProxy[str]
    sent_at: float
    headers_at: float


async def send(client: aiohttp.ClientSession, attempt: Attempt) -> Reply:
    sent_at = perf_counter()
    timeout = client.timeout
    if attempt.timeout_s is not None:
        t = attempt.timeout_s
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=t, sock_read=t)
    try:
        resp = await client.request(
            attempt.method,
            attempt.url,
            data=attempt.data,
            headers=attempt.headers,
            timeout=timeout,
            allow_redirects=False,  # the key goes to the one upstream given, a 3xx is answered
            skip_auto_headers=_NO_USER_AGENT if attempt.no_user_agent else None,
        )
    except UPSTREAM_FAILURES as exc:
        raise upstream_failure(exc, str(attempt.url), "request") from exc
    return Reply(resp, resp.status, resp.headers, sent_at, perf_counter())


_NO_USER_AGENT = ("User-Agent",)


def capped_response(max_bytes: int) -> type[aiohttp.ClientResponse]:
    """aiohttp's response, whose whole-body `read()` refuses to hold more than
    `max_bytes` (a provider cannot make the proxy buffer without end). Every reader of a
    whole body (the relay, error bodies, absorb mode) goes through it; streams do not."""

    class CappedResponse(aiohttp.ClientResponse):
        async def read(self) -> bytes:
            if self._body is None:
                try:
                    self._body = await _read_at_most(self.content, max_bytes, str(self.url))
                except BaseException:
                    self.close()
                    raise
            return await super().read()  # the body is there: aiohttp's release and checks

    return CappedResponse


async def _read_at_most(content: aiohttp.StreamReader, max_bytes: int, url: str) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > max_bytes:
            raise UpstreamMalformed(
                f"upstream {url} sent a reply larger than this proxy's limit of {max_bytes}"
                " bytes (cab proxy --max-reply-bytes)"
            )
        parts.append(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


#: what talking to the upstream can raise (ServerTimeoutError is both).
UPSTREAM_FAILURES = (TimeoutError, aiohttp.ClientError)


def upstream_failure(exc: BaseException, url: str, during: Phase) -> ProxyError:
    """The proxy's error for what talking to the upstream raised (the map, in one place).
    Hot loops catch `UPSTREAM_FAILURES` and raise this: a try costs nothing there."""
    if isinstance(exc, TimeoutError):  # first: ServerTimeoutError is a ClientError too
        return UpstreamTimeout(_TIMEOUT[during].format(url=url))
    if isinstance(exc, aiohttp.ClientResponseError):  # aiohttp could not parse the answer
        said = " ".join(str(exc.message).split())[:200]
        return UpstreamMalformed(f"upstream {url} answered with something that is not HTTP: {said}")
    reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
    if during == "request":
        return UpstreamUnreachable(f"upstream {url} unreachable: {reason}")
    return UpstreamCut(f"upstream {url} cut the {_WHAT[during]}: {reason}")


@contextmanager
def upstream_errors(url: str, during: Phase) -> Iterator[None]:
    """Translate what talking to the upstream can raise into the proxy's errors."""
    try:
        yield
    except UPSTREAM_FAILURES as exc:
        raise upstream_failure(exc, url, during) from exc


_TIMEOUT = {
    "request": "upstream {url} did not answer in time (cab proxy --timeout)",
    "body": "upstream {url} stalled mid-body",
    "stream": "upstream {url} stalled mid-stream",
}
_WHAT = {"request": "request", "body": "response", "stream": "stream"}
