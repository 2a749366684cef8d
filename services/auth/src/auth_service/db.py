"""The auth table base: a registry of its own, so its metadata holds only auth tables."""

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

auth_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


class AuthTable(SQLModel, registry=auth_registry):
    """Base of every auth table (declare subclasses with table=True)."""


metadata = auth_registry.metadata
