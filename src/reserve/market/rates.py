"""USD/KZT: how many tenge a dollar was worth on a day, and how old that answer is.

The reserve reports in tenge, so every dollar value passes through this rate. A rate is good for
a few days (weekends, holidays: the National Bank publishes on working days), and no longer:
the bundled series has no data from 2020-03-31 to 2021-12-16, and a valuation inside that gap
must say "no rate" or "stale", never quietly reuse March 2020's tenge. So every answer carries its
age, and day-to-day moves are only computed between rows close enough to be neighbours.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import pairwise

from reserve.core.errors import InvalidInput
from reserve.market.prices import PriceRow


@dataclass(frozen=True)
class RateQuote:
    """The latest rate on or before the day asked: ``day`` is the rate's own date."""

    day: date
    kzt_per_usd: Decimal
    age_days: int
    stale: bool


def rate_for(rows: Sequence[PriceRow], day: date, *, max_age_days: int) -> RateQuote | None:
    """The rate for ``day``: the latest row on or before it, ``stale`` when older than
    ``max_age_days``; None when the series starts after ``day``. ``rows`` ascend by day."""
    index = bisect_right(rows, day, key=lambda row: row.day)
    if index == 0:
        return None
    row = rows[index - 1]
    age = (day - row.day).days
    return RateQuote(day=row.day, kzt_per_usd=row.value, age_days=age, stale=age > max_age_days)


def fresh_rate(
    rows: Sequence[PriceRow], day: date, *, max_age_days: int, where: str = "USD/KZT"
) -> Decimal:
    """The rate for ``day`` or an ``InvalidInput`` saying why there is none to use."""
    quote = rate_for(rows, day, max_age_days=max_age_days)
    if quote is None:
        raise InvalidInput.one(where, "rate", f"no rate on or before {day}")
    if quote.stale:
        reason = (
            f"the latest rate before {day} is from {quote.day}, {quote.age_days} days old "
            f"(at most {max_age_days} allowed)"
        )
        raise InvalidInput.one(where, "rate", reason)
    return quote.kzt_per_usd


def daily_moves(
    rows: Sequence[PriceRow], *, max_gap_days: int = 1
) -> list[tuple[date, date, Decimal]]:
    """``(day, previous day, move in %)`` for consecutive rows at most ``max_gap_days`` apart.

    A pair further apart is skipped, not bridged: a 627-day "move" is not a daily move, and
    including it would poison any volatility computed from the list.
    """
    moves: list[tuple[date, date, Decimal]] = []
    for previous, row in pairwise(rows):
        if (row.day - previous.day).days <= max_gap_days:
            moves.append((row.day, previous.day, (row.value / previous.value - 1) * 100))
    return moves
