"""One JSON encoder for the hand-built bodies (problems, health): compact UTF-8 bytes."""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()
