"""auth's domain errors: each is a problem+json answer when it escapes a request."""

from __future__ import annotations

from servicekit.core.problems import ProblemError, problem_type


class AuthError(ProblemError):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            self.status, title=self.title, detail=detail, type_=problem_type(self.slug)
        )


class NotFoundError(AuthError):
    status, title, slug = 404, "Not found", "not-found"


class ConflictError(AuthError):
    status, title, slug = 409, "Conflict", "conflict"


class InvalidInputError(AuthError):
    status, title, slug = 422, "Invalid input", "invalid-input"


class InvalidCursorProblemError(AuthError):
    """A list cursor this service did not issue for this list (tampered, foreign, or stale)."""

    status, title, slug = 400, "Invalid cursor", "invalid-cursor"

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not one this list issued; start again from the first page "
            "(without a cursor)."
        )
