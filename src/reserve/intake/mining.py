"""State mining output and the rule that splits it between sale and retention.

Private and state miners must sell a share of their output through licensed venues; the share
is published rule, not code (reported as 50% in 2024 and 75% from 2025), so it is configuration:
a list of effective-dated rules. The part to sell is rounded up to the base unit, so rounding can
never leave the sold share below the rule.

A month's output becomes two lots of the operation's fund, one for sale and one retained, both
acquired on the month's last day and costed pro rata (production cost or fair value, by policy).
A sale relieves the month's for-sale lot; the period report compares what was sold with what the
rule required and flags every month that sold too little.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Final

from reserve.core.errors import Problem
from reserve.core.money import to_whole_units
from reserve.intake.cases import TXID
from reserve.intake.custody_accounts import CASE_NUMBER

OPERATION_CODE: Final = CASE_NUMBER  # letters, digits and '-': it names accounts and lots
PERIOD: Final = re.compile(r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")
CENT: Final = Decimal("0.01")
MAX_TEXT: Final = 200
MAX_REF: Final = 100  # the width of mining_sales.ref
OK: Final = "OK"
SHORTFALL: Final = "SHORTFALL"


@dataclass(frozen=True)
class MiningOperation:
    """A state mining site; its output belongs to ``fund`` and is paid out in ``asset``."""

    code: str
    site: str
    operator: str
    tariff_kzt_per_mwh: Decimal
    fund: str = "SFDA"
    asset: str = "BTC"


@dataclass(frozen=True)
class MiningOutput:
    """One period's output of an operation, as the pool paid it out."""

    operation: str
    period: str  # YYYY-MM
    amount: int
    payout_txids: tuple[str, ...]
    energy_mwh: Decimal
    cost_kzt: Decimal
    kzt_per_usd: Decimal | None = None  # None: the bundled series' rate of the period's end
    fair_value_usd: Decimal | None = None  # of the whole output at receipt (fair-value policy)


@dataclass(frozen=True)
class SaleRule:
    """From ``effective_from`` on, at least ``sell_share`` of each period's output is sold."""

    effective_from: date
    sell_share: Decimal
    source: str = ""


@dataclass(frozen=True)
class OutputSplit:
    to_sell: int
    to_retain: int
    rule: SaleRule


def rule_problems(rules: Sequence[SaleRule]) -> list[Problem]:
    problems: list[Problem] = []
    for index, rule in enumerate(rules):
        where = f"sale rule {index + 1} ({rule.effective_from})"
        if not Decimal(0) <= rule.sell_share <= Decimal(1):
            problems.append(Problem(where, "sell_share", f"{rule.sell_share} is not within 0..1"))
    days = [rule.effective_from for rule in rules]
    if len(days) != len(set(days)):
        problems.append(
            Problem("sale rules", "effective_from", "two rules take effect the same day")
        )
    return problems


def rule_on(rules: Sequence[SaleRule], day: date) -> SaleRule | None:
    """The rule in force on ``day``: the latest that took effect on or before it."""
    in_force = [rule for rule in rules if rule.effective_from <= day]
    return max(in_force, key=lambda rule: rule.effective_from) if in_force else None


def split_output(amount: int, rule: SaleRule) -> OutputSplit:
    """Split ``amount`` base units: the sold part rounded up, the rest retained."""
    to_sell = int((Decimal(amount) * rule.sell_share).to_integral_value(rounding=ROUND_CEILING))
    return OutputSplit(to_sell, amount - to_sell, rule)


def sold_share_shortfall(output: int, sold: int, rule: SaleRule) -> int:
    """Base units still to sell for the period to meet the rule (0 when it is met)."""
    return max(split_output(output, rule).to_sell - sold, 0)


def cents(value: Decimal) -> Decimal:
    """USD and KZT amounts are kept to the cent, half up as accountants round."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# -- periods, accounts and lots -------------------------------------------------------------
def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a ``YYYY-MM`` period (one that matches ``PERIOD``)."""
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def for_sale_account(op: MiningOperation) -> str:
    return f"Assets:Reserve:{op.fund}:{op.asset}:Mining:{op.code}:ForSale"


def retained_account(op: MiningOperation) -> str:
    return f"Assets:Reserve:{op.fund}:{op.asset}:Mining:{op.code}:Retained"


def mining_income(op: MiningOperation) -> str:
    """The counterpart of mined units: the fund earned them."""
    return f"Income:Mining:{op.fund}:{op.code}"


def trading_equity(fund: str) -> str:
    """Where sold units leave the fund's book and the proceeds enter it."""
    return f"Equity:Trading:{fund}"


def usd_cash(fund: str) -> str:
    return f"Assets:Reserve:{fund}:Cash:USD"


def trading_fees(fund: str) -> str:
    return f"Expenses:Fees:Trading:{fund}"


def sell_lot(code: str, period: str) -> str:
    return f"mining:{code}:{period}:sell"


def retain_lot(code: str, period: str) -> str:
    return f"mining:{code}:{period}:retain"


# -- checks -----------------------------------------------------------------------------------
def operation_problems(op: MiningOperation, *, where: str) -> list[Problem]:
    problems: list[Problem] = []
    if not OPERATION_CODE.match(op.code):
        problems.append(Problem(where, "code", "must be 1-40 letters, digits and '-', e.g. EKB-1"))
    for name, value in (("site", op.site), ("operator", op.operator)):
        if not value.strip() or len(value) > MAX_TEXT:
            problems.append(Problem(where, name, f"must be 1 to {MAX_TEXT} characters"))
    if op.tariff_kzt_per_mwh <= 0:
        problems.append(Problem(where, "tariff_kzt_per_mwh", "must be positive"))
    return problems


def period_problems(
    period: str, *, today: date, where: str, field: str = "period"
) -> list[Problem]:
    """A period is a month written ``YYYY-MM`` that has ended by ``today``."""
    if not PERIOD.match(period):
        return [Problem(where, field, f"{period!r} is not a month written YYYY-MM")]
    last = period_bounds(period)[1]
    if last > today:
        return [Problem(where, field, f"the period has not ended: {period} runs to {last}")]
    return []


def output_problems(output: MiningOutput, *, today: date, where: str) -> list[Problem]:
    """Everything wrong with the report itself, before the books and the policy are asked."""
    problems = period_problems(output.period, today=today, where=where)

    def bad(field: str, reason: str) -> None:
        problems.append(Problem(where, field, reason))

    if output.amount <= 0:
        bad("amount", "must be positive")
    if not output.payout_txids:
        bad("payout_txids", "name at least one payout transaction")
    for txid in output.payout_txids:
        if not TXID.match(txid):
            bad("payout_txids", f"{txid!r} is not a 64-hex transaction id")
    if len(set(output.payout_txids)) != len(output.payout_txids):
        bad("payout_txids", "a payout transaction is listed twice")
    for name, value in (("energy_mwh", output.energy_mwh), ("cost_kzt", output.cost_kzt)):
        if value < 0:
            bad(name, "must not be negative")
    if output.fair_value_usd is not None and output.fair_value_usd < 0:
        bad("fair_value_usd", "must not be negative")
    return problems


def payouts_reported(
    output: MiningOutput, earlier: Iterable[MiningOutput], *, where: str
) -> list[Problem]:
    """A payout belongs to one month: a txid another month already reported is refused."""
    seen = {t: e.period for e in earlier if e.period != output.period for t in e.payout_txids}
    return [
        Problem(where, "payout_txids", f"{txid} is already reported for {seen[txid]}")
        for txid in output.payout_txids
        if txid in seen
    ]


def same_report(stored: MiningOutput, given: MiningOutput) -> bool:
    """A replay repeats the report; a rate left out means the rate used the first time."""
    rate = stored.kzt_per_usd if given.kzt_per_usd is None else given.kzt_per_usd
    return stored == replace(given, kzt_per_usd=rate)


# -- costs ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cost:
    """A cost basis in USD and KZT."""

    usd: Decimal
    kzt: Decimal


def production_cost(cost_kzt: Decimal, kzt_per_usd: Decimal) -> Cost:
    """The period's energy cost, converted at the period's closing rate."""
    return Cost(cents(cost_kzt / kzt_per_usd), cost_kzt)


def fair_value_cost(fair_value_usd: Decimal, kzt_per_usd: Decimal) -> Cost:
    return Cost(fair_value_usd, cents(fair_value_usd * kzt_per_usd))


def split_cost(cost: Cost, split: OutputSplit) -> tuple[Cost, Cost]:
    """The for-sale lot's cost pro rata (to the cent), the retained lot the rest, so the two
    always add up to the whole."""
    amount = split.to_sell + split.to_retain
    if amount == 0:
        return Cost(Decimal(0), Decimal(0)), cost
    share = Decimal(split.to_sell) / Decimal(amount)
    sell = Cost(cents(cost.usd * share), cents(cost.kzt * share))
    return sell, Cost(cost.usd - sell.usd, cost.kzt - sell.kzt)


# -- sales ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MiningSale:
    """Units of a period's for-sale lot sold on a licensed venue; (venue, ref) names it once."""

    operation: str
    period: str  # YYYY-MM: whose for-sale lot the units come from
    venue: str
    ref: str  # the venue's trade id
    quantity: int  # base units
    price_usd: Decimal  # per whole unit
    fee_usd: Decimal
    sold_on: date

    def gross_usd(self, decimals: int) -> Decimal:
        return cents(to_whole_units(self.quantity, decimals) * self.price_usd)

    def proceeds_usd(self, decimals: int) -> Decimal:
        return self.gross_usd(decimals) - self.fee_usd


def sale_problems(
    sale: MiningSale, *, decimals: int | None, today: date, where: str
) -> list[Problem]:
    """Everything wrong with the sale itself, before the venue list and the lot are asked;
    ``decimals`` of the mined asset, ``None`` when the operation is unknown."""
    problems: list[Problem] = []

    def bad(field: str, reason: str) -> None:
        problems.append(Problem(where, field, reason))

    if not PERIOD.match(sale.period):
        bad("period", f"{sale.period!r} is not a month written YYYY-MM")
    elif sale.sold_on < period_bounds(sale.period)[0]:
        bad("sold_on", f"{sale.sold_on} is before the period {sale.period} began")
    if sale.sold_on > today:
        bad("sold_on", f"{sale.sold_on} is in the future")
    if not sale.ref.strip() or len(sale.ref) > MAX_REF:
        bad("ref", f"must be 1 to {MAX_REF} characters")
    if sale.quantity <= 0:
        bad("quantity", "must be positive")
    if sale.price_usd <= 0:
        bad("price_usd", "must be positive")
    if sale.fee_usd < 0:
        bad("fee_usd", "must not be negative")
    elif sale.fee_usd != sale.fee_usd.quantize(CENT):
        bad("fee_usd", f"{sale.fee_usd} is not a whole number of cents")
    if decimals is not None and sale.quantity > 0 and sale.price_usd > 0:
        gross = sale.gross_usd(decimals)
        if gross == 0:
            bad("quantity", "the sale's gross proceeds round to USD 0.00")
        elif sale.fee_usd > gross:
            bad("fee_usd", f"{sale.fee_usd} exceeds the sale's gross proceeds {gross}")
    return problems


# -- records and the period report ------------------------------------------------------------
@dataclass(frozen=True)
class RecordedOutput:
    """An output as booked: the rate used, the rule's split, the cost basis and its policy."""

    output: MiningOutput  # kzt_per_usd is the rate used
    split: OutputSplit
    cost_basis: str
    cost_usd: Decimal  # of the whole output
    policy_sha256: str
    entry_seq: int


@dataclass(frozen=True)
class RecordedSale:
    sale: MiningSale
    cost_usd: Decimal  # of the for-sale units relieved
    realised_usd: Decimal  # proceeds less that cost
    policy_sha256: str
    entry_seq: int


@dataclass(frozen=True)
class PeriodLine:
    """One operation's month: what the rule required sold, what was sold, and at what result."""

    operation: str
    period: str
    asset: str
    output: int
    rule: SaleRule
    required: int
    sold: int
    shortfall: int
    retained: int
    proceeds_usd: Decimal
    cost_sold_usd: Decimal
    realised_usd: Decimal

    @property
    def flag(self) -> str:
        return SHORTFALL if self.sold < self.required else OK


def period_lines(
    outputs: Iterable[RecordedOutput],
    sales: Iterable[RecordedSale],
    *,
    assets: Mapping[str, str],
    decimals: Mapping[str, int],
) -> list[PeriodLine]:
    """One line per recorded output, by operation and period, with its sales summed.

    ``assets`` maps each operation to the asset it mines, ``decimals`` each asset to its decimals.
    """
    by_period: dict[tuple[str, str], list[RecordedSale]] = {}
    for s in sales:
        by_period.setdefault((s.sale.operation, s.sale.period), []).append(s)
    lines = []
    for r in sorted(outputs, key=lambda r: (r.output.operation, r.output.period)):
        op, period, asset = r.output.operation, r.output.period, assets[r.output.operation]
        done = by_period.get((op, period), [])
        sold = sum(s.sale.quantity for s in done)
        lines.append(
            PeriodLine(
                operation=op,
                period=period,
                asset=asset,
                output=r.output.amount,
                rule=r.split.rule,
                required=r.split.to_sell,
                sold=sold,
                shortfall=sold_share_shortfall(r.output.amount, sold, r.split.rule),
                retained=r.split.to_retain,
                proceeds_usd=sum((s.sale.proceeds_usd(decimals[asset]) for s in done), _ZERO),
                cost_sold_usd=sum((s.cost_usd for s in done), _ZERO),
                realised_usd=sum((s.realised_usd for s in done), _ZERO),
            )
        )
    return lines


_ZERO: Final = Decimal(0)
