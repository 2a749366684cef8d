"""auth settings: every field is read from the environment with the AUTH_ prefix."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", hide_input_in_errors=True)

    required_secrets: ClassVar[tuple[str, ...]] = ("key_encryption_key",)

    service_name: str = "auth"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/auth"
    # base64 of 32 random bytes; wraps every private signing key (AES-256-GCM).
    key_encryption_key: SecretStr | None = None
    issuer: str = "http://127.0.0.1:8001"
    audience: str = "orders"
    access_token_ttl_s: int = Field(default=900, ge=300, le=1800)


@lru_cache(maxsize=1)
def get_settings() -> AuthSettings:
    return AuthSettings()
