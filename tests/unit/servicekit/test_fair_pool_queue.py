"""The pool's hand-off queue: waiters are served in the order they asked, none is lost.

The queue is used from SQLAlchemy's greenlet (its blocking get awaits through `await_`), so
each get here runs under `greenlet_spawn`, as the pool runs it.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.util.concurrency import greenlet_spawn
from sqlalchemy.util.queue import Empty, Full

from servicekit.data.fair_pool import HandOffQueue
from tests.support.waiting import loop_until


async def _waiting(queue: HandOffQueue[str], count: int) -> None:
    """Let the event loop run until `count` getters are in the queue's line."""
    await loop_until(lambda: queue.waiting() >= count)


def _getter(queue: HandOffQueue[str], timeout: float | None = 5.0) -> asyncio.Task[str]:
    return asyncio.ensure_future(greenlet_spawn(queue.get, True, timeout))


async def test_waiters_get_items_in_the_order_they_asked() -> None:
    queue: HandOffQueue[str] = HandOffQueue(maxsize=3)
    getters = []
    for count in range(1, 4):
        getters.append(_getter(queue))
        await _waiting(queue, count)
    for item in ("a", "b", "c"):
        queue.put_nowait(item)
    assert [await getter for getter in getters] == ["a", "b", "c"]
    assert queue.qsize() == 0


async def test_a_newcomer_never_takes_an_item_promised_to_a_waiter() -> None:
    # The race of SQLAlchemy's own queue: an item put back wakes the oldest waiter, and a
    # request that asks before that waiter runs took the item.
    queue: HandOffQueue[str] = HandOffQueue(maxsize=1)
    waiter = _getter(queue)
    await _waiting(queue, 1)
    queue.put_nowait("connection")
    with pytest.raises(Empty):
        queue.get(block=False)
    newcomer = _getter(queue)
    assert await waiter == "connection"
    assert not newcomer.done()
    queue.put_nowait("connection")
    assert await newcomer == "connection"


async def test_an_item_waits_in_the_queue_when_nobody_does() -> None:
    queue: HandOffQueue[str] = HandOffQueue(maxsize=2)
    queue.put_nowait("a")
    queue.put_nowait("b")
    with pytest.raises(Full):
        queue.put_nowait("c")
    assert queue.get(block=False) == "a"
    assert await greenlet_spawn(queue.get, True, 1.0) == "b"
    with pytest.raises(Empty):
        queue.get(block=False)


async def test_lifo_queue_hands_out_the_most_recent_item() -> None:
    queue: HandOffQueue[str] = HandOffQueue(maxsize=2, use_lifo=True)
    queue.put_nowait("older")
    queue.put_nowait("newer")
    assert queue.get(block=False) == "newer"


async def test_a_waiter_that_times_out_raises_empty_and_leaves_the_line() -> None:
    queue: HandOffQueue[str] = HandOffQueue(maxsize=1)
    with pytest.raises(Empty):
        await greenlet_spawn(queue.get, True, 0.01)
    assert queue.waiting() == 0
    queue.put_nowait("connection")
    assert queue.qsize() == 1  # kept, not handed to the waiter that left


async def test_an_item_handed_to_a_cancelled_waiter_passes_to_the_next() -> None:
    # The item is promised to the first waiter, which is cancelled (its request was) before it
    # ran: the item must reach the next waiter, or the pool would lose a connection.
    queue: HandOffQueue[str] = HandOffQueue(maxsize=1)
    first = _getter(queue)
    await _waiting(queue, 1)
    second = _getter(queue)
    await _waiting(queue, 2)
    queue.put_nowait("connection")
    first.cancel()
    assert await second == "connection"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert queue.qsize() == 0
    assert queue.waiting() == 0


async def test_an_item_handed_to_a_cancelled_last_waiter_goes_back_to_the_queue() -> None:
    queue: HandOffQueue[str] = HandOffQueue(maxsize=1)
    only = _getter(queue)
    await _waiting(queue, 1)
    queue.put_nowait("connection")
    only.cancel()
    with pytest.raises(asyncio.CancelledError):
        await only
    assert queue.get(block=False) == "connection"


async def test_a_cancelled_waiter_before_any_item_leaves_the_line() -> None:
    queue: HandOffQueue[str] = HandOffQueue(maxsize=1)
    gone = _getter(queue)
    await _waiting(queue, 1)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert queue.waiting() == 0
    queue.put_nowait("connection")
    assert queue.qsize() == 1
