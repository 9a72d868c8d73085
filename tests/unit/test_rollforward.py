"""The BTC roll-forward over May 2021 (the month BTC fell from ~58k to ~37k) against pandas.

The code under test reads the closes as exact decimal strings; the reference rebuilds the daily
holdings with pandas and computes opening, disposals, revaluation and closing with float
arithmetic, independently of the identity's implementation.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pandas as pd
import pytest

from reserve.valuation.marks import value_units
from reserve.valuation.rollforward import DayFlows, roll_forward

PRICES = Path(__file__).resolve().parents[2] / "data" / "prices"
START, END = date(2021, 4, 30), date(2021, 5, 31)
BTC = 100_000_000
HELD_AT_START = 100 * BTC + 12_345_678
D = Decimal

FLOWS = [
    DayFlows(date(2021, 5, 3), [(5 * BTC, D("280000.00"))]),
    DayFlows(date(2021, 5, 10), [], 3 * BTC),
    DayFlows(date(2021, 5, 12), [(2 * BTC + 50_000_000, D("130000.55"))]),
    DayFlows(date(2021, 5, 19), [(10 * BTC, D("400000")), (1, D("0.0004"))], 125_000_000),
    DayFlows(date(2021, 5, 28), [], 50_000_001),
]
# the units the ledger holds at the end of May, counted from the postings, not from FLOWS
LEDGER_AT_END = HELD_AT_START + (5 + 10) * BTC + 250_000_001 - 3 * BTC - 125_000_000 - 50_000_001


def _fixes() -> dict[date, Decimal]:
    frame = pd.read_csv(PRICES / "btc_usd.csv", dtype=str)
    month = frame[(frame["date"] >= START.isoformat()) & (frame["date"] <= END.isoformat())]
    return {
        date.fromisoformat(d): Decimal(c)
        for d, c in zip(month["date"], month["close_usd"], strict=True)
    }


def _reference() -> dict[str, float]:
    closes = pd.read_csv(PRICES / "btc_usd.csv", index_col="date", parse_dates=True)["close_usd"]
    fix = closes.loc[START.isoformat() : END.isoformat()]
    days = pd.DataFrame(
        index=fix.index, data={"fix": fix, "add_units": 0.0, "add_cost": 0.0, "out": 0.0}
    )
    for flow in FLOWS:
        at = pd.Timestamp(flow.day)
        days.loc[at, "add_units"] += sum(u for u, _ in flow.additions) / BTC
        days.loc[at, "add_cost"] += float(sum(c for _, c in flow.additions))
        days.loc[at, "out"] += flow.disposals_units / BTC
    held = HELD_AT_START / BTC + (days["add_units"] - days["out"]).cumsum()
    return {
        "opening": held.iloc[0] * days["fix"].iloc[0],
        "additions": days["add_cost"].sum(),
        "disposals": (days["out"] * days["fix"]).sum(),
        "revaluation": (held.shift(1) * days["fix"].diff()).sum()
        + (days["add_units"] * days["fix"] - days["add_cost"]).sum(),
        "closing": held.iloc[-1] * days["fix"].iloc[-1],
    }


def _cents(value: Decimal | float) -> Decimal:
    if isinstance(value, float):
        value = Decimal(repr(round(value, 2)))
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def test_may_2021_reconciles_to_zero_and_matches_pandas() -> None:
    fixes = _fixes()
    assert len(fixes) == 32
    result = roll_forward(
        "BTC", 8, START, END, HELD_AT_START, fixes, FLOWS, held_at_end=LEDGER_AT_END
    )
    assert result.difference == 0
    assert result.difference.is_zero()
    assert (
        result.opening + result.additions - result.disposals + result.revaluation == result.closing
    )
    assert result.closing == value_units(LEDGER_AT_END, 8, fixes[END])
    assert result.closing_units == result.flow_units == LEDGER_AT_END
    expected = _reference()
    # pandas sums floats (about 16 significant digits; these figures are ~1e7 USD), the code
    # under test exact decimals, so they are compared once both are rounded to cents
    for name in ("opening", "additions", "disposals", "revaluation", "closing"):
        assert _cents(getattr(result, name)) == _cents(float(expected[name])), name
    assert result.revaluation < 0  # May 2021 was a loss month


def test_a_dropped_flow_shows_as_a_difference() -> None:
    fixes = _fixes()
    dropped = [f for f in FLOWS if f.day != date(2021, 5, 10)]  # the 3 BTC disposal goes missing
    result = roll_forward(
        "BTC", 8, START, END, HELD_AT_START, fixes, dropped, held_at_end=LEDGER_AT_END
    )
    assert result.flow_units - result.closing_units == 3 * BTC
    assert result.difference == value_units(3 * BTC, 8, fixes[END]) != 0
    # without the ledger's units the identity still holds on the flows given
    alone = roll_forward("BTC", 8, START, END, HELD_AT_START, fixes, dropped)
    assert alone.difference == 0


def test_internal_moves_are_not_flows_and_an_empty_month_is_all_revaluation() -> None:
    fixes = _fixes()
    result = roll_forward("BTC", 8, START, END, HELD_AT_START, fixes, [])
    assert (result.additions, result.disposals, result.difference) == (0, 0, 0)
    assert result.revaluation == value_units(HELD_AT_START, 8, fixes[END] - fixes[START])


def test_a_missing_fix_or_a_flow_outside_the_period_is_refused() -> None:
    fixes = _fixes()
    del fixes[date(2021, 5, 15)]
    with pytest.raises(ValueError, match="no fix for 1 day"):
        roll_forward("BTC", 8, START, END, HELD_AT_START, fixes, FLOWS)
    with pytest.raises(ValueError, match="already in held_at_start"):
        roll_forward("BTC", 8, START, END, HELD_AT_START, _fixes(), [DayFlows(START, [], 1)])
    with pytest.raises(ValueError, match="before it starts"):
        roll_forward("BTC", 8, END, START, HELD_AT_START, _fixes(), [])
