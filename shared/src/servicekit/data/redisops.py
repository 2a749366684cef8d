"""Small Redis helpers shared by the cache (data) and the idempotency middleware (web)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

# What a Redis call can raise when the server is down, slow or answering garbage; a deadline
# from `asyncio.timeout` raises the builtin TimeoutError (listed for the reader's sake).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

ScriptArg = str | bytes | int | float


class LuaScript:
    """A Lua script called by SHA; the source is sent only when the server does not know it.

    Computing the SHA once here (instead of `register_script` per client) keeps one object
    valid for any client, and a hit costs one EVALSHA round trip with no load step.
    """

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self, redis: Redis, keys: Sequence[str | bytes], args: Sequence[ScriptArg] = ()
    ) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            # After a restart or SCRIPT FLUSH: EVAL runs it and caches it again server-side.
            return await redis.eval(self.source, len(keys), *keys, *args)


class Breaker:
    """After a Redis failure, skip Redis for `cooldown_s` so an outage costs one timeout per
    cooldown instead of one per request. `cooldown_s <= 0` disables it."""

    __slots__ = ("_cooldown_s", "_open_until")

    def __init__(self, cooldown_s: float) -> None:
        self._cooldown_s = cooldown_s
        self._open_until = 0.0

    def is_open(self) -> bool:
        return self._open_until != 0.0 and time.monotonic() < self._open_until

    def trip(self) -> None:
        if self._cooldown_s > 0:
            self._open_until = time.monotonic() + self._cooldown_s

    def reset(self) -> None:
        self._open_until = 0.0


def deadline(timeout_s: float | None) -> asyncio.Timeout:
    """A per-operation deadline; `None` means the client's socket timeouts alone apply."""
    return asyncio.timeout(timeout_s)
