"""One page of a list endpoint: signed cursors in and out, a bad cursor answered as a problem."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from sqlalchemy import RowMapping

from orders_service.cursors import cursor_signer
from orders_service.errors import InvalidCursorProblemError
from servicekit.data.cursors import signed_page
from servicekit.data.repository import InvalidCursorError, ModelT, Page, SortKey, TenantRepository
from servicekit.data.specification import Specification

T = TypeVar("T")


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
    """One page of entities; the 400 problem for a cursor this list did not issue."""
    sort = SortKey.parse(query.sort)

    async def fetch(token: str | None) -> Page[ModelT]:
        return await repository.list_by_spec(spec, sort=sort, cursor=token, limit=query.limit)

    return await _signed(fetch, repository, query)


async def list_rows_page(
    repository: TenantRepository[ModelT],
    spec: Specification[ModelT],
    query: PageQuery,
    *,
    columns: Sequence[str],
) -> Page[RowMapping]:
    """`list_page` as rows of `columns`, for a list that only renders them (no entities)."""
    sort = SortKey.parse(query.sort)

    async def fetch(token: str | None) -> Page[RowMapping]:
        return await repository.list_rows_by_spec(
            spec, columns=columns, sort=sort, cursor=token, limit=query.limit
        )

    return await _signed(fetch, repository, query)


async def _signed(
    fetch: Callable[[str | None], Awaitable[Page[T]]],
    repository: TenantRepository[ModelT],
    query: PageQuery,
) -> Page[T]:
    try:
        return await signed_page(
            fetch,
            cursor=query.cursor,
            signer=cursor_signer(),
            scope=repository.model.__name__,
        )
    except InvalidCursorError:
        raise InvalidCursorProblemError from None
