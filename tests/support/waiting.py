"""Polling to a deadline: the one loop tests use to wait for a state they cannot be told of.

Deadlines come from the timeouts the code under test is configured with, never from how fast
this machine happened to be; a process start gets `START_TIMEOUT_S`, which CI on two shared
cores needs generous (importing a service under load can take most of a minute).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")

START_TIMEOUT_S = float(os.environ.get("TEST_START_TIMEOUT_S") or 180)


def poll(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    within_s: float,
    interval_s: float = 0.1,
    check: Callable[[T], None] | None = None,
) -> T:
    """Call `fetch()` until `done(answer)` or `within_s` passes; the last answer either way,
    for the caller to assert on. `check(answer)` runs on every answer that is not done yet
    (an answer that may never appear on the way fails at once)."""
    deadline = time.monotonic() + within_s
    while True:
        answer = fetch()
        if done(answer) or time.monotonic() > deadline:
            return answer
        if check is not None:
            check(answer)
        time.sleep(interval_s)


async def loop_until(condition: Callable[[], bool], *, steps: int = 1000) -> None:
    """Let this event loop run, a step at a time, until `condition()` holds: for a state of
    this process that signals nothing (a task joining a queue's line). Fails after `steps`."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"not reached within {steps} steps of the event loop")


def get_or_none(url: str, *, timeout_s: float = 1.0) -> httpx.Response | None:
    """GET `url`; None while nothing accepts the connection yet."""
    try:
        return httpx.get(url, timeout=timeout_s)
    except httpx.TransportError:
        return None


def wait_http_ok(
    url: str,
    *,
    within_s: float = START_TIMEOUT_S,
    alive: Callable[[], bool] = lambda: True,
    describe: Callable[[], str] = lambda: "",
) -> httpx.Response:
    """Wait until `url` answers 200 (a started server); fail at once if `alive()` turns false,
    and with `describe()` (a log tail) if it never does."""

    def fetch() -> httpx.Response | None:
        if not alive():
            raise RuntimeError(f"exited before {url} answered:\n{describe()}")
        return get_or_none(url)

    answer = poll(fetch, lambda r: r is not None and r.status_code == 200, within_s=within_s)
    if answer is None or answer.status_code != 200:
        raise TimeoutError(f"{url} not ready in {within_s}s:\n{describe()}")
    return answer
