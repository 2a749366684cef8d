"""Laws of the verifier, for any claims."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servicekit.verify import InvalidToken, TokenVerifier
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer

ISSUER_KEYS = TestIssuer()
OTHER_KEYS = TestIssuer()
VERIFIER = TokenVerifier(key_source=ISSUER_KEYS.static_source(), issuer=ISSUER, audience=AUDIENCE)

texts = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40)
roles = st.lists(st.sampled_from(["viewer", "editor", "admin", "auditor"]), max_size=3)


@given(sub=texts, tenant=texts, role_list=roles, client=st.none() | texts)
def test_sign_then_verify_returns_the_same_claims(
    sub: str, tenant: str, role_list: list[str], client: str | None
) -> None:
    """For any subject, tenant, roles and client id: verify(sign(claims)) gives those claims."""
    extra = {} if client is None else {"client_id": client}
    token = ISSUER_KEYS.issue(sub=sub, tenant_id=tenant, roles=role_list, **extra)
    p = asyncio.run(VERIFIER.verify(token))
    assert (p.subject, p.tenant_id, list(p.roles), p.client_id) == (sub, tenant, role_list, client)


@given(sub=texts)
def test_a_token_whose_kid_is_not_in_the_key_set_is_invalid(sub: str) -> None:
    """For any claims, a token signed by a key outside the JWKS is invalid_token."""
    token = OTHER_KEYS.issue(sub=sub)
    with pytest.raises(InvalidToken, match="unknown kid"):
        asyncio.run(VERIFIER.verify(token))
