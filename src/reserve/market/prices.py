"""Daily price files: one dated value per row, read exactly and refused when they lie.

A row ``D`` of a daily file is a value at the end of UTC day ``D`` (see data/prices/SOURCE.md).
Files are copied verbatim from their providers, so values are taken as written: ``Decimal`` of
the string, never through a float, never rounded. A file that is out of order, repeats a day, has
a non-positive price or a day that has not happened yet is refused as a whole, with every bad
line named, because a fix computed from half a file would look fine and be wrong.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from reserve.core.errors import InvalidInput, Problem
from reserve.core.money import decimal_text

Quote = Literal["USD", "USDT", "KZT"]
SPEC_FIELDS: Final = "spec_fields"  # the pydantic error type of ``refuse_fields``


def _http_url(value: str) -> str:
    # never file: or ftp:, so a configuration cannot make a loader read the local disk
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


# a bare file name inside the prices folder: no directories, so a config cannot point the loader
# anywhere else on the machine
FileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.csv$")]
ColumnName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
HttpUrl = Annotated[str, Field(max_length=300), AfterValidator(_http_url)]


def refuse_fields(problems: Sequence[tuple[str, str]]) -> None:
    """Raise the ``(field, reason)`` problems of one spec as one pydantic error.

    A model validator can only fail at the spec's own place (``sources.2``); the fields go in
    the error's context so ``parse_market_config`` names each one (``sources.2.file``).
    """
    if problems:
        detail = "; ".join(f"{field}: {reason}" for field, reason in problems)
        raise PydanticCustomError(
            SPEC_FIELDS, "{detail}", {"detail": detail, "problems": tuple(problems)}
        )


def kind_problems(
    kind: str, *, needs: Mapping[str, object], refuses: Mapping[str, object]
) -> list[tuple[str, str]]:
    """The fields a source of ``kind`` lacks and the ones it was given but cannot use."""
    missing = [(name, f'kind = "{kind}" needs it') for name, v in needs.items() if v is None]
    extra = [
        (name, f'kind = "{kind}" takes no {name}; leave it out')
        for name, v in refuses.items()
        if v is not None
    ]
    return missing + extra


_DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# what the providers write: plain decimals, optionally with an exponent; no "1_000", no "nan"
_NUMBER: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class PriceRow:
    """The value of one source on one UTC day, exactly as the source wrote it."""

    day: date
    value: Decimal


class SourceSpec(BaseModel):
    """Where one source's daily values for one asset come from, and what currency they are in.

    ``name`` is the provider (``yahoo``, ``coingecko``, ``binance``) and is unique per asset;
    ``quote`` matters because a USDT price is not a USD price (it is converted through the USDT
    fix of the same day). ``kind = "file"`` reads ``column`` of ``file`` in the prices folder;
    ``kind = "ccxt"`` fetches the daily candles of ``symbol`` (ccxt's unified spelling,
    ``BTC/USDT``: base the asset, quote the ``quote``) from ``exchange``, from ``start`` on - a
    network source has no first day of its own, so the configuration says which; ``api_url``
    replaces the exchange's host (a mirror, a test server).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    asset: str = Field(pattern=r"^[A-Z0-9]{2,10}$")
    quote: Quote
    kind: Literal["file", "ccxt"] = "file"
    file: FileName | None = None
    column: ColumnName | None = None
    exchange: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9]{1,39}$")
    # spot only: a derivative's ``BTC/USDT:USDT`` is another instrument than the coin
    symbol: str | None = Field(default=None, pattern=r"^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$")
    api_url: HttpUrl | None = None
    start: date | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> SourceSpec:
        fetched = {"exchange": self.exchange, "symbol": self.symbol, "start": self.start}
        if self.kind == "file":
            problems = kind_problems(
                "file",
                needs={"file": self.file, "column": self.column},
                refuses={**fetched, "api_url": self.api_url},
            )
        else:
            problems = kind_problems(
                "ccxt", needs=fetched, refuses={"file": self.file, "column": self.column}
            )
            if self.symbol is not None:
                base, quote = self.symbol.split("/")
                if quote != self.quote:
                    reason = f"{self.symbol} is quoted in {quote}, but the source says {self.quote}"
                    problems.append(("symbol", reason))
                if base != self.asset:
                    problems.append(("symbol", f"{self.symbol} is not a price of {self.asset}"))
        refuse_fields(problems)
        return self

    @property
    def label(self) -> str:
        """How problems name the source: its file, or its exchange and symbol."""
        if self.kind == "ccxt":
            return f"{self.exchange} {self.symbol}"
        return str(self.file)


def rows_sha256(rows: Sequence[PriceRow]) -> str:
    """sha256 of ``rows`` as canonical JSON, what a fetched series is traced by (a file is traced
    by the sha256 of its bytes): a list in day order of ``{"day": "YYYY-MM-DD", "value": "..."}``
    with sorted keys, no spaces, values in one decimal spelling without exponent."""
    body = [{"day": row.day.isoformat(), "value": decimal_text(row.value)} for row in rows]
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


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
