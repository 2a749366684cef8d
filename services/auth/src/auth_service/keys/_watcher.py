"""Keeps a replica's key ring in step with the table: LISTEN for changes, poll as a fallback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.keys.keyring import KeyRing
from auth_service.keys.repository import KEY_SET_CHANNEL, SigningKeyRepository

log = logging.getLogger("auth_service.keys")


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class KeySetWatcher:
    """Reloads the ring on a change notification (at once) or when the poll sees a change."""

    def __init__(
        self,
        *,
        keyring: KeyRing,
        sessionmaker: async_sessionmaker[AsyncSession],
        database_url: str,
        interval_s: float,
    ) -> None:
        self.keyring = keyring
        self._sessionmaker = sessionmaker
        self._dsn = asyncpg_dsn(database_url)
        self._interval_s = interval_s
        self._wake = asyncio.Event()
        self._listener: Any = None
        self._task: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        self.reloads = 0

    async def reload(self) -> bool:
        """Read every key and load them; True if the verifying or signing set changed."""
        async with self._reload_lock:
            async with self._sessionmaker() as session:
                rows = await SigningKeyRepository(session).list_all()
            changed = self.keyring.load(rows)
            self.reloads += 1
            if changed:
                log.info(
                    "key set loaded",
                    extra={"published": self.keyring.published_kids(), "keys": len(rows)},
                )
            return changed

    async def reload_if_changed(self) -> bool:
        async with self._sessionmaker() as session:
            current = await SigningKeyRepository(session).fingerprint()
        if current == self.keyring.fingerprint:
            return False
        return await self.reload()

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self._dsn, timeout=5)
        await self._listener.add_listener(KEY_SET_CHANNEL, self._notified)
        # A change committed while we were not listening would otherwise wait for the poll.
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, TimeoutError):
                log.warning("cannot LISTEN for key changes; polling only", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval_s)
            self._wake.clear()
            try:
                await self.reload_if_changed()
            except Exception:
                log.warning("key set reload failed; keeping the loaded keys", exc_info=True)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="auth-key-set-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close(timeout=2)
            self._listener = None
