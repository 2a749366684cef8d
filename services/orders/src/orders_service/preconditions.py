"""ETag and If-Match over an entity's `version` (RFC 9110 section 13.1.1)."""

from __future__ import annotations

from dataclasses import dataclass


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
        """None when the header is absent; entity-tags that are not ours match nothing."""
        if header is None:
            return None
        if header.strip() == "*":
            return cls(True, frozenset())
        versions: set[int] = set()
        for raw in header.split(","):
            tag = raw.strip()
            # If-Match uses the strong comparison: a weak tag (W/"3") never matches.
            if len(tag) >= 3 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
                versions.add(int(tag[1:-1]))
        return cls(False, frozenset(versions))

    def matches(self, version: int) -> bool:
        return self.any_version or version in self.versions


def none_match(if_none_match: str | None, etag: str) -> bool:
    """True when If-None-Match names `etag` (weak comparison, RFC 9110 13.1.2): answer 304."""
    if if_none_match is None:
        return False
    return etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
