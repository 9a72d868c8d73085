"""Reading fields out of parsed input (JSON objects, CSV rows) while collecting every problem.

A reader belongs to one place in the input (``entry 3``, ``seizures.csv row 7``); each method
returns a usable value or records why it could not, so one pass reports every bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from reserve.core.errors import Problem
from reserve.core.money import AmountError, parse_decimal, to_base_units


class FieldReader:
    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[Problem] = []

    def bad(self, field: str, reason: str) -> None:
        self.problems.append(Problem(self.where, field, reason))

    def text(
        self,
        obj: Mapping[str, Any],
        key: str,
        field: str | None = None,
        *,
        default: str | None = None,
    ) -> str:
        """A string; ``default`` when the key is absent, a problem when there is no default."""
        field = field or key
        value = obj.get(key, default)
        if value is None:
            self.bad(field, "is required")
            return ""
        if not isinstance(value, str):
            self.bad(field, f"must be a string, not {type(value).__name__}")
            return ""
        return value

    def required(self, obj: Mapping[str, Any], key: str) -> str:
        """A string that must not be blank (a CSV cell is never absent, only empty)."""
        value = self.text(obj, key)
        if isinstance(obj.get(key), str) and not value.strip():
            self.bad(key, "is required")
        return value.strip()

    def day(self, value: Any, field: str) -> date | None:
        if not isinstance(value, str):
            self.bad(field, "must be a date written YYYY-MM-DD")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.bad(field, f"{value!r} is not a date written YYYY-MM-DD")
            return None

    def moment(self, value: Any, field: str) -> datetime | None:
        """An ISO 8601 instant that says its offset (``Z`` or ``+05:00``): never a guessed zone."""
        if not isinstance(value, str):
            self.bad(field, "must be a time written like 2024-03-05T14:30:00Z")
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.bad(field, f"{value!r} is not a time written like 2024-03-05T14:30:00Z")
            return None
        if moment.tzinfo is None:
            self.bad(field, f"{value!r} has no UTC offset (add Z or +05:00)")
            return None
        return moment

    def units(self, value: Any, decimals: int, field: str) -> int:
        try:
            return to_base_units(value, decimals)
        except AmountError as error:
            self.bad(field, str(error))
            return 0

    def decimal(self, value: Any, field: str, *, minimum: Decimal | None = None) -> Decimal:
        try:
            number = parse_decimal(value)
        except AmountError as error:
            self.bad(field, str(error))
            return Decimal(0)
        if minimum is not None and number < minimum:
            self.bad(field, f"{number} is below {minimum}")
        return number

    def unknown(self, obj: Mapping[str, Any], allowed: set[str], prefix: str = "") -> None:
        for key in sorted(set(obj) - allowed):
            self.bad(f"{prefix}{key}", "unknown field")
