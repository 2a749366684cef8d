"""Text rules shared by every field: no NUL (PostgreSQL text cannot hold one), and the one
definition of search folding (case and accents), used in memory and stored for SQL.

Folding happens here, in Python, and never in the database: PostgreSQL's lower() follows the
server's locale (an embedded cluster initialised with LC_ALL=C folded ASCII only), so the same
query meant different things on different servers. See docs/adr/0004-text-search-folding.md.
"""

from __future__ import annotations

import unicodedata
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


# Joins the folded fields of one row in its search column. A unit separator: no name, SKU or
# description carries one, so a query matches across two fields only if it holds one itself
# (and then in memory and in SQL alike, since both compare against the same joined text).
SEARCH_FIELD_SEPARATOR = "\x1f"


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, then casefold.

    "Édredon", "ÉDREDON", "édredon" and "edredon" all fold to "edredon"; compatibility forms
    fold too (the ligature "ﬁ" to "fi"), and casefold maps "ß" to "ss".
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # casefold can produce letters with a decomposition again (rare); normalise once more so
    # folding is idempotent: fold(fold(x)) == fold(x).
    folded = unicodedata.normalize("NFKD", stripped.casefold())
    return "".join(c for c in folded if not unicodedata.combining(c))


def search_text(*fields: str) -> str:
    """The stored search column of a row: each field folded, joined by the separator."""
    return SEARCH_FIELD_SEPARATOR.join(fold(field) for field in fields)
