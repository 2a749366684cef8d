"""One page of an admin list: `limit` + signed `cursor` in, `{items, next}` out.

Keyset pages like orders' lists (servicekit.data.repository): a page costs the same at any depth and
rows added while an admin pages through do not shift what they see. Unknown query parameters
are a 422, as everywhere in the API: a misspelt `limt` must not silently mean the default.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from auth_service.errors import InvalidCursorProblemError
from servicekit.data.cursors import CursorSigner, signed_page
from servicekit.data.repository import InvalidCursorError, ModelT, Page, SortKey, TenantRepository
from servicekit.data.specification import Specification


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=100, description="Items per page")
    cursor: str | None = Field(
        default=None,
        max_length=1024,
        description="The cursor of the previous page's `next` link; omit it for the first page",
    )


async def list_page(
    repository: TenantRepository[ModelT],
    spec: Specification[ModelT],
    *,
    sort: SortKey,
    query: PageQuery,
    signer: CursorSigner,
) -> Page[ModelT]:
    """The page of `repository` rows `spec` selects after the query's cursor; 400 on a cursor
    this list did not issue."""

    async def fetch(token: str | None) -> Page[ModelT]:
        return await repository.list_by_spec(spec, sort=sort, cursor=token, limit=query.limit)

    try:
        return await signed_page(
            fetch, cursor=query.cursor, signer=signer, scope=repository.model.__name__
        )
    except InvalidCursorError:
        raise InvalidCursorProblemError from None
