"""Trace spans with OpenTelemetry-shaped ids (32-hex trace id, 16-hex span id)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, computed_field

SpanKind = Literal[
    "task_setup", "tool_call", "container", "adapter_run", "model_call", "scoring", "cleanup"
]


def new_trace_id() -> str:
    return secrets.token_hex(16)


def new_span_id() -> str:
    return secrets.token_hex(8)


class Span(BaseModel):
    span_id: str = Field(default_factory=new_span_id)
    trace_id: str
    parent_id: str | None = None
    kind: SpanKind
    name: str
    start: datetime
    end: datetime
    attrs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_ms(self) -> float:
        return round((self.end - self.start).total_seconds() * 1000, 3)


class Tracer:
    """Collects the spans of one cell. `span()` times a block; `add()` records a finished one."""

    def __init__(self, trace_id: str | None = None) -> None:
        self.trace_id = trace_id or new_trace_id()
        self.spans: list[Span] = []

    def new_id(self) -> str:
        return new_span_id()

    def add(
        self,
        kind: SpanKind,
        name: str,
        start: datetime,
        end: datetime,
        *,
        parent_id: str | None = None,
        span_id: str | None = None,
        attrs: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> Span:
        span = Span(
            span_id=span_id or new_span_id(),
            trace_id=self.trace_id,
            parent_id=parent_id,
            kind=kind,
            name=name,
            start=start,
            end=end,
            attrs=attrs or {},
            error=error,
        )
        self.spans.append(span)
        return span

    @contextmanager
    def span(
        self,
        kind: SpanKind,
        name: str,
        *,
        parent_id: str | None = None,
        span_id: str | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Time a block; the yielded dict is the span's attrs, filled in by the block."""
        attrs = dict(attrs or {})
        start = datetime.now(UTC)
        error: str | None = None
        try:
            yield attrs
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.add(
                kind,
                name,
                start,
                datetime.now(UTC),
                parent_id=parent_id,
                span_id=span_id,
                attrs=attrs,
                error=error,
            )
