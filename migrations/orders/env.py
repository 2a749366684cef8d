"""Alembic environment for orders: async, URL from ORDERS_DATABASE_URL (or -x url=...)."""

from orders_service.settings import get_settings
from orders_service.tables import metadata
from servicekit.data.migrations import run_env

run_env(metadata, env_var="ORDERS_DATABASE_URL", default_url=lambda: get_settings().database_url)
