"""Parsing of command-line option values into the reserve's types, with one-line errors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from reserve.bootstrap import Reserve
from reserve.cli.context import parse_day
from reserve.core.errors import InvalidInput
from reserve.core.money import AmountError, parse_decimal, to_base_units
from reserve.services.ledger import list_assets


def units_option(reserve: Reserve, asset: str, text: str, option: str) -> int:
    known = {a.code: a for a in list_assets(reserve)}
    if asset not in known:
        raise InvalidInput.one("option", "--asset", f"unknown asset {asset!r}")
    try:
        return to_base_units(text, known[asset].decimals)
    except AmountError as error:
        raise InvalidInput.one("option", option, str(error)) from None


def money_option(text: str | None, option: str) -> Decimal | None:
    if text is None:
        return None
    try:
        return parse_decimal(text)
    except AmountError as error:
        raise InvalidInput.one("option", option, str(error)) from None


def day_option(text: str, option: str) -> date:
    day = parse_day(text, option)
    assert day is not None
    return day


def moment_option(text: str, option: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput.one(
            "option", option, f"{text!r} is not a time such as 2024-03-05T12:00:00+00:00"
        ) from None


def day_range(on: str | None, start: str | None, end: str | None) -> tuple[date, date]:
    """``--date D`` (one day) or ``--from A --to B``, never a mix."""
    if on is not None and start is None and end is None:
        day = day_option(on, "--date")
        return day, day
    if on is None and start is not None and end is not None:
        return day_option(start, "--from"), day_option(end, "--to")
    raise InvalidInput.one("option", "--date/--from/--to", "give --date, or --from and --to")
