"""State mining output and the rule that splits it between sale and retention.

Private and state miners must sell a share of their output through licensed venues; the share
is published rule, not code (reported as 50% in 2024 and 75% from 2025), so it is configuration:
a list of effective-dated rules. The part to sell is rounded up to the base unit, so rounding can
never leave the sold share below the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal

from reserve.core.errors import Problem


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
