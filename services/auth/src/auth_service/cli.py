"""`auth-service` console script: migrations, key life cycle, first users and clients."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import SecretStr, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.clients.schemas import ClientCreate
from auth_service.clients.service import ClientService
from auth_service.errors import AuthError, NotFoundError
from auth_service.keys._crypto import KeyWrapper
from auth_service.keys.models import KeyPurpose, KeyStatus, SigningKey
from auth_service.keys.service import KeyChange, KeyLifecycleError, KeyPolicy, KeyService
from auth_service.settings import AuthSettings, get_settings
from auth_service.tokens.service import RefreshTokenService
from auth_service.users.schemas import ROLES, TENANT_PATTERN, UserCreate, UserUpdate
from auth_service.users.service import AccountService, Passwords, UserService
from servicekit.data.db import create_engine, create_sessionmaker
from servicekit.web.cli import add_migrate_command, add_serve_command, run_cli

T = TypeVar("T")


class CommandError(Exception):
    """Reported on stderr with exit status 1."""


def say(text: str) -> None:
    print(text)  # noqa: T201 - a command's own output


def in_transaction(settings: AuthSettings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on a short-lived engine."""

    async def run() -> T:
        engine = create_engine(settings, application_name="auth-service-cli")
        try:
            async with create_sessionmaker(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _wrapper(settings: AuthSettings) -> KeyWrapper:
    kek = settings.key_encryption_key_bytes()
    if kek is None:
        # A throwaway key would wrap keys the running service can never open.
        raise CommandError(
            "AUTH_KEY_ENCRYPTION_KEY must be set (the one the service uses) to create keys"
        )
    return KeyWrapper(kek)


def _now() -> datetime:
    return datetime.now(UTC)


def _fmt(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-"


# -- keys -------------------------------------------------------------------------------------


def keys_list(_: argparse.Namespace) -> int:
    settings = get_settings()
    policy = KeyPolicy.from_settings(settings)

    async def work(session: AsyncSession) -> Sequence[SigningKey]:
        return await KeyService(session, policy=policy).list_keys()

    rows = in_transaction(settings, work)
    say(
        f"{'kid':<44} {'purpose':<8} {'status':<8} {'created':<21} {'activated':<21} "
        f"{'retired/revoked':<21} removable"
    )
    for key in rows:
        ended = key.retired_at if key.status == KeyStatus.RETIRED else key.revoked_at
        removable = ended + policy.grace(KeyPurpose(key.purpose)) if ended else None
        say(
            f"{key.kid:<44} {key.purpose:<8} {key.status:<8} {_fmt(key.created_at):<21} "
            f"{_fmt(key.activated_at):<21} {_fmt(ended):<21} {_fmt(removable)}"
        )
    return 0


def keys_rotate(args: argparse.Namespace) -> int:
    settings = get_settings()
    wrapper = _wrapper(settings)
    purposes = list(KeyPurpose) if args.purpose == "all" else [KeyPurpose(args.purpose)]

    async def work(session: AsyncSession) -> list[KeyChange]:
        keys, now = (
            KeyService(session, policy=KeyPolicy.from_settings(settings), wrapper=wrapper),
            _now(),
        )
        changes = await keys.rotate(purposes=purposes, now=now, force=args.force)
        if args.prune:
            changes += await keys.prune(now=now)
        return changes

    for change in in_transaction(settings, work):
        say(str(change))
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    settings = get_settings()
    wrapper = _wrapper(settings)

    async def work(session: AsyncSession) -> list[KeyChange]:
        keys = KeyService(session, policy=KeyPolicy.from_settings(settings), wrapper=wrapper)
        return await keys.revoke(kid=args.kid, now=_now())

    for change in in_transaction(settings, work):
        say(str(change))
    return 0


def keys_prune(_: argparse.Namespace) -> int:
    settings = get_settings()

    async def work(session: AsyncSession) -> list[KeyChange]:
        return await KeyService(session, policy=KeyPolicy.from_settings(settings)).prune(now=_now())

    changes = in_transaction(settings, work)
    for change in changes:
        say(str(change))
    if not changes:
        say("nothing to prune")
    return 0


# -- users and clients ------------------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise CommandError("the passwords differ")
        return first
    # Piped: the first line of stdin, so the password never shows in a process list.
    return sys.stdin.readline().rstrip("\r\n")


def users_create(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        data = UserCreate(
            email=args.email, password=SecretStr(_read_password(args)), roles=args.role
        )
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise CommandError(f"invalid {fields}") from None

    async def work(session: AsyncSession) -> str:
        users = UserService(
            session,
            tenant_id=args.tenant,
            passwords=await Passwords.create(settings),
            settings=settings,
            sessions=RefreshTokenService(session),
        )
        user = await users.create(data, now=_now())
        return str(user.id)

    user_id = in_transaction(settings, work)
    say(f"user {user_id} <{data.email}> roles={','.join(data.roles)} tenant={args.tenant}")
    return 0


def users_set_password(args: argparse.Namespace) -> int:
    """Recovery of a lost password (the first admin's included): a new password, the lockout
    cleared, every refresh token of the user revoked, as an admin's PATCH would do."""
    settings = get_settings()
    email = args.email.strip().lower()
    try:
        data = UserUpdate(password=SecretStr(_read_password(args)))
    except ValidationError:
        raise CommandError("invalid password") from None

    async def work(session: AsyncSession) -> str:
        accounts = AccountService(
            session,
            passwords=await Passwords.create(settings),
            settings=settings,
            sessions=RefreshTokenService(session),
        )
        try:
            user = await accounts.set_password(email, data, now=_now())
        except NotFoundError:
            raise CommandError(f"no user <{email}>") from None
        return user.tenant_id

    tenant = in_transaction(settings, work)
    say(f"new password set for <{email}> (tenant {tenant}); its sessions were ended")
    return 0


def clients_create(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        data = ClientCreate(name=args.name, roles=args.role)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise CommandError(f"invalid {fields}") from None

    async def work(session: AsyncSession) -> tuple[str, str]:
        client, secret = await ClientService(session, tenant_id=args.tenant).create(
            data, now=_now()
        )
        return client.client_id, secret

    client_id, secret = in_transaction(settings, work)
    say(f"client_id={client_id}")
    say(f"client_secret={secret}")
    say("the secret is shown only now; the service keeps a digest")
    return 0


# -- parser -----------------------------------------------------------------------------------


def _tenant(value: str) -> str:
    if not re.fullmatch(TENANT_PATTERN, value):
        raise argparse.ArgumentTypeError("letters, digits, '.', '_' or '-', at most 64")
    return value


def _add_keys(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="signing keys: list, rotate, revoke, prune")
    ksub = keys.add_subparsers(title="keys commands", required=True)
    ksub.add_parser("list", help="every key with its state and dates").set_defaults(
        handler=keys_list
    )
    rotate = ksub.add_parser(
        "rotate",
        help="promote next to active when due (safe to run from a CronJob, concurrently)",
    )
    rotate.add_argument("--purpose", choices=["access", "refresh", "all"], default="all")
    rotate.add_argument(
        "--force",
        action="store_true",
        help="rotate before the rotation period ends (still waits for the next key's max-age)",
    )
    rotate.add_argument(
        "--prune", action="store_true", help="also delete keys whose grace period ended"
    )
    rotate.set_defaults(handler=keys_rotate)
    revoke = ksub.add_parser("revoke", help="compromise: drop a key from JWKS at once")
    revoke.add_argument("kid")
    revoke.set_defaults(handler=keys_revoke)
    ksub.add_parser("prune", help="delete keys whose grace period ended").set_defaults(
        handler=keys_prune
    )


def _add_users(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="users")
    usub = users.add_subparsers(title="users commands", required=True)
    create = usub.add_parser(
        "create", help="create a user; the password comes from --password, stdin or a prompt"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, action="append", choices=ROLES)
    create.add_argument("--tenant", required=True, type=_tenant)
    create.add_argument(
        "--password", help="visible to other local users in the process list; prefer stdin"
    )
    create.set_defaults(handler=users_create)
    set_password = usub.add_parser(
        "set-password",
        help="recover a lost password: set a new one (from --password, stdin or a prompt), "
        "clear the lockout, end the user's sessions",
    )
    set_password.add_argument("--email", required=True)
    set_password.add_argument(
        "--password", help="visible to other local users in the process list; prefer stdin"
    )
    set_password.set_defaults(handler=users_set_password)


def _add_clients(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clients = sub.add_parser("clients", help="service clients")
    csub = clients.add_subparsers(title="clients commands", required=True)
    create = csub.add_parser("create", help="create a client; prints its secret once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, action="append", choices=ROLES)
    create.add_argument("--tenant", required=True, type=_tenant)
    create.set_defaults(handler=clients_create)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auth-service", description="auth service commands")
    sub = parser.add_subparsers(title="commands")
    add_migrate_command(sub, section="auth", database_url=lambda: get_settings().database_url)
    add_serve_command(
        sub,
        app="auth_service.main:create_app",
        forwarded_allow_ips=lambda: get_settings().forwarded_allow_ips,
    )
    _add_keys(sub)
    _add_users(sub)
    _add_clients(sub)
    return parser


def _kid_as_operand(argv: Sequence[str]) -> list[str]:
    """`keys revoke KID` with a kid that starts with "-" (a base64url thumbprint may): argparse
    would take it for an option and refuse the command, so it is passed after "--"."""
    args = list(argv)
    if args[:2] == ["keys", "revoke"] and len(args) == 3 and args[2] not in ("-h", "--help"):
        return [*args[:2], "--", args[2]]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(
        "auth-service",
        build_parser,
        _kid_as_operand(sys.argv[1:] if argv is None else argv),
        url_variable="AUTH_DATABASE_URL",
        expected=(CommandError, AuthError, KeyLifecycleError),
    )


if __name__ == "__main__":
    sys.exit(main())
