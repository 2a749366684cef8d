"""List cursors signed with HMAC-SHA256, so only cursors this service issued reach a query.

A cursor is the repository's opaque token (base64url JSON of the last row's sort value and
id) plus `.` and a MAC over it. A cursor that does not verify under the current key or one
of the previous keys (kept for rotation: cursors issued before a key change keep working
until those keys are dropped) is refused before it is decoded, so no tampered value ever
reaches the database driver.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache

from servicekit.data.repository import InvalidCursorError

_SEPARATOR = "."


def _mac(key: bytes, token: str) -> str:
    digest = hmac.new(key, token.encode("ascii", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class CursorSigner:
    def __init__(self, secret: str, previous: Sequence[str] = ()) -> None:
        if not secret:
            raise ValueError("a cursor secret is required")
        self._key = secret.encode()
        self._keys = [self._key, *(p.encode() for p in previous if p)]

    def sign(self, token: str) -> str:
        return f"{token}{_SEPARATOR}{_mac(self._key, token)}"

    def verify(self, cursor: str) -> str:
        """The repository token inside `cursor`; InvalidCursorError unless a key signed it."""
        token, separator, mac = cursor.rpartition(_SEPARATOR)
        if not separator or not token or not cursor.isascii():
            raise InvalidCursorError("cursor is not signed")
        for key in self._keys:
            if hmac.compare_digest(_mac(key, token), mac):
                return token
        raise InvalidCursorError("cursor signature does not verify")


@lru_cache(maxsize=1)
def cursor_signer() -> CursorSigner:
    """The process's signer, from ORDERS_CURSOR_SECRET and ORDERS_CURSOR_PREVIOUS_SECRETS."""
    from orders_service.settings import get_settings  # noqa: PLC0415 - settings import late

    settings = get_settings()
    return CursorSigner(
        settings.cursor_secret.get_secret_value(),
        [s.get_secret_value() for s in settings.cursor_previous_secrets],
    )
