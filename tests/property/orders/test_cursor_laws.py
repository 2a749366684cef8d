"""Laws of the cursor signer (orders_service.cursors) and of its secret setting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders_service.cursors import CursorSigner
from orders_service.settings import OrdersSettings
from servicekit.data.repository import InvalidCursorError

_TOKENS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    min_size=1,
    max_size=200,
)
_SECRETS = st.text(min_size=1, max_size=40)


@given(token=_TOKENS, secret=_SECRETS)
def test_law_verify_inverts_sign(token: str, secret: str) -> None:
    signer = CursorSigner(secret)
    assert signer.verify(signer.sign(token)) == token


@given(token=_TOKENS, old=_SECRETS, new=_SECRETS)
def test_law_rotation_keeps_old_cursors_until_the_old_key_is_dropped(
    token: str, old: str, new: str
) -> None:
    issued = CursorSigner(old).sign(token)
    assert CursorSigner(new, [old]).verify(issued) == token
    if new != old:
        with pytest.raises(InvalidCursorError):
            CursorSigner(new).verify(issued)


@given(token=_TOKENS, secret=_SECRETS, data=st.data())
def test_law_any_change_of_a_signed_cursor_fails_to_verify(
    token: str, secret: str, data: st.DataObject
) -> None:
    signer = CursorSigner(secret)
    signed = signer.sign(token)
    index = data.draw(st.integers(min_value=0, max_value=len(signed) - 1))
    replacement = data.draw(st.characters(codec="latin-1").filter(lambda c: c != signed[index]))
    tampered = signed[:index] + replacement + signed[index + 1 :]
    try:
        verified = signer.verify(tampered)
    except InvalidCursorError:
        return
    # Only base64 padding bits can change without changing the MAC's bytes.
    assert verified == token
    assert index == len(signed) - 1


@pytest.mark.parametrize("secret", [None, "dev", "changeme", ""])
def test_production_refuses_a_missing_or_default_cursor_secret(
    secret: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERS_CURSOR_SECRET", raising=False)
    # A trusted network: production's https rule for the JWKS URL is not what this checks.
    kwargs: dict[str, object] = {"jwks_trusted_network": True}
    if secret is not None:
        kwargs["cursor_secret"] = secret
    with pytest.raises(ValueError, match="secrets: cursor_secret"):
        OrdersSettings(environment="production", **kwargs)  # type: ignore[arg-type]
    OrdersSettings(environment="production", jwks_trusted_network=True, cursor_secret="a-real-key")
