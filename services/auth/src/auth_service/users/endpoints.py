"""/api/v1/users: the caller's own account, and user administration for tenant admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response

from auth_service.dependencies import CursorSignerDep, OwnUserServiceDep, UserServiceDep
from auth_service.errors import NotFoundError
from auth_service.settings import AuthSettings
from auth_service.users.schemas import UserCreate, UserListQuery, UserPage, UserRead, UserUpdate
from servicekit.web.docs import OpenAPICustomiser
from servicekit.web.paging import next_link
from servicekit.web.security import PrincipalDep

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("/me", response_model=UserRead, summary="The user the access token belongs to")
async def me(principal: PrincipalDep, users: OwnUserServiceDep) -> UserRead:
    try:
        user_id = uuid.UUID(principal.subject)
    except ValueError:
        raise NotFoundError("the token's subject is not a user (a service client?)") from None
    return UserRead.model_validate(await users.get(user_id))


@router.post("", status_code=201, response_model=UserRead, summary="Create a user in your tenant")
async def create_user(data: UserCreate, users: UserServiceDep, response: Response) -> UserRead:
    user = await users.create(data, now=datetime.now(UTC))
    response.headers["Location"] = f"{router.prefix}/{user.id}"
    return UserRead.model_validate(user)


@router.get(
    "",
    response_model=UserPage,
    summary="Users of your tenant, by email",
    description="Cursor pages: follow `next` (a relative URL, null on the last page); a "
    "cursor this list did not issue is a 400 problem.",
    responses={400: {"description": "The cursor is not one this list issued"}},
)
async def list_users(
    request: Request,
    users: UserServiceDep,
    signer: CursorSignerDep,
    query: Annotated[UserListQuery, Query()],
) -> UserPage:
    page = await users.list_page(query, signer=signer)
    return UserPage(
        items=[UserRead.model_validate(u) for u in page.items],
        next=next_link(request, page.next_cursor),
    )


@router.get("/{user_id:uuid}", response_model=UserRead, summary="One user of your tenant")
async def get_user(user_id: uuid.UUID, users: UserServiceDep) -> UserRead:
    return UserRead.model_validate(await users.get(user_id))


@router.patch(
    "/{user_id:uuid}",
    response_model=UserRead,
    summary="Change roles, password or the disabled flag (disabling ends refresh sessions)",
)
async def update_user(user_id: uuid.UUID, data: UserUpdate, users: UserServiceDep) -> UserRead:
    return UserRead.model_validate(await users.update(user_id, data, now=datetime.now(UTC)))


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
