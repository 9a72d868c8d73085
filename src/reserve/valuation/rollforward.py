"""The roll-forward: how an asset's value got from one day to another, to the last digit.

    opening + additions - disposals + revaluation = closing

With ``f_d`` the fix of day ``d`` and ``h_d`` the units held at the end of day ``d``, for the
days ``start < d <= end``:

* opening     = h_start x f_start
* additions   = the cost of units added on day d (what was paid, or the fair value a forfeiture
  entered at)
* disposals   = units leaving on day d, valued at f_d (proceeds and realised results are
  ``realised``'s business; here a disposal takes out what it was worth in the books that day)
* revaluation = sum of h_{d-1} x (f_d - f_{d-1})  (price moves on what was already held)
              + sum of (u x f_d - cost) over additions  (day-one gain or loss of what came in)
* closing     = h_end x f_end

The terms telescope, so with exact arithmetic the difference is exactly zero. ``closing`` is
computed on its own from the units (start plus additions less disposals), not from the other
terms, so the zero is a check, not a tautology of the code. Given the ledger's own ``held_at_end``
the closing is valued from that instead, and a nonzero difference then means the flows passed
in do not explain the ledger's units: ``(units from flows - held_at_end) x f_end``.

The roll-forward is of the fund's (or reserve's) position in one asset across all its accounts:
a move between the fund's own accounts is neither an addition nor a disposal and must not be
passed as a flow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from reserve.valuation.marks import exact_arithmetic, value_units


@dataclass(frozen=True)
class DayFlows:
    """What came in (units, cost in USD, one pair per addition) and how many units went out."""

    day: date
    additions: Sequence[tuple[int, Decimal]] = ()
    disposals_units: int = 0


@dataclass(frozen=True)
class RollForward:
    """One asset's roll-forward in USD; ``difference`` is zero when everything reconciles."""

    asset: str
    start: date
    end: date
    opening: Decimal
    additions: Decimal
    disposals: Decimal
    revaluation: Decimal
    closing: Decimal
    difference: Decimal  # opening + additions - disposals + revaluation - closing
    opening_units: int
    closing_units: int  # the units the closing is valued from (held_at_end when given)
    flow_units: int  # held_at_start plus additions less disposals


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _check(
    start: date, end: date, fixes: Mapping[date, Decimal], flows: Sequence[DayFlows]
) -> None:
    if end < start:
        raise ValueError(f"the roll-forward ends ({end}) before it starts ({start})")
    missing = [d for d in _days(start, end) if d not in fixes]
    if missing:
        shown = ", ".join(str(d) for d in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise ValueError(f"no fix for {len(missing)} day(s): {shown}; gaps are never filled")
    outside = sorted({f.day for f in flows if not start < f.day <= end})
    if outside:
        raise ValueError(
            f"flows dated {outside} are outside ({start}, {end}]: flows on the start day are "
            "already in held_at_start"
        )
    negative = [f.day for f in flows if f.disposals_units < 0 or any(u < 0 for u, _ in f.additions)]
    if negative:
        raise ValueError(f"flows of negative units on {negative}: pass units added and removed")


def roll_forward(
    asset: str,
    decimals: int,
    start: date,
    end: date,
    held_at_start: int,
    fixes: Mapping[date, Decimal],
    flows: Sequence[DayFlows],
    *,
    held_at_end: int | None = None,
) -> RollForward:
    """Roll ``asset`` forward from the end of ``start`` to the end of ``end``.

    ``fixes`` must hold every day from ``start`` to ``end`` (a missing day raises: a gap is never
    filled). ``flows`` are dated after ``start`` up to ``end``; several on one day add up.
    """
    _check(start, end, fixes, flows)
    by_day: dict[date, list[DayFlows]] = {}
    for flow in flows:
        by_day.setdefault(flow.day, []).append(flow)
    held = held_at_start
    added_units = removed_units = 0
    with exact_arithmetic():
        opening = value_units(held_at_start, decimals, fixes[start])
        additions = disposals = revaluation = Decimal(0)
        for day in _days(start, end)[1:]:
            price, before = fixes[day], fixes[day - timedelta(days=1)]
            revaluation += value_units(held, decimals, price) - value_units(held, decimals, before)
            for flow in by_day.get(day, []):
                for units, cost in flow.additions:
                    additions += cost
                    revaluation += value_units(units, decimals, price) - cost
                    held += units
                    added_units += units
                disposals += value_units(flow.disposals_units, decimals, price)
                held -= flow.disposals_units
                removed_units += flow.disposals_units
        flow_units = held_at_start + added_units - removed_units
        closing_units = flow_units if held_at_end is None else held_at_end
        closing = value_units(closing_units, decimals, fixes[end])
        difference = opening + additions - disposals + revaluation - closing
    return RollForward(
        asset=asset,
        start=start,
        end=end,
        opening=opening,
        additions=additions,
        disposals=disposals,
        revaluation=revaluation,
        closing=closing,
        difference=difference,
        opening_units=held_at_start,
        closing_units=closing_units,
        flow_units=flow_units,
    )
