"""The process environment a test and the services it starts see: no service settings.

Settings are built from the environment (`AUTH_*`, `ORDERS_*`, `APP_*`), so a variable left in
a developer's shell or set by one test would change what another test checks. The session
starts with none of them, every test starts with none of them, and every process a test starts
gets only the ones that test passes explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SERVICE_ENV_PREFIXES = ("AUTH_", "ORDERS_", "APP_")


def is_service_setting(name: str) -> bool:
    return name.startswith(SERVICE_ENV_PREFIXES)


def service_settings_in(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if is_service_setting(k)}


def clean_environ(**overrides: str) -> dict[str, str]:
    """`os.environ` without service settings, then `overrides`: the env for a child process."""
    env = {k: v for k, v in os.environ.items() if not is_service_setting(k)}
    env.update(overrides)
    return env


def child_env(settings: Mapping[str, str]) -> dict[str, str]:
    """`clean_environ()` plus exactly the service settings a test chose."""
    return {**clean_environ(), **settings}
