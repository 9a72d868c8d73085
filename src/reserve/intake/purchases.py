"""Purchases and conversions: a committee-approved proposal, then fills until done or cancelled.

A proposal converts part of the traditional reserves (FX, gold or the National Fund) into a
digital asset for a fund, within an execution window and a USD budget. The investment committee
approves it, M of its N members and never the proposer, for exactly the proposal as stored (its
request hash). Fills spend the budget: quantity times price plus fee, never beyond what the
committee approved. Each fill becomes a lot whose cost is what the fill paid, fee included, and
the funding leg is booked against the equity account of the source it came from. A closure
(completed or cancelled) ends the order: no fills nor approvals after it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext
from enum import StrEnum
from typing import Final

from reserve.core.errors import Problem
from reserve.core.money import (
    canonical_decimal,
    decimal_text,
    format_units,
    round_to_base_units,
    to_whole_units,
)
from reserve.governance.approvals import ApprovalRule
from reserve.governance.people import Role
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft


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
CLOSED: Final = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED})
ORDER_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
COMMITTEE_RULE: Final = "investment-committee"
MAX_MEMO: Final = 2000
MAX_REF: Final = 100  # the width of purchase_fills.ref
USD_CENTS: Final = 2  # a budget is in dollars and cents
EXACT_DIGITS: Final = 200  # costs are computed without rounding: wei times a price overflows 28
LOT_SOURCE: Final = "purchase"
USD: Final = "USD"  # what every purchase is paid in


def funding_equity(source: FundingSource, fund: str) -> str:
    """The fund's counterpart of what the source gave up, so each fund's book balances."""
    return f"{FUNDING_EQUITY[source]}:{fund}"


def trading_equity(fund: str) -> str:
    """Where a fund's purchases meet: units of the asset against the dollars paid for them."""
    return f"Equity:Trading:{fund}"


def venue_account(fund: str, asset: str, venue: str) -> str:
    """Bought units wait at the venue until withdrawn to custody."""
    return f"Assets:Reserve:{fund}:{asset}:Venue:{venue}"


def committee_rule(quorum: int) -> ApprovalRule:
    """M of the committee, the proposer excluded; M is the quorum stored with the order."""
    return ApprovalRule(COMMITTEE_RULE, frozenset({Role.COMMITTEE_MEMBER}), quorum=quorum)


def purchase_subject(order_id: str) -> str:
    """What approvals of a purchase name as their subject."""
    return f"purchase:{order_id}"


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
    memo: str = ""


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
        """What the fill cost, exactly: the fee is part of what the units cost."""
        with localcontext(prec=EXACT_DIGITS):
            return to_whole_units(self.quantity, decimals) * self.price_usd + self.fee_usd


@dataclass(frozen=True)
class RecordedPurchase:
    """A proposal as stored, with the quorum and the policy (its sha256) it was decided under."""

    proposal: Proposal
    request_hash: str
    quorum: int
    policy_sha256: str
    proposed_at: datetime


@dataclass(frozen=True)
class RecordedFill:
    """A fill as booked: ``fill.kzt_per_usd`` is the rate used, given or from the series."""

    order_id: str
    fill: Fill
    entry_seq: int
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class Closure:
    order_id: str
    status: OrderStatus
    reason: str
    closed_by: str
    closed_at: datetime


def purchase_request(proposal: Proposal) -> dict[str, str]:
    """What the committee approves: every field of the proposal, as JSON strings."""
    return {
        "order_id": proposal.order_id,
        "source": proposal.source.value,
        "amount_usd": decimal_text(proposal.amount_usd),
        "asset": proposal.asset,
        "fund": proposal.fund,
        "window_start": proposal.window_start.isoformat(),
        "window_end": proposal.window_end.isoformat(),
        "proposer": proposal.proposer,
        "memo": proposal.memo,
    }


def status_of(closure: Closure | None, *, approved: bool) -> OrderStatus:
    """Derived, never stored: a closure ends the order; before it, the approvals decide."""
    if closure is not None:
        return closure.status
    return OrderStatus.APPROVED if approved else OrderStatus.PROPOSED


def proposal_problems(proposal: Proposal, *, where: str) -> list[Problem]:
    problems: list[Problem] = []
    if not ORDER_ID.match(proposal.order_id):
        problems.append(
            Problem(where, "order_id", "must be 1-40 letters, digits and '-', e.g. PO-2025-007")
        )
    exponent = canonical_decimal(proposal.amount_usd).as_tuple().exponent
    if proposal.amount_usd <= 0:
        problems.append(Problem(where, "amount_usd", "must be positive"))
    elif isinstance(exponent, int) and exponent < -USD_CENTS:
        problems.append(Problem(where, "amount_usd", "is in dollars and cents, not finer"))
    if proposal.window_end < proposal.window_start:
        problems.append(Problem(where, "window", "ends before it starts"))
    if len(proposal.memo) > MAX_MEMO:
        problems.append(Problem(where, "memo", f"is longer than {MAX_MEMO} characters"))
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
    spent = spent_usd(done, decimals)
    if not problems and spent + fill.spent_usd(decimals) > proposal.amount_usd:
        left = proposal.amount_usd - spent
        bad(
            "quantity",
            f"the fill costs USD {fill.spent_usd(decimals):,.2f} but only USD {left:,.2f} "
            f"of the approved {proposal.amount_usd:,.2f} is left",
        )
    return problems


def fill_ref_problems(fill: Fill, *, where: str) -> list[Problem]:
    """The venue's trade id makes a fill recorded once, so it must be there."""
    if not fill.ref.strip() or len(fill.ref) > MAX_REF:
        return [Problem(where, "ref", f"the venue's trade id must be 1 to {MAX_REF} characters")]
    return []


def spent_usd(fills: Sequence[Fill], decimals: int) -> Decimal:
    """What ``fills`` cost together, exactly."""
    with localcontext(prec=EXACT_DIGITS):
        return canonical_decimal(sum((f.spent_usd(decimals) for f in fills), Decimal(0)))


def average_price_usd(fills: Sequence[Fill], decimals: int) -> Decimal | None:
    """The volume-weighted price per whole unit, fees left out (``None`` before any fill)."""
    units = sum(f.quantity for f in fills)
    if units == 0:
        return None
    with localcontext(prec=EXACT_DIGITS):
        paid = sum((to_whole_units(f.quantity, decimals) * f.price_usd for f in fills), Decimal(0))
    return paid / to_whole_units(units, decimals)


def fill_accounts(proposal: Proposal, fill: Fill) -> list[Account]:
    """The accounts a fill books to, in the order's fund, opened on first use."""
    fund = proposal.fund
    names = (
        venue_account(fund, proposal.asset, fill.venue),
        trading_equity(fund),
        funding_equity(proposal.source, fund),
    )
    return [Account(name, fund, fill.filled_on) for name in names]


def fill_entry(
    proposal: Proposal, fill: Fill, *, decimals: int, usd_decimals: int, day: date
) -> EntryDraft:
    """A fill (with its rate) as one entry dated ``day``, the day it is booked: the chain is
    kept in date order, so the lot keeps the fill's own date instead. Units arrive at the venue
    as a new lot costed at what the fill paid, against the fund's trading equity; the dollars
    paid, to the cent, go from the funding source's equity to the trading equity."""
    assert fill.kzt_per_usd is not None, "a fill is booked with the rate of its day"
    holding, trading, funding = (a.name for a in fill_accounts(proposal, fill))
    cost_usd = fill.spent_usd(decimals)
    with localcontext(prec=EXACT_DIGITS):
        cost_kzt = cost_usd * fill.kzt_per_usd
    source_ref = f"{proposal.order_id}/{fill.venue}:{fill.ref}"
    lot = LotOpening(LOT_SOURCE, source_ref, cost_usd, cost_kzt, acquired_on=fill.filled_on)
    asset = proposal.asset
    legs = [
        PostingDraft(holding, asset, fill.quantity, opens=lot),
        PostingDraft(trading, asset, -fill.quantity),
    ]
    cents = round_to_base_units(cost_usd, usd_decimals)
    if cents:  # a fill worth less than half a cent moves no dollars
        legs += [PostingDraft(trading, USD, cents), PostingDraft(funding, USD, -cents)]
    bought = format_units(fill.quantity, decimals)
    return EntryDraft(
        f"purchase:{proposal.order_id}:{fill.venue}:{fill.ref}",
        day,
        "purchase",
        f"Order {proposal.order_id}: bought {bought} {asset} on {fill.venue} on {fill.filled_on}",
        tuple(legs),
        {
            "order": proposal.order_id,
            "venue": fill.venue,
            "ref": fill.ref,
            "source": proposal.source.value,
        },
    )
