"""The admin lists' cursor key (signing: servicekit.data.cursors).

The MAC key is derived with HKDF-SHA256 from the key-encryption key (AUTH_KEY_ENCRYPTION_KEY)
under a label of its own, so operators have no second secret to set and rotate; the derived key
reveals nothing of the key-encryption key and is used for nothing else. Changing the
key-encryption key invalidates outstanding cursors: a client starts its list again.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from servicekit.data.cursors import CursorSigner

# HKDF "info": binds the derived key to this one use (RFC 5869 3.2).
CURSOR_KEY_INFO = b"auth-service admin list cursors v1"


def derive_cursor_key(key_encryption_key: bytes) -> bytes:
    """The 32-byte cursor MAC key, derived from the key-encryption key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=CURSOR_KEY_INFO).derive(
        key_encryption_key
    )


def cursor_signer(key_encryption_key: bytes) -> CursorSigner:
    """The admin lists' signer (servicekit.data.cursors) under the derived key."""
    return CursorSigner(derive_cursor_key(key_encryption_key))
