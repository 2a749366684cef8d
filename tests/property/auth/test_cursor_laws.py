"""Laws of auth's cursor key: HKDF of the key-encryption key (the signer's own laws:
tests/property/test_cursor_laws.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth_service.cursors import cursor_signer, derive_cursor_key
from servicekit.data.repository import InvalidCursorError

_TOKENS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    min_size=1,
    max_size=200,
)
_KEKS = st.binary(min_size=32, max_size=32)


@given(token=_TOKENS, kek=_KEKS, other=_KEKS)
def test_law_a_cursor_verifies_only_under_the_key_encryption_key_that_signed_it(
    token: str, kek: bytes, other: bytes
) -> None:
    issued = cursor_signer(kek).sign(token, scope="User")
    assert cursor_signer(kek).verify(issued, scope="User") == token
    if other != kek:
        with pytest.raises(InvalidCursorError):
            cursor_signer(other).verify(issued, scope="User")


@given(kek=_KEKS)
def test_law_the_derived_cursor_key_is_stable_and_is_not_the_key_encryption_key(
    kek: bytes,
) -> None:
    """The same KEK always gives the same cursor key (every replica verifies every cursor),
    and the cursor key never equals the KEK it came from."""
    key = derive_cursor_key(kek)
    assert key == derive_cursor_key(kek)
    assert len(key) == 32
    assert key != kek
