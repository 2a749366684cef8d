"""A typed, tenant-scoped repository base: every query of an entity goes through one narrowing.

Subclasses name their mapped class and say how a tenant is scoped (`tenant_spec`); the base
builds every statement from `select()`, which adds that where-clause and hides soft-deleted rows
unless asked for. Nothing here commits: the request's session dependency does.

Lists use keyset ("cursor") pagination: the cursor is an opaque token holding the sort key and
id of the last row of the page, so a page costs the same at any depth and rows inserted while a
client pages through do not shift what it sees.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    bindparam,
    func,
    inspect,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator, TypeEngine

from servicekit.data.specification import Specification, TrueSpecification

ModelT = TypeVar("ModelT")
RowT = TypeVar("RowT")


def _item(row: RowMapping, name: str) -> Any:
    return row[name]


class InvalidCursorError(ValueError):
    """The cursor was not issued for this list (tampered, truncated, or for another sort)."""


@dataclass(frozen=True)
class SortKey:
    """Order a list by one public field name, ascending or descending (ties broken by id)."""

    field: str
    descending: bool = False

    @classmethod
    def parse(cls, raw: str) -> SortKey:
        """`price` is ascending, `-price` descending."""
        return cls(raw[1:], True) if raw.startswith("-") else cls(raw, False)

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.field


@dataclass(frozen=True)
class Page(Generic[ModelT]):
    items: list[ModelT]
    next_cursor: str | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _decode_value(raw: Any, python_type: type[Any]) -> Any:
    """Turn a cursor's JSON value back into the sort column's Python type, strictly."""
    try:
        if python_type is datetime and isinstance(raw, str):
            return datetime.fromisoformat(raw)
        if python_type is Decimal and isinstance(raw, str):
            value = Decimal(raw)
            if not value.is_finite():
                raise InvalidCursorError("cursor value is not a finite number")
            return value
        if python_type is uuid.UUID and isinstance(raw, str):
            return uuid.UUID(raw)
        if python_type is int and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if python_type is str and isinstance(raw, str):
            return raw
    except (ValueError, InvalidOperation) as exc:
        raise InvalidCursorError("cursor value does not fit its sort field") from exc
    raise InvalidCursorError("cursor value does not fit its sort field")


def _python_type(column_type: TypeEngine[Any]) -> type[Any]:
    """The Python type a column holds. A TypeDecorator (SQLModel's AutoString, what a plain
    `str` field maps to) reports `object`, so ask the type it decorates."""
    python_type: type[Any] = column_type.python_type
    if python_type is object and isinstance(column_type, TypeDecorator):
        return _python_type(column_type.impl_instance)
    return python_type


def encode_cursor(sort: SortKey, value: Any, row_id: Any) -> str:
    payload = {"s": str(sort), "v": _encode_value(value), "id": _encode_value(row_id)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(token: str, sort: SortKey) -> tuple[Any, Any]:
    """The (sort value, id) after which the next page starts, as raw JSON values."""
    if not token or len(token) > 1024:
        raise InvalidCursorError("cursor has an invalid length")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError("cursor is not readable") from exc
    if not isinstance(payload, dict) or set(payload) != {"s", "v", "id"}:
        raise InvalidCursorError("cursor is not readable")
    if payload["s"] != str(sort):
        raise InvalidCursorError("cursor was issued for another sort order")
    return payload["v"], payload["id"]


# The cursor's position, bound when a cached page statement runs (names no column can take).
_AFTER_VALUE = "servicekit_after_value"
_AFTER_ID = "servicekit_after_id"


class _StatementCache:
    """Built statements by shape, least recently used first out. Building a page's Select
    (narrowing, specification, keyset, order) and keying it for SQLAlchemy's compiled cache
    cost a sixth of a page of 20's CPU (profile of GET /items, issue 13); a statement object
    run again keeps its key. Bounded: a caller varying its filters only costs misses."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Select[Any]] = OrderedDict()

    def get(self, shape: Hashable) -> Select[Any] | None:
        stmt = self._entries.get(shape)
        if stmt is not None:
            self._entries.move_to_end(shape)
        return stmt

    def put(self, shape: Hashable, stmt: Select[Any]) -> None:
        self._entries[shape] = stmt
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


_PAGE_STATEMENTS = _StatementCache(max_entries=1024)


class TenantRepository(ABC, Generic[ModelT]):
    """Async get/add/update/soft-delete, spec-filtered lists and counts for one tenant's rows."""

    model: type[ModelT]
    # Public sort names a list accepts, mapped to attribute names of `model` (non-null columns).
    sortable: ClassVar[Mapping[str, str]] = {}
    id_attr = "id"
    tenant_attr = "tenant_id"
    version_attr: str | None = "version"
    deleted_attr: str | None = "deleted_at"

    def __init__(self, session: AsyncSession, *, tenant_id: str) -> None:
        if not tenant_id:
            raise ValueError("a repository is always scoped to a tenant")
        self.session = session
        self.tenant_id = tenant_id

    @abstractmethod
    def tenant_spec(self) -> Specification[ModelT]:
        """The rule that keeps this repository inside `self.tenant_id` (applied to every query)."""

    def column(self, attr: str) -> ColumnElement[Any]:
        column: ColumnElement[Any] = inspect(self.model).columns[attr]
        return column

    def select(self, *, include_deleted: bool = False) -> Select[ModelT]:
        """The one narrowing every read starts from: this tenant, live rows unless asked."""
        stmt = select(self.model).where(self.tenant_spec().to_sql())
        if self.deleted_attr is not None and not include_deleted:
            stmt = stmt.where(self.column(self.deleted_attr).is_(None))
        return stmt

    async def get(
        self, entity_id: Any, *, include_deleted: bool = False, for_update: bool = False
    ) -> ModelT | None:
        """One entity of this tenant by id, or None; `for_update` takes its row lock."""
        stmt = self.select(include_deleted=include_deleted).where(
            self.column(self.id_attr) == entity_id
        )
        if for_update:
            # populate_existing: a row already in the identity map is refreshed from the locked
            # read, so decisions are made on the values the lock protects.
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        result = await self.session.execute(stmt)
        return result.scalars().first()

    async def lock_many(
        self, entity_ids: Sequence[Any], *, include_deleted: bool = False
    ) -> list[ModelT]:
        """Lock live rows by id in ascending id order.

        Every writer that locks more than one row of this table goes through here, so all of
        them take locks in the same order and two of them can never wait on each other.
        """
        if not entity_ids:
            return []
        id_column = self.column(self.id_attr)
        stmt = (
            self.select(include_deleted=include_deleted)
            .where(id_column.in_(sorted(set(entity_ids))))
            .order_by(id_column)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        result = await self.session.execute(stmt)
        return list(result.scalars().all())

    async def add(self, entity: ModelT) -> ModelT:
        """Insert `entity` (which must belong to this tenant) and flush it."""
        if getattr(entity, self.tenant_attr) != self.tenant_id:
            raise ValueError("entity belongs to another tenant")
        self.session.add(entity)
        await self.session.flush()
        return entity

    async def update(self, entity: ModelT, changes: Mapping[str, Any]) -> ModelT:
        """Apply `changes` to a loaded entity, bump its version, and flush."""
        for attr, value in changes.items():
            setattr(entity, attr, value)
        if self.version_attr is not None:
            setattr(entity, self.version_attr, getattr(entity, self.version_attr) + 1)
        await self.session.flush()
        return entity

    async def soft_delete(self, entity: ModelT, *, at: datetime) -> None:
        """Hide `entity` from every later read; the row stays in the table."""
        if self.deleted_attr is None:
            raise TypeError(f"{type(self).__name__} has no soft delete")
        await self.update(entity, {self.deleted_attr: at})

    def _page_statement(
        self,
        spec: Specification[ModelT] | None,
        *,
        sort: SortKey,
        cursor: str | None,
        limit: int,
        columns: Sequence[str] | None = None,
    ) -> tuple[Select[Any], dict[str, Any]]:
        """The statement of one page and its cursor's parameters. The statement is a pure
        function of what shapes it (this repository's class and tenant, the specification,
        the sort, whether a cursor is given, the limit and the columns), so it is built once
        per shape and kept (_PAGE_STATEMENTS); the cursor's position is bound at execution."""
        if sort.field not in self.sortable:
            raise ValueError(f"cannot sort by {sort.field!r}")
        if limit < 1:
            raise ValueError("limit must be positive")
        key, id_column = self.column(self.sortable[sort.field]), self.column(self.id_attr)
        params: dict[str, Any] = {}
        if cursor is not None:
            raw_value, raw_id = decode_cursor(cursor, sort)
            params[_AFTER_VALUE] = _decode_value(raw_value, _python_type(key.type))
            params[_AFTER_ID] = _decode_value(raw_id, _python_type(id_column.type))
        shape = (
            type(self),
            self.tenant_id,
            spec,
            sort,
            cursor is not None,
            limit,
            None if columns is None else tuple(columns),
        )
        stmt = _PAGE_STATEMENTS.get(shape)
        if stmt is None:
            stmt = self.select().where((spec or TrueSpecification()).to_sql())
            if cursor is not None:
                bound = tuple_(
                    bindparam(_AFTER_VALUE, type_=key.type),
                    bindparam(_AFTER_ID, type_=id_column.type),
                )
                stmt = stmt.where(
                    tuple_(key, id_column) < bound
                    if sort.descending
                    else tuple_(key, id_column) > bound
                )
            order = (
                (key.desc(), id_column.desc()) if sort.descending else (key.asc(), id_column.asc())
            )
            stmt = stmt.order_by(*order).limit(limit + 1)
            if columns is not None:
                stmt = stmt.with_only_columns(*(self.column(name) for name in columns))
            _PAGE_STATEMENTS.put(shape, stmt)
        return stmt, params

    def _cut(self, rows: Sequence[RowT], *, sort: SortKey, limit: int, value: Any) -> Page[RowT]:
        """The first `limit` rows, and the cursor after the last of them if more follow."""
        if len(rows) <= limit:
            return Page(list(rows), None)
        last = rows[limit - 1]
        next_cursor = encode_cursor(
            sort, value(last, self.sortable[sort.field]), value(last, self.id_attr)
        )
        return Page(list(rows[:limit]), next_cursor)

    async def list_by_spec(
        self,
        spec: Specification[ModelT] | None = None,
        *,
        sort: SortKey,
        cursor: str | None = None,
        limit: int = 20,
    ) -> Page[ModelT]:
        """One page of the entities `spec` selects, in `sort` order, after `cursor`."""
        stmt, params = self._page_statement(spec, sort=sort, cursor=cursor, limit=limit)
        rows = list((await self.session.execute(stmt, params)).scalars().all())
        return self._cut(rows, sort=sort, limit=limit, value=getattr)

    async def list_rows_by_spec(
        self,
        spec: Specification[ModelT] | None = None,
        *,
        columns: Sequence[str],
        sort: SortKey,
        cursor: str | None = None,
        limit: int = 20,
    ) -> Page[RowMapping]:
        """`list_by_spec` as rows of `columns` (attribute names, which must include the sort
        key and the id), executed in Core: for lists that only render, without building and
        loading an entity per row (the same statement, narrowing and cursor)."""
        needed = {self.sortable.get(sort.field, sort.field), self.id_attr}
        if not needed <= set(columns):
            raise ValueError(f"columns must include {sorted(needed)}")
        stmt, params = self._page_statement(
            spec, sort=sort, cursor=cursor, limit=limit, columns=columns
        )
        connection = await self.session.connection()
        rows = (await connection.execute(stmt, params)).mappings().all()
        return self._cut(rows, sort=sort, limit=limit, value=_item)

    async def count(
        self, spec: Specification[ModelT] | None = None, *, include_deleted: bool = False
    ) -> int:
        """How many of this tenant's entities `spec` selects."""
        inner = self.select(include_deleted=include_deleted).where(
            (spec or TrueSpecification()).to_sql()
        )
        stmt = select(func.count()).select_from(inner.subquery())
        return int((await self.session.execute(stmt)).scalar_one())


__all__ = [
    "InvalidCursorError",
    "Page",
    "SortKey",
    "TenantRepository",
    "decode_cursor",
    "encode_cursor",
]
