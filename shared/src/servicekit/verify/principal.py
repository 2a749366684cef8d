"""Who is calling: the verified facts of an access token, and the role ladder both services use."""

from __future__ import annotations

from dataclasses import dataclass

# A higher role holds every permission of a lower one.
ROLE_ORDER: tuple[str, ...] = ("viewer", "editor", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLE_ORDER)}


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    tenant_id: str
    roles: tuple[str, ...]
    client_id: str | None
    token_id: str
    expires_at: int

    @property
    def highest_rank(self) -> int:
        """Rank of the strongest known role; -1 when the token carries none we know."""
        return max((_RANK[r] for r in self.roles if r in _RANK), default=-1)

    def has_role(self, minimum: str) -> bool:
        """True when one of the roles is `minimum` or above it on the ladder."""
        return self.highest_rank >= _RANK[minimum]
