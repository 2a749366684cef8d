"""Header assertions on a sample of each service's routes, on the processes the fuzzer uses.

The fuzzer's `protective_headers` check holds every answer to nosniff, no Server header and a
cache policy when authenticated; these pin the policy itself on routes that matter most.
"""

from __future__ import annotations

import httpx
import pytest

from tests.fuzz.conftest import AuthUnderFuzz, issuer_headers
from tests.support.processes import ServiceProcess
from tests.support.tokens import JwksServer, TestIssuer

# Parameters are fixed (not uuid4()): pytest-xdist's workers must collect the same test ids.
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"

ORIGIN = "https://app.example.com"


def _protected(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "server" not in response.headers
    assert "x-powered-by" not in response.headers


def test_auth_token_answers_are_never_cached(fuzz_auth: AuthUnderFuzz) -> None:
    email, password = fuzz_auth.passwords["viewer"]
    base = fuzz_auth.process.base_url
    granted = httpx.post(
        base + "/oauth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )
    refused = httpx.post(base + "/oauth/token", data={"grant_type": "password"})
    for response in (granted, refused):
        _protected(response)
        assert response.headers["cache-control"] == "no-store"
    assert (granted.status_code, refused.status_code) == (200, 400)


def test_auth_jwks_keeps_its_public_cache_policy(fuzz_auth: AuthUnderFuzz) -> None:
    """Cached on purpose: the route's own Cache-Control wins, even for an authenticated call."""
    response = httpx.get(
        fuzz_auth.process.base_url + "/.well-known/jwks.json",
        headers=fuzz_auth.headers("viewer"),
    )
    _protected(response)
    assert response.headers["cache-control"].startswith("public, max-age=")


def test_auth_reads_with_a_token_are_no_store(fuzz_auth: AuthUnderFuzz) -> None:
    response = httpx.get(
        fuzz_auth.process.base_url + "/api/v1/users/me", headers=fuzz_auth.headers("admin")
    )
    assert response.status_code == 200
    _protected(response)
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/api/v1/items", f"/api/v1/items/{UNKNOWN_ID}"])
def test_orders_authenticated_reads_are_no_store(
    path: str, orders_process: ServiceProcess, fuzz_issuer: tuple[TestIssuer, JwksServer]
) -> None:
    response = httpx.get(
        orders_process.base_url + path, headers=issuer_headers(fuzz_issuer[0], "viewer")
    )
    assert response.status_code in (200, 404)
    _protected(response)
    assert response.headers["cache-control"] == "no-store"


def _cors_off(proc: ServiceProcess) -> None:
    preflight = httpx.options(
        proc.base_url + "/api/v1/items",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    live = httpx.get(proc.base_url + "/health/live", headers={"Origin": ORIGIN})
    for response in (preflight, live):
        _protected(response)
        assert "access-control-allow-origin" not in response.headers
    assert preflight.status_code in (404, 405)
    assert "cache-control" not in live.headers  # anonymous and not a token path


def test_auth_has_cors_off_and_protected_probes(auth_process: ServiceProcess) -> None:
    _cors_off(auth_process)


def test_orders_has_cors_off_and_protected_probes(orders_process: ServiceProcess) -> None:
    _cors_off(orders_process)
