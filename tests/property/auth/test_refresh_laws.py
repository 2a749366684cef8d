"""Laws of refresh-token rotation with the retry grace, against the real app and PostgreSQL.

Holders present any token the family has issued so far, in any order, sometimes after the
grace has passed. Whatever they do: the family never has two active tokens; a granted
refresh's token is the family's one active token; and once a presentation is refused the
family is dead, so every later one is refused too.
"""

from __future__ import annotations

from typing import Any

import jwt
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.auth_app import AuthApp

WAIT = "wait past the grace"
# A presentation of the n-th token issued so far (modulo their number), or time passing.
STEPS = st.lists(st.one_of(st.integers(min_value=0, max_value=7), st.just(WAIT)), max_size=7)


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# The paths the laws are about, in every run: a retry in the grace, the retired successor
# presented afterwards, and a replay after the grace.
@example(steps=[0, 0])
@example(steps=[0, 0, 1])
@example(steps=[0, WAIT, 0])
@given(steps=STEPS)
async def test_law_one_active_token_per_family_and_a_refusal_ends_the_family(
    auth_app: AuthApp, steps: list[int | str]
) -> None:
    user = await auth_app.create_user()
    held = [(await auth_app.login(user))["refresh_token"]]
    refused = False
    for step in steps:
        if step == WAIT:
            grace_s = auth_app.settings.refresh_reuse_grace_s
            await auth_app.backdate_refresh_family(held[0], grace_s + 1)
            continue
        assert isinstance(step, int)
        answer = await auth_app.token(
            {"grant_type": "refresh_token", "refresh_token": held[step % len(held)]}
        )
        statuses = await auth_app.refresh_family_statuses(held[0])
        active = [jti for jti, status in statuses.items() if status == "active"]
        assert len(active) <= 1, statuses
        if answer.status_code == 200:
            assert not refused, "a refresh was granted after the family was refused once"
            token = answer.json()["refresh_token"]
            assert active == [_claims(token)["jti"]]
            held.append(token)
        else:
            assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")
            refused = True
            assert active == [], "a refused presentation left the family alive"
