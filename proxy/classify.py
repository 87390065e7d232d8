"""From an upstream status and body to a recorded outcome; Retry-After parsing.

Kept pure (no I/O) so the rules are tested directly and read in one place.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from proxy.records import MODERATION_MARKERS, Outcome

#: Phrases providers use for "your prompt is longer than the model's window".
_CONTEXT_MARKERS = (
    "context_length_exceeded",
    "context length",
    "context_length",
    "maximum context",
    "context window",
    "too many tokens",
    "prompt is too long",
)


#: a 429 that is no throttle but an account with no money left (OpenAI: "You exceeded your
#: current quota, please check your plan and billing details", code insufficient_quota):
#: no wait mends it, as none mends a 402
_NO_CREDIT = ("insufficient_quota",)
#: a 413 that says the request is bigger than the quota, not the window
_OVER_QUOTA = ("rate_limit", "tokens per minute", "(tpm)")
#: a 400 that refuses the account, not the request: a bad key (Gemini: "API key not
#: valid", reason API_KEY_INVALID), or no money (Anthropic: "Your credit balance is too low
#: to access the Anthropic API"), the account's failure as a 401 or a 402 is
_BAD_KEY_MARKERS = (
    "api key not valid", "api_key_invalid", "invalid api key", "invalid_api_key",
    "credit balance", "insufficient balance", *_NO_CREDIT,
)  # fmt: skip


def outcome_for(status: int, body: bytes | None = None) -> Outcome:
    if status < 400:
        return "ok"
    if status == 429:  # throttled; but OpenAI's insufficient_quota is an empty account
        return "auth_error" if body and _mentions(body, _NO_CREDIT) else "rate_limited"
    if status == 400 and body and _mentions(body, _BAD_KEY_MARKERS):
        return "auth_error"
    if status == 413:  # the request is bigger than the endpoint takes: its context outgrew it,
        # or (Groq) a single request over the key's tokens-per-minute quota
        return "rate_limited" if body and _mentions(body, _OVER_QUOTA) else "context_length"
    if status == 403 and body and _mentions(body, MODERATION_MARKERS):
        return "client_error"
    if status in (401, 402, 403):  # 402: the account is out of credit (gateways say so)
        return "auth_error"
    if status >= 500 or status == 408:  # 408: the provider's own timeout, as SDKs retry it
        return "upstream_error"
    if status == 400 and body and is_context_length(body):
        return "context_length"
    return "client_error"


#: what providers put in an error's `code`, `type` or `status` when a quota bit
_RATE_LIMIT_MARKS = frozenset(
    ("429", "rate_limit_exceeded", "rate_limit_error", "rate_limited", "too_many_requests",
     "tokens", "requests", "resource_exhausted")
)  # fmt: skip


#: ... and when the account was refused: a bad key, no permission, out of credit (a
#: gateway such as OpenRouter reports `code: 402` inside a stream whose 200 was sent)
_AUTH_MARKS = frozenset(
    ("401", "402", "403", "authentication_error", "permission_error", "permission_denied",
     "invalid_api_key", "unauthenticated", "payment_required", "insufficient_credits",
     "insufficient_quota")
)  # fmt: skip


#: codes of an error inside a 200 that blame the request (the Responses API's
#: `response.failed`: invalid_prompt, invalid_image_url, image_too_large, ...)
_REQUEST_FAULTS = ("invalid_", "image_", "unsupported_", "empty_image", "failed_to_download")


def reported_error_outcome(err: object) -> Outcome:
    """The outcome of an error a provider reported inside a 200 (an `error` object in a
    stream event or a whole body, a Responses `response.failed`): a refused account is
    `auth_error` (content flagged by moderation is the request's, `client_error`), a quota
    that bit `rate_limited`, an over-long prompt `context_length`, a request the provider
    could not take (an invalid prompt or image: `client_error`), anything else the
    provider's failure (`upstream_error`: overloaded, server error, cut generation)."""
    if isinstance(err, dict):
        marks = {str(err.get(k, "")).lower() for k in ("code", "type", "status")}
        text = str(err.get("message", "")).lower()
    else:
        marks, text = set(), str(err).lower()
    if marks & _AUTH_MARKS:  # the key, or (a 403 that says so) the request's content
        return "client_error" if any(m in text for m in MODERATION_MARKERS) else "auth_error"
    if marks & _RATE_LIMIT_MARKS or "rate limit" in text or "quota" in text:
        return "rate_limited"
    if "context_length_exceeded" in marks or any(m in text for m in _CONTEXT_MARKERS):
        return "context_length"
    if any(m.startswith(_REQUEST_FAULTS) or "policy_violation" in m for m in marks):
        return "client_error"  # the request's own: a bad prompt or image, a policy it broke
    return "upstream_error"


def is_context_length(body: bytes) -> bool:
    return _mentions(body, _CONTEXT_MARKERS)


def _mentions(body: bytes, markers: tuple[str, ...]) -> bool:
    text = body[:8192].decode("utf-8", "replace").lower()
    return any(m in text for m in markers)


def error_message(body: bytes) -> str:
    """The `error.message` of an OpenAI-shaped error body, else the body's start."""
    try:
        err = json.loads(body).get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:500]
        if isinstance(err, str):
            return err[:500]
    except (ValueError, AttributeError):
        pass
    return body[:500].decode("utf-8", "replace")


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        seconds = _seconds(ms, 1000)
        if seconds is not None:
            return seconds
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    seconds = _seconds(value, 1)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, round(when.timestamp() - now, 3))


def _seconds(text: str, per_second: int) -> float | None:
    """A number of seconds (or ms), not negative; None for text that is not a finite
    number (`inf`, `nan`: a header no wait can be read from)."""
    try:
        value = float(text) / per_second
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None


#: the headers a record keeps as `rate_limit_headers` (by their lower-case names).
RATE_LIMIT_PREFIX = "x-ratelimit-"


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith(RATE_LIMIT_PREFIX)}
