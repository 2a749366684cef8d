"""`orders-service` console script."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeAlias

from sqlalchemy.ext.asyncio import AsyncSession

from orders_service.events.service import prune
from orders_service.idempotency.repository import IdempotencyRecords
from orders_service.items.cache import build_item_cache, warm_item_cache
from orders_service.settings import OrdersSettings, get_settings
from servicekit.data.db import create_engine, create_sessionmaker
from servicekit.data.redis import create_redis
from servicekit.web.cli import add_migrate_command, add_serve_command, run_cli


async def _warm(settings: OrdersSettings, *, limit: int) -> tuple[int, int]:
    engine = create_engine(settings, application_name="orders-cache-warm")
    redis = create_redis(settings.redis_url)
    try:
        # No in-process layer: this process exits; the replicas read what it stores in Redis.
        item_cache = build_item_cache(settings, redis, local=False)
        since = datetime.now(UTC) - timedelta(days=settings.cache_warm_window_days)
        return await warm_item_cache(engine, item_cache, limit=limit, since=since)
    finally:
        await redis.aclose()
        await engine.dispose()


def _add_cache_command(sub: _SubParsers) -> None:
    actions = _command_group(sub, "cache", "item read cache")
    warm = actions.add_parser(
        "warm",
        help="load the hottest items into the cache, with TTLs staggered so they do not "
        "expire together (hottest: most pedido lines in the last CACHE_WARM_WINDOW_DAYS, "
        "then most recently updated)",
    )
    warm.add_argument("--limit", type=int, help="how many items (default: CACHE_WARM_LIMIT)")

    def run(args: argparse.Namespace) -> int:
        settings = get_settings()
        limit = args.limit if args.limit is not None else settings.cache_warm_limit
        if limit < 1:
            print("--limit must be at least 1", file=sys.stderr)  # noqa: T201 - command output
            return 2
        stored, chosen = asyncio.run(_warm(settings, limit=limit))
        # Entries already cached (or being filled by a reader right now) are left as they are.
        print(f"cache warm: stored {stored} of the {chosen} hottest items")  # noqa: T201
        return 0

    warm.set_defaults(handler=run)


async def _in_transaction(
    settings: OrdersSettings, name: str, work: Callable[[AsyncSession], Awaitable[int]]
) -> int:
    """Run `work` in one committed transaction on a short-lived engine of its own."""
    engine = create_engine(settings, application_name=f"orders-{name}")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


async def _prune(settings: OrdersSettings, *, days: int) -> int:
    older_than = datetime.now(UTC) - timedelta(days=days)
    return await _in_transaction(
        settings, "events-prune", lambda session: prune(session, older_than=older_than)
    )


async def _prune_keys(settings: OrdersSettings) -> int:
    # Past the Redis TTL no retry is answered from Redis either: the key is spent.
    older_than = datetime.now(UTC) - timedelta(seconds=settings.idempotency_ttl_s)
    return await _in_transaction(
        settings,
        "idempotency-prune",
        lambda session: IdempotencyRecords(session).prune(older_than=older_than),
    )


# A string: argparse._SubParsersAction is generic for type checkers only.
_SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _command_group(sub: _SubParsers, name: str, help_: str) -> _SubParsers:
    """A command whose actions are subcommands; alone, it prints its help and exits 2."""
    group = sub.add_parser(name, help=help_)

    def usage(_: argparse.Namespace) -> int:
        group.print_help()
        return 2

    group.set_defaults(handler=usage)
    return group.add_subparsers(title="actions")


def _add_idempotency_command(sub: _SubParsers) -> None:
    actions = _command_group(sub, "idempotency", "Idempotency-Key records in PostgreSQL")
    prune_cmd = actions.add_parser(
        "prune", help="delete records older than IDEMPOTENCY_TTL_S (their retry window)"
    )

    def run(_: argparse.Namespace) -> int:
        deleted = asyncio.run(_prune_keys(get_settings()))
        print(f"idempotency prune: deleted {deleted} records")  # noqa: T201 - command output
        return 0

    prune_cmd.set_defaults(handler=run)


def _add_events_command(sub: _SubParsers) -> None:
    actions = _command_group(sub, "events", "the outbox event feed")
    prune_cmd = actions.add_parser(
        "prune", help="delete events older than EVENTS_RETENTION_DAYS (every tenant)"
    )
    prune_cmd.add_argument("--days", type=int, help="default: EVENTS_RETENTION_DAYS")

    def run(args: argparse.Namespace) -> int:
        settings = get_settings()
        days = args.days if args.days is not None else settings.events_retention_days
        if days < 1:
            print("--days must be at least 1", file=sys.stderr)  # noqa: T201 - command output
            return 2
        deleted = asyncio.run(_prune(settings, days=days))
        print(f"events prune: deleted {deleted} events older than {days} days")  # noqa: T201
        return 0

    prune_cmd.set_defaults(handler=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orders-service", description="orders service commands")
    sub = parser.add_subparsers(title="commands")
    add_migrate_command(sub, section="orders", database_url=lambda: get_settings().database_url)
    add_serve_command(sub, app="orders_service.main:create_app")
    _add_cache_command(sub)
    _add_events_command(sub)
    _add_idempotency_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("orders-service", build_parser, argv, url_variable="ORDERS_DATABASE_URL")


if __name__ == "__main__":
    sys.exit(main())
