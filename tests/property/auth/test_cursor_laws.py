"""Laws of auth's list-cursor signer (auth_service.cursors) and of its HKDF-derived key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth_service.cursors import CursorSigner, derive_cursor_key
from servicekit.data.repository import InvalidCursorError

_TOKENS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    min_size=1,
    max_size=200,
)
_KEKS = st.binary(min_size=32, max_size=32)
_LISTS = st.sampled_from(["users", "clients"])


@given(token=_TOKENS, kek=_KEKS, list_name=_LISTS)
def test_law_verify_inverts_sign_for_the_same_list(token: str, kek: bytes, list_name: str) -> None:
    signer = CursorSigner.from_key_encryption_key(kek)
    assert signer.verify(list_name, signer.sign(list_name, token)) == token


@given(token=_TOKENS, kek=_KEKS)
def test_law_a_cursor_of_one_list_never_verifies_for_another(token: str, kek: bytes) -> None:
    signer = CursorSigner.from_key_encryption_key(kek)
    with pytest.raises(InvalidCursorError):
        signer.verify("clients", signer.sign("users", token))


@given(token=_TOKENS, kek=_KEKS, other=_KEKS)
def test_law_a_cursor_verifies_only_under_the_key_encryption_key_that_signed_it(
    token: str, kek: bytes, other: bytes
) -> None:
    issued = CursorSigner.from_key_encryption_key(kek).sign("users", token)
    if other != kek:
        with pytest.raises(InvalidCursorError):
            CursorSigner.from_key_encryption_key(other).verify("users", issued)


@given(token=_TOKENS, kek=_KEKS, data=st.data())
def test_law_any_change_of_a_signed_cursor_fails_to_verify(
    token: str, kek: bytes, data: st.DataObject
) -> None:
    signer = CursorSigner.from_key_encryption_key(kek)
    signed = signer.sign("users", token)
    index = data.draw(st.integers(min_value=0, max_value=len(signed) - 1))
    replacement = data.draw(st.characters(codec="latin-1").filter(lambda c: c != signed[index]))
    tampered = signed[:index] + replacement + signed[index + 1 :]
    try:
        verified = signer.verify("users", tampered)
    except InvalidCursorError:
        return
    # Only base64 padding bits of the MAC can change without changing its bytes.
    assert verified == token
    assert index == len(signed) - 1


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
