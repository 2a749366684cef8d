"""Alembic environment for auth: async, URL from AUTH_DATABASE_URL (or -x url=...)."""

from auth_service.settings import get_settings
from auth_service.tables import metadata
from servicekit.data.migrations import run_env

run_env(metadata, env_var="AUTH_DATABASE_URL", default_url=lambda: get_settings().database_url)
