"""USD/KZT: a rate carries its age; inside the bundled 2020-2021 gap it is stale or absent, never
forward-filled, and daily moves are never computed across the gap."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest

from reserve.adapters.price_sources import load_bundled
from reserve.core.errors import InvalidInput
from reserve.market.prices import PriceRow, SourceSpec
from reserve.market.rates import RateQuote, daily_moves, fresh_rate, rate_for

PRICES = Path(__file__).resolve().parents[2] / "data" / "prices"
LAST_BEFORE_GAP = date(2020, 3, 30)
FIRST_AFTER_GAP = date(2021, 12, 17)


@pytest.fixture(scope="module")
def kzt() -> list[PriceRow]:
    spec = SourceSpec(
        name="nbk", asset="USDKZT", quote="KZT", file="usd_kzt.csv", column="kzt_per_usd"
    )
    return load_bundled(PRICES, spec, date(2026, 11, 21))


@pytest.fixture(scope="module")
def kzt_yahoo() -> list[PriceRow]:
    spec = SourceSpec(
        name="yahoo", asset="USDKZT", quote="KZT", file="usd_kzt_source2.csv", column="kzt_per_usd"
    )
    return load_bundled(PRICES, spec, date(2026, 11, 21))


def test_a_rate_of_the_day_is_fresh(kzt: list[PriceRow]) -> None:
    assert rate_for(kzt, LAST_BEFORE_GAP, max_age_days=3) == RateQuote(
        LAST_BEFORE_GAP, Decimal("445.84"), 0, stale=False
    )
    assert rate_for(kzt, FIRST_AFTER_GAP, max_age_days=3) == RateQuote(
        FIRST_AFTER_GAP, Decimal("437.9803"), 0, stale=False
    )


def test_inside_the_gap_the_rate_is_stale_never_filled(kzt: list[PriceRow]) -> None:
    assert rate_for(kzt, date(2020, 4, 2), max_age_days=3) == RateQuote(
        LAST_BEFORE_GAP, Decimal("445.84"), 3, stale=False
    )
    day = LAST_BEFORE_GAP + timedelta(days=4)
    while day < FIRST_AFTER_GAP:
        quote = rate_for(kzt, day, max_age_days=3)
        assert quote is not None
        assert quote.stale
        assert quote.day == LAST_BEFORE_GAP  # what it is, and how old: not a rate "of" ``day``
        assert quote.age_days == (day - LAST_BEFORE_GAP).days
        day += timedelta(days=1)
    with pytest.raises(InvalidInput) as caught:
        fresh_rate(kzt, date(2021, 6, 1), max_age_days=3)
    assert str(caught.value) == (
        "USD/KZT: rate: the latest rate before 2021-06-01 is from 2020-03-30, 428 days old "
        "(at most 3 allowed)"
    )
    assert fresh_rate(kzt, date(2020, 4, 2), max_age_days=3) == Decimal("445.84")


def test_before_the_series_there_is_no_rate(kzt: list[PriceRow]) -> None:
    assert rate_for(kzt, date(2015, 3, 29), max_age_days=3) is None
    with pytest.raises(InvalidInput, match="no rate on or before 2015-03-29"):
        fresh_rate(kzt, date(2015, 3, 29), max_age_days=3)


def test_after_the_series_ends_the_rate_goes_stale(kzt: list[PriceRow]) -> None:
    quote = rate_for(kzt, date(2023, 5, 4), max_age_days=3)
    assert quote is not None
    assert (quote.day, quote.age_days, quote.stale) == (
        date(2023, 4, 30),
        4,
        True,
    )


def test_daily_moves_never_span_the_gap(kzt: list[PriceRow]) -> None:
    moves = daily_moves(kzt)
    assert all((day - previous).days == 1 for day, previous, _ in moves)
    # every neighbouring pair but two: the gap, and 2022-04-19, a missing day SOURCE.md's
    # "627 missing days (one gap)" counts in (the gap itself is 626 days)
    pairs = {(p.day, r.day) for p, r in pairwise(kzt)}
    skipped = pairs - {(p, d) for d, p, _ in moves}
    assert skipped == {(LAST_BEFORE_GAP, FIRST_AFTER_GAP), (date(2022, 4, 18), date(2022, 4, 20))}
    # the tenge float of 2015-08-20/21: 188.38 -> 255.26
    move = next(m for d, _, m in moves if d == date(2015, 8, 21))
    assert move.quantize(Decimal("0.01")) == Decimal("35.50")
    bridged = daily_moves(kzt, max_gap_days=700)
    assert len(bridged) == len(kzt) - 1


def test_weekend_gaps_are_bridged_only_when_allowed(kzt_yahoo: list[PriceRow]) -> None:
    daily = daily_moves(kzt_yahoo)
    weekdays = daily_moves(kzt_yahoo, max_gap_days=3)
    assert len(daily) < len(weekdays) <= len(kzt_yahoo) - 1
    assert max((d - p).days for d, p, _ in weekdays) <= 3


def test_moves_of_two_rows() -> None:
    rows = [PriceRow(date(2024, 1, 1), Decimal(400)), PriceRow(date(2024, 1, 2), Decimal(410))]
    assert daily_moves(rows) == [(date(2024, 1, 2), date(2024, 1, 1), Decimal("2.5"))]
    assert daily_moves(rows[:1]) == []
