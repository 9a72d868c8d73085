"""Alerts on the real series: the USDC (SVB, 2023-03-11) and USDT (2018-11-14) depegs, the tenge
float of 2015-08-21, and no move computed across the 2020-03-31..2021-12-16 hole in USD/KZT."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from reserve.valuation.alerts import (
    DEPEG,
    FIX_FLAGGED,
    RATE_MOVE,
    fix_flag_alerts,
    rate_move_alerts,
    stablecoin_alerts,
)
from reserve.valuation.policy import AlertThresholds, ValuationPolicy, parse_valuation_policy

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "data" / "prices"
POLICY = parse_valuation_policy((ROOT / "config" / "valuation.toml").read_text(), "valuation")


def _series(name: str, column: str) -> list[tuple[date, Decimal]]:
    with (PRICES / name).open(newline="") as handle:
        return [(date.fromisoformat(r["date"]), Decimal(r[column])) for r in csv.DictReader(handle)]


def _fixes(asset: str) -> list[tuple[str, date, Decimal, str]]:
    return [
        (asset, day, value, "OK") for day, value in _series(f"{asset.lower()}_usd.csv", "close_usd")
    ]


def _with(**alerts: object) -> ValuationPolicy:
    thresholds = POLICY.alerts.model_dump() | alerts
    return POLICY.model_copy(update={"alerts": AlertThresholds.model_validate(thresholds)})


def test_real_stablecoin_closes_alert_on_the_known_depegs_only() -> None:
    fixes = _fixes("USDT") + _fixes("USDC")
    found = stablecoin_alerts(fixes, POLICY)
    days = {(a.subject, a.day) for a in found}
    assert ("USDC", date(2023, 3, 11)) in days  # SVB: close 0.9715
    assert ("USDT", date(2018, 11, 14)) in days  # close 0.9666, the lowest USDT close
    for normal in [
        ("USDC", date(2023, 3, 10)),
        ("USDT", date(2023, 3, 11)),
        ("USDT", date(2022, 11, 9)),
    ]:
        assert normal not in days
    assert all(a.kind == DEPEG and Decimal(a.value) < Decimal("0.98") for a in found)
    # exactly the closes below the floor, counted independently
    assert len(found) == sum(1 for _, _, value, _ in fixes if value < Decimal("0.98"))
    usdc = next(a for a in found if a.subject == "USDC" and a.day == date(2023, 3, 11))
    assert usdc.value.startswith("0.9714999")


def test_a_coin_not_listed_as_a_stablecoin_never_depegs() -> None:
    assert stablecoin_alerts([("TRX", date(2024, 1, 1), Decimal("0.1"), "OK")], POLICY) == []


def test_the_tenge_float_alerts_and_ordinary_days_do_not() -> None:
    found = rate_move_alerts(_series("usd_kzt.csv", "kzt_per_usd"), POLICY)
    by_day = {a.day: a for a in found}
    assert by_day[date(2015, 8, 21)].value == "+35.50"  # 188.38 -> 255.26
    assert by_day[date(2015, 8, 21)].kind == RATE_MOVE
    assert date(2015, 8, 20) not in by_day
    assert all(abs(Decimal(a.value)) > 3 for a in found)


def test_no_move_is_computed_across_the_gap_in_the_rate_series() -> None:
    rows = _series("usd_kzt.csv", "kzt_per_usd")
    # 445.84 on 2020-03-30 to 437.9803 on 2021-12-17 is -1.76 %: at a 1 % threshold it would
    # alert if a move were ever computed across the 627 missing days
    strict = rate_move_alerts(rows, _with(usd_kzt_move_pct=Decimal(1)))
    assert all(not date(2020, 3, 31) <= a.day <= date(2021, 12, 17) for a in strict)
    # the control: allowed a gap of 1000 days (beyond what the policy file accepts), the same
    # rows do alert on 2021-12-17, so the gap rule is what kept it out above
    loose = POLICY.alerts.model_copy(update={"usd_kzt_move_pct": Decimal(1), "max_gap_days": 1000})
    across = rate_move_alerts(rows, POLICY.model_copy(update={"alerts": loose}))
    assert date(2021, 12, 17) in {a.day for a in across}
    assert rate_move_alerts(
        [(date(2020, 3, 30), Decimal(100)), (date(2020, 3, 31), Decimal(110))], POLICY
    )
    assert not rate_move_alerts(
        [(date(2020, 3, 30), Decimal(100)), (date(2020, 4, 1), Decimal(110))], POLICY
    )
    two_day_gap = _with(max_gap_days=2)
    assert rate_move_alerts(
        [(date(2020, 3, 30), Decimal(100)), (date(2020, 4, 1), Decimal(110))], two_day_gap
    )


def test_one_rate_per_day() -> None:
    with pytest.raises(ValueError, match="one rate per day"):
        rate_move_alerts([(date(2020, 1, 1), Decimal(1)), (date(2020, 1, 1), Decimal(2))], POLICY)


def test_flagged_fixes_alert_and_ok_fixes_do_not() -> None:
    fixes = [
        ("BTC", date(2021, 11, 25), Decimal("57274.68"), "OUTLIER"),
        ("BTC", date(2021, 11, 26), Decimal("53569.77"), "OK"),
        ("USDC", date(2023, 3, 11), Decimal("0.9715"), "CARRIED"),
    ]
    found = fix_flag_alerts(fixes)
    assert [(a.kind, a.subject, a.day, a.value) for a in found] == [
        (FIX_FLAGGED, "BTC", date(2021, 11, 25), "57274.68"),
        (FIX_FLAGGED, "USDC", date(2023, 3, 11), "0.9715"),
    ]
    # a flagged fix below the floor is still a depeg
    (depeg,) = stablecoin_alerts(fixes, POLICY)
    assert "CARRIED" in depeg.detail
