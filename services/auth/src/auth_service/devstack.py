"""What `make run` needs from auth on a developer's machine (never used in production)."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.clients.schemas import ClientCreate
from auth_service.clients.service import ClientService
from auth_service.settings import AuthSettings
from auth_service.tokens.service import RefreshTokenService
from auth_service.users.schemas import UserCreate
from auth_service.users.service import AccountService, Passwords, UserService
from servicekit.data.db import create_engine, create_sessionmaker

FIRST_ADMIN_EMAIL = "admin@example.com"
FIRST_CLIENT_NAME = "first-service"
FIRST_TENANT = "default"
KEK_FILE_NAME = "auth-key-encryption-key"


def kek_file(data_dir: Path) -> Path:
    """The development key-encryption key `make run` keeps (when none is given)."""
    return data_dir / KEK_FILE_NAME


def prepare_local_run(
    env: dict[str, str], *, data_dir: Path, say: Callable[[str], None]
) -> dict[str, str]:
    """Keep one development key-encryption key in data_dir, so keys survive restarts, and
    create a first admin user and service client once, printing their credentials once."""
    if not os.environ.get("AUTH_KEY_ENCRYPTION_KEY"):
        # Own servers (no embedded data) on a fresh checkout: the folder may not exist yet.
        data_dir.mkdir(parents=True, exist_ok=True)
        path = kek_file(data_dir)
        if not path.exists():
            # Created 0600 from the start: the key is never readable by others, even briefly.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(secrets.token_bytes(32)).decode())
            say(f"generated a development key-encryption key in {path} (never for production)")
        env = {**env, "AUTH_KEY_ENCRYPTION_KEY": path.read_text().strip()}
    settings = AuthSettings(
        database_url=env["AUTH_DATABASE_URL"],
        key_encryption_key=SecretStr(env["AUTH_KEY_ENCRYPTION_KEY"]),
    )
    for line in asyncio.run(_first_accounts(settings)):
        say(line)
    return env


async def _first_accounts(settings: AuthSettings) -> list[str]:
    engine = create_engine(settings, application_name="auth-devstack")
    try:
        async with create_sessionmaker(engine).begin() as session:
            return await _ensure_first_accounts(session, settings)
    finally:
        await engine.dispose()


async def _ensure_first_accounts(session: AsyncSession, settings: AuthSettings) -> list[str]:
    now = datetime.now(UTC)
    lines: list[str] = []
    passwords = await Passwords.create(settings)
    sessions = RefreshTokenService(session)
    accounts = AccountService(session, passwords=passwords, settings=settings, sessions=sessions)
    if await accounts.email_taken(FIRST_ADMIN_EMAIL):
        lines.append(f"first admin {FIRST_ADMIN_EMAIL} exists (its password was printed once)")
    else:
        password = secrets.token_urlsafe(18)
        users = UserService(
            session,
            tenant_id=FIRST_TENANT,
            passwords=passwords,
            settings=settings,
            sessions=sessions,
        )
        await users.create(
            UserCreate(email=FIRST_ADMIN_EMAIL, password=SecretStr(password), roles=["admin"]),
            now=now,
        )
        lines += [
            f"created the first admin user (tenant {FIRST_TENANT}); shown only this once:",
            f"  username={FIRST_ADMIN_EMAIL}",
            f"  password={password}",
        ]
    clients = ClientService(session, tenant_id=FIRST_TENANT)
    existing = await clients.find_by_name(FIRST_CLIENT_NAME)
    if existing is not None:
        lines.append(f"first service client {existing} exists (its secret was printed once)")
    else:
        client, secret = await clients.create(
            ClientCreate(name=FIRST_CLIENT_NAME, roles=["editor"]), now=now
        )
        lines += [
            f"created the first service client {FIRST_CLIENT_NAME!r}; shown only this once:",
            f"  client_id={client.client_id}",
            f"  client_secret={secret}",
        ]
    return lines
