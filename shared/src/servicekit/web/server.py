"""What the HTTP server must do before the app sees a request: hardening uvicorn's defaults.

uvicorn alone sends `server: uvicorn`, lets httptools read a request head of any size, and has
no deadline for a head that trickles in (measurements: docs/hostile-input.md).
`uvicorn_options(settings)` fixes these (no server header, h11's head cap, and
`HardenedHttpToolsProtocol`: 431 for an oversized head, 408 for a late one); `run_service`
passes them to the Config it builds.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from servicekit.core.jsonutil import dumps
from servicekit.core.problems import PROBLEM_CONTENT_TYPE, problem_type
from servicekit.core.settings import ServiceSettings

log = logging.getLogger("servicekit.web.server")


class HardenedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size cap and a deadline on each request head."""

    max_head_bytes: ClassVar[int] = 16_384
    head_timeout_s: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # waiting for (the rest of) a request line and headers
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            # Armed on any byte, not only when the parser sees a request begin: stray CRLFs
            # between requests would otherwise keep a connection open with no timer at all.
            if self._head_timer is None:
                self._arm_head_timer()
        super().data_received(data)
        # Checked after parsing: a head that completed in this chunk is the app's to judge
        # (servicekit.web.limits answers it with the same 431), only a still-growing one is cut off.
        if (
            self._in_head
            and self._head_bytes > self.max_head_bytes
            and not self.transport.is_closing()
        ):
            self._reject(431, "headers-too-large", "The request head is too large.")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or not self._in_head:
            return
        if self._head_bytes:
            self._reject(408, "head-timeout", "The request head did not arrive in time.")
        else:
            self.transport.close()  # an idle connection gets no answer, only closed

    def _reject(self, status: int, slug: str, detail: str) -> None:
        self._in_head = False
        self._cancel_head_timer()
        body = dumps(
            {
                "type": problem_type(slug),
                "title": HTTPStatus(status).phrase,
                "status": status,
                "detail": detail,
            }
        )
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(
            f"content-type: {PROBLEM_CONTENT_TYPE}\r\ncontent-length: {len(body)}\r\n"
            "x-content-type-options: nosniff\r\nconnection: close\r\n\r\n".encode()
        )
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        self.logger.warning("rejected a request head: %s", slug)


def hardened_protocol(settings: ServiceSettings) -> type[HardenedHttpToolsProtocol]:
    """A protocol class bound to this service's limits."""
    return type(
        "HardenedHttpToolsProtocol",
        (HardenedHttpToolsProtocol,),
        {"max_head_bytes": settings.max_header_bytes, "head_timeout_s": settings.head_timeout_s},
    )


def uvicorn_options(settings: ServiceSettings, *, http: str = "httptools") -> dict[str, Any]:
    """The uvicorn Config options that harden a server for this service's limits.

    `http="h11"` keeps h11 (its head cap is set); anything else runs the hardened httptools.
    """
    options: dict[str, Any] = {
        "server_header": False,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }
    options["http"] = "h11" if http == "h11" else hardened_protocol(settings)
    return options
