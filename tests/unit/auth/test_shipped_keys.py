"""Production refuses every key-encryption key that ships in the repository: such a key is
public, and the signing keys it wraps would be readable by anyone with the database."""

from __future__ import annotations

import base64
import binascii
import re
import subprocess

import pytest
from pydantic import SecretStr, ValidationError

from auth_service.settings import AuthSettings
from tests.support.processes import REPO_ROOT

# Standard base64 of 32 bytes: 43 characters and one '=' (not inside a longer run).
_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])")


def _shipped_32_byte_values() -> dict[str, str]:
    """Every base64 32-byte value in a tracked text file, with the first file it is in."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    found: dict[str, str] = {}
    for name in filter(None, listed.split("\0")):
        path = REPO_ROOT / name
        if name == "uv.lock" or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for value in _CANDIDATE.findall(text):
            try:
                if len(base64.b64decode(value, validate=True)) == 32:
                    found.setdefault(value, name)
            except binascii.Error:
                continue
    return found


SHIPPED = _shipped_32_byte_values()


def test_the_scan_finds_the_example_key() -> None:
    assert ".env.example" in SHIPPED.values()


@pytest.mark.parametrize("value", sorted(SHIPPED), ids=lambda v: SHIPPED[v])
def test_production_refuses_a_key_that_ships_in_the_repository(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        AuthSettings(key_encryption_key=SecretStr(value), environment="production")
    assert "key_encryption_key" in str(info.value)
    assert value not in str(info.value)


@pytest.mark.parametrize("value", sorted(SHIPPED), ids=lambda v: SHIPPED[v])
def test_development_still_runs_on_the_example_key(value: str) -> None:
    settings = AuthSettings(key_encryption_key=SecretStr(value), environment="development")
    assert settings.key_encryption_key_bytes() == base64.b64decode(value)
