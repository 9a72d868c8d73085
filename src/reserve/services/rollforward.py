"""Roll-forward and realised results between two days, read from the journal.

Opening + additions - disposals ± revaluation = closing, per asset, for the reserve's own
holdings (accounts under ``Assets:Reserve:``): additions are lots arriving into the reserve at
their cost (a purchase, a mining output, a forfeiture at its fair value that day), disposals are
units leaving it (sold, paid as fees) valued at the day's fix, and moves between the reserve's
own accounts are neither. The closing is valued from the ledger's own balance, so a flow the
roll-forward missed shows as a difference instead of disappearing.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.services.market import fix_range
from reserve.valuation.realised import Disposal, Realised, realised
from reserve.valuation.rollforward import DayFlows, RollForward, roll_forward

RESERVE = "Assets:Reserve:"


def _share(lot: tuple[str, int, Decimal, Decimal], units: int) -> Decimal:
    _kind, acquired, usd, _kzt = lot
    with decimal.localcontext(prec=40):
        return usd * units / acquired if acquired else Decimal(0)


def roll_forward_asset(
    reserve: Reserve, asset: str, start: date, end: date, *, actor: str
) -> RollForward:
    """The asset's roll-forward from the end of ``start`` to the end of ``end``."""
    if end <= start:
        raise InvalidInput.one("roll-forward", "--to", f"{end} is not after {start}")
    fix_range(reserve, start, end, actor=actor)
    with reserve.reading() as uow:
        assets = uow.ledger.assets()
        if asset not in assets:
            raise InvalidInput.one("roll-forward", "--asset", f"unknown asset {asset!r}")
        fixes = {
            d: f.value for (a, d), f in uow.market.fixes_between(start, end).items() if a == asset
        }
        missing = [
            start + timedelta(days=n)
            for n in range((end - start).days + 1)
            if start + timedelta(days=n) not in fixes
        ]
        if missing:
            raise InvalidInput.one(
                f"roll-forward {asset}",
                "fix",
                f"no fix on {missing[0]} (and {len(missing) - 1} more days)",
            )
        held = [
            sum(
                v
                for (account, _), v in uow.ledger.balances_as_of(day, asset=asset).items()
                if account.startswith(RESERVE)
            )
            for day in (start, end)
        ]
        lots = uow.market.lots()
        by_day: dict[date, DayFlows] = {}
        additions: dict[date, list[tuple[int, Decimal]]] = defaultdict(list)
        disposed: dict[date, int] = defaultdict(int)
        for _seq, day, flow_asset, lot, units in uow.market.reserve_flows(after=start, until=end):
            if flow_asset != asset:
                continue
            if units > 0:
                additions[day].append((units, _share(lots[lot], units)))
            else:
                disposed[day] += -units
        for day in sorted(set(additions) | set(disposed)):
            by_day[day] = DayFlows(day, tuple(additions[day]), disposed[day])
    return roll_forward(
        asset,
        assets[asset].decimals,
        start,
        end,
        held[0],
        fixes,
        list(by_day.values()),
        held_at_end=held[1],
    )


def realised_results(reserve: Reserve, start: date, end: date) -> list[Realised]:
    """Units that left the reserve from ``start`` (exclusive) to ``end``, at their cost, against
    the USD the reserve's cash accounts received in the same entries."""
    with reserve.reading() as uow:
        lots = uow.market.lots()
        funds = {a: x.fund for a, x in uow.ledger.accounts().items()}
        lot_accounts = uow.market.lot_accounts()
        cash = uow.market.reserve_cash_in(after=start, until=end)
        leaving: dict[int, list[tuple[date, str, str, int]]] = defaultdict(list)
        for seq, day, asset, lot, units in uow.market.reserve_flows(after=start, until=end):
            if units < 0:
                leaving[seq].append((day, asset, lot, -units))
    disposals = []
    for seq, items in leaving.items():
        proceeds = Decimal(cash.get(seq, 0)).scaleb(-2)
        total_cost = sum((_share(lots[lot], units) for _d, _a, lot, units in items), Decimal(0))
        for day, asset, lot, units in items:
            cost = _share(lots[lot], units)
            weight = cost / total_cost if total_cost else Decimal(1) / len(items)
            with decimal.localcontext(prec=40):
                disposals.append(
                    Disposal(
                        day, funds.get(lot_accounts[lot]), asset, units, cost, proceeds * weight
                    )
                )
    return realised(disposals, start=start + timedelta(days=1), end=end)
