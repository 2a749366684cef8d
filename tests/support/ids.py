"""Names a test owns alone: tenants, Redis key prefixes. Tests share one database and one Redis,
so everything a test writes carries a name no other test can produce."""

from __future__ import annotations

import uuid


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def redis_test_prefix(label: str = "") -> str:
    """`test:<random>:<label>:`; `delete_prefix` removes everything under it afterwards."""
    return f"test:{uuid.uuid4().hex[:12]}:" + (f"{label}:" if label else "")
