"""Request dependencies for what the lifespan built (tests override them, never monkeypatch)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from auth_service.keys.keyring import KeyRing
from auth_service.lifespan import AuthState
from auth_service.settings import AuthSettings
from auth_service.users.service import Passwords
from servicekit.state import service_state


def get_auth_state(request: Request) -> AuthState:
    return service_state(request.app, AuthState)


def get_auth_settings(request: Request) -> AuthSettings:
    return get_auth_state(request).settings


def get_passwords(request: Request) -> Passwords:
    return get_auth_state(request).passwords


def get_keyring(request: Request) -> KeyRing:
    return get_auth_state(request).keyring


AuthStateDep = Annotated[AuthState, Depends(get_auth_state)]
AuthSettingsDep = Annotated[AuthSettings, Depends(get_auth_settings)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
KeyRingDep = Annotated[KeyRing, Depends(get_keyring)]
