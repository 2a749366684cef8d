"""ETag, If-Match and If-None-Match over an entity's `version` (RFC 9110 section 13.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from servicekit.core.problems import ProblemError, problem_type

# entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE (RFC 9110 8.8.3);
# etagc is any visible character but DQUOTE, or obs-text (headers arrive latin-1 decoded).
_ENTITY_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e\x80-\xff]*)"')


class MalformedIfMatchError(ProblemError):
    def __init__(self) -> None:
        super().__init__(
            400,
            title="Malformed If-Match",
            detail='If-Match must be * or a comma-separated list of entity-tags such as "3" '
            "(quoted, as the ETag header gives them).",
            type_=problem_type("malformed-if-match"),
        )


def etag_for(version: int) -> str:
    """A strong validator: the version changes with every change of the representation."""
    return f'"{version}"'


@dataclass(frozen=True, slots=True)
class IfMatch:
    """A parsed If-Match header: `*`, or the versions a client last saw."""

    any_version: bool
    versions: frozenset[int]

    @classmethod
    def parse(cls, header: str | None) -> IfMatch | None:
        """None when the header is absent; a value that is not entity-tags is a 400.

        Well-formed tags that are not ours (`"abc"`, `"²"`) match nothing: 412 later.
        """
        if header is None:
            return None
        if header.strip() == "*":
            return cls(True, frozenset())
        versions: set[int] = set()
        for raw in header.split(","):
            tag = raw.strip(" \t")
            if not tag:
                continue  # RFC 9110 5.6.1: empty list elements are ignored
            match = _ENTITY_TAG.fullmatch(tag)
            if match is None:
                raise MalformedIfMatchError
            weak, opaque = match.groups()
            # If-Match uses the strong comparison: a weak tag (W/"3") never matches.
            if weak is None and opaque.isascii() and opaque.isdigit() and len(opaque) < 19:
                versions.add(int(opaque))
        return cls(False, frozenset(versions))

    def matches(self, version: int) -> bool:
        return self.any_version or version in self.versions


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when If-None-Match is `*` or names `etag` (weak comparison, RFC 9110 13.1.2).

    Callers ask only about a resource that exists, so `*` always matches: answer 304.
    """
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
