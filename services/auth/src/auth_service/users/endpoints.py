"""/api/v1/users: the caller's own account, and user administration for tenant admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Response

from auth_service._paging import PageQuery
from auth_service.dependencies import AuthSettingsDep, PasswordsDep
from auth_service.errors import NotFoundError
from auth_service.settings import AuthSettings
from auth_service.users import service
from auth_service.users.permissions import AdminDep
from auth_service.users.schemas import UserCreate, UserPage, UserRead, UserUpdate
from servicekit.db import SessionDep
from servicekit.docs import OpenAPICustomiser
from servicekit.security import PrincipalDep

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("/me", response_model=UserRead, summary="The user the access token belongs to")
async def me(principal: PrincipalDep, session: SessionDep) -> UserRead:
    try:
        user_id = uuid.UUID(principal.subject)
    except ValueError:
        raise NotFoundError("the token's subject is not a user (a service client?)") from None
    user = await service.get_user(session, user_id=user_id, tenant_id=principal.tenant_id)
    return UserRead.model_validate(user)


@router.post("", status_code=201, response_model=UserRead, summary="Create a user in your tenant")
async def create_user(
    data: UserCreate,
    admin: AdminDep,
    session: SessionDep,
    passwords: PasswordsDep,
    settings: AuthSettingsDep,
    response: Response,
) -> UserRead:
    user = await service.create_user(
        session,
        data=data,
        tenant_id=admin.tenant_id,
        passwords=passwords,
        settings=settings,
        now=datetime.now(UTC),
    )
    response.headers["Location"] = f"{router.prefix}/{user.id}"
    return UserRead.model_validate(user)


@router.get("", response_model=UserPage, summary="Users of your tenant, by email")
async def list_users(
    admin: AdminDep, session: SessionDep, page: Annotated[PageQuery, Query()]
) -> UserPage:
    users, total = await service.list_users(
        session, tenant_id=admin.tenant_id, limit=page.limit, offset=page.offset
    )
    return UserPage(
        items=[UserRead.model_validate(u) for u in users],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{user_id:uuid}", response_model=UserRead, summary="One user of your tenant")
async def get_user(user_id: uuid.UUID, admin: AdminDep, session: SessionDep) -> UserRead:
    user = await service.get_user(session, user_id=user_id, tenant_id=admin.tenant_id)
    return UserRead.model_validate(user)


@router.patch(
    "/{user_id:uuid}",
    response_model=UserRead,
    summary="Change roles, password or the disabled flag (disabling ends refresh sessions)",
)
async def update_user(
    user_id: uuid.UUID,
    data: UserUpdate,
    admin: AdminDep,
    session: SessionDep,
    passwords: PasswordsDep,
    settings: AuthSettingsDep,
) -> UserRead:
    user = await service.update_user(
        session,
        user_id=user_id,
        tenant_id=admin.tenant_id,
        data=data,
        passwords=passwords,
        settings=settings,
        now=datetime.now(UTC),
    )
    return UserRead.model_validate(user)


def password_policy_docs(settings: AuthSettings) -> OpenAPICustomiser:
    """OpenAPI customiser: the configured minimum password length in the user schemas (a
    setting, so no static model knows it; a shorter password is refused with 422)."""

    def customise(schema: dict[str, Any], _app: FastAPI) -> None:
        for model in ("UserCreate", "UserUpdate"):
            field = schema["components"]["schemas"][model]["properties"]["password"]
            for variant in field.get("anyOf", [field]):
                if variant.get("type") == "string":
                    variant["minLength"] = settings.password_min_length

    return customise
