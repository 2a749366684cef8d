"""One page of a list endpoint: signed cursors in and out, a bad cursor answered as a problem."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from orders_service.cursors import cursor_signer
from orders_service.errors import InvalidCursorProblemError
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
    signer = cursor_signer()
    try:
        token = None if query.cursor is None else signer.verify(query.cursor)
        page = await repository.list_by_spec(
            spec, sort=SortKey.parse(query.sort), cursor=token, limit=query.limit
        )
    except InvalidCursorError:
        raise InvalidCursorProblemError from None
    if page.next_cursor is None:
        return page
    return replace(page, next_cursor=signer.sign(page.next_cursor))
