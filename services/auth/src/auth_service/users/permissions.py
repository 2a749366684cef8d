"""Who may manage users: admins, within their own tenant (the tenant comes from the token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.verify import Principal
from servicekit.web.security import Permission, requires

AdminDep = Annotated[Principal, Depends(requires(Permission(name="admin", minimum_role="admin")))]
