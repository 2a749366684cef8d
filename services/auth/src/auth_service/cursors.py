"""Admin-list cursors signed with HMAC-SHA256, so only cursors this service issued reach a query.

A cursor is the repository's opaque token (servicekit.data.repository: the last row's sort value and
id) plus `.` and a MAC over the list's name and the token; one that does not verify is refused
before it is decoded, so a tampered value never reaches the database driver, and a cursor of
one list (or of orders) is refused by another.

The MAC key is derived with HKDF-SHA256 from the key-encryption key (AUTH_KEY_ENCRYPTION_KEY)
under a label of its own, so operators have no second secret to set and rotate; the derived key
reveals nothing of the key-encryption key and is used for nothing else. Changing the
key-encryption key invalidates outstanding cursors: a client starts its list again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from servicekit.data.repository import InvalidCursorError

# HKDF "info": binds the derived key to this one use (RFC 5869 3.2).
CURSOR_KEY_INFO = b"auth-service admin list cursors v1"
_SEPARATOR = "."


def derive_cursor_key(key_encryption_key: bytes) -> bytes:
    """The 32-byte cursor MAC key, derived from the key-encryption key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=CURSOR_KEY_INFO).derive(
        key_encryption_key
    )


class CursorSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a cursor key has at least 32 bytes")
        self._key = key

    @classmethod
    def from_key_encryption_key(cls, key_encryption_key: bytes) -> CursorSigner:
        return cls(derive_cursor_key(key_encryption_key))

    def _mac(self, list_name: str, token: str) -> str:
        message = f"{list_name}\x00{token}".encode("ascii", "replace")
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, list_name: str, token: str) -> str:
        return f"{token}{_SEPARATOR}{self._mac(list_name, token)}"

    def verify(self, list_name: str, cursor: str) -> str:
        """The repository token inside `cursor`; InvalidCursorError unless this list issued it."""
        token, separator, mac = cursor.rpartition(_SEPARATOR)
        if not separator or not token or not cursor.isascii():
            raise InvalidCursorError("cursor is not signed")
        if not hmac.compare_digest(self._mac(list_name, token), mac):
            raise InvalidCursorError("cursor signature does not verify")
        return token
