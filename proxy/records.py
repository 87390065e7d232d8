"""ModelCall: the record of one upstream attempt, as the proxy saw it.

This is data only: the scorer and the runner import it, so it imports nothing of ours.
Field names are the reference cell page's ("Model calls" table, tokens/latency axes).
A record never holds an API key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Outcome = Literal[
    "ok",
    "rate_limited",
    "upstream_error",
    "auth_error",
    "context_length",
    "client_error",
    "timeout",
    "connection_error",
    "client_disconnected",
    "bad_request",
    "upstream_malformed",
    "proxy_shutdown",
    "retried_without_stream_options",
    "replay_miss",
]

#: The API family a call belongs to, read from its path.
Api = Literal["chat", "responses", "completions", "embeddings", "models", "other"]
#: the APIs whose answer is a generation (output, a finish reason, usage)
GENERATIVE_APIS: frozenset[str] = frozenset(("chat", "responses", "completions"))
#: words of a provider's refusal of a request's content by moderation (OpenRouter answers
#: it 403: "your input was flagged"), which is the request's, not the key's: the proxy
#: records it `client_error`, and the scorer tells it from a refused key by them. Not
#: "flagged" alone: an account flagged for abuse is the account's.
MODERATION_MARKERS = (
    "moderation", "input was flagged", "content was flagged", "content_filter", "content policy"
)  # fmt: skip


class ModelCall(BaseModel):
    """One upstream attempt (or one request the proxy itself rejected)."""

    seq: int = Field(description="1-based order of the call within its session")
    session: str = "default"
    cell_id: str | None = None
    method: str = "POST"
    path: str = "/v1/chat/completions"
    api: Api = "chat"
    started_at: datetime
    ended_at: datetime
    request_hash: str | None = None
    model: str | None = Field(None, description="model sent upstream (after any override)")
    requested_model: str | None = Field(None, description="model the client asked for")
    stream: bool = False
    status_code: int | None = Field(
        None, description="HTTP status the client received (None: it received none)"
    )
    upstream_status: int | None = Field(
        None, description="HTTP status the upstream answered with, when it answered"
    )
    outcome: Outcome
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    tokens_source: Literal["usage", "estimated"] | None = None
    latency_ms: float
    ttft_ms: float | None = None
    proxy_overhead_ms: float | None = None
    finish_reason: str | None = None
    retry_after_s: float | None = None
    rate_limit_headers: dict[str, str] = Field(default_factory=dict)
    queued_ms: float | None = Field(
        None, description="time the governor held the call before it went upstream"
    )
    retry_of: int | None = Field(None, description="seq of the first attempt this one retries")
    absorbed: bool = Field(False, description="the proxy retried; the client never saw this")
    injected: str | None = Field(None, description="the fault the proxy served (--inject)")
    client_retry_count: int | None = Field(None, description="the agent's x-stainless-retry-count")
    error: str | None = None
    response_text: str | None = Field(
        None, description="the assistant's reply text, truncated; feeds the refusal axis"
    )
    tool_calls: list[str] = Field(default_factory=list, description="names of tools called")
    replayed_seq: int | None = Field(
        None, description="replay: the recorded call whose reply was served (no upstream)"
    )

    @property
    def completed(self) -> bool:
        """A call the upstream answered successfully (what `model_calls` counts)."""
        return self.outcome == "ok"
