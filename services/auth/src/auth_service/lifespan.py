"""What auth builds once at startup, inside the shared lifespan: its typed state (`AuthState`).

The key ring (and the watcher keeping it in step with the table), the token endpoint's asyncpg
pool and rate limits, the password hasher, the admin lists' cursor signer, and the verifier of
auth's own tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.exc import SQLAlchemyError

from auth_service.clients._cache import CredentialsCache
from auth_service.cursors import cursor_signer
from auth_service.keys._crypto import KeyWrapper, generate_key_encryption_key
from auth_service.keys._watcher import KeySetWatcher, asyncpg_dsn
from auth_service.keys.keyring import KeyRing
from auth_service.keys.service import KeyPolicy, KeyService
from auth_service.settings import AuthSettings
from auth_service.tokens._failures import FailureBudget
from auth_service.tokens._signing import MAX_TOKEN_BYTES
from auth_service.users.service import Passwords
from servicekit.core.state import ServiceResources, ServiceState, StateBuilder
from servicekit.data.cursors import CursorSigner
from servicekit.verify import TokenVerifier
from servicekit.web.ratelimit import MemoryRateLimitBackend, RateLimit, RateLimiter

log = logging.getLogger("auth_service")


def key_encryption_key(settings: AuthSettings) -> bytes:
    """The configured key-encryption key; in development a generated one, loudly."""
    kek = settings.key_encryption_key_bytes()
    if kek is None:
        if settings.is_production:  # the settings validator already refuses this
            raise RuntimeError("AUTH_KEY_ENCRYPTION_KEY is required in production")
        log.warning(
            "AUTH_KEY_ENCRYPTION_KEY is not set: using a generated key-encryption key for this "
            "process only; signing keys it wraps cannot be opened after a restart "
            "(set AUTH_KEY_ENCRYPTION_KEY, `make run` keeps one in .data/)"
        )
        kek = generate_key_encryption_key()
    return kek


async def start_keys(
    settings: AuthSettings,
    resources: ServiceResources,
    stack: AsyncExitStack,
    *,
    wrapper: KeyWrapper,
    clock: Callable[[], float] = time.time,
) -> tuple[KeyRing, KeySetWatcher]:
    """Ensure the first active and next keys exist (under the advisory lock), load the ring
    once, and keep it in step with the table while the process runs."""
    policy = KeyPolicy.from_settings(settings)
    keyring = KeyRing(policy=policy, wrapper=wrapper, clock=clock)
    watcher = KeySetWatcher(
        keyring=keyring,
        sessionmaker=resources.sessionmaker,
        database_url=settings.database_url,
        interval_s=settings.key_reload_interval_s,
    )

    async def bootstrap() -> None:
        async with resources.sessionmaker.begin() as session:
            await KeyService(session, policy=policy, wrapper=wrapper).ensure_keys(
                now=datetime.fromtimestamp(clock(), UTC),
                replace_unopenable=not settings.is_production,
            )
        await watcher.reload()
        keyring.set_miss_handler(watcher.reload_if_changed)
        watcher.start()

    stack.push_async_callback(watcher.stop)
    try:
        await bootstrap()
    except _NOT_READY as exc:
        # The database is down or not migrated yet (the startup probe says 503 meanwhile).
        # Keep the process up and retry: token requests answer 503 until keys exist.
        log.warning(
            "signing keys not ready; retrying in the background",
            extra={"error": type(exc).__name__},
        )
        task = asyncio.create_task(_retry(bootstrap), name="auth-key-bootstrap")
        stack.push_async_callback(_cancel, task)
    return keyring, watcher


_NOT_READY = (SQLAlchemyError, OSError, asyncpg.PostgresError, TimeoutError)


async def _retry(work: Callable[[], Awaitable[None]], *, first_delay_s: float = 0.5) -> None:
    delay = first_delay_s
    while True:
        await asyncio.sleep(delay)
        try:
            await work()
        except _NOT_READY:
            delay = min(delay * 2, 5.0)
        else:
            log.info("signing keys ready")
            return


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _no_reset(_: object) -> None:
    return None


async def credentials_pool(settings: AuthSettings, stack: AsyncExitStack) -> asyncpg.Pool:
    """A small asyncpg pool for the token endpoint's client lookup (one prepared statement,
    one round trip): the ORM session costs more than the RSA signature it precedes."""
    pool = await asyncpg.create_pool(
        asyncpg_dsn(settings.database_url),
        # No connection at start-up: auth must come up (and report 503 on its startup
        # probe) while the database is still unreachable.
        min_size=0,
        max_size=max(2, settings.database_pool_size // 2),
        command_timeout=5,
        server_settings={"application_name": f"{settings.service_name}-token"},
        # The pool runs one read-only statement and changes no session state, so the
        # default reset on release (a second round trip per lookup) has nothing to undo.
        reset=_no_reset,
    )
    stack.push_async_callback(pool.close)
    return pool


@dataclass(frozen=True)
class TokenLimits:
    """The token endpoint's two budgets: every request per client address, and failed
    authentications per identity (a client id, or a normalised username)."""

    per_ip: RateLimiter
    per_identity: FailureBudget


def token_limits(settings: AuthSettings) -> TokenLimits:
    """Budgets for POST /oauth/token, in this process's memory: auth has no shared store,
    so N replicas allow N times the rate; failed-login lockout (in PostgreSQL) is the budget
    every replica shares."""
    backend = MemoryRateLimitBackend()
    return TokenLimits(
        per_ip=RateLimiter(
            RateLimit(
                requests=settings.token_requests_per_ip_per_minute,
                period_s=60,
                burst=settings.token_burst_per_ip,
            ),
            backend=backend,
            name="token-ip",
        ),
        per_identity=FailureBudget(
            RateLimit(
                requests=settings.token_requests_per_identity_per_minute,
                period_s=60,
                burst=settings.token_burst_per_identity,
            )
        ),
    )


@dataclass(kw_only=True)
class AuthState(ServiceState):
    settings: AuthSettings
    keyring: KeyRing
    key_watcher: KeySetWatcher
    credentials_pool: asyncpg.Pool
    client_cache: CredentialsCache
    passwords: Passwords
    token_limits: TokenLimits
    cursors: CursorSigner


def auth_state(settings: AuthSettings, *, clock: Callable[[], float] = time.time) -> StateBuilder:
    """The lifespan step that builds `AuthState` from the shared pools."""

    async def build(resources: ServiceResources, stack: AsyncExitStack) -> AuthState:
        passwords = await Passwords.create(settings)
        pool = await credentials_pool(settings, stack)
        # One key-encryption key for both its uses: wrapping signing keys, and (through HKDF,
        # auth_service.cursors) the admin lists' cursor MAC key, so there is no second secret.
        kek = key_encryption_key(settings)
        keyring, watcher = await start_keys(
            settings, resources, stack, wrapper=KeyWrapper(kek), clock=clock
        )
        # auth verifies its own tokens against its in-memory key ring: no HTTP call to itself.
        # Its admin API is a resource server of its own, named by the issuer (RFC 8707
        # `resource=<issuer>` at the token endpoint): a token for orders is not an admin
        # credential here.
        verifier = TokenVerifier(
            key_source=keyring,
            issuer=settings.issuer,
            audience=settings.issuer,
            leeway_s=settings.token_leeway_s,
            max_token_bytes=MAX_TOKEN_BYTES,
        )
        return AuthState(
            resources=resources,
            verifier=verifier,
            settings=settings,
            keyring=keyring,
            key_watcher=watcher,
            credentials_pool=pool,
            client_cache=CredentialsCache(settings.client_cache_ttl_s),
            passwords=passwords,
            token_limits=token_limits(settings),
            cursors=cursor_signer(kek),
        )

    return build
