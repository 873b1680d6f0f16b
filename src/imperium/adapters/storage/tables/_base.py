"""What every area's tables share: the one ``metadata`` (with its naming convention), and the
column types and helper they are built from."""

from __future__ import annotations

import sqlalchemy as sa

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# Event and execution ids grow by tens of thousands a second under load: 64-bit on
# PostgreSQL; on SQLite only ``INTEGER PRIMARY KEY`` autoincrements (and is 64-bit anyway).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# Python None is SQL NULL (not the JSON text 'null'), so ``IS NULL`` finds absent values.
NullableJSON = sa.JSON(none_as_null=True)


def when(name: str, *, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)
