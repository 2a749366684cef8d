"""A failed login does the same work whether or not the account exists (issue 12, timing).

Measured structurally, not by the clock (two busy cores make timings flaky): the argon2
verifications and the SQL statements of each failure path are counted and compared. Equal
work means the answer time tells an attacker nothing about which accounts exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from auth_service.users.service import Passwords
from tests.support.auth_app import AuthApp


@contextmanager
def _statements(auth_app: AuthApp) -> Iterator[list[str]]:
    """The SQL on users the app's engine runs meanwhile (parameters are bound, not inlined;
    the key watcher's own queries on the same engine are left out)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        sql = re.sub(r"\s+", " ", str(args[2])).strip()
        if " users" in sql:
            seen.append(sql)

    engine = auth_app.resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _failed_login(auth_app: AuthApp, username: str) -> tuple[int, list[str]]:
    passwords: Passwords = auth_app.state.passwords
    before = passwords.verifications
    with _statements(auth_app) as statements:
        response = await auth_app.token(
            {"grant_type": "password", "username": username, "password": "not the password"}
        )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    return passwords.verifications - before, statements


async def test_unknown_known_and_locked_accounts_cost_the_same(auth_app: AuthApp) -> None:
    known = await auth_app.create_user()
    locked = await auth_app.create_user()
    async with auth_app.resources.engine.begin() as conn:
        await conn.execute(
            text("UPDATE users SET locked_until = :t WHERE email = :e"),
            {"t": datetime.now(UTC) + timedelta(hours=1), "e": locked.email},
        )
    unknown = await _failed_login(auth_app, "nobody-at-all@example.com")
    wrong_password = await _failed_login(auth_app, known.email)
    while_locked = await _failed_login(auth_app, locked.email)
    assert unknown[0] == wrong_password[0] == while_locked[0] == 1  # one argon2 each
    assert unknown[1] == wrong_password[1] == while_locked[1]  # the same statements
    # ...and none of them holds a row lock while hashing.
    assert not any("FOR UPDATE" in sql for sql in unknown[1] + wrong_password[1])


async def test_failures_still_lock_the_account(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    for _ in range(auth_app.settings.login_max_failures):
        await _failed_login(auth_app, user.email)
    right = await auth_app.token(
        {"grant_type": "password", "username": user.email, "password": user.password}
    )
    assert (right.status_code, right.json()["error"]) == (400, "invalid_grant")
