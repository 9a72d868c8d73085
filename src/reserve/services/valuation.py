"""Valuation use cases: mark the reserve to market on a day or over a range of days.

Each day: the holdings at the end of the day (per account, asset and provenance, with their cost
basis), the day's published fixes (published first if missing), the USD/KZT rate of the day if
it is recent enough (never carried across a gap: tenge values are then absent and the run says
why), the marks under the configured accounting basis, NAV per fund and for the reserve, the
reserve's share of national reserves, and seized units in a custodial statement of their own.
Every run is stored with its lines; a later run of the same day supersedes it for reading.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.core.money import decimal_text
from reserve.market.rates import RateQuote
from reserve.services.audit import record_now
from reserve.services.holdings_book import HoldingsBook
from reserve.services.market import fix_range, market_config, rate_on, read_series
from reserve.services.valuation_context import valuation_policy
from reserve.storage.market_repo import StoredFix, ValuationLine, ValuationRun
from reserve.storage.uow import UnitOfWork
from reserve.valuation.marks import Mark, exact_sum, mark
from reserve.valuation.nav import (
    FundNav,
    consolidated,
    custodial_statement,
    nav_by_fund,
    reserve_share,
)
from reserve.valuation.policy import ValuationPolicy

Progress = Callable[[int, int], None]
USD_DECIMALS = 2


@dataclass(frozen=True)
class DayValuation:
    day: date
    basis: str
    marks: list[Mark]
    navs: list[FundNav]
    total: FundNav
    share: Decimal
    custodial_usd: Decimal
    rate: RateQuote | None
    fixes: dict[str, StoredFix]
    run_id: int


def value_range(
    reserve: Reserve, start: date, end: date, *, actor: str, progress: Progress | None = None
) -> list[DayValuation]:
    """Value every day from ``start`` to ``end``: fixes first, then one run per day."""
    if end < start:
        raise InvalidInput.one("value", "--to", f"{end} is before {start}")
    fix_range(reserve, start, end, actor=actor)
    policy, policy_sha = valuation_policy(reserve)
    config, _ = market_config(reserve)
    days = (end - start).days + 1
    found: list[DayValuation] = []
    with reserve.writing() as uow:
        series = read_series(uow, config)
        book = HoldingsBook(
            uow.market.lots(), {a: x.fund for a, x in uow.ledger.accounts().items()}
        )
        decimals = {a.code: a.decimals for a in uow.ledger.assets().values()}
        fixes = uow.market.fixes_between(start, end)
        book.apply(uow.market.lot_units(after=None, until=start))
        book.apply_cash(uow.market.unlotted_units(after=None, until=start))
        for n in range(days):
            day = start + timedelta(days=n)
            if n:
                book.apply(uow.market.lot_units(after=day - timedelta(days=1), until=day))
                book.apply_cash(uow.market.unlotted_units(after=day - timedelta(days=1), until=day))
            todays = {a: f for (a, d), f in fixes.items() if d == day}
            found.append(
                _value(
                    uow,
                    reserve,
                    book,
                    day,
                    todays,
                    rate_on(series, day),
                    decimals,
                    policy,
                    policy_sha,
                    actor,
                )
            )
            if progress:
                progress(n + 1, days)
        record_now(
            uow,
            reserve,
            actor,
            "valuation.run",
            f"valuation {start}..{end}",
            {"days": str(days), "basis": policy.basis, "policy_sha256": policy_sha},
        )
        uow.commit()
    return found


def value_day(reserve: Reserve, day: date, *, actor: str) -> DayValuation:
    return value_range(reserve, day, day, actor=actor)[0]


def _value(
    uow: UnitOfWork,
    reserve: Reserve,
    book: HoldingsBook,
    day: date,
    fixes: dict[str, StoredFix],
    rate: RateQuote | None,
    decimals: dict[str, int],
    policy: ValuationPolicy,
    policy_sha: str,
    actor: str,
) -> DayValuation:
    kzt = None if rate is None or rate.stale else rate.kzt_per_usd
    marks = []
    for holding in book.holdings():
        fix = fixes.get(holding.asset)
        marks.append(
            mark(
                holding,
                decimals=decimals[holding.asset],
                fix=None if fix is None else fix.value,
                fix_status="MISSING" if fix is None else fix.status,
                kzt_per_usd=kzt,
                basis=policy.basis,
            )
        )
    cash: dict[str, Decimal] = {}
    for (account, asset), units in book.cash.items():
        fund = book.funds.get(account)
        if asset == "USD" and fund and account.startswith("Assets:Reserve:") and units:
            cash[fund] = cash.get(fund, Decimal(0)) + Decimal(units).scaleb(-USD_DECIMALS)
    navs = nav_by_fund(marks, cash, kzt, basis=policy.basis)
    total = consolidated(navs) if navs else _nothing(policy, kzt)
    share = reserve_share(total.nav_usd, policy.national_reserves)
    custodial = exact_sum(m.fair_usd for m in custodial_statement(marks) if m.fair_usd is not None)
    summary = _summary(navs, total, share, custodial, rate, fixes, policy)
    run = ValuationRun(0, day, policy.basis, policy_sha, summary, reserve.clock())
    lines = [
        ValuationLine(
            m.holding.fund,
            m.holding.asset,
            m.holding.account,
            m.holding.provenance,
            m.holding.units,
            m.holding.cost_usd,
            m.holding.cost_kzt,
            m.fix,
            m.fix_status,
            m.kzt_per_usd,
            m.fair_usd,
            m.fair_kzt,
            m.carrying_usd,
        )
        for m in marks
    ]
    run_id = uow.market.add_run(run, lines, by=actor)
    return DayValuation(
        day, policy.basis, marks, navs, total, share, custodial, rate, fixes, run_id
    )


def _nothing(policy: ValuationPolicy, kzt: Decimal | None) -> FundNav:
    """The reserve's NAV on a day before any fund held anything."""
    zero = Decimal(0)
    return FundNav(
        "RESERVE",
        policy.basis,
        zero,
        zero,
        zero,
        zero,
        zero,
        zero,
        None if kzt is None else zero,
        (),
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _summary(
    navs: Sequence[FundNav],
    total: FundNav,
    share: Decimal,
    custodial: Decimal,
    rate: RateQuote | None,
    fixes: dict[str, StoredFix],
    policy: ValuationPolicy,
) -> dict[str, Any]:
    def nav(n: FundNav) -> dict[str, Any]:
        return {
            "fund": n.fund,
            "nav_usd": _text(n.nav_usd),
            "nav_kzt": _text(n.nav_kzt),
            "fair_usd": _text(n.fair_usd),
            "cost_usd": _text(n.cost_usd),
            "carrying_usd": _text(n.carrying_usd),
            "cash_usd": _text(n.cash_usd),
            "unrealised_usd": _text(n.unrealised_usd),
            "missing_prices": list(n.missing_prices),
        }

    return {
        "basis": policy.basis,
        "funds": [nav(n) for n in navs],
        "reserve": nav(total),
        "share_of_national_reserves": _text(share),
        "national_reserves": {
            "name": policy.national_reserves.name,
            "amount_usd": _text(policy.national_reserves.amount_usd),
            "as_of": policy.national_reserves.as_of.isoformat(),
            "source": policy.national_reserves.source,
        },
        "custodial_fair_usd": _text(custodial),
        "kzt_per_usd": None
        if rate is None
        else {"rate": _text(rate.kzt_per_usd), "of": rate.day.isoformat(), "stale": rate.stale},
        "fixes": {
            a: {"value": _text(f.value), "status": f.status, "version": f.version}
            for a, f in sorted(fixes.items())
        },
    }


def runs(reserve: Reserve, start: date, end: date) -> list[ValuationRun]:
    with reserve.reading() as uow:
        return uow.market.runs_between(start, end)
