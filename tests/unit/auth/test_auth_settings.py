"""AuthSettings: the key-encryption key's shape and every number's allowed range."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from auth_service.settings import AuthSettings

KEK = base64.b64encode(os.urandom(32)).decode()


def test_a_base64_32_byte_kek_is_accepted_and_decoded() -> None:
    settings = AuthSettings(key_encryption_key=SecretStr(KEK), environment="production")
    assert settings.key_encryption_key_bytes() == base64.b64decode(KEK)


@pytest.mark.parametrize(
    "bad",
    [
        base64.b64encode(os.urandom(16)).decode(),
        base64.b64encode(os.urandom(33)).decode(),
        "not base64 at all!!",
        "x" * 44,
    ],
    ids=["16 bytes", "33 bytes", "not base64", "44 x"],
)
def test_a_malformed_kek_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        AuthSettings(key_encryption_key=SecretStr(bad))
    assert "key_encryption_key" in str(info.value)
    assert bad not in str(info.value)


def test_development_without_a_kek_has_none() -> None:
    assert AuthSettings(key_encryption_key=None).key_encryption_key_bytes() is None


@pytest.mark.parametrize(
    ("field", "ok", "bad"),
    [
        ("access_token_ttl_s", [300, 900, 1800], [299, 1801]),  # 5 to 30 minutes
        ("jwks_max_age_s", [10, 300], [9, 86401]),
        ("key_size", [2048, 3072, 4096], [1024, 2047, 8192]),
        ("login_max_failures", [1, 5], [0, 101]),
        ("login_lockout_minutes", [1, 15], [0, 1441]),
        ("token_leeway_s", [0, 30], [-1, 301]),
        ("refresh_token_ttl_s", [3600, 14 * 86400], [3599, 91 * 86400]),
        ("key_rotation_period_s", [3600, 30 * 86400], [3599, 366 * 86400]),
    ],
)
def test_numbers_outside_their_range_are_refused(field: str, ok: list[Any], bad: list[Any]) -> None:
    for value in ok:
        assert getattr(AuthSettings(**{field: value}), field) == value
    for value in bad:
        with pytest.raises(ValidationError):
            AuthSettings(**{field: value})


def test_a_retired_keys_grace_is_token_lifetime_plus_max_age_plus_leeway() -> None:
    settings = AuthSettings(access_token_ttl_s=600, jwks_max_age_s=120, token_leeway_s=15)
    assert settings.access_key_grace_s == 600 + 120 + 15
    assert settings.refresh_key_grace_s == settings.refresh_token_ttl_s + 15


def test_the_issuer_loses_a_trailing_slash() -> None:
    assert AuthSettings(issuer="https://auth.example.com/").issuer == "https://auth.example.com"


def test_prefixed_environment_variables_configure_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ACCESS_TOKEN_TTL_S", "600")
    monkeypatch.setenv("AUTH_KEY_SIZE", "3072")
    monkeypatch.setenv("AUTH_KEY_ENCRYPTION_KEY", KEK)
    settings = AuthSettings()
    assert (settings.access_token_ttl_s, settings.key_size) == (600, 3072)
    assert settings.key_encryption_key_bytes() == base64.b64decode(KEK)
