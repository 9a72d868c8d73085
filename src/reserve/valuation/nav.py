"""NAV: each fund's net asset value, the reserve's, its share of national reserves, and the
custodial statement of units held for cases.

Only accounts under ``Assets:Reserve:`` count towards NAV. Seized units held for cases sit
under ``Assets:Custody:`` in no fund: they are not the state's until forfeited and transferred,
so they are never in NAV; ``custodial_statement`` values them on their own, at fair value only
(no accounting policy applies to assets the state does not own).

A fund's NAV is its holdings at their carrying amount under the policy plus its cash. Holdings
without a price are left out of every sum of the fund and named in ``missing_prices``, so the
figures stay consistent with each other (fair less cost is unrealised) and a reader sees the NAV
is incomplete rather than a number silently short. NAV in tenge is NAV in dollars translated at
the day's USD/KZT rate (the presentation-currency view), None when there is no rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final

from reserve.valuation.marks import Mark, exact_arithmetic, exact_sum, mark
from reserve.valuation.policy import Basis, NationalReserves

RESERVE_ROOT: Final = "Assets:Reserve"
CUSTODY_ROOT: Final = "Assets:Custody"
CONSOLIDATED: Final = "RESERVE"
SHARE_DIGITS: Final = 28  # a fraction, formatted by the caller; 28 digits is far beyond display


def _under(account: str, root: str) -> bool:
    return account == root or account.startswith(root + ":")


def is_custodial(account: str) -> bool:
    """Whether ``account`` holds seized units for a case (under ``Assets:Custody:``)."""
    return _under(account, CUSTODY_ROOT)


def is_reserve(account: str) -> bool:
    """Whether ``account`` holds the state's own reserve assets (under ``Assets:Reserve:``)."""
    return _under(account, RESERVE_ROOT)


@dataclass(frozen=True)
class FundNav:
    fund: str
    basis: Basis
    carrying_usd: Decimal
    fair_usd: Decimal
    cost_usd: Decimal
    unrealised_usd: Decimal
    cash_usd: Decimal
    nav_usd: Decimal  # carrying + cash
    nav_kzt: Decimal | None  # nav_usd at the day's rate; None without a rate
    missing_prices: tuple[str, ...]  # assets held but not priced: the NAV leaves them out

    @property
    def complete(self) -> bool:
        return not self.missing_prices


def _one_basis(bases: Iterable[Basis], given: Basis | None) -> Basis:
    found = set(bases) | ({given} if given is not None else set())
    if len(found) > 1:
        raise ValueError(f"one valuation mixes bases {sorted(found)}; value under one policy")
    if not found:
        raise ValueError("no marks to take the basis from: pass basis=")
    return found.pop()


def _kzt(nav_usd: Decimal, kzt_per_usd: Decimal | None) -> Decimal | None:
    if kzt_per_usd is None:
        return None
    with exact_arithmetic():
        return nav_usd * kzt_per_usd


def nav_by_fund(
    marks: Iterable[Mark],
    cash_usd: Mapping[str, Decimal],
    kzt_per_usd: Decimal | None,
    *,
    basis: Basis | None = None,
) -> list[FundNav]:
    """Each fund's NAV from the marks of its ``Assets:Reserve:`` accounts and its cash.

    Marks of other accounts (custody) are ignored. Every mark must be under one basis (``basis``
    when given, which also names the basis of a fund holding only cash; without marks or
    ``basis`` the basis is unknown and ValueError is raised). A fund with cash and no holdings
    still gets its NAV. Sorted by fund.
    """
    reserve = [m for m in marks if is_reserve(m.holding.account)]
    unfunded = sorted({m.holding.account for m in reserve if m.holding.fund is None})
    if unfunded:
        raise ValueError(f"reserve accounts without a fund: {unfunded}")
    by_fund: dict[str, list[Mark]] = {fund: [] for fund in cash_usd}
    for m in reserve:
        by_fund.setdefault(str(m.holding.fund), []).append(m)
    if not by_fund:
        return []
    the_basis = _one_basis((m.basis for m in reserve), basis)
    navs = []
    for fund in sorted(by_fund):
        priced = [m for m in by_fund[fund] if m.priced]
        unpriced = [m for m in by_fund[fund] if not m.priced]
        carrying = exact_sum(m.carrying_usd for m in priced if m.carrying_usd is not None)
        cash = cash_usd.get(fund, Decimal(0))
        with exact_arithmetic():
            nav_usd = carrying + cash
        navs.append(
            FundNav(
                fund=fund,
                basis=the_basis,
                carrying_usd=carrying,
                fair_usd=exact_sum(m.fair_usd for m in priced if m.fair_usd is not None),
                cost_usd=exact_sum(m.holding.cost_usd for m in priced),
                unrealised_usd=exact_sum(
                    m.unrealised_usd for m in priced if m.unrealised_usd is not None
                ),
                cash_usd=cash,
                nav_usd=nav_usd,
                nav_kzt=_kzt(nav_usd, kzt_per_usd),
                missing_prices=tuple(sorted({m.holding.asset for m in unpriced})),
            )
        )
    return navs


def consolidated(navs: Sequence[FundNav]) -> FundNav:
    """The reserve's NAV: every fund's figures summed (fund ``"RESERVE"``).

    Tenge NAV is the sum of the funds' when every fund has one, else None.
    """
    if not navs:
        raise ValueError("no fund NAVs to consolidate")
    kzt = [n.nav_kzt for n in navs]
    return FundNav(
        fund=CONSOLIDATED,
        basis=_one_basis((n.basis for n in navs), None),
        carrying_usd=exact_sum(n.carrying_usd for n in navs),
        fair_usd=exact_sum(n.fair_usd for n in navs),
        cost_usd=exact_sum(n.cost_usd for n in navs),
        unrealised_usd=exact_sum(n.unrealised_usd for n in navs),
        cash_usd=exact_sum(n.cash_usd for n in navs),
        nav_usd=exact_sum(n.nav_usd for n in navs),
        nav_kzt=None if None in kzt else exact_sum(k for k in kzt if k is not None),
        missing_prices=tuple(sorted({a for n in navs for a in n.missing_prices})),
    )


def reserve_share(nav_usd: Decimal, national_reserves: NationalReserves) -> Decimal:
    """The reserve's NAV as a fraction of the configured national reserves (0.0123 is 1.23 %).

    A quotient, so rounded to ``SHARE_DIGITS`` significant digits whatever the caller's context;
    the caller prints it next to the denominator's name, date and source.
    """
    with localcontext(prec=SHARE_DIGITS):
        return nav_usd / national_reserves.amount_usd


def custodial_statement(marks: Iterable[Mark]) -> list[Mark]:
    """The marks of seized units held for cases, re-marked at fair value (nothing else applies
    to assets the state does not own), in the order given."""
    return [
        mark(
            m.holding,
            decimals=m.decimals,
            fix=m.fix,
            fix_status=m.fix_status,
            kzt_per_usd=m.kzt_per_usd,
            basis="fair-value",
        )
        for m in marks
        if is_custodial(m.holding.account)
    ]
