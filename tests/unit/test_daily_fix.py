"""The daily fix: the cut-off on both sides of Almaty's 2024-03-01 change, the median and outlier
rule, the flags (OK, DEGRADED, DISPERSED, STALE), the inputs hash and USDT conversion."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from reserve.core.errors import InvalidInput
from reserve.market.fix import (
    DailyFix,
    FixMethod,
    FixStatus,
    SourceQuote,
    carry_over,
    compute_fix,
    cutoff_utc,
    inputs_sha256,
    median,
)
from reserve.market.prices import PriceRow, SourceSpec
from reserve.market.quotes import observation_time, quotes_for

D = Decimal
BEFORE = date(2024, 2, 29)  # Almaty on UTC+6: the cut-off is 10:00 UTC
AFTER = date(2024, 3, 1)  # Almaty on UTC+5 from this day: the cut-off is 11:00 UTC


def _method(**changes: Any) -> FixMethod:
    values: dict[str, Any] = {
        "version": "fix-1",
        "cutoff": "16:00",
        "timezone": "Asia/Almaty",
        "staleness_hours": 24,
        "outlier_pct": "2",
        "min_sources": 2,
    }
    values.update(changes)
    return FixMethod.model_validate(values)


METHOD = _method()


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _quote(source: str, value: str, observed_at: datetime) -> SourceQuote:
    return SourceQuote(source, D(value), observed_at, "USD", D(value))


def _daily(day: date, *values: tuple[str, str]) -> list[SourceQuote]:
    """Quotes as daily closes of ``day - 1``, observed at ``day 00:00 UTC``."""
    return [_quote(source, value, _at(day, 0)) for source, value in values]


def test_the_cutoff_moves_with_almatys_offset() -> None:
    assert cutoff_utc(BEFORE, METHOD) == _at(BEFORE, 10)
    assert cutoff_utc(AFTER, METHOD) == _at(AFTER, 11)
    assert cutoff_utc(date(2023, 7, 1), METHOD) == _at(date(2023, 7, 1), 10)
    assert cutoff_utc(date(2025, 1, 1), METHOD) == _at(date(2025, 1, 1), 11)


def test_a_quote_at_1030_utc_is_late_before_the_change_and_in_time_after() -> None:
    early = _quote("early", "100", _at(BEFORE, 9))
    late = _quote("late", "101", _at(BEFORE, 10, 30))
    before = compute_fix("BTC", BEFORE, [early, late], _method(min_sources=1))
    assert before is not None
    assert before.used == ("early",)
    assert before.dropped == (
        ("late", "observed only after the cut-off 2024-02-29T10:00:00.000000Z"),
    )

    early = _quote("early", "100", _at(AFTER, 9))
    in_time = _quote("late", "101", _at(AFTER, 10, 30))
    after = compute_fix("BTC", AFTER, [early, in_time], _method(min_sources=1))
    assert after is not None
    assert after.used == ("early", "late")
    assert after.value == D("100.5")


def test_three_agreeing_sources_give_an_ok_median() -> None:
    fix = compute_fix(
        "BTC", BEFORE, _daily(BEFORE, ("a", "100"), ("b", "101"), ("c", "99.5")), METHOD
    )
    assert fix == DailyFix(
        asset="BTC",
        day=BEFORE,
        value=D("100"),
        status=FixStatus.OK,
        used=("a", "b", "c"),
        dropped=(),
        inputs_sha256=fix.inputs_sha256 if fix else "",
        method_version="fix-1",
        carried_from=None,
    )


def test_an_even_count_takes_the_exact_mean_of_the_middle_two() -> None:
    assert median([D("57274.6796875"), D("58897.84698299794")]) == D("58086.263335248970")
    assert median([D("1"), D("2"), D("4"), D("100")]) == D(3)
    assert median([D("0.1"), D("0.2")]) == D("0.15")


def test_an_outlier_is_dropped_with_its_distance() -> None:
    quotes = _daily(
        BEFORE, ("yahoo", "57274.68"), ("coingecko", "58897.85"), ("binance", "58960.36")
    )
    fix = compute_fix("BTC", BEFORE, quotes, METHOD)
    assert fix is not None
    assert fix.status is FixStatus.OK
    assert fix.used == ("binance", "coingecko")
    assert fix.value == D("58929.105")
    ((source, reason),) = fix.dropped
    assert source == "yahoo"
    assert reason == "2.76 % from the median 58897.85 of fresh sources"


def test_exactly_at_the_outlier_limit_is_kept() -> None:
    fix = compute_fix(
        "BTC", BEFORE, _daily(BEFORE, ("a", "100"), ("b", "102"), ("c", "98")), METHOD
    )
    assert fix is not None
    assert (fix.status, fix.used) == (FixStatus.OK, ("a", "b", "c"))


def test_one_fresh_source_gives_a_degraded_fix_naming_the_others() -> None:
    quotes = [
        _quote("yahoo", "100", _at(BEFORE, 0)),  # yesterday's close: 10 h old
        _quote("coingecko", "120", _at(BEFORE - timedelta(days=1), 0)),  # 34 h old: stale
    ]
    fix = compute_fix("BTC", BEFORE, quotes, METHOD, dropped=[("binance", "no USDT fix")])
    assert fix is not None
    assert (fix.status, fix.value, fix.used) == (FixStatus.DEGRADED, D(100), ("yahoo",))
    assert fix.dropped == (
        ("binance", "no USDT fix"),
        (
            "coingecko",
            "stale: observed 2024-02-28T00:00:00.000000Z, 34.0 h before the cut-off (limit 24.0 h)",
        ),
    )


def test_the_staleness_limit_is_inclusive() -> None:
    just = _quote("a", "100", cutoff_utc(AFTER, METHOD) - timedelta(hours=24))
    over = _quote("b", "100", cutoff_utc(AFTER, METHOD) - timedelta(hours=24, seconds=1))
    fix = compute_fix("BTC", AFTER, [just, over], METHOD)
    assert fix is not None
    assert fix.used == ("a",)
    assert fix.dropped[0][0] == "b"


def test_two_disagreeing_sources_give_their_mean_flagged_dispersed() -> None:
    fix = compute_fix("USDT", BEFORE, _daily(BEFORE, ("yahoo", "1.05"), ("cg", "0.99")), METHOD)
    assert fix is not None
    assert (fix.status, fix.value, fix.used, fix.dropped) == (
        FixStatus.DISPERSED,
        D("1.02"),
        ("cg", "yahoo"),
        (),
    )


def test_a_dispersed_fix_is_the_median_of_all_fresh_sources_not_of_the_survivors() -> None:
    values = [("a", "90"), ("b", "100"), ("c", "101"), ("d", "120"), ("e", "130")]
    fix = compute_fix("BTC", BEFORE, _daily(BEFORE, *values), _method(min_sources=3))
    assert fix is not None
    # the outlier rule keeps b and c only (median 100.5); the fix stays the median of all five
    assert (fix.status, fix.value) == (FixStatus.DISPERSED, D(101))
    assert fix.used == ("a", "b", "c", "d", "e")


def test_a_lone_survivor_is_never_published_as_ok() -> None:
    fix = compute_fix(
        "BTC", BEFORE, _daily(BEFORE, ("a", "95"), ("b", "100"), ("c", "106")), METHOD
    )
    assert fix is not None
    assert (fix.status, fix.used) == (FixStatus.DISPERSED, ("a", "b", "c"))


def test_the_latest_observation_at_or_before_the_cutoff_is_a_sources_value() -> None:
    quotes = [
        _quote("a", "100", _at(AFTER, 9)),
        _quote("a", "105", _at(AFTER, 11)),  # exactly the cut-off: in time
        _quote("a", "200", _at(AFTER, 12)),  # after it
        _quote("b", "104", _at(AFTER, 10)),
    ]
    fix = compute_fix("BTC", AFTER, quotes, METHOD)
    assert fix is not None
    assert (fix.value, fix.used, fix.dropped) == (D("104.5"), ("a", "b"), ())


def test_no_fresh_source_gives_no_fix_and_yesterdays_is_carried_one_day() -> None:
    stale = [_quote("a", "100", _at(AFTER, 0) - timedelta(days=2))]
    assert compute_fix("BTC", AFTER, stale, METHOD) is None
    assert compute_fix("BTC", AFTER, [], METHOD) is None

    yesterday = compute_fix("BTC", BEFORE, _daily(BEFORE, ("a", "100"), ("b", "101")), METHOD)
    assert yesterday is not None
    carried = carry_over(yesterday, AFTER, dropped=[("a", "no close")])
    assert (carried.status, carried.value, carried.day, carried.carried_from) == (
        FixStatus.STALE,
        D("100.5"),
        AFTER,
        BEFORE,
    )
    assert carried.inputs_sha256 == yesterday.inputs_sha256
    assert carried.dropped == (("a", "no close"),)

    with pytest.raises(InvalidInput, match="carried over at most one day"):
        carry_over(carried, AFTER + timedelta(days=1))
    with pytest.raises(
        InvalidInput, match="only the fix of 2024-03-01 can be carried, not 2024-02-29"
    ):
        carry_over(yesterday, AFTER + timedelta(days=1))


def test_the_inputs_hash_changes_with_any_input_and_not_with_their_order() -> None:
    base = _daily(BEFORE, ("a", "100"), ("b", "101"))
    digest = inputs_sha256(base)
    assert len(digest) == 64
    assert inputs_sha256(list(reversed(base))) == digest
    # the same number written differently is the same input
    assert inputs_sha256([_quote("a", "100.00", _at(BEFORE, 0)), base[1]]) == digest
    changed = [
        [_quote("a", "100.01", _at(BEFORE, 0)), base[1]],
        [_quote("a", "100", _at(BEFORE, 0, 1)), base[1]],
        [_quote("c", "100", _at(BEFORE, 0)), base[1]],
        [SourceQuote("a", D(100), _at(BEFORE, 0), "USDT", D("100.2")), base[1]],
        base[:1],
    ]
    assert len({digest, *(inputs_sha256(c) for c in changed)}) == len(changed) + 1
    fix = compute_fix("BTC", BEFORE, base, METHOD)
    assert fix is not None
    assert fix.inputs_sha256 == digest


def test_a_naive_time_or_a_non_positive_price_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no time zone"):
        SourceQuote("a", D(1), datetime(2024, 1, 1), "USD", D(1))
    with pytest.raises(InvalidInput, match="not a positive price"):
        SourceQuote("a", D(0), _at(BEFORE, 0), "USD", D(0))


def test_the_method_refuses_floats_unknown_zones_and_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="not a float"):
        _method(outlier_pct=2.0)
    with pytest.raises(ValidationError, match="IANA"):
        _method(timezone="Asia/Nowhere")
    with pytest.raises(ValidationError, match="Extra inputs"):
        _method(cutoff_utc="10:00")


# -- from daily rows to quotes ---------------------------------------------------------------

YAHOO = SourceSpec(name="yahoo", asset="BTC", quote="USD", file="btc_usd.csv", column="close_usd")
BINANCE = SourceSpec(
    name="binance", asset="BTC", quote="USDT", file="btc_usdt_binance.csv", column="close_usdt"
)
COINGECKO = SourceSpec(
    name="coingecko", asset="BTC", quote="USD", file="btc_usd_source2.csv", column="close_usd"
)


def _rows(*pairs: tuple[date, str]) -> list[PriceRow]:
    return [PriceRow(day, D(value)) for day, value in pairs]


def test_a_daily_close_is_observed_at_the_next_utc_midnight() -> None:
    assert observation_time(BEFORE) == _at(AFTER, 0)
    assert observation_time(date(2023, 12, 31)) == datetime(2024, 1, 1, tzinfo=UTC)


def test_the_quote_of_a_day_is_yesterdays_close_never_todays() -> None:
    rows = _rows(
        (date(2024, 2, 27), "50"), (date(2024, 2, 28), "51"), (BEFORE, "52"), (AFTER, "53")
    )
    found = quotes_for("BTC", BEFORE, {"yahoo": (YAHOO, rows)}, METHOD, None)
    assert found.dropped == ()
    (quote,) = found.quotes
    assert (quote.value, quote.observed_at) == (D(51), _at(BEFORE, 0))


def test_a_missing_yesterday_makes_the_source_stale() -> None:
    rows = _rows((date(2024, 2, 27), "50"), (BEFORE, "52"))  # no close of 02-28
    found = quotes_for("BTC", BEFORE, {"yahoo": (YAHOO, rows)}, METHOD, None)
    fix = compute_fix("BTC", BEFORE, found.quotes, METHOD, dropped=found.dropped)
    assert fix is None
    rows_late = _rows((date(2024, 1, 1), "1"))
    found = quotes_for("BTC", date(2023, 12, 31), {"yahoo": (YAHOO, rows_late)}, METHOD, None)
    assert found.dropped == (("yahoo", "btc_usd.csv has no close on or before 2023-12-31"),)


def test_a_usdt_quote_is_converted_through_the_usdt_fix_of_the_day() -> None:
    day = date(2020, 3, 13)
    series = {
        "yahoo": (YAHOO, _rows((date(2020, 3, 12), "4970.7880859375"))),
        "binance": (BINANCE, _rows((date(2020, 3, 12), "4800.00000000"))),
        "coingecko": (COINGECKO, _rows((date(2020, 3, 12), "5142.990459018316"))),
        "other": (YAHOO.model_copy(update={"asset": "ETH"}), _rows((date(2020, 3, 12), "1"))),
    }
    usdt = D("1.02043872689057665")
    found = quotes_for("BTC", day, series, METHOD, usdt)
    binance = next(q for q in found.quotes if q.source == "binance")
    assert (binance.quote, binance.raw) == ("USDT", D("4800.00000000"))
    assert binance.value == D("4898.10588907476792")  # exact: 4800 x 1.02043872689057665
    assert len(found.quotes) == 3  # the ETH source is not BTC's

    without = quotes_for("BTC", day, series, METHOD, None)
    assert [q.source for q in without.quotes] == ["coingecko", "yahoo"]
    assert without.dropped == (
        ("binance", "quoted in USDT and there is no USDT fix for 2020-03-13 to convert it"),
    )
    fix = compute_fix("BTC", day, without.quotes, METHOD, dropped=without.dropped)
    assert fix is not None
    # yahoo and coingecko are 3.46 % apart, so each is 1.70 % from their mean: within 2 %
    assert (fix.status, fix.value) == (FixStatus.OK, D("5056.8892724779080"))
    assert fix.dropped[0][0] == "binance"
