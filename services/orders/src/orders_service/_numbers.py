"""JSON numbers as the documented schemas count them: `3.0` is the integer 3.

JSON has one number type; JSON Schema's "integer" is any number without a fractional part, so
the schemas FastAPI publishes accept `3.0` wherever they say integer. Strict validation (which
rightly refuses "3" and true) would refuse it too; this turns such a number into the int first.
"""

from __future__ import annotations

from typing import Any

from pydantic import BeforeValidator


def _integral_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = BeforeValidator(_integral_number)
