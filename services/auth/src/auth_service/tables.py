"""Imports every auth model so `metadata` is complete for Alembic and tests."""

from __future__ import annotations

from auth_service.db import metadata

__all__ = ["metadata"]
