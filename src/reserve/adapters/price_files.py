"""The bundled daily price files under ``data/prices`` (see its SOURCE.md)."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from reserve.core.errors import NotFound


def close_on(path: Path, column: str, day: date) -> Decimal:
    """The value of ``column`` on ``day`` in a dated CSV, exactly as written there."""
    wanted = day.isoformat()
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["date"] == wanted:
                return Decimal(row[column])
    raise NotFound.one(f"price file {path.name}", "date", f"no row for {wanted}")


def latest_on_or_before(path: Path, column: str, day: date) -> tuple[date, Decimal] | None:
    """The last dated value of ``column`` on or before ``day``, with its date, if any.

    The caller decides how old a value may be; nothing here fills a gap forward.
    """
    wanted = day.isoformat()
    found: tuple[str, str] | None = None
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["date"] > wanted:
                break
            found = (row["date"], row[column])
    if found is None:
        return None
    return date.fromisoformat(found[0]), Decimal(found[1])
