"""JSON logs, one object per line, carrying the request id; secrets scrubbed on the way out."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from typing import Any

# Where the request-id middleware also keeps the id: the 500 handler runs outside it.
REQUEST_ID_SCOPE_KEY = "servicekit.request_id"
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

# Shapes that must never reach a log line, whatever code logged them: JWTs, bearer
# credentials, PEM private keys, and `password`/`secret`/`token` style key=value pairs.
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "[REDACTED PRIVATE KEY]",
    ),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), "[REDACTED JWT]"),
    (re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [REDACTED]"),
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|client_secret|token|refresh_token|access_token|"
            r"key_encryption_key)(\"?\s*[:=]\s*\"?)[^\s\"&,}]+"
        ),
        r"\1\2[REDACTED]",
    ),
)

# Words (lower case) without which a scrubber cannot match: most lines (access lines above
# all) contain none, so the regexes, the bulk of a line's cost, run only where they can hit.
_TRIGGERS: tuple[tuple[str, ...], ...] = (
    ("private key",),
    ("eyj",),
    ("bearer", "basic"),
    ("password", "passwd", "secret", "token", "key_encryption_key"),
)

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


_ANY_TRIGGER = re.compile("|".join(re.escape(w) for words in _TRIGGERS for w in words))


def scrub(text: str) -> str:
    lower = text.lower()
    if _ANY_TRIGGER.search(lower) is None:
        return text
    for words, (pattern, replacement) in zip(_TRIGGERS, _SCRUBBERS, strict=True):
        if any(word in lower for word in words):
            text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object; extra= fields become keys."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": self.service,
            "message": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid is not None:
            payload["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return scrub(json.dumps(payload, default=str, ensure_ascii=False))


def configure_logging(*, service: str, level: str = "INFO") -> None:
    """Route the root, uvicorn and our loggers through one JSON handler on stderr."""
    # The documented logging optimisations: no caller frame walk, no thread or multiprocessing
    # names per record (the JSON lines carry none of them).
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # The request middleware writes one access line per request, without query strings.
    logging.getLogger("uvicorn.access").disabled = True
