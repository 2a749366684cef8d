"""One page of a list endpoint, with a bad cursor answered as the API's problem."""

from __future__ import annotations

from typing import Protocol

from orders_service.errors import InvalidCursorProblemError
from servicekit.repository import InvalidCursorError, ModelT, Page, SortKey, TenantRepository
from servicekit.specification import Specification


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
        return await repository.list_by_spec(
            spec, sort=SortKey.parse(query.sort), cursor=query.cursor, limit=query.limit
        )
    except InvalidCursorError:
        raise InvalidCursorProblemError from None
