"""Who may manage service clients: admins, within their own tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.auth import Principal, require_role

AdminDep = Annotated[Principal, Depends(require_role("admin"))]
