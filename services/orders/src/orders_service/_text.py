"""Text every field accepts: PostgreSQL text cannot hold NUL, so no field may carry one."""

from __future__ import annotations

from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# In the published schema too, so that clients (and the fuzzer) know NUL is refused.
NO_NUL_PATTERN = "^[^\\x00]*$"

# `\s`, `\S` and `.` mean different things to the regex engines that read these patterns:
# ECMA-262 (the published JSON schema), Rust's regex (pydantic's validation) and Python's re
# (schemathesis, jsonschema). Spelled out, they agree: SPACE is the union of their whitespace.
SPACE = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
VISIBLE = f"[^{SPACE}]"  # unanchored: the text holds at least one non-space character
TRIMMED = f"^[^{SPACE}]([^\\n]*[^{SPACE}])?$"  # no space at either end, no line feed within


def _no_nul(value: str) -> str:
    # Caught here, a NUL is a 422 naming the field; let through, it is a database error (500).
    if "\x00" in value:
        raise PydanticCustomError("string_nul", "text must not contain NUL characters")
    return value


class _NoNul:
    """Refuse NUL in validation, and say so in the field's JSON schema."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_no_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if "pattern" in json_schema:
            # One pattern per schema: the field's own stays, this one joins it.
            json_schema.setdefault("allOf", []).append({"pattern": NO_NUL_PATTERN})
        else:
            json_schema["pattern"] = NO_NUL_PATTERN
        return json_schema


NoNul = _NoNul()
