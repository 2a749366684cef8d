"""Regex fragments that mean the same to every engine that reads a published pattern.

A pattern in a schema is read by three regex engines: ECMA-262 (JSON Schema's, in clients and
validators), Rust's regex (pydantic-core's validation) and Python's re (schemathesis,
jsonschema). `\\s`, `\\S` and `.` differ between them: Python's `\\s` includes \\x1c-\\x1f, ECMA's
\\ufeff, Rust's \\x85; ECMA's `.` stops at \\r and \\u2028 too. Spelled out, they agree.
"""

from __future__ import annotations

# Whitespace: the union of the three engines' `\s`.
SPACE = (
    "\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
# Unanchored: the text holds at least one non-space character.
VISIBLE = f"[^{SPACE}]"
# No space at either end, no line feed within, no NUL (PostgreSQL text cannot hold one).
TRIMMED = f"^[^\\x00{SPACE}]([^\\x00\\n]*[^\\x00{SPACE}])?$"
