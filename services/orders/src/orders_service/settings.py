"""orders settings: every field is read from the environment with the ORDERS_ prefix."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from servicekit.core.settings import ServiceSettings
from servicekit.verify.keys import check_jwks_url


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDERS_", extra="ignore", hide_input_in_errors=True
    )

    required_secrets: ClassVar[tuple[str, ...]] = ("cursor_secret",)

    service_name: str = "orders"
    port: int = 8002
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/orders"
    redis_url: str = "redis://127.0.0.1:6379/0"
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    # Production fetches keys over https only, unless this says the path to auth is trusted
    # (e.g. an in-cluster Service that a NetworkPolicy confines).
    jwks_trusted_network: bool = False
    jwt_issuer: str = "http://127.0.0.1:8001"
    jwt_audience: str = "orders"
    # Largest request body accepted (413 above it); a pedido of 100 lines is about 10 KiB.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    # Item read cache (servicekit.data.cache.RedisCache); TTL = base x (1 + U(0.05, 0.15)).
    # Off: every item read goes to PostgreSQL (a kill switch; writes still need no Redis).
    cache_enabled: bool = True
    cache_namespace: str = "orders:cache:"
    cache_item_ttl_s: float = Field(default=300.0, ge=1, le=86_400)
    # In-process layer in front of Redis: a hit costs no round trip. A write on this replica
    # evicts it at once; a write on another replica evicts it through Redis pub/sub (about a
    # millisecond), and within this bound if that message is lost. 0 turns the layer off.
    cache_local_ttl_s: float = Field(default=2.0, ge=0, le=60)
    cache_local_max_entries: int = Field(default=10_000, ge=16, le=1_000_000)
    cache_lock_ttl_s: float = Field(default=2.0, gt=0, le=60)
    cache_wait_timeout_s: float = Field(default=0.5, gt=0, le=10)
    # Each Redis call of the cache answers within this or the read goes to the database.
    cache_op_timeout_s: float = Field(default=0.25, gt=0, le=5)
    cache_breaker_cooldown_s: float = Field(default=1.0, ge=0, le=60)
    # `orders-service cache warm` loads this many of the hottest items by default.
    cache_warm_limit: int = Field(default=1000, ge=1, le=100_000)
    cache_warm_window_days: int = Field(default=7, ge=1, le=365)

    # Idempotency-Key (servicekit.web.idempotency); draft-ietf-httpapi-idempotency-key-header.
    idempotency_namespace: str = "orders:idem:"
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=24 * 3600, le=48 * 3600)
    # How long a reservation (a keyed request still running) holds its key; past it, it is a
    # crashed process's and the key becomes usable again. It must outlive any request, which
    # may run until the graceful timeout at shutdown: 0 means graceful_timeout_s + 30 s.
    idempotency_lock_ttl_s: float = Field(default=0, ge=0, le=3600)
    idempotency_op_timeout_s: float = Field(default=0.5, gt=0, le=5)

    # `orders-service events prune` deletes outbox events older than this (docs/events.md).
    events_retention_days: int = Field(default=30, ge=1, le=3650)

    # HMAC key of list cursors (orders_service.cursors); production refuses the default.
    cursor_secret: SecretStr = SecretStr("dev")
    # Keys of before a rotation, comma-separated: their cursors still verify until removed.
    cursor_previous_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    @field_validator("cursor_previous_secrets", mode="before")
    @classmethod
    def _comma_separated_secrets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def jwks_requires_https(self) -> bool:
        return self.is_production and not self.jwks_trusted_network

    @model_validator(mode="after")
    def _jwks_over_https_in_production(self) -> OrdersSettings:
        check_jwks_url(self.jwks_url, require_https=self.jwks_requires_https)
        return self

    @model_validator(mode="after")
    def _reservations_outlive_requests(self) -> OrdersSettings:
        # A reservation that expired before its request finished would let a retry run the
        # same write a second time.
        if not self.idempotency_lock_ttl_s:
            self.idempotency_lock_ttl_s = self.graceful_timeout_s + 30
        if self.idempotency_lock_ttl_s <= self.graceful_timeout_s:
            raise ValueError(
                "idempotency_lock_ttl_s must exceed graceful_timeout_s (the longest a request runs)"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> OrdersSettings:
    return OrdersSettings()
