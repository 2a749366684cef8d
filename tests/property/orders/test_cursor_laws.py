"""orders' cursor secret setting (the signer's laws: tests/property/test_cursor_laws.py)."""

from __future__ import annotations

import pytest

from orders_service.settings import OrdersSettings


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
