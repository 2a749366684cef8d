"""GET /api/v1/events: the outbox, read by tenant in feed order (docs/events.md)."""
