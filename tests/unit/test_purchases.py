"""Purchases: fills spend the committee's budget, inside its window, never beyond, and each
becomes one entry: a lot at the venue costed at what it paid, and the funding leg in cents."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from reserve.core.money import round_to_base_units
from reserve.governance.approvals import request_hash
from reserve.intake.purchases import (
    Closure,
    Fill,
    FundingSource,
    OrderStatus,
    Proposal,
    fill_entry,
    fill_problems,
    proposal_problems,
    purchase_request,
    status_of,
)

PROPOSAL = Proposal(
    "PO-2025-007", FundingSource.FX, Decimal("300000000"), "BTC", "SFDA",
    date(2025, 1, 6), date(2025, 2, 5), proposer="ic-chair",
)  # fmt: skip
SLICE = Fill(
    "AIFC-X", 50_000_000_000, Decimal("98000"), Decimal("4900"), date(2025, 1, 7)
)  # 500 BTC
DAY = date(2025, 1, 8)


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


def test_the_request_hash_is_stable_across_spellings_and_covers_the_memo() -> None:
    digest = request_hash(purchase_request(PROPOSAL))
    assert request_hash(purchase_request(replace(PROPOSAL, amount_usd=Decimal("3E+8")))) == digest
    assert request_hash(purchase_request(replace(PROPOSAL, memo="other"))) != digest
    assert purchase_request(PROPOSAL)["amount_usd"] == "300000000"


def test_a_proposal_has_a_valid_order_id_and_a_budget_in_cents() -> None:
    bad = replace(PROPOSAL, order_id="-PO 7", amount_usd=Decimal("1.005"), memo="m" * 2001)
    assert [p.field for p in proposal_problems(bad, where="proposal")] == [
        "order_id", "amount_usd", "memo",
    ]  # fmt: skip
    assert proposal_problems(replace(PROPOSAL, amount_usd=Decimal("1.50")), where="p") == []


def test_costs_are_exact_even_in_wei() -> None:
    wei = Fill("AIX", 123_456_789_012_345_678_901, Decimal("3456.789012345"), Decimal(0), DAY)
    assert str(wei.spent_usd(18)) == "426764.071757271467379916295032845"  # 33 digits, not 28


def test_dollar_legs_are_rounded_to_the_cent_half_up() -> None:
    assert round_to_base_units(Decimal("0.005"), 2) == 1
    assert round_to_base_units(Decimal("0.0049"), 2) == 0
    assert round_to_base_units(Decimal("148549696.9065"), 2) == 14_854_969_691


def test_a_fill_is_one_entry_a_lot_at_the_venue_and_the_funding_leg() -> None:
    booked = replace(SLICE, ref="T-1", kzt_per_usd=Decimal("500"))
    entry = fill_entry(PROPOSAL, booked, decimals=8, usd_decimals=2, day=date(2025, 2, 10))
    assert (entry.idempotency_key, entry.date, entry.kind) == (
        "purchase:PO-2025-007:AIFC-X:T-1", date(2025, 2, 10), "purchase",
    )  # fmt: skip
    assert [(p.account, p.asset, p.amount) for p in entry.postings] == [
        ("Assets:Reserve:SFDA:BTC:Venue:AIFC-X", "BTC", 50_000_000_000),
        ("Equity:Trading:SFDA", "BTC", -50_000_000_000),
        ("Equity:Trading:SFDA", "USD", 4_900_490_000),
        ("Equity:Conversion:FX:SFDA", "USD", -4_900_490_000),
    ]
    lot = entry.postings[0].opens
    assert lot is not None
    assert (lot.source_kind, lot.source_ref, lot.acquired_on) == (
        "purchase", "PO-2025-007/AIFC-X:T-1", date(2025, 1, 7),
    )  # fmt: skip
    assert (lot.cost_usd, lot.cost_kzt) == (Decimal("49004900"), Decimal("24502450000"))
    dust = replace(booked, quantity=1, price_usd=Decimal("0.01"), fee_usd=Decimal(0))
    tiny = fill_entry(PROPOSAL, dust, decimals=8, usd_decimals=2, day=date(2025, 2, 10))
    assert [p.asset for p in tiny.postings] == ["BTC", "BTC"]  # less than half a cent: no dollars


def test_the_status_is_derived_from_approvals_and_closure() -> None:
    assert status_of(None, approved=False) is OrderStatus.PROPOSED
    assert status_of(None, approved=True) is OrderStatus.APPROVED
    closed = Closure(
        "PO-1", OrderStatus.CANCELLED, "halted", "ic1", datetime(2025, 2, 1, tzinfo=UTC)
    )
    assert status_of(closed, approved=True) is OrderStatus.CANCELLED
