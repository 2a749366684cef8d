"""One page of a list endpoint: signed cursors in and out, a bad cursor answered as a problem."""

from __future__ import annotations

from typing import Protocol

from orders_service.cursors import cursor_signer
from orders_service.errors import InvalidCursorProblemError
from servicekit.data.cursors import signed_page
from servicekit.data.repository import InvalidCursorError, ModelT, Page, SortKey, TenantRepository
from servicekit.data.specification import Specification


class PageQuery(Protocol):
    """What every list query carries (items and pedidos alike)."""

    @property
    def sort(self) -> str: ...

    @property
    def cursor(self) -> str | None: ...

    @property
    def limit(self) -> int: ...


async def list_page(
    repository: TenantRepository[ModelT], spec: Specification[ModelT], query: PageQuery
) -> Page[ModelT]:
    try:
        return await signed_page(
            repository,
            spec,
            sort=SortKey.parse(query.sort),
            cursor=query.cursor,
            limit=query.limit,
            signer=cursor_signer(),
        )
    except InvalidCursorError:
        raise InvalidCursorProblemError from None
