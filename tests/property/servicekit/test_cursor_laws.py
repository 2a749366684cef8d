"""Laws of the list-cursor signer both services use (servicekit.data.cursors)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicekit.data.cursors import CursorSigner
from servicekit.data.repository import InvalidCursorError

_TOKENS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    min_size=1,
    max_size=200,
)
_KEYS = st.binary(min_size=1, max_size=40)
_SCOPES = st.sampled_from(["Item", "Pedido", "User", "ServiceClient", "events"])


@given(token=_TOKENS, key=_KEYS, scope=_SCOPES)
def test_law_verify_inverts_sign_within_one_scope(token: str, key: bytes, scope: str) -> None:
    signer = CursorSigner(key)
    assert signer.verify(signer.sign(token, scope=scope), scope=scope) == token


@given(token=_TOKENS, key=_KEYS, scopes=st.lists(_SCOPES, min_size=2, max_size=2, unique=True))
def test_law_a_cursor_of_one_list_never_verifies_for_another(
    token: str, key: bytes, scopes: list[str]
) -> None:
    signer = CursorSigner(key)
    with pytest.raises(InvalidCursorError):
        signer.verify(signer.sign(token, scope=scopes[0]), scope=scopes[1])


@given(token=_TOKENS, old=_KEYS, new=_KEYS)
def test_law_rotation_keeps_old_cursors_until_the_old_key_is_dropped(
    token: str, old: bytes, new: bytes
) -> None:
    issued = CursorSigner(old).sign(token, scope="Item")
    assert CursorSigner(new, [old]).verify(issued, scope="Item") == token
    if new != old:
        with pytest.raises(InvalidCursorError):
            CursorSigner(new).verify(issued, scope="Item")


@given(token=_TOKENS, key=_KEYS, data=st.data())
def test_law_any_change_of_a_signed_cursor_fails_to_verify(
    token: str, key: bytes, data: st.DataObject
) -> None:
    signer = CursorSigner(key)
    signed = signer.sign(token, scope="Item")
    index = data.draw(st.integers(min_value=0, max_value=len(signed) - 1))
    replacement = data.draw(st.characters(codec="latin-1").filter(lambda c: c != signed[index]))
    tampered = signed[:index] + replacement + signed[index + 1 :]
    try:
        verified = signer.verify(tampered, scope="Item")
    except InvalidCursorError:
        return
    # Only base64 padding bits of the MAC can change without changing its bytes.
    assert verified == token
    assert index == len(signed) - 1


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="cursor key"):
        CursorSigner(b"")
