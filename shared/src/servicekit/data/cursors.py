"""List cursors signed with HMAC-SHA256: only cursors this service issued reach a query.

A cursor is the repository's opaque token (servicekit.data.repository: the last row's sort
value and id) plus `.` and a MAC over the list's scope and the token. One that does not verify
is refused before it is decoded, so a tampered value never reaches the database driver, and a
cursor of one list is refused by another. The first key signs; every key verifies, so a key
can be rotated without breaking the cursors clients hold (drop the old one later).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TypeVar

from servicekit.data.repository import InvalidCursorError, Page

T = TypeVar("T")

_SEPARATOR = "."


class CursorSigner:
    def __init__(self, key: bytes, previous: Sequence[bytes] = ()) -> None:
        if not key:
            raise ValueError("a cursor key is required")
        self._keys = [key, *(p for p in previous if p)]

    @staticmethod
    def _mac(key: bytes, scope: str, token: str) -> str:
        message = f"{scope}\x00{token}".encode("ascii", "replace")
        digest = hmac.new(key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, token: str, *, scope: str) -> str:
        return f"{token}{_SEPARATOR}{self._mac(self._keys[0], scope, token)}"

    def verify(self, cursor: str, *, scope: str) -> str:
        """The repository token inside `cursor`; InvalidCursorError unless one of the keys
        signed it for `scope`."""
        token, separator, mac = cursor.rpartition(_SEPARATOR)
        if not separator or not token or not cursor.isascii():
            raise InvalidCursorError("cursor is not signed")
        for key in self._keys:
            if hmac.compare_digest(self._mac(key, scope, token), mac):
                return token
        raise InvalidCursorError("cursor signature does not verify")


async def signed_page(
    fetch: Callable[[str | None], Awaitable[Page[T]]],
    *,
    cursor: str | None,
    signer: CursorSigner,
    scope: str,
) -> Page[T]:
    """The page `fetch(token)` reads after the repository token inside `cursor`, its next
    cursor signed for `scope` (the list's entity name: one list's cursor is refused by
    another). InvalidCursorError (the caller's 400) for a cursor this list did not issue."""
    token = None if cursor is None else signer.verify(cursor, scope=scope)
    page = await fetch(token)
    if page.next_cursor is None:
        return page
    return replace(page, next_cursor=signer.sign(page.next_cursor, scope=scope))
