"""Graceful SIGTERM: drain, stop accepting, finish in-flight requests, close pools, exit 0.

Design: each service runs under a small runner around `uvicorn.Server` (`run_service`), the
command `<service> serve` (or `python -m servicekit.web.serve <module:factory>`). It is the process
the container starts as PID 1 in exec form, and what `make run` and the e2e tests start too.
The runner replaces uvicorn's signal handling, which stops accepting connections at the first
SIGTERM, turns a second SIGINT into a hard exit, and re-raises the signal after shutdown (so the
process dies with -15 instead of exiting 0). Instead, on the first SIGTERM or SIGINT:

1. the app's `ShutdownState` turns to draining: `/health/ready` answers 503 at once;
2. the server keeps accepting and serving for `drain_window_s` (default 5 s), while the
   endpoints controller takes the pod out of every Service;
3. then uvicorn's own shutdown runs: listeners close (new connections are refused), idle
   keep-alive connections close, requests in flight get up to `graceful_timeout_s`
   (default 30 s) before they are cancelled;
4. the lifespan exits: the database and Redis pools close, multiprocess metrics of this pid are
   marked dead, and the logs are flushed; the process exits 0.

Further SIGTERM/SIGINT during all this are logged and ignored: only the timeouts end it early
(and Kubernetes' SIGKILL after `terminationGracePeriodSeconds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE

from servicekit.web.server import uvicorn_options

log = logging.getLogger("servicekit.web.shutdown")

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class ShutdownState:
    """What the app sees of its process's shutdown (one per app, on `app.state.shutdown`)."""

    draining: bool = False
    drain_started_at: float | None = None

    def begin_drain(self) -> bool:
        """Mark the process draining; False when it already was."""
        if self.draining:
            return False
        self.draining = True
        self.drain_started_at = time.monotonic()
        return True


class GracefulServer(uvicorn.Server):
    """`uvicorn.Server` with a drain window before shutdown and a clean exit status."""

    def __init__(self, config: uvicorn.Config, *, state: ShutdownState, drain_s: float) -> None:
        super().__init__(config)
        self.state = state
        self.drain_s = drain_s

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Called by `serve()` inside the running loop. Unlike uvicorn's version, nothing is
        # re-raised on the way out: a drained shutdown is a successful exit.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        for sig in HANDLED_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in HANDLED_SIGNALS:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: int) -> None:
        name = signal.Signals(sig).name
        if not self.state.begin_drain():
            log.warning("signal ignored: already shutting down", extra={"signal": name})
            return
        log.info(
            "draining: readiness fails, still serving",
            extra={
                "signal": name,
                "drain_s": self.drain_s,
                "graceful_timeout_s": self.config.timeout_graceful_shutdown,
            },
        )
        asyncio.get_running_loop().call_later(self.drain_s, self._stop_accepting)

    def _stop_accepting(self) -> None:
        log.info("drain window over: closing listeners, finishing requests in flight")
        self.should_exit = True


def load_app(ref: str | Starlette | Callable[[], Starlette]) -> Starlette:
    """An app from an instance, a factory, or a `module:attribute` naming either."""
    target: Any = ref
    if isinstance(ref, str):
        module_name, _, attr = ref.partition(":")
        if not attr:
            raise ValueError(f"expected 'module:attribute', got {ref!r}")
        target = getattr(importlib.import_module(module_name), attr)
    app = target if isinstance(target, Starlette) else target()
    if not isinstance(app, Starlette):
        raise TypeError(f"{ref!r} did not give a Starlette/FastAPI app")
    return app


def run_service(
    app_ref: str | Starlette | Callable[[], Starlette],
    *,
    host: str | None = None,
    port: int | None = None,
    http: str = "httptools",
    forwarded_allow_ips: str | None = None,
) -> int:
    """Serve one app, hardened (servicekit.web.server), until a signal drains it; return the
    process exit status.

    `forwarded_allow_ips`: the peers (addresses, CIDRs, or `*`) whose `X-Forwarded-For` and
    `X-Forwarded-Proto` are believed, e.g. the ingress range; None keeps uvicorn's default
    (`$FORWARDED_ALLOW_IPS`, else 127.0.0.1). Behind an ingress every peer is the ingress, so
    without it every client shares one address (and one rate-limit budget)."""
    app = load_app(app_ref)
    settings = getattr(app.state, "settings", None)
    state = getattr(app.state, "shutdown", None)
    if settings is None or not isinstance(state, ShutdownState):
        raise TypeError("run_service needs an app built by servicekit.web.app.create_service_app")
    config = uvicorn.Config(
        app,
        host=host or settings.host,
        port=settings.port if port is None else port,
        lifespan="on",
        log_config=None,  # servicekit.core.logging already owns the handlers (JSON on stderr)
        access_log=False,  # the request-id middleware writes the access line
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        **uvicorn_options(settings, http=http),
    )
    log.info(
        "server hardened",
        extra={
            "http_protocol": getattr(config.http, "__name__", config.http),
            "max_header_bytes": settings.max_header_bytes,
            "head_timeout_s": settings.head_timeout_s,
        },
    )
    # uvicorn declares an int but waits with asyncio.wait_for, which takes fractions too.
    config.timeout_graceful_shutdown = settings.graceful_timeout_s
    server = GracefulServer(config, state=state, drain_s=settings.drain_window_s)
    try:
        server.run()
    finally:
        for handler in logging.getLogger().handlers:
            handler.flush()
    return 0 if server.started else STARTUP_FAILURE
