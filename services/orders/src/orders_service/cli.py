"""`orders-service` console script."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from orders_service.events.service import prune
from orders_service.idempotency.repository import IdempotencyRecords
from orders_service.items.cache import build_item_cache, warm_item_cache
from orders_service.settings import OrdersSettings, get_settings
from servicekit.cli import add_migrate_command, add_serve_command, run_cli
from servicekit.db import create_engine, create_sessionmaker
from servicekit.redis import create_redis


async def _warm(settings: OrdersSettings, *, limit: int) -> tuple[int, int]:
    engine = create_engine(settings, application_name="orders-cache-warm")
    redis = create_redis(settings.redis_url)
    try:
        # No in-process layer: this process exits; the replicas read what it stores in Redis.
        item_cache = build_item_cache(settings, redis, local=False)
        since = datetime.now(UTC) - timedelta(days=settings.cache_warm_window_days)
        return await warm_item_cache(
            create_sessionmaker(engine), item_cache, limit=limit, since=since
        )
    finally:
        await redis.aclose()
        await engine.dispose()


def _add_cache_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache = sub.add_parser("cache", help="item read cache")
    actions = cache.add_subparsers(title="actions")

    def usage(_: argparse.Namespace) -> int:
        cache.print_help()
        return 2

    cache.set_defaults(handler=usage)
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


async def _prune(settings: OrdersSettings, *, days: int) -> int:
    engine = create_engine(settings, application_name="orders-events-prune")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await prune(session, older_than=datetime.now(UTC) - timedelta(days=days))
    finally:
        await engine.dispose()


async def _prune_keys(settings: OrdersSettings) -> int:
    engine = create_engine(settings, application_name="orders-idempotency-prune")
    # Past the Redis TTL no retry is answered from Redis either: the key is spent.
    older_than = datetime.now(UTC) - timedelta(seconds=settings.idempotency_ttl_s)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await IdempotencyRecords(session).prune(older_than=older_than)
    finally:
        await engine.dispose()


def _add_idempotency_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("idempotency", help="Idempotency-Key records in PostgreSQL")
    actions = keys.add_subparsers(title="actions")

    def usage(_: argparse.Namespace) -> int:
        keys.print_help()
        return 2

    keys.set_defaults(handler=usage)
    prune_cmd = actions.add_parser(
        "prune", help="delete records older than IDEMPOTENCY_TTL_S (their retry window)"
    )

    def run(_: argparse.Namespace) -> int:
        deleted = asyncio.run(_prune_keys(get_settings()))
        print(f"idempotency prune: deleted {deleted} records")  # noqa: T201 - command output
        return 0

    prune_cmd.set_defaults(handler=run)


def _add_events_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = sub.add_parser("events", help="the outbox event feed")
    actions = events.add_subparsers(title="actions")

    def usage(_: argparse.Namespace) -> int:
        events.print_help()
        return 2

    events.set_defaults(handler=usage)
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
