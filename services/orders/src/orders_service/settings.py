"""orders settings: every field is read from the environment with the ORDERS_ prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class OrdersSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDERS_", extra="ignore", hide_input_in_errors=True
    )

    service_name: str = "orders"
    port: int = 8002
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/orders"
    redis_url: str = "redis://127.0.0.1:6379/0"
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    jwt_issuer: str = "http://127.0.0.1:8001"
    jwt_audience: str = "orders"
    # Largest request body accepted (413 above it); a pedido of 100 lines is about 10 KiB.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)


@lru_cache(maxsize=1)
def get_settings() -> OrdersSettings:
    return OrdersSettings()
