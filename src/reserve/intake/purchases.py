"""Purchases and conversions: a committee-approved proposal, then fills until done or cancelled.

A proposal converts part of the traditional reserves (FX, gold or the National Fund) into a
digital asset for a fund, within an execution window and a USD budget. Fills spend the budget:
quantity times price plus fee, never beyond what the committee approved. Each fill becomes a lot
whose cost is what the fill paid, and the funding leg is booked against the equity account of
the source it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

from reserve.core.errors import Problem
from reserve.core.money import to_whole_units


class FundingSource(StrEnum):
    FX = "FX"
    GOLD = "GOLD"
    NATIONAL_FUND = "NATIONAL_FUND"


class OrderStatus(StrEnum):
    PROPOSED = "PROPOSED"
    APPROVED = "APPROVED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


FUNDING_EQUITY: Final = {
    FundingSource.FX: "Equity:Conversion:FX",
    FundingSource.GOLD: "Equity:Conversion:Gold",
    FundingSource.NATIONAL_FUND: "Equity:Conversion:NationalFund",
}


@dataclass(frozen=True)
class Proposal:
    order_id: str
    source: FundingSource
    amount_usd: Decimal
    asset: str
    fund: str
    window_start: date
    window_end: date
    proposer: str


@dataclass(frozen=True)
class Fill:
    venue: str
    quantity: int  # base units of the asset bought
    price_usd: Decimal  # per whole unit
    fee_usd: Decimal
    filled_on: date
    ref: str = ""  # the venue's trade id: with the venue, what makes a fill recorded once
    kzt_per_usd: Decimal | None = None  # None: the bundled series' rate of the fill's day

    def spent_usd(self, decimals: int) -> Decimal:
        return to_whole_units(self.quantity, decimals) * self.price_usd + self.fee_usd


def proposal_problems(proposal: Proposal, *, where: str) -> list[Problem]:
    problems: list[Problem] = []
    if proposal.amount_usd <= 0:
        problems.append(Problem(where, "amount_usd", "must be positive"))
    if proposal.window_end < proposal.window_start:
        problems.append(Problem(where, "window", "ends before it starts"))
    return problems


def fill_problems(
    proposal: Proposal,
    status: OrderStatus,
    done: Sequence[Fill],
    fill: Fill,
    *,
    decimals: int,
    where: str,
) -> list[Problem]:
    """Every reason ``fill`` cannot be booked against ``proposal`` after the fills ``done``."""
    problems: list[Problem] = []

    def bad(field: str, reason: str) -> None:
        problems.append(Problem(where, field, reason))

    if status is not OrderStatus.APPROVED:
        bad("order", f"order {proposal.order_id} is {status}, not APPROVED: it takes no fills")
    if fill.quantity <= 0:
        bad("quantity", "must be positive")
    if fill.price_usd <= 0:
        bad("price_usd", "must be positive")
    if fill.fee_usd < 0:
        bad("fee_usd", "cannot be negative")
    if not proposal.window_start <= fill.filled_on <= proposal.window_end:
        bad(
            "filled_on",
            f"{fill.filled_on} is outside the approved window "
            f"{proposal.window_start}..{proposal.window_end}",
        )
    spent = sum((f.spent_usd(decimals) for f in done), Decimal(0))
    if not problems and spent + fill.spent_usd(decimals) > proposal.amount_usd:
        left = proposal.amount_usd - spent
        bad(
            "quantity",
            f"the fill costs USD {fill.spent_usd(decimals):,.2f} but only USD {left:,.2f} "
            f"of the approved {proposal.amount_usd:,.2f} is left",
        )
    return problems
