"""Purchases: fills spend the committee's budget, inside its window, never beyond."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from reserve.intake.purchases import (
    Fill,
    FundingSource,
    OrderStatus,
    Proposal,
    fill_problems,
    proposal_problems,
)

PROPOSAL = Proposal(
    "PO-2025-007", FundingSource.FX, Decimal("300000000"), "BTC", "SFDA",
    date(2025, 1, 6), date(2025, 2, 5), proposer="ic-chair",
)  # fmt: skip
SLICE = Fill(
    "AIFC-X", 50_000_000_000, Decimal("98000"), Decimal("4900"), date(2025, 1, 7)
)  # 500 BTC


def reasons(done: list[Fill], fill: Fill, status: OrderStatus = OrderStatus.APPROVED) -> list[str]:
    found = fill_problems(PROPOSAL, status, done, fill, decimals=8, where="fill 1")
    return [f"{p.field}: {p.reason}" for p in found]


def test_a_fill_spends_quantity_times_price_plus_fee() -> None:
    assert SLICE.spent_usd(8) == Decimal("49004900")
    assert reasons([], SLICE) == []


def test_fills_beyond_the_approved_amount_are_refused() -> None:
    done = [SLICE] * 6  # USD 294,029,400 spent
    assert reasons(done, SLICE) == [
        "quantity: the fill costs USD 49,004,900.00 but only USD 5,970,600.00 "
        "of the approved 300,000,000.00 is left"
    ]
    small = replace(SLICE, quantity=6_000_000_000)  # 60 BTC = 5,880,000 + fee 4,900
    assert reasons(done, small) == []


def test_fills_outside_the_window_or_on_a_closed_order_are_refused() -> None:
    late = replace(SLICE, filled_on=date(2025, 2, 6))
    assert reasons([], late) == [
        "filled_on: 2025-02-06 is outside the approved window 2025-01-06..2025-02-05"
    ]
    assert reasons([], SLICE, OrderStatus.CANCELLED) == [
        "order: order PO-2025-007 is CANCELLED, not APPROVED: it takes no fills"
    ]


def test_a_proposal_needs_a_budget_and_a_window() -> None:
    bad = replace(PROPOSAL, amount_usd=Decimal(0), window_end=date(2025, 1, 1))
    assert [p.field for p in proposal_problems(bad, where="proposal")] == ["amount_usd", "window"]
