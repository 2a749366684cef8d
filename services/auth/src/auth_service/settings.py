"""auth settings: every field is read from the environment with the AUTH_ prefix."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from functools import lru_cache
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from servicekit.core.settings import KNOWN_DEFAULT_SECRETS, InsecureSettingsError, ServiceSettings

KEK_BYTES = 32  # AES-256
# SHA-256 of every key-encryption key that ships in this repository (.env.example; compose,
# the charts and the docs ship none): public, so production refuses them. A test scans the
# repository for base64 32-byte values and checks each one is listed here.
SHIPPED_KEY_ENCRYPTION_KEY_DIGESTS = frozenset(
    {
        "a5ce820df2af1c8d7e0df368facebfe847c7c9777d00bf75c4faa2def644a4dd",  # .env.example
    }
)


def decode_key_encryption_key(value: str) -> bytes:
    """The raw 32 bytes of a base64 key-encryption key; ValueError (without the value) else."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 (standard alphabet) of 32 random bytes") from None
    if len(raw) != KEK_BYTES:
        raise ValueError(f"must decode to {KEK_BYTES} bytes (AES-256), got {len(raw)}")
    return raw


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore", hide_input_in_errors=True)

    required_secrets: ClassVar[tuple[str, ...]] = ("key_encryption_key",)

    service_name: str = "auth"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/auth"
    # base64 of 32 random bytes; wraps every private signing key (AES-256-GCM).
    key_encryption_key: SecretStr | None = None
    # Peers whose X-Forwarded-For names the client (comma-separated addresses or CIDRs, or
    # `*`), passed to uvicorn by `auth-service serve`: the ingress range in production, where
    # every connection comes from the ingress and per-address budgets would otherwise be one.
    forwarded_allow_ips: str = "127.0.0.1"
    issuer: str = "http://127.0.0.1:8001"
    audience: str = "orders"

    # Tokens
    access_token_ttl_s: int = Field(default=900, ge=300, le=1800)
    # Absolute: rotation never extends a refresh-token family past issue time + this.
    refresh_token_ttl_s: int = Field(default=14 * 86400, ge=3600, le=90 * 86400)
    # A rotated refresh token presented again within this many seconds of its rotation, while
    # the token that replaced it is still unused, is rotated once more (that unused successor
    # is retired) instead of revoking its family: a client whose refresh answer was lost (503
    # commit-outcome-unknown, a cut connection) retries with the only token it has. A thief
    # replaying within the window only delays detection: the retired successor, presented by
    # the user next, is reuse and revokes the family. 0 turns it off (every replay is reuse).
    refresh_reuse_grace_s: int = Field(default=10, ge=0, le=60)
    # Clock skew tolerated on exp/nbf; also part of a retired key's grace period.
    token_leeway_s: int = Field(default=30, ge=0, le=300)

    # Keys
    key_size: int = 2048  # RSA modulus bits: 2048, 3072 or 4096
    jwks_max_age_s: int = Field(default=300, ge=10, le=86400)
    key_rotation_period_s: int = Field(default=30 * 86400, ge=3600, le=365 * 86400)
    # How often a replica checks the key set when it misses a change notification; a next key
    # is promoted only after max-age plus this, so every replica and verifier has it.
    key_reload_interval_s: float = Field(default=10.0, ge=0.5, le=300)

    # How long a replica keeps a service client's row (clients._cache): a client disabled or
    # given a new secret through another replica keeps its old row here at most this long.
    client_cache_ttl_s: float = Field(default=5.0, ge=0, le=60)

    # Logins
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    password_min_length: int = Field(default=12, ge=8, le=128)
    # Token requests (per process): every request per client address, counted before the form
    # is read; and failed authentications per identity (client id, or the normalised username
    # of a password grant): a correct client or user never spends that budget.
    # The body cap of /oauth/token and /oauth/revoke (servicekit.web.limits.body_cap): a form of
    # a few short fields, far below max_body_bytes.
    oauth_form_max_bytes: int = Field(default=16 * 1024, ge=1024, le=1_048_576)
    token_requests_per_ip_per_minute: int = Field(default=60, ge=1)
    token_burst_per_ip: int = Field(default=20, ge=1)
    token_requests_per_identity_per_minute: int = Field(default=20, ge=1)
    token_burst_per_identity: int = Field(default=10, ge=1)
    # argon2id cost (defaults: argon2-cffi's RFC 9106 low-memory profile).
    password_hash_time_cost: int = Field(default=3, ge=1, le=10)
    password_hash_memory_kib: int = Field(default=65536, ge=8192, le=1048576)
    password_hash_parallelism: int = Field(default=4, ge=1, le=16)

    @field_validator("key_encryption_key")
    @classmethod
    def _kek_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        # Empty or a known default is left to the production check, which names it.
        if value is None or value.get_secret_value().strip().lower() in KNOWN_DEFAULT_SECRETS:
            return value
        decode_key_encryption_key(value.get_secret_value())
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        if not entries:
            raise ValueError("name at least one address, network, or *")
        for entry in entries:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry[:60]!r} is not an address or network") from None
        return ",".join(entries)

    @field_validator("key_size")
    @classmethod
    def _supported_key_size(cls, value: int) -> int:
        if value not in (2048, 3072, 4096):
            raise ValueError("must be 2048, 3072 or 4096")
        return value

    @field_validator("issuer")
    @classmethod
    def _issuer_without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_shipped_keys_in_production(self) -> AuthSettings:
        if not self.is_production:
            return self
        kek = self.key_encryption_key_bytes()
        if (
            kek is not None
            and hashlib.sha256(kek).hexdigest() in SHIPPED_KEY_ENCRYPTION_KEY_DIGESTS
        ):
            # Name the setting, never its value.
            raise InsecureSettingsError(
                "production refuses a key-encryption key that ships in the repository: "
                "key_encryption_key (generate one: base64 of 32 random bytes)"
            )
        return self

    def key_encryption_key_bytes(self) -> bytes | None:
        """The configured key-encryption key, or None when none (or a placeholder) is set."""
        if self.key_encryption_key is None:
            return None
        raw = self.key_encryption_key.get_secret_value()
        if raw.strip().lower() in KNOWN_DEFAULT_SECRETS:
            return None
        return decode_key_encryption_key(raw)

    @property
    def access_key_grace_s(self) -> int:
        """How long a retired access key stays published: token lifetime + max-age + leeway."""
        return self.access_token_ttl_s + self.jwks_max_age_s + self.token_leeway_s

    @property
    def refresh_key_grace_s(self) -> int:
        return self.refresh_token_ttl_s + self.token_leeway_s


@lru_cache(maxsize=1)
def get_settings() -> AuthSettings:
    return AuthSettings()
