"""A refresh whose COMMIT reply is lost, then the client's retry: the user stays signed in.

auth's database connection goes through a proxy that forwards one COMMIT, swallows the
server's reply (the rotation did commit) and closes the connection. The client gets 503
commit-outcome-unknown and retries with the only refresh token it has, which the database
now holds as rotated: without the retry grace that retry was reuse and revoked the family.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.support.auth_app import auth_settings, running_auth
from tests.support.pgproxy import CommitReplyDropper


@pytest.fixture
def dropper(auth_database_url: str) -> Iterator[CommitReplyDropper]:
    url = make_url(auth_database_url)
    proxy = CommitReplyDropper((url.host or "127.0.0.1", url.port or 5432))
    with proxy.running():
        yield proxy


def _through(proxy: CommitReplyDropper, database_url: str) -> str:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


async def test_a_refresh_retried_after_a_lost_commit_reply_keeps_the_user_signed_in(
    auth_database_url: str, dropper: CommitReplyDropper
) -> None:
    settings = auth_settings(_through(dropper, auth_database_url))
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

        async with app.resources.engine.connect() as conn:
            statuses = (
                (
                    await conn.execute(
                        text(
                            "SELECT status FROM refresh_tokens WHERE family_id = "
                            "(SELECT family_id FROM refresh_tokens WHERE replaced_by IS NOT NULL "
                            "AND user_id = :u LIMIT 1)"
                        ),
                        {"u": user.id},
                    )
                )
                .scalars()
                .all()
            )
        # first (rotated twice), the successor whose answer was lost (retired), the retry's
        # token (used onwards) and the newest: one active token in the family.
        assert sorted(statuses) == ["active", "rotated", "rotated", "rotated"]
