"""Service clients' credentials in process memory for a few seconds.

Issuing a token for a client is one RSA signature plus one database round trip; the round
trip costs about as much CPU as the rest of the request together (profile: asyncpg's protocol,
the event loop's socket work). So the row (never the secret: only its SHA-256 digest, which
is what the database holds) is kept for `ttl_s`.

The bound: a client disabled or given a new secret by an admin on another replica (or by
SQL) keeps working with its old row for at most `ttl_s` on each replica; on the replica whose
admin API made the change, at once (the endpoint evicts it). Unknown client ids are never
cached, so made-up ids cannot fill the memory, and at most `max_entries` clients are kept.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from auth_service.clients.schemas import ClientCredentials


class CredentialsCache:
    def __init__(
        self,
        ttl_s: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, ClientCredentials]] = OrderedDict()

    def get(self, client_id: str) -> ClientCredentials | None:
        entry = self._entries.get(client_id)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[client_id]
            return None
        return entry[1]

    def put(self, credentials: ClientCredentials) -> None:
        if self.ttl_s <= 0:
            return
        self._entries.pop(credentials.client_id, None)
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
        self._entries[credentials.client_id] = (self._clock() + self.ttl_s, credentials)

    def invalidate(self, client_id: str) -> None:
        self._entries.pop(client_id, None)
