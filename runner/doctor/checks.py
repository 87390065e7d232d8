"""The result types of `cab doctor`: one `Check` per thing looked at, a `DoctorReport` per use."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

Status = Literal["ok", "warn", "fail"]


class Check(BaseModel):
    """One line of the doctor's answer."""

    name: str = Field(description="what was checked, e.g. 'docker engine', 'image toolbox'")
    required: bool = Field(description="whether this use of cab cannot work without it")
    status: Status = Field(description="ok; warn (works, but worth fixing); fail (missing)")
    detail: str = Field(description="what was found")
    fix: str = Field("", description="what to do about it; empty when ok")

    @property
    def blocking(self) -> bool:
        return self.required and self.status == "fail"


def ok(name: str, detail: str, required: bool = True) -> Check:
    return Check(name=name, required=required, status="ok", detail=detail)


def fail(name: str, detail: str, fix: str, required: bool = True) -> Check:
    return Check(name=name, required=required, status="fail", detail=detail, fix=fix)


def warn(name: str, detail: str, fix: str, required: bool = True) -> Check:
    return Check(name=name, required=required, status="warn", detail=detail, fix=fix)


class DoctorReport(BaseModel):
    use: str = Field(description="demo | tests | sweep <file>")
    checks: list[Check]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        """True when every required check passed (warnings and optional misses allowed)."""
        return not any(c.blocking for c in self.checks)

    def blocking(self) -> list[Check]:
        return [c for c in self.checks if c.blocking]
