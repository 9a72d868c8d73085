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
