"""Column types that keep money exact on every engine.

SQLite's INTEGER stops at 2^63 - 1 (about 9.2 ETH in wei) and SQLAlchemy's Numeric on SQLite
goes through float, so base units are stored as NUMERIC(78,0) on PostgreSQL and as decimal TEXT
on SQLite, and summed with ``exact_sum``: PostgreSQL's own NUMERIC ``sum`` there, and on SQLite a
Python aggregate over arbitrary-precision ints registered on every connection.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeEngine

from reserve.core.money import canonical_decimal, decimal_text


class BaseUnits(TypeDecorator[int]):
    """An arbitrary-precision integer amount in base units."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(78, 0, asdecimal=True))
        return dialect.type_descriptor(String(80))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"base units must be int, not {type(value).__name__}")
        return Decimal(value) if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return int(value)
        return int(value)


class ExactDecimal(TypeDecorator[Decimal]):
    """A price or cost kept to the last digit: NUMERIC on PostgreSQL, canonical TEXT on SQLite."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(120))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"exact decimals must be Decimal, not {type(value).__name__}")
        return canonical_decimal(value) if dialect.name == "postgresql" else decimal_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return canonical_decimal(Decimal(value))


class exact_sum(GenericFunction[int]):
    """SUM of base units without loss on both engines."""

    type = BaseUnits()
    inherit_cache = True


@compiles(exact_sum, "sqlite")
def _exact_sum_sqlite(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"reserve_exact_sum({compiler.process(element.clauses, **kw)})"


@compiles(exact_sum)
def _exact_sum_default(element: exact_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


class SqliteExactSum:
    """The SQLite side of ``exact_sum``: Python ints never overflow."""

    def __init__(self) -> None:
        self.total = 0
        self.seen = False

    def step(self, value: str | int | None) -> None:
        if value is not None:
            self.total += int(value)
            self.seen = True

    def finalize(self) -> str | None:
        return str(self.total) if self.seen else None
