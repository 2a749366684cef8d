"""A refresh whose COMMIT reply is lost, then the client's retry: the user stays signed in.

auth's database connection goes through a proxy that forwards one COMMIT, swallows the
server's reply (the rotation did commit) and closes the connection. The client gets 503
commit-outcome-unknown and retries with the only refresh token it has, which the database
now holds as rotated: without the retry grace that retry was reuse and revoked the family.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.auth_app import auth_settings, running_auth
from tests.support.pgproxy import CommitReplyDropper, commit_dropper_for


@pytest.fixture
def dropper(auth_database_url: str) -> Iterator[CommitReplyDropper]:
    with commit_dropper_for(auth_database_url) as proxy:
        yield proxy


async def test_a_refresh_retried_after_a_lost_commit_reply_keeps_the_user_signed_in(
    auth_database_url: str, dropper: CommitReplyDropper
) -> None:
    settings = auth_settings(dropper.url_for(auth_database_url))
    async with running_auth(settings) as app:
        user = await app.create_user()
        first = await app.login(user)
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}

        dropper.arm()
        lost = await app.token(form)
        assert dropper.dropped.is_set()
        assert lost.status_code == 503, lost.text
        assert lost.json()["type"].endswith("/commit-outcome-unknown")
        assert lost.headers["retry-after"] == "1"

        retried = await app.token(form)
        assert retried.status_code == 200, retried.text
        kept = retried.json()
        onwards = await app.token(
            {"grant_type": "refresh_token", "refresh_token": kept["refresh_token"]}
        )
        assert onwards.status_code == 200, onwards.text

        statuses = list((await app.refresh_family_statuses(kept["refresh_token"])).values())
        # first (rotated twice), the successor whose answer was lost (retired), the retry's
        # token (used onwards) and the newest: one active token in the family.
        assert sorted(statuses) == ["active", "rotated", "rotated", "rotated"]
