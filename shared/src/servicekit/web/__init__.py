"""The HTTP side of a service: the app factory, the pure-ASGI pipeline (request context,
limits, idempotency, fast path, security headers), routes' declared security, the
self-hosted docs and probes, and the hardened uvicorn runner with graceful shutdown.
The top layer: it may import data, core and verify; nothing below imports it."""
