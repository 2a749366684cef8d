"""Request dependencies for what the lifespan built (tests override them, never monkeypatch)."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from auth_service.settings import AuthSettings
from auth_service.users.service import Passwords


def get_auth_settings(request: Request) -> AuthSettings:
    return cast(AuthSettings, request.app.state.resources.settings)


def get_passwords(request: Request) -> Passwords:
    return cast(Passwords, request.app.state.resources.extras["passwords"])


AuthSettingsDep = Annotated[AuthSettings, Depends(get_auth_settings)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
