"""Marks: a holding valued at the day's fix, in USD and KZT, under the accounting policy.

A *holding* is units of one asset with their cost basis: one lot, or a group of lots summed by
fund, asset, account and provenance (the lot's ``source_kind``: seizure, forfeiture, mining,
purchase ...). A *mark* adds the fix and says what the holding is worth (fair value), what it is
carried at, and where the difference goes, under one of three bases:

* ``fair-value`` (through P&L): carried at fair value; the whole difference from cost is P&L.
* ``ias38-cost`` (IAS 38 cost model): carried at cost less impairment. Impairment is
  ``max(cost - fair, 0)`` to P&L; it reverses when prices recover, but never above cost.
* ``ias38-revaluation`` (IAS 38 revaluation model): carried at fair value; the part above cost
  is a revaluation surplus in OCI, the part below cost an impairment in P&L.

The impairment / OCI split is applied to the holding as given, so **per group**: grouping by
(fund, asset, account, provenance) and then marking nets lots within a group, as IAS 36 does
within a cash-generating unit. That is a deliberate aggregate-level simplification; mark
ungrouped lots to test lot by lot. Because impairment and surplus follow from cumulative cost
and today's fair value, a mark needs no history: a period's P&L or OCI is the change between
two marks.

KZT figures apply the same basis in tenge: fair value is the USD fair value at the day's
USD/KZT rate, compared with the lot's cost in tenge (at the rates of acquisition), so the tenge
impairment or surplus includes the currency's move. ``unrealised`` is fair value less cost on
every basis (the economic result not yet realised); ``impairment`` and ``revaluation_surplus``
say how much of it the basis recognises in P&L and OCI.

Arithmetic is exact: ``value_units`` multiplies an int of base units by a Decimal price with
as many digits as the product needs (1,000,000 ETH in wei times a 10-digit price is beyond
Decimal's default 28 digits), so the value of a sum of lots is the sum of their values.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from reserve.valuation.policy import Basis

GROUP_FIELDS: Final = ("fund", "asset", "account", "provenance")
ALL: Final = "*"  # a grouped field whose members disagree


@contextmanager
def exact_arithmetic() -> Iterator[decimal.Context]:
    """A decimal context in which sums, differences and products never round.

    Precision is the largest the decimal module allows (it costs nothing: an addition or a
    product only ever takes the digits its operands need), and ``Inexact`` is trapped, so an
    accidental division that would round raises instead of passing a rounded figure as exact.
    """
    with decimal.localcontext(
        prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
    ) as ctx:
        ctx.traps[decimal.Inexact] = True
        yield ctx


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``values`` (``Decimal(0)`` when empty), whatever the caller's context."""
    total = Decimal(0)
    with exact_arithmetic():
        for value in values:
            total += value
    return total


def value_units(units: int, decimals: int, price: Decimal) -> Decimal:
    """``units`` base units of an asset with ``decimals`` decimals at ``price``, exactly."""
    if not price.is_finite():
        raise ValueError(f"price must be a finite number, not {price}")
    if decimals < 0:
        raise ValueError(f"decimals must be 0 or more, not {decimals}")
    with exact_arithmetic():
        return (Decimal(units) * price).scaleb(-decimals)


@dataclass(frozen=True)
class Holding:
    """Units of one asset and their cost: one lot, or a group of lots (see ``group``)."""

    fund: str | None  # None: seized units held for a case, no fund's
    asset: str
    account: str
    provenance: str  # the lot's source_kind: seizure, forfeiture, mining, purchase ...
    units: int
    cost_usd: Decimal
    cost_kzt: Decimal


@dataclass(frozen=True)
class Mark:
    """A holding valued on a day. Values are None when there is no price (or, for KZT, no
    rate); impairment and surplus are then 0, since nothing can be recognised without one."""

    holding: Holding
    basis: Basis
    decimals: int
    fix: Decimal | None
    fix_status: str
    kzt_per_usd: Decimal | None
    fair_usd: Decimal | None
    fair_kzt: Decimal | None
    carrying_usd: Decimal | None
    carrying_kzt: Decimal | None
    unrealised_usd: Decimal | None  # fair value less cost, on every basis
    unrealised_kzt: Decimal | None
    impairment_usd: Decimal  # recognised in P&L (cost model, or revaluation below cost)
    impairment_kzt: Decimal
    revaluation_surplus_usd: Decimal  # recognised in OCI (revaluation model, above cost)
    revaluation_surplus_kzt: Decimal

    @property
    def priced(self) -> bool:
        return self.fair_usd is not None


def _apply_basis(
    basis: Basis, *, fair: Decimal | None, cost: Decimal
) -> tuple[Decimal | None, Decimal | None, Decimal, Decimal]:
    """(carrying, unrealised, impairment, surplus) of one holding in one currency."""
    if fair is None:
        return None, None, Decimal(0), Decimal(0)
    with exact_arithmetic():
        shortfall = max(cost - fair, Decimal(0))
        excess = max(fair - cost, Decimal(0))
        unrealised = fair - cost
        if basis == "fair-value":
            return fair, unrealised, Decimal(0), Decimal(0)
        if basis == "ias38-cost":
            return cost - shortfall, unrealised, shortfall, Decimal(0)
        if basis == "ias38-revaluation":
            return fair, unrealised, shortfall, excess
    raise ValueError(f"unknown valuation basis {basis!r}")


def mark(
    holding: Holding,
    *,
    decimals: int,
    fix: Decimal | None,
    fix_status: str,
    kzt_per_usd: Decimal | None,
    basis: Basis,
) -> Mark:
    """Value ``holding`` at ``fix`` (USD per whole unit) and ``kzt_per_usd`` under ``basis``.

    The fix's status is carried along whatever it is: a flagged fix still values the holding
    (the alerts say it is flagged); no fix at all leaves every value None.
    """
    fair_usd = None if fix is None else value_units(holding.units, decimals, fix)
    fair_kzt: Decimal | None = None
    if fair_usd is not None and kzt_per_usd is not None:
        with exact_arithmetic():
            fair_kzt = fair_usd * kzt_per_usd
    carrying_usd, unrealised_usd, impairment_usd, surplus_usd = _apply_basis(
        basis, fair=fair_usd, cost=holding.cost_usd
    )
    carrying_kzt, unrealised_kzt, impairment_kzt, surplus_kzt = _apply_basis(
        basis, fair=fair_kzt, cost=holding.cost_kzt
    )
    return Mark(
        holding=holding,
        basis=basis,
        decimals=decimals,
        fix=fix,
        fix_status=fix_status,
        kzt_per_usd=kzt_per_usd,
        fair_usd=fair_usd,
        fair_kzt=fair_kzt,
        carrying_usd=carrying_usd,
        carrying_kzt=carrying_kzt,
        unrealised_usd=unrealised_usd,
        unrealised_kzt=unrealised_kzt,
        impairment_usd=impairment_usd,
        impairment_kzt=impairment_kzt,
        revaluation_surplus_usd=surplus_usd,
        revaluation_surplus_kzt=surplus_kzt,
    )


def _common_account(accounts: Sequence[str]) -> str:
    """The longest common ``:``-prefix of accounts, so a group of reserve accounts is still
    under ``Assets:Reserve`` and one mixing reserve and custody accounts is under neither."""
    parts = [a.split(":") for a in accounts]
    common: list[str] = []
    for segments in zip(*parts, strict=False):
        if any(s != segments[0] for s in segments):
            break
        common.append(segments[0])
    return ":".join(common) or ALL


def group(holdings: Iterable[Holding], *, by: Sequence[str]) -> list[Holding]:
    """Holdings summed (units and costs, exactly) per distinct value of the fields ``by``.

    ``by`` must include ``asset``: units of different assets do not add. A field left out of
    ``by`` keeps its value where every member shares it; otherwise the account becomes the
    members' longest common account prefix and any other field ``"*"``. Sorted by the key.
    """
    unknown = [f for f in by if f not in GROUP_FIELDS]
    if unknown:
        raise ValueError(f"cannot group by {unknown}; fields are {list(GROUP_FIELDS)}")
    if "asset" not in by:
        raise ValueError("group by asset too: units of different assets do not add")
    members: dict[tuple[str | None, ...], list[Holding]] = {}
    for holding in holdings:
        key = tuple(getattr(holding, f) for f in by)
        members.setdefault(key, []).append(holding)
    grouped = []
    for key in sorted(members, key=lambda k: tuple((v is None, v or "") for v in k)):
        found = members[key]
        fund = {h.fund for h in found}
        provenance = {h.provenance for h in found}
        grouped.append(
            Holding(
                fund=fund.pop() if len(fund) == 1 else ALL,
                asset=found[0].asset,
                account=_common_account([h.account for h in found]),
                provenance=provenance.pop() if len(provenance) == 1 else ALL,
                units=sum(h.units for h in found),
                cost_usd=exact_sum(h.cost_usd for h in found),
                cost_kzt=exact_sum(h.cost_kzt for h in found),
            )
        )
    return grouped
