"""Text every field accepts: PostgreSQL text cannot hold NUL, so no field may carry one."""

from __future__ import annotations

from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# In the published schema too, so that clients (and the fuzzer) know NUL is refused.
NO_NUL_PATTERN = "^[^\\x00]*$"


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
