"""A connection pool that serves waiting requests first come, first served.

SQLAlchemy's asyncio pool (AsyncAdaptedQueuePool over asyncio.Queue) lets a newcomer take a
connection that is sitting in the queue without waiting, even while others have been waiting
for one: a returned connection wakes the oldest waiter, but a request arriving before that
waiter runs takes the connection, and asyncio.Queue puts the woken waiter back at the end of
its line. Under sustained load (more concurrent requests than connections) a waiter can lose
that race until its pool timeout: `make bench` saw p99 of 4.5 s and 503s on the page of 20
at 64 connections against a pool of 10, while the median stayed at a few milliseconds.

Here a returned connection is handed to the oldest waiter directly (its future gets the
connection), and a newcomer only takes a connection from the queue when nobody waits, so
waiting time is bounded by the line ahead and not by luck.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TypeVar, cast

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util.concurrency import await_
from sqlalchemy.util.queue import Empty, Full, QueueCommon

_T = TypeVar("_T")


class HandOffQueue(QueueCommon[_T]):
    """The queue SQLAlchemy's pool keeps its idle connections in, with a line of waiters.

    Invariant: an item sits in `_items` only when no live waiter is in `_waiters`, because
    `put_nowait` gives an item to the first live waiter before it would keep it. So a
    non-blocking get that finds an item never overtakes anyone.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        self.maxsize = maxsize
        self.use_lifo = use_lifo
        self._items: deque[_T] = deque()
        self._waiters: deque[asyncio.Future[_T]] = deque()

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def waiting(self) -> int:
        """Requests waiting for an item (for tests and diagnostics)."""
        return sum(1 for waiter in self._waiters if not waiter.done())

    def put_nowait(self, item: _T) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            # A waiter that gave up (timeout, cancel) or whose loop is gone is skipped.
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(item)
                return
        if self.full():
            raise Full()
        self._items.append(item)

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        # Never blocks: the pool only puts back what it took, so there is always room or a
        # waiter (SQLAlchemy's pool calls put(item, False) and handles Full itself).
        self.put_nowait(item)

    def get_nowait(self) -> _T:
        if not self._items:
            raise Empty()
        return self._items.pop() if self.use_lifo else self._items.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        if self._items or not block:
            return self.get_nowait()
        # Called from SQLAlchemy's greenlet: await_ runs the wait on the event loop.
        return await_(self._wait(patience_s=timeout))

    async def _wait(self, *, patience_s: float | None) -> _T:
        waiter: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(patience_s):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # The item arrived as this waiter gave up: pass it on, or it would leak.
                self.put_nowait(waiter.result())
            else:
                waiter.cancel()
                self._forget(waiter)
            if isinstance(exc, TimeoutError):
                raise Empty() from None
            raise

    def _forget(self, waiter: asyncio.Future[_T]) -> None:
        with contextlib.suppress(ValueError):  # put_nowait already took it off the line
            self._waiters.remove(waiter)


class _ConnectionQueue(HandOffQueue[ConnectionPoolEntry]):
    pass


class FairAsyncAdaptedQueuePool(AsyncAdaptedQueuePool):
    """AsyncAdaptedQueuePool whose waiters get connections in the order they asked."""

    _queue_class = _ConnectionQueue
    # SQLAlchemy names a pool's logger after its class's module: ours would log "Pool
    # disposed" at INFO under servicekit's namespace. Under sqlalchemy's, which SQLAlchemy
    # keeps at WARNING unless asked (echo_pool), it logs exactly as the pool it replaces.
    _sqla_logger_namespace = "sqlalchemy.pool.impl.FairAsyncAdaptedQueuePool"

    def waiting(self) -> int:
        """Requests waiting for a connection now (the db_pool_connections{state="waiting"})."""
        return cast(_ConnectionQueue, self._pool).waiting()
