"""Model specs: which endpoint a cell's calls go to and what model id is sent.

Named models live in config/models.toml; `--endpoint URL --key-env NAME` makes an
ad-hoc one (bring your own OpenAI-compatible endpoint).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from proxy.config import upstream_problem
from proxy.governor import AbsorbPolicy, Limits, Policy
from proxy.inject import FaultSpecError, parse_inject
from runner.errors import ConfigError, RunnerError, UnknownNameError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
MODELS_FILE = CONFIG_DIR / "models.toml"
EMBEDDED = "embedded"


def checked_endpoint(v: str) -> str:
    """'embedded', or a base URL the proxy can forward to (ValueError says what is wrong,
    without repeating the URL: it may hold credentials)."""
    wrong = upstream_problem(v, "the env var key_env names") if v != EMBEDDED else None
    if wrong:
        raise ValueError(f"must be 'embedded' or a base URL the proxy can use: {wrong}")
    return v


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the name cells and reports use")
    endpoint: str = Field(EMBEDDED, description="'embedded' or an OpenAI base URL (…/v1)")
    key_env: str | None = Field(None, description="env var holding the endpoint's key")
    model_id: str | None = Field(None, description="sent upstream; {task_id} is substituted")
    build_id: str | None = None
    description: str = ""
    # The provider's quota for this model's key (docs/proxy.md, "The governor").
    rpm: int | None = Field(None, gt=0, description="requests per window (minute)")
    tpm: int | None = Field(None, gt=0, description="tokens per window (minute)")
    max_concurrency: int | None = Field(None, gt=0, description="calls in flight at once")
    quota_window_s: float = Field(60.0, gt=0, description="the window rpm/tpm count over")
    absorb: bool = Field(False, description="the proxy retries 429/503/overloaded itself")
    inject: str | None = Field(None, description="faults to inject, e.g. '429@30%;seed=1'")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        return checked_endpoint(v)

    @field_validator("inject")
    @classmethod
    def _inject(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_inject(v)
            except FaultSpecError as exc:
                raise ValueError(str(exc)) from None
        return v

    def policy(self) -> Policy:
        """What the proxy does to this model's calls besides forwarding them."""
        limits = Limits(self.rpm, self.tpm, self.max_concurrency, self.quota_window_s)
        return Policy(
            limits=limits,
            absorb=AbsorbPolicy() if self.absorb else None,
            inject=parse_inject(self.inject) if self.inject else None,
        )

    @property
    def embedded(self) -> bool:
        return self.endpoint == EMBEDDED

    def upstream_model(self, task_id: str) -> str:
        return (self.model_id or self.name).replace("{task_id}", task_id)

    @property
    def model_build_id(self) -> str:
        return self.build_id or self.model_id or self.name


def load_models(path: Path = MODELS_FILE) -> dict[str, ModelSpec]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, "<file>", str(exc)) from exc
    models: dict[str, ModelSpec] = {}
    for name, raw in (data.get("models") or {}).items():
        try:
            models[name] = ModelSpec.model_validate({"name": name, **raw})
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ConfigError(path, f"models.{name}.{field}", err["msg"]) from exc
    return models


def resolve_model(name: str, endpoint: str | None = None, key_env: str | None = None) -> ModelSpec:
    """A named model from config/models.toml, or an ad-hoc one when an endpoint is given."""
    if endpoint:
        try:
            return ModelSpec(name=name, endpoint=endpoint.rstrip("/"), key_env=key_env)
        except ValidationError as exc:  # said without the value: it may hold credentials
            raise RunnerError(f"--endpoint: {exc.errors()[0]['msg']}") from None
    models = load_models()
    if name not in models:
        raise UnknownNameError(
            f"unknown model '{name}' (known: {', '.join(sorted(models))}); "
            "give --endpoint URL --key-env NAME to use your own endpoint"
        )
    return models[name]
