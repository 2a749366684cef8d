"""The outermost step of every request: its id, the headers every answer carries, its metrics
and its access line, in one pure-ASGI layer.

One layer with one wrapper of `send`, not three: each pure-ASGI layer costs a call, a closure
and a message copy per request (BaseHTTPMiddleware costs far more), and these three each
needed the status and the response headers. Response headers:
- `X-Request-ID`: the caller's when short and harmless in a log line or header, else a new one;
- `X-Content-Type-Options: nosniff` on every response: a browser never runs a JSON or problem
  body as script or style;
- `Cache-Control: no-store` on responses to authenticated requests (an `Authorization` header)
  and under `no_store_path_prefixes` (token responses, RFC 6749 section 5.1), unless the route
  set its own `Cache-Control` (a response cached on purpose keeps its policy).
No `Server` header: uvicorn writes its own below the ASGI layer, so servicekit.web.server
switches it off in the server's configuration instead.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.core.logging import REQUEST_ID_SCOPE_KEY, request_id_var
from servicekit.core.metrics import RequestMetrics

access_log = logging.getLogger("servicekit.access")

# Accept a caller's id only when it is short and harmless in a log line or a header.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


class EdgeMiddleware:
    """Request id, security headers, metrics and access lines for every HTTP request.

    `access_log` chooses which requests get a line:
    - "errors" (default): status >= 400, or slower than `slow_ms`. Volume and latency of every
      request are in /metrics already; a line per success costs more CPU than a cached read
      itself (about 40 us of a 65 us request, measured), so it is opt-in;
    - "all": every request except probes and scrapes;
    - "off": none.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        header: str = "x-request-id",
        access_log: str = "errors",
        slow_ms: float = 1000.0,
        quiet_prefixes: tuple[str, ...] = ("/health/", "/metrics"),
        no_store_path_prefixes: Sequence[str] = (),
    ) -> None:
        if access_log not in ("errors", "all", "off"):
            raise ValueError("access_log must be errors, all or off")
        self.app = app
        self.header = header.lower().encode()
        self.log_all = access_log == "all"
        self.log_errors = access_log != "off"
        self.slow_s = slow_ms / 1000
        # Probes and scrapes arrive every few seconds from every kubelet and Prometheus; an
        # access line for each would drown the log lines that matter.
        self.quiet_prefixes = quiet_prefixes
        self.no_store_path_prefixes = tuple(no_store_path_prefixes)
        self.metrics = RequestMetrics()

    def _wants_line(self, path: str, status: int, elapsed_s: float) -> bool:
        if status >= 400 or elapsed_s >= self.slow_s:
            return self.log_errors
        return self.log_all and not path.startswith(self.quiet_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        no_store = bool(self.no_store_path_prefixes) and scope["path"].startswith(
            self.no_store_path_prefixes
        )
        for name, value in scope["headers"]:
            if name == self.header:
                incoming = value
            elif name == b"authorization":
                no_store = True
        rid = incoming.decode("latin-1") if incoming else ""
        if not _SAFE_REQUEST_ID.match(rid):
            rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        # Kept on the scope too: the 500/503 handler runs outside this middleware (Starlette's
        # ServerErrorMiddleware), after the context variable was reset.
        scope[REQUEST_ID_SCOPE_KEY] = rid
        id_header = (self.header, rid.encode())
        status = 500  # what the client sees if the app fails before answering

        async def send_at_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                has_nosniff = has_cache_control = False
                for name, _ in headers:
                    lowered = name.lower()
                    if lowered == b"x-content-type-options":
                        has_nosniff = True
                    elif lowered == b"cache-control":
                        has_cache_control = True
                if not has_nosniff:
                    headers.append(_NOSNIFF)
                if no_store and not has_cache_control:
                    headers.append(_NO_STORE)
                headers.append(id_header)
                message = {**message, "headers": headers}
            await send(message)

        started = time.perf_counter()
        self.metrics.started()
        try:
            await self.app(scope, receive, send_at_edge)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.finished(scope, status, elapsed)
            if self._wants_line(scope["path"], status, elapsed):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            request_id_var.reset(token)
