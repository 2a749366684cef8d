"""POST /oauth/token is rate-limited per client address, and per identity on failures only
(429, Retry-After)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.auth_app import ISSUER, AuthApp, auth_settings, running_auth

BURST = 3


@pytest.fixture
async def limited(auth_database_url: str) -> AsyncIterator[AuthApp]:
    """auth with small budgets: a burst of 3 per address and per identity, then 1 a minute."""
    settings = auth_settings(
        auth_database_url,
        token_requests_per_ip_per_minute=1,
        token_burst_per_ip=BURST,
        token_requests_per_identity_per_minute=1,
        token_burst_per_identity=BURST,
    )
    async with running_auth(settings) as app:
        yield app


def _from(app: AuthApp, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=ISSUER)


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["type"].endswith("/rate-limited")


async def test_an_address_gets_its_burst_then_429_with_retry_after(limited: AuthApp) -> None:
    form = {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"}
    async with _from(limited, "198.51.100.1") as client:
        # Different identities, one address: only the address budget counts.
        answers = [
            await client.post("/oauth/token", data={**form, "client_id": f"c{i}"})
            for i in range(BURST + 1)
        ]
    assert [a.status_code for a in answers[:BURST]] == [401] * BURST  # unknown clients
    _assert_limited(answers[BURST])
    async with _from(limited, "198.51.100.2") as other:
        assert (await other.post("/oauth/token", data=form)).status_code == 401


async def test_an_identity_gets_its_burst_whatever_the_address(limited: AuthApp) -> None:
    user = await limited.create_user()
    wrong = {"grant_type": "password", "username": user.email, "password": "wrong" * 3}
    answers = []
    for i in range(BURST + 1):
        async with _from(limited, f"203.0.113.{i + 1}") as client:
            answers.append(await client.post("/oauth/token", data=wrong))
    assert [a.status_code for a in answers[:BURST]] == [400] * BURST  # invalid_grant
    _assert_limited(answers[BURST])


async def test_case_variants_of_a_username_share_one_budget(limited: AuthApp) -> None:
    user = await limited.create_user()
    variants = [user.email.upper(), f"  {user.email} ", user.email.title(), user.email]
    answers = []
    for i, username in enumerate(variants):
        wrong = {"grant_type": "password", "username": username, "password": "wrong" * 3}
        async with _from(limited, f"203.0.113.{50 + i}") as client:
            answers.append(await client.post("/oauth/token", data=wrong))
    assert [a.status_code for a in answers[:BURST]] == [400] * BURST
    _assert_limited(answers[BURST])


async def test_successes_never_spend_an_identity_budget(limited: AuthApp) -> None:
    client = await limited.create_client()
    form = {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_secret": client.secret,
    }
    for i in range(BURST * 2):
        async with _from(limited, f"192.0.2.{i + 1}") as http:
            assert (await http.post("/oauth/token", data=form)).status_code == 200


async def test_wrong_secrets_sent_by_others_never_lock_the_client_out(limited: AuthApp) -> None:
    client = await limited.create_client()
    right = {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "client_secret": client.secret,
    }
    answers = []
    for i in range(BURST + 2):
        async with _from(limited, f"198.51.100.{100 + i}") as attacker:
            answers.append(
                await attacker.post("/oauth/token", data={**right, "client_secret": "guess"})
            )
    assert [a.status_code for a in answers[:BURST]] == [401] * BURST
    for answer in answers[BURST:]:
        _assert_limited(answer)  # the guesser learns nothing more for a while
    async with _from(limited, "198.51.100.250") as owner:
        assert (await owner.post("/oauth/token", data=right)).status_code == 200


async def test_the_429_is_documented(limited: AuthApp) -> None:
    responses = limited.app.openapi()["paths"]["/oauth/token"]["post"]["responses"]
    assert "Retry-After" in responses["429"]["headers"]
