"""Who may manage users: admins, within their own tenant (the tenant comes from the token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.auth import Principal, require_role

AdminDep = Annotated[Principal, Depends(require_role("admin"))]
