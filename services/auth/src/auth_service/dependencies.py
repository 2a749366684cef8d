"""auth's composition root for requests: what the lifespan built, and the services built from
it per request, as `Annotated` dependencies (tests override them, never monkeypatch).

Services are wired here and nowhere else: a feature that needs another feature gets that
feature's service (users end sessions through RefreshTokenService), never its repository.
The token endpoint builds its services with the plain functions below instead of `Depends`:
it is the hot path, and it reads the app state directly on purpose (tokens.endpoints).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from auth_service.clients.permissions import AdminDep as ClientAdminDep
from auth_service.clients.service import ClientCredentialsService, ClientService
from auth_service.lifespan import AuthState
from auth_service.settings import AuthSettings
from auth_service.tokens.service import RefreshTokenService, TokenService
from auth_service.users.permissions import AdminDep as UserAdminDep
from auth_service.users.service import LoginService, Passwords, UserService
from servicekit.core.state import service_state
from servicekit.data.cursors import CursorSigner
from servicekit.data.db import SessionDep
from servicekit.web.security import PrincipalDep


def get_auth_state(request: Request) -> AuthState:
    return service_state(request.app, AuthState)


def get_auth_settings(request: Request) -> AuthSettings:
    return get_auth_state(request).settings


def get_passwords(request: Request) -> Passwords:
    return get_auth_state(request).passwords


def get_cursor_signer(request: Request) -> CursorSigner:
    return get_auth_state(request).cursors


AuthStateDep = Annotated[AuthState, Depends(get_auth_state)]
AuthSettingsDep = Annotated[AuthSettings, Depends(get_auth_settings)]
PasswordsDep = Annotated[Passwords, Depends(get_passwords)]
CursorSignerDep = Annotated[CursorSigner, Depends(get_cursor_signer)]


# -- services ---------------------------------------------------------------------------------


def get_refresh_token_service(session: SessionDep) -> RefreshTokenService:
    return RefreshTokenService(session)


RefreshTokenServiceDep = Annotated[RefreshTokenService, Depends(get_refresh_token_service)]


def _user_service(
    tenant_id: str,
    session: SessionDep,
    passwords: PasswordsDep,
    settings: AuthSettingsDep,
    sessions: RefreshTokenServiceDep,
) -> UserService:
    return UserService(
        session, tenant_id=tenant_id, passwords=passwords, settings=settings, sessions=sessions
    )


def get_user_service(
    admin: UserAdminDep,
    session: SessionDep,
    passwords: PasswordsDep,
    settings: AuthSettingsDep,
    sessions: RefreshTokenServiceDep,
) -> UserService:
    """Users of the admin's tenant (the admin permission is checked first)."""
    return _user_service(admin.tenant_id, session, passwords, settings, sessions)


def get_own_user_service(
    principal: PrincipalDep,
    session: SessionDep,
    passwords: PasswordsDep,
    settings: AuthSettingsDep,
    sessions: RefreshTokenServiceDep,
) -> UserService:
    """Users of the caller's own tenant, for reading the caller's own account."""
    return _user_service(principal.tenant_id, session, passwords, settings, sessions)


UserServiceDep = Annotated[UserService, Depends(get_user_service)]
OwnUserServiceDep = Annotated[UserService, Depends(get_own_user_service)]


def get_client_service(
    admin: ClientAdminDep, session: SessionDep, state: AuthStateDep
) -> ClientService:
    """Clients of the admin's tenant; changes evict this replica's cached credentials."""
    return ClientService(session, tenant_id=admin.tenant_id, cache=state.client_cache)


ClientServiceDep = Annotated[ClientService, Depends(get_client_service)]


def login_service(state: AuthState) -> LoginService:
    return LoginService(passwords=state.passwords, settings=state.settings)


def token_service(state: AuthState) -> TokenService:
    """The grants, over this process's key ring, client credentials and logins."""
    return TokenService(
        keyring=state.keyring,
        settings=state.settings,
        clients=ClientCredentialsService(state.credentials_pool, cache=state.client_cache),
        logins=login_service(state),
    )
