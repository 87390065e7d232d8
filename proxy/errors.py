"""The proxy's one error hierarchy.

Each error knows the HTTP status, the OpenAI error `type`/`code` it is sent as, and the
`outcome` it is recorded under, so a handler turns any of them into the same
OpenAI-shaped body `{"error": {"message", "type", "param", "code"}}` and one record.
"""

from __future__ import annotations

import json

from aiohttp import web

from proxy.records import Outcome


class ProxyError(Exception):
    """Base: something the proxy itself answers instead of the upstream."""

    status: int = 500
    type: str = "proxy_error"
    code: str | None = None
    outcome: Outcome = "bad_request"
    #: close the client's connection after the answer (the request was not read whole)
    close: bool = False

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def body(self) -> bytes:
        return error_body(self.message, self.type, self.code, self.param)

    def response(self) -> web.Response:
        """The answer the client gets: this error's status and OpenAI-shaped body."""
        resp = web.Response(status=self.status, body=self.body(), content_type="application/json")
        if self.close:
            resp.force_close()  # says `Connection: close`
        return resp


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    """The OpenAI error envelope, as bytes ready to send."""
    err = {"message": message, "type": type_, "param": param, "code": code}
    return json.dumps({"error": err}).encode()


class BadRequest(ProxyError):
    """The client's request is malformed (bad JSON, missing field); never sent upstream."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class BodyTooLarge(ProxyError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class BodyTimeout(ProxyError):
    """The request's body did not arrive in time after its headers (slow-loris on the
    body); the connection is closed after the answer, the rest of the body unread."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"
    close = True


class UnsupportedEncoding(ProxyError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_encoding"


class NotFound(ProxyError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class SessionRejected(ProxyError):
    """No valid `cab-<session>` key while the proxy requires one."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class UpstreamUnreachable(ProxyError):
    """Connecting to the upstream failed (refused, DNS, reset before a response)."""

    status = 502
    type = "upstream_error"
    code = "upstream_unreachable"
    outcome: Outcome = "connection_error"


class UpstreamTimeout(ProxyError):
    """The upstream did not answer within the configured timeout."""

    status = 504
    type = "upstream_error"
    code = "upstream_timeout"
    outcome: Outcome = "timeout"


class UpstreamCut(ProxyError):
    """The upstream answered, then broke its body or stream off before the end."""

    status = 502
    type = "upstream_error"
    code = "upstream_cut"
    outcome: Outcome = "connection_error"


class UpstreamMalformed(ProxyError):
    """The upstream answered 2xx with a body that is not the API's JSON (an HTML page)."""

    status = 502
    type = "upstream_error"
    code = "upstream_malformed"
    outcome: Outcome = "upstream_malformed"
