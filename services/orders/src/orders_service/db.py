"""The orders table base: a registry of its own, so its metadata holds only orders tables."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import registry
from sqlmodel import SQLModel

# Constraint names are stable so Alembic autogenerate and hand-written revisions agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

orders_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class OrdersTable(SQLModel, registry=orders_registry):
    """Base of every orders table (declare subclasses with table=True)."""


metadata = orders_registry.metadata
