"""`auth-service` console script."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from auth_service.settings import get_settings
from servicekit.cli import add_migrate_command, add_serve_command, dispatch


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auth-service", description="auth service commands")
    sub = parser.add_subparsers(title="commands")
    add_migrate_command(sub, section="auth", database_url=lambda: get_settings().database_url)
    add_serve_command(sub, app="auth_service.main:create_app")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
