"""Imports every auth model so `metadata` is complete for Alembic and tests."""

from __future__ import annotations

from auth_service.clients.models import ServiceClient
from auth_service.db import metadata
from auth_service.keys.models import SigningKey
from auth_service.tokens.models import RefreshToken
from auth_service.users.models import User

__all__ = ["RefreshToken", "ServiceClient", "SigningKey", "User", "metadata"]
