"""Settings base: one pydantic-settings class per service, each with its own env prefix."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


# Values that ship in examples and local defaults; a production process must never run on them.
KNOWN_DEFAULT_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})


class InsecureSettingsError(ValueError):
    """A production process was configured with a missing or default secret."""


def normalize_database_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and hand SQLAlchemy the asyncpg dialect."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("database URL must start with postgresql:// or postgresql+asyncpg://")


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set `model_config` with their own env prefix."""

    # hide_input_in_errors: a failed validation must not print the secrets it was given.
    model_config = SettingsConfigDict(
        extra="ignore", validate_default=True, hide_input_in_errors=True
    )

    # Names of SecretStr fields that production refuses to start without.
    required_secrets: ClassVar[tuple[str, ...]] = ()

    environment: Environment = Environment.DEVELOPMENT
    service_name: str = "service"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # No overflow by default: an overflow connection is opened for a burst and closed when it
    # comes back, so under sustained load every request past the pool paid a connect (a TLS
    # attempt, authentication, a server process): measured with 64 clients on an uncached
    # read, p99 1.2 s with 5 overflow vs 0.3 s with none, and 11 % fewer requests/s.
    # Requests past the pool wait for a connection (database_pool_timeout_s), then get 503.
    database_max_overflow: int = Field(default=0, ge=0, le=200)
    database_pool_timeout_s: float = Field(default=5.0, gt=0)
    database_pool_pre_ping: bool = False
    database_pool_recycle_s: int = Field(default=1800, ge=60)
    log_level: str = "INFO"
    # Access lines: "errors" (status >= 400 or slower than access_log_slow_ms), "all" or
    # "off". Every request is counted and timed in /metrics whatever this says.
    access_log: Literal["errors", "all", "off"] = "errors"
    access_log_slow_ms: float = Field(default=1000.0, gt=0)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # Probes (servicekit.web.health): each dependency check answers within this or counts as failed.
    health_check_timeout_s: float = Field(default=1.0, gt=0, le=30)
    # Bearer token for GET /health/details (all checks, versions, uptime); unset: not served.
    health_details_token: SecretStr | None = None
    # SIGTERM (servicekit.web.shutdown): keep serving this long while endpoints drop the pod, then
    # stop accepting and give requests in flight up to the graceful timeout.
    drain_window_s: float = Field(default=5.0, ge=0, le=300)
    graceful_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # FastAPI's native OpenTelemetry (spans, metrics, logs through the OTel providers and
    # FASTAPI_OTEL_AUTO_CONFIGURE). Off: /metrics and the JSON logs are the services'
    # telemetry, and even with no provider configured its per-request check for one costs
    # about 5 us, a sixth of a cached item read.
    opentelemetry: bool = False

    # Hostile-input limits (servicekit.web.limits, servicekit.web.server). Each answers with a
    # problem+json; docs/hostile-input.md lists the status codes and what enforces each one.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)
    max_query_string_bytes: int = Field(default=4096, ge=256)
    max_query_param_chars: int = Field(default=1024, ge=16)
    max_json_depth: int = Field(default=32, ge=2, le=1000)
    max_json_array_items: int = Field(default=1000, ge=1)
    # Whole-body deadline: a client trickling its body is cut off with a 408.
    body_timeout_s: float = Field(default=30.0, gt=0)
    # From the first byte of a request (or of the connection) to the end of its headers.
    head_timeout_s: float = Field(default=10.0, gt=0)
    # Requests in flight per process before new ones get a 503 (probes exempt).
    max_concurrent_requests: int = Field(default=256, ge=1)
    overload_retry_after_s: int = Field(default=1, ge=1)
    # CORS is off unless origins are listed (comma-separated in the environment); no "*".
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Responses under these prefixes get `Cache-Control: no-store` unless the route set one.
    no_store_path_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["/oauth/"]
    )

    @field_validator("database_url")
    @classmethod
    def _asyncpg_dialect(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("cors_allow_origins", "no_store_path_prefixes", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _explicit_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*" or "://" not in origin or origin.endswith("/"):
                raise ValueError(
                    "cors_allow_origins takes explicit origins like https://app.example.com"
                )
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> ServiceSettings:
        if self.environment is not Environment.PRODUCTION:
            return self
        bad = [name for name in self.required_secrets if _is_default_secret(getattr(self, name))]
        if bad:
            # Name the settings, never their values.
            raise InsecureSettingsError(
                "production refuses to start with missing or default secrets: " + ", ".join(bad)
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


def _is_default_secret(value: Any) -> bool:
    if value is None:
        return True
    raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return raw.strip().lower() in KNOWN_DEFAULT_SECRETS
