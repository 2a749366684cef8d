"""Building blocks for each service's console script (argparse; no extra dependency)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from servicekit.migrations import upgrade_head

Handler = Callable[[argparse.Namespace], int]


def add_migrate_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    section: str,
    database_url: Callable[[], str],
) -> None:
    """`<service> migrate`: run this service's Alembic revisions up to head."""
    parser = sub.add_parser(
        "migrate", help="apply this service's migrations (alembic upgrade head)"
    )

    def run(_: argparse.Namespace) -> int:
        upgrade_head(section, database_url())
        print(f"{section}: database at head")  # noqa: T201 - a command's own output
        return 0

    parser.set_defaults(handler=run)


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)
