"""Building blocks for each service's console script (argparse; no extra dependency)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from servicekit.data import stackenv
from servicekit.data.migrations import upgrade_head
from servicekit.web.shutdown import run_service

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
    in flight finish within the graceful timeout and the process exits 0 (servicekit.web.shutdown).
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


def connection_failure(exc: BaseException) -> str | None:
    """One line for an unreachable or missing database or Redis, None for anything else.

    A CLI started without a stack must say what to do, not print a traceback.
    """
    # Imported here: only the failure path needs them, and every command imports this module.
    from redis.exceptions import ConnectionError as RedisConnectionError  # noqa: PLC0415
    from sqlalchemy.exc import DBAPIError  # noqa: PLC0415

    if isinstance(exc, DBAPIError):
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        return f"cannot use the database: {reason}"
    if isinstance(exc, RedisConnectionError) or (
        # Refused, unreachable, unknown host; a missing local file is another story.
        isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)
    ):
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"cannot reach a server: {reason}"
    return None


def stack_hint(variable: str, loaded: object) -> str:
    """What to do next, naming where the settings came from."""
    if loaded is not None:
        return f"settings from {loaded}: is `make run` still up?"
    return f"set {variable}, or start `make run` (it writes .data/stack.env for this command)"


def run_cli(
    prog: str,
    parser: Callable[[], argparse.ArgumentParser],
    argv: Sequence[str] | None,
    *,
    url_variable: str,
    expected: tuple[type[Exception], ...] = (),
) -> int:
    """Parse and run one command: settings of a running `make run` fill in when `url_variable`
    is unset; expected errors and unreachable servers are one line on stderr, exit status 1."""
    try:
        loaded = stackenv.load(url_variable)
    except OSError as exc:  # a stack.env naming a key file that is gone, say
        print(f"{prog}: cannot read the running stack's settings: {exc}", file=sys.stderr)  # noqa: T201
        return 1
    try:
        return dispatch(parser(), argv)
    except expected as exc:
        print(f"{prog}: {exc}", file=sys.stderr)  # noqa: T201 - a command's own output
        return 1
    except Exception as exc:
        line = connection_failure(exc)
        if line is None:
            raise
        print(f"{prog}: {line}; {stack_hint(url_variable, loaded)}", file=sys.stderr)  # noqa: T201
        return 1
