"""One call that puts every hostile-input protection around a service app."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit.core.settings import ServiceSettings
from servicekit.web.cors import (
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_EXPOSE_HEADERS,
    ProblemCORSMiddleware,
)
from servicekit.web.limits import ConcurrencyLimitMiddleware, RequestLimitsMiddleware


def install_protections(app: FastAPI, settings: ServiceSettings) -> None:
    """Add the limit and CORS middleware (the server's own hardening is passed to
    uvicorn by `run_service`: servicekit.web.server.uvicorn_options).

    Call it before the edge middleware is added, so every rejection still gets a request id,
    the security headers and a count. Request order, outermost first: CORS when origins are
    set (so a browser can read a 503 or 413), the request limits (which read the body into
    the request context), the concurrency limit, the app.
    """
    # Added first, so it runs inside the body reader: a request holds a concurrency slot only
    # once its body has arrived, and slowly trickling clients cannot starve everyone else.
    app.add_middleware(
        ConcurrencyLimitMiddleware,
        max_in_flight=settings.max_concurrent_requests,
        retry_after_s=settings.overload_retry_after_s,
    )
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        max_query_string_bytes=settings.max_query_string_bytes,
        max_query_param_chars=settings.max_query_param_chars,
        max_json_depth=settings.max_json_depth,
        max_json_array_items=settings.max_json_array_items,
        body_timeout_s=settings.body_timeout_s,
    )
    if settings.cors_allow_origins:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=CORS_ALLOW_METHODS,
            allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
            # Bearer tokens travel in a header, never in cookies: no credentials mode.
            allow_credentials=False,
        )
