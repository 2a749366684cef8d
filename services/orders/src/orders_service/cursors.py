"""The process's list-cursor signer (servicekit.data.cursors), keyed by ORDERS_CURSOR_SECRET.

ORDERS_CURSOR_PREVIOUS_SECRETS keeps cursors issued before a key change verifying until those
keys are dropped (rotation).
"""

from __future__ import annotations

from functools import lru_cache

from servicekit.data.cursors import CursorSigner


@lru_cache(maxsize=1)
def cursor_signer() -> CursorSigner:
    """The process's signer, from ORDERS_CURSOR_SECRET and ORDERS_CURSOR_PREVIOUS_SECRETS."""
    from orders_service.settings import get_settings  # noqa: PLC0415 - settings import late

    settings = get_settings()
    return CursorSigner(
        settings.cursor_secret.get_secret_value().encode(),
        [s.get_secret_value().encode() for s in settings.cursor_previous_secrets],
    )
