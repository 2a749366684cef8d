"""A per-identity budget that only failures spend.

Client ids are in every token and usernames are guessable, so a budget charged by every
request would let anyone lock a client or a user out by sending wrong secrets. Here only
failed authentications (invalid_client, invalid_grant) are counted, with the same GCRA as
servicekit.web.ratelimit (`burst` at once, then `requests` per `period_s`), and a request is
refused (429) only while its identity's next failure would be over the budget: a client or
user who authenticates correctly is never charged.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from servicekit.web.ratelimit import RateLimit, RateLimitError

_US = 1_000_000


class FailureBudget:
    """In this process's memory, for at most `max_keys` identities: when full, identities whose
    failures have all been forgiven go first, then the least recently failing ones (dropping
    one only forgives its failures early)."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        max_keys: int = 100_000,
        clock_us: Callable[[], int] = lambda: time.monotonic_ns() // 1000,
    ) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._clock_us = clock_us
        # GCRA theoretical arrival time of the next failure, per identity digest.
        self._tat: OrderedDict[bytes, int] = OrderedDict()

    @staticmethod
    def _digest(key: str) -> bytes:
        # Keys come from request input of any length: keep a fixed-size digest.
        return hashlib.blake2b(key.encode(), digest_size=16).digest()

    def check(self, *keys: str) -> None:
        """Raise RateLimitError while any of these identities has no failure left to spend."""
        now = self._clock_us()
        waits = []
        for key in keys:
            tat = self._tat.get(self._digest(key))
            if tat is None:
                continue
            earliest = tat + self.limit.interval_us - self.limit.tolerance_us
            if earliest > now:
                waits.append((earliest - now) / _US)
        if waits:
            raise RateLimitError(max(waits))

    def charge(self, key: str) -> None:
        """Count one failure for this identity."""
        now = self._clock_us()
        digest = self._digest(key)
        tat = max(self._tat.pop(digest, now), now) + self.limit.interval_us
        if len(self._tat) >= self.max_keys:
            self._evict(now)
        self._tat[digest] = tat

    def __len__(self) -> int:
        return len(self._tat)

    def _evict(self, now_us: int) -> None:
        for digest in [d for d, tat in self._tat.items() if tat <= now_us]:
            del self._tat[digest]
        keep = self.max_keys * 9 // 10
        while len(self._tat) > keep:
            self._tat.popitem(last=False)
