from __future__ import annotations

import base64
import secrets

import pytest
from pydantic import SecretStr, ValidationError

from auth_service.settings import AuthSettings
from orders_service.settings import OrdersSettings
from servicekit.core.settings import normalize_database_url


@pytest.mark.parametrize("kek", [None, "", "changeme", "change-me"])
def test_production_refuses_missing_or_default_secret(kek: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        AuthSettings(environment="production", key_encryption_key=kek)
    assert "key_encryption_key" in str(info.value)
    if kek:
        assert kek not in str(info.value).replace("key_encryption_key", "")


def test_production_starts_with_a_real_secret() -> None:
    kek = base64.b64encode(secrets.token_bytes(32)).decode()  # AES-256: 32 bytes, base64
    s = AuthSettings(environment="production", key_encryption_key=SecretStr(kek))
    assert s.is_production


def test_development_tolerates_a_missing_secret() -> None:
    assert (
        AuthSettings(environment="development", key_encryption_key=None).key_encryption_key is None
    )


def test_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_DATABASE_URL", "postgresql://u@db:5432/o")
    monkeypatch.setenv("ORDERS_REDIS_URL", "redis://cache:6379/1")
    monkeypatch.setenv("ORDERS_JWKS_URL", "http://auth:8000/.well-known/jwks.json")
    s = OrdersSettings()
    assert s.database_url == "postgresql+asyncpg://u@db:5432/o"
    assert s.redis_url == "redis://cache:6379/1"
    assert s.jwks_url.startswith("http://auth:8000")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://a@h/d", "postgresql+asyncpg://a@h/d"),
        ("postgres://a@h/d", "postgresql+asyncpg://a@h/d"),
        ("postgresql+asyncpg://a@h/d", "postgresql+asyncpg://a@h/d"),
    ],
)
def test_database_url_accepts_both_schemes(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_database_url_rejects_other_schemes() -> None:
    with pytest.raises(ValueError, match="postgresql"):
        normalize_database_url("mysql://a@h/d")


def test_orders_idempotency_ttl_is_24_to_48_hours_and_reservations_outlive_requests() -> None:
    assert OrdersSettings().idempotency_ttl_s == 24 * 3600
    assert OrdersSettings(idempotency_ttl_s=48 * 3600).idempotency_ttl_s == 48 * 3600
    for ttl in (23 * 3600, 49 * 3600):
        with pytest.raises(ValidationError, match="idempotency_ttl_s"):
            OrdersSettings(idempotency_ttl_s=ttl)
    with pytest.raises(ValidationError, match="graceful_timeout_s"):
        OrdersSettings(idempotency_lock_ttl_s=20, graceful_timeout_s=30)
    assert OrdersSettings(idempotency_lock_ttl_s=31, graceful_timeout_s=30)
    # Unset, it follows the graceful timeout (a chart may raise that one alone).
    assert OrdersSettings().idempotency_lock_ttl_s == 60
    assert OrdersSettings(graceful_timeout_s=120).idempotency_lock_ttl_s == 150


def test_orders_item_cache_defaults() -> None:
    settings = OrdersSettings()
    assert settings.cache_item_ttl_s == 300
    assert 0 < settings.cache_local_ttl_s <= 5  # the staleness bound for other replicas' writes
    assert settings.cache_enabled
