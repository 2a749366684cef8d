"""Building blocks for each service's console script (argparse; no extra dependency)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from servicekit.migrations import upgrade_head
from servicekit.shutdown import run_service

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


def add_serve_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    app: str,
    forwarded_allow_ips: Callable[[], str] | None = None,
) -> None:
    """`<service> serve`: run the HTTP server (the container's command, PID 1 in exec form).

    SIGTERM drains: readiness fails at once, serving goes on for the drain window, then requests
    in flight finish within the graceful timeout and the process exits 0 (servicekit.shutdown).
    `forwarded_allow_ips` reads the service's setting of trusted proxies (read when it runs).
    """
    parser = sub.add_parser("serve", help="run the HTTP server with graceful SIGTERM handling")
    parser.add_argument("--host", help="bind address (default: the HOST setting)")
    parser.add_argument("--port", type=int, help="port (default: the PORT setting)")

    def run(args: argparse.Namespace) -> int:
        return run_service(
            app,
            host=args.host,
            port=args.port,
            forwarded_allow_ips=forwarded_allow_ips() if forwarded_allow_ips else None,
        )

    parser.set_defaults(handler=run)


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return handler(args)
