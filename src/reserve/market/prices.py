"""Daily price files: one dated value per row, read exactly and refused when they lie.

A row ``D`` of a daily file is a value at the end of UTC day ``D`` (see data/prices/SOURCE.md).
Files are copied verbatim from their providers, so values are taken as written: ``Decimal`` of
the string, never through a float, never rounded. A file that is out of order, repeats a day, has
a non-positive price or a day that has not happened yet is refused as a whole, with every bad
line named, because a fix computed from half a file would look fine and be wrong.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from reserve.core.errors import InvalidInput, Problem

Quote = Literal["USD", "USDT", "KZT"]

_DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# what the providers write: plain decimals, optionally with an exponent; no "1_000", no "nan"
_NUMBER: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class PriceRow:
    """The value of one source on one UTC day, exactly as the source wrote it."""

    day: date
    value: Decimal


class SourceSpec(BaseModel):
    """Where one source's daily values for one asset are, and what currency they are in.

    ``name`` is the provider (``yahoo``, ``coingecko``, ``binance``) and is unique per asset;
    ``quote`` matters because a USDT price is not a USD price (it is converted through the USDT
    fix of the same day).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    asset: str = Field(pattern=r"^[A-Z0-9]{2,10}$")
    quote: Quote
    # a bare file name inside the prices folder: no directories, so a config cannot point
    # the loader anywhere else on the machine
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.csv$")
    column: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")


def parse_price_csv(text: str, *, where: str, column: str, today: date) -> list[PriceRow]:
    """The ``(date, column)`` series of a daily CSV, or one ``InvalidInput`` naming every bad line.

    ``where`` names the file in every problem (``btc_usd.csv line 12``); ``today`` is the last
    day a row may carry, since a close of a later day cannot have been observed yet.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [name for name in ("date", column) if name not in header]
    if missing:
        found = ", ".join(header) or "nothing"
        raise InvalidInput(
            [
                Problem(f"{where} line 1", name, f"no such column (found {found})")
                for name in missing
            ]
        )
    rows: list[PriceRow] = []
    problems: list[Problem] = []
    last: tuple[date, int] | None = None  # the last good day and its line
    for record in reader:
        line = reader.line_num
        at = f"{where} line {line}"
        if None in record or None in record.values():
            problems.append(Problem(at, "row", "has a different number of fields than the header"))
            continue
        day = _day(record["date"], at, today, problems)
        if day is None:
            continue
        if last is not None and day <= last[0]:
            reason = (
                f"{day} is repeated (first on line {last[1]})"
                if day == last[0]
                else f"{day} comes after {last[0]} (line {last[1]}): dates must ascend"
            )
            problems.append(Problem(at, "date", reason))
            continue
        last = (day, line)
        value = _price(record[column], day, at, column, problems)
        if value is not None:
            rows.append(PriceRow(day, value))
    if problems:
        raise InvalidInput(problems)
    return rows


def _day(text: str, at: str, today: date, problems: list[Problem]) -> date | None:
    if not _DAY.match(text):
        problems.append(Problem(at, "date", f"{text!r} is not a date written YYYY-MM-DD"))
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems.append(Problem(at, "date", f"{text!r} is not a calendar date"))
        return None
    if day > today:
        problems.append(Problem(at, "date", f"{day} is in the future (today is {today})"))
        return None
    return day


def _price(text: str, day: date, at: str, column: str, problems: list[Problem]) -> Decimal | None:
    if not _NUMBER.match(text):
        shown = repr(text) if text else "an empty cell"
        problems.append(Problem(at, column, f"on {day}: {shown} is not a number"))
        return None
    value = Decimal(text)
    if value == 0:
        problems.append(Problem(at, column, f"on {day}: the price is zero"))
        return None
    if value < 0:
        problems.append(Problem(at, column, f"on {day}: the price {text} is negative"))
        return None
    return value
