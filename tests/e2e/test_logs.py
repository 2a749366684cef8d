"""A real process's log: JSON lines with the request id, and no secret a client sent."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.processes import ServiceProcess

# A token-shaped value (header.payload.signature), a password and a real private key.
JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QiLCJ0eXAiOiJhdCtqd3QifQ"
    ".eyJzdWIiOiJ1c2VyLTEyMyIsInJvbGVzIjpbImFkbWluIl19"
    ".c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ"
)
PASSWORD = "Tr0ub4dor-and-3-horse-battery"


def _private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_logs_are_json_with_request_ids_and_never_carry_secrets(
    auth_database_url: str, tmp_path: Path
) -> None:
    pem = _private_key_pem()
    key_body = "".join(pem.splitlines()[1:-1])  # the base64 key material itself
    env = {
        "AUTH_DATABASE_URL": auth_database_url,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_LOG_LEVEL": "DEBUG",
    }
    proc = ServiceProcess("auth_service.main:create_app", env, tmp_path / "svc.log").start()
    try:
        base = proc.base_url
        bearer = {"authorization": f"Bearer {JWT}", "x-request-id": "req-token-1"}
        # Secrets in headers, query strings, form bodies, JSON bodies and in the path itself
        # (the access line logs the path).
        httpx.get(f"{base}/health/ready?access_token={JWT}", headers=bearer)
        httpx.post(
            f"{base}/oauth/token",
            data={"grant_type": "password", "username": "a@example.com", "password": PASSWORD},
            headers={"x-request-id": "req-password-1"},
        )
        httpx.post(
            f"{base}/api/v1/keys", json={"private_key": pem}, headers={"x-request-id": "req-pem-1"}
        )
        httpx.get(f"{base}/tokens/{JWT}", headers={"x-request-id": "req-path-jwt"})
        httpx.get(f"{base}/login/password={PASSWORD}", headers={"x-request-id": "req-path-pw"})
        httpx.get(f"{base}/keys/{quote(pem, safe='')}", headers={"x-request-id": "req-path-pem"})
    finally:
        assert proc.stop() == 0

    text = proc.read_log()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access = {r["request_id"]: r for r in records if r.get("logger") == "servicekit.access"}
    for rid in ("req-password-1", "req-pem-1", "req-path-jwt", "req-path-pw", "req-path-pem"):
        assert rid in access, f"no access line for {rid}"
        assert access[rid]["status"] >= 400
    assert all(r["service"] == "auth" for r in records)
    # The secrets did reach the logger (in the path) and were scrubbed on the way out.
    for rid in ("req-path-jwt", "req-path-pw", "req-path-pem"):
        assert "[REDACTED" in access[rid]["path"]
    for secret in (JWT, JWT.split(".")[1], JWT.split(".")[2], PASSWORD, key_body[:64]):
        assert secret not in text
    assert "PRIVATE KEY-----\n" not in text
