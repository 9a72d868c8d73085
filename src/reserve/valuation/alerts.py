"""Alerts: the days a person should look at the prices before trusting the valuation.

* ``stablecoin-depeg``: a stablecoin's fix below the configured peg floor (e.g. 0.98). Judged on
  fixes (daily closes), not intraday lows: a venue's print is stress colour, not a depeg.
* ``usd-kzt-move``: USD/KZT moved more than the configured percentage in a day. The move is the
  simple change ``rate / previous - 1`` between two rates at most ``max_gap_days`` calendar days
  apart; across a longer hole in the series nothing is computed, since months of drift are not
  a day's move and a gap must never pass for one.
* ``fix-flagged``: a fix whose status is anything but ``OK`` (carried forward, sources
  disagreeing ...), since whatever is valued at it inherits the doubt.

A depeg is raised whatever the fix's status (a flagged fix below the floor raises both alerts):
a false alarm costs a look, a missed depeg costs money.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from itertools import pairwise
from typing import Final

from reserve.core.money import decimal_text
from reserve.valuation.policy import ValuationPolicy

OK: Final = "OK"
DEPEG: Final = "stablecoin-depeg"
RATE_MOVE: Final = "usd-kzt-move"
FIX_FLAGGED: Final = "fix-flagged"
USD_KZT: Final = "USD/KZT"

Fix = tuple[str, date, Decimal, str]  # (asset, day, value, status)


@dataclass(frozen=True)
class Alert:
    day: date
    kind: str  # DEPEG, RATE_MOVE or FIX_FLAGGED
    subject: str  # the asset, or "USD/KZT"
    detail: str  # one sentence a person can act on
    value: str  # the figure that tripped it, as an exact decimal string


def _sorted(alerts: list[Alert]) -> list[Alert]:
    return sorted(alerts, key=lambda a: (a.day, a.kind, a.subject))


def stablecoin_alerts(fixes: Iterable[Fix], policy: ValuationPolicy) -> list[Alert]:
    """A depeg alert for each fix of a configured stablecoin below the peg floor."""
    floor = policy.alerts.peg_floor
    coins = set(policy.alerts.stablecoins)
    found = []
    for asset, day, value, status in fixes:
        if asset not in coins or value >= floor:
            continue
        flagged = "" if status == OK else f" (the fix is {status})"
        found.append(
            Alert(
                day,
                DEPEG,
                asset,
                f"{asset} fixed at {decimal_text(value)} USD on {day}, below the peg floor "
                f"{decimal_text(floor)}{flagged}",
                decimal_text(value),
            )
        )
    return _sorted(found)


def rate_move_alerts(rows: Sequence[tuple[date, Decimal]], policy: ValuationPolicy) -> list[Alert]:
    """A move alert for each day USD/KZT moved beyond the threshold from the rate before it.

    ``rows`` are (day, KZT per USD) in any order, one per day. A pair of rates more than
    ``max_gap_days`` apart is skipped: no move is computed across a gap in the series.
    """
    ordered = sorted(rows)
    days = [day for day, _ in ordered]
    if len(set(days)) != len(days):
        raise ValueError("two USD/KZT rates on one day; pass one rate per day")
    if any(rate <= 0 or not rate.is_finite() for _, rate in ordered):
        raise ValueError("a USD/KZT rate must be a positive number")
    threshold = policy.alerts.usd_kzt_move_pct
    found = []
    for (before_day, before), (day, rate) in pairwise(ordered):
        if (day - before_day).days > policy.alerts.max_gap_days:
            continue
        with localcontext(prec=28):  # a ratio: rounded, whatever the caller's context
            move_pct = (rate / before - 1) * 100
        if abs(move_pct) <= threshold:
            continue
        shown = f"{move_pct:+.2f}"
        found.append(
            Alert(
                day,
                RATE_MOVE,
                USD_KZT,
                f"USD/KZT moved {shown}% from {decimal_text(before)} on {before_day} to "
                f"{decimal_text(rate)} on {day}, beyond {decimal_text(threshold)}%",
                shown,
            )
        )
    return _sorted(found)


def fix_flag_alerts(fixes: Iterable[Fix]) -> list[Alert]:
    """An alert for each fix whose status is not ``OK``."""
    return _sorted(
        [
            Alert(
                day,
                FIX_FLAGGED,
                asset,
                f"the {asset} fix of {day} ({decimal_text(value)} USD) is {status}, not {OK}",
                decimal_text(value),
            )
            for asset, day, value, status in fixes
            if status != OK
        ]
    )
