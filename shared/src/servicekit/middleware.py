"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a large share of throughput)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.logging import request_id_var

access_log = logging.getLogger("servicekit.access")

# Accept a caller's id only when it is short and harmless in a log line or a header.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Take `X-Request-ID` from the caller (or make one), echo it, and log one access line."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        header: str = "x-request-id",
        quiet_prefixes: tuple[str, ...] = ("/health/", "/metrics"),
    ) -> None:
        self.app = app
        self.header = header.lower().encode()
        # Probes and scrapes arrive every few seconds from every kubelet and Prometheus; an
        # access line for each would drown the log lines that matter.
        self.quiet_prefixes = quiet_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == self.header), None)
        rid = incoming.decode("latin-1") if incoming else ""
        if not _SAFE_REQUEST_ID.match(rid):
            rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500
        started = time.perf_counter()
        encoded = rid.encode()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((self.header, encoded))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if status >= 400 or not scope["path"].startswith(self.quiet_prefixes):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )
            request_id_var.reset(token)
