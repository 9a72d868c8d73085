"""Purchases on real databases: committee quorum, fills as lots, the funding leg, refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound
from reserve.governance.people import OrgUnit, Role, User
from reserve.intake.purchases import Fill, FundingSource, OrderStatus, Proposal
from reserve.services.governance import add_unit, add_user, audit_log, set_user_active, verify_audit
from reserve.services.holdings import holdings_by_fund
from reserve.services.intake_context import policy_in_force
from reserve.services.intake_purchases import (
    approve_purchase,
    close_purchase,
    list_purchases,
    propose_purchase,
    record_fill,
    show_purchase,
)
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import balances, open_lots

BTC = 100_000_000
ORDER = "PO-2025-012"
COMMITTEE = ("ic1", "ic2", "ic3", "ic4", "ic5")
FUNDING = "Equity:Conversion:FX:SFDA"
TRADING = "Equity:Trading:SFDA"
AT_AIX = "Assets:Reserve:SFDA:BTC:Venue:AIX"
AT_ATAIX = "Assets:Reserve:SFDA:BTC:Venue:ATAIX"
RATE = Decimal("512.40")


def proposal(**kw: Any) -> Proposal:
    fields: dict[str, Any] = {
        "order_id": ORDER,
        "source": FundingSource.FX,
        "amount_usd": Decimal("300000000.00"),
        "asset": "BTC",
        "fund": "SFDA",
        "window_start": date(2025, 12, 1),
        "window_end": date(2025, 12, 30),
        "proposer": "",
        "memo": "FX into BTC over the month",
    }
    return Proposal(**{**fields, **kw})


def fill(ref: str = "T-1", **kw: Any) -> Fill:
    fields: dict[str, Any] = {
        "venue": "AIX",
        "quantity": 1000 * BTC,
        "price_usd": Decimal("98000"),
        "fee_usd": Decimal("49000.55"),
        "filled_on": date(2025, 12, 2),
        "ref": ref,
        "kzt_per_usd": RATE,
    }
    return Fill(**{**fields, **kw})


def staffed(reserve: Reserve) -> Reserve:
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    add_unit(reserve, OrgUnit("IC", "Investment committee"), actor="setup")
    admin = User("admin", "Administrator", "HQ", frozenset({Role.ADMINISTRATOR}))
    add_user(reserve, admin, actor="setup")
    officer = User("intake1", "Intake officer", "HQ", frozenset({Role.INTAKE_OFFICER}))
    add_user(reserve, officer, actor="admin")
    for name in COMMITTEE:
        member = User(name, f"Member {name}", "IC", frozenset({Role.COMMITTEE_MEMBER}))
        add_user(reserve, member, actor="admin")
    return reserve


@pytest.fixture
def books(reserve: Reserve) -> Reserve:
    return staffed(reserve)


def approved(reserve: Reserve, draft: Proposal | None = None) -> str:
    recorded = propose_purchase(reserve, draft or proposal(), actor="ic1")
    for member in ("ic2", "ic3", "ic4"):
        approve_purchase(reserve, recorded.proposal.order_id, actor=member)
    return recorded.proposal.order_id


def state(reserve: Reserve) -> tuple[Any, ...]:
    """Everything a refused use case must leave as it was."""
    with reserve.reading() as uow:
        orders = uow.purchases.orders()
        return (
            uow.ledger.head(),
            sorted(uow.ledger.current_balances().items()),
            sorted(uow.ledger.accounts()),
            uow.governance.audit_head(),
            orders,
            uow.purchases.fills(),
            uow.purchases.closures(),
            [uow.governance.approvals_for(f"purchase:{o.proposal.order_id}") for o in orders],
        )


def refused(reserve: Reserve, error: type[InvalidInput], message: str, call: Any) -> None:
    before = state(reserve)
    with pytest.raises(error) as caught:
        call()
    assert message in str(caught.value), str(caught.value)
    assert state(reserve) == before


def test_proposal_quorum_fills_lots_and_funding_leg(books: Reserve) -> None:
    recorded = propose_purchase(books, proposal(proposer="someone-else"), actor="ic1")
    assert recorded.proposal.proposer == "ic1"
    assert recorded.quorum == 3
    assert recorded.policy_sha256 == policy_in_force(books).sha256
    for member, status in (("ic2", "PROPOSED"), ("ic3", "PROPOSED"), ("ic4", "APPROVED")):
        approve_purchase(books, ORDER, actor=member)
        assert show_purchase(books, ORDER).status == status
    first = record_fill(books, ORDER, fill(), actor="intake1")
    second = record_fill(
        books, ORDER,
        fill("T-2", venue="ATAIX", quantity=150_050_000_000, price_usd=Decimal("99000.123"),
             fee_usd=Decimal("12.345"), filled_on=date(2025, 12, 10)),
        actor="admin",
    )  # fmt: skip
    assert (first.created, first.cost_usd) == (True, Decimal("98049000.55"))
    assert second.cost_usd == Decimal("148549696.9065")  # 1500.5 x 99000.123 + 12.345, exact
    lots = {line.account: line for line in open_lots(books)}
    assert set(lots) == {AT_AIX, AT_ATAIX}
    aix, ataix = lots[AT_AIX].lot, lots[AT_ATAIX].lot
    assert (aix.source_kind, aix.source_ref) == ("purchase", f"{ORDER}/AIX:T-1")
    assert aix.units == 1000 * BTC
    assert (aix.acquired_on, aix.cost_usd) == (date(2025, 12, 2), Decimal("98049000.55"))
    assert aix.cost_kzt == Decimal("98049000.55") * RATE
    assert (ataix.acquired_on, ataix.cost_usd) == (date(2025, 12, 10), second.cost_usd)
    with books.reading() as uow:
        entry = uow.ledger.entry(first.entry_seq)
    assert entry is not None
    assert entry.date == date(2026, 1, 15)  # booked the day it was recorded
    assert entry.refs == {"order": ORDER, "venue": "AIX", "ref": "T-1", "source": "FX"}
    cents = 9_804_900_055 + 14_854_969_691  # each fill's cost to the cent, half up
    held = {(b.account, b.asset): b.amount for b in balances(books)}
    assert held[(FUNDING, "USD")] == -cents
    assert held[(TRADING, "USD")] == cents
    assert held[(TRADING, "BTC")] == -250_050_000_000
    funds = {(h.book, h.asset): h.amount for h in holdings_by_fund(books)}
    assert funds[("SFDA", "BTC")] == 250_050_000_000
    view = show_purchase(books, ORDER)
    assert view.spent_usd == Decimal("246598697.4565")
    assert view.remaining_usd == Decimal("53401302.5435")
    assert view.units_bought == 250_050_000_000
    assert view.approvers == ("ic2", "ic3", "ic4")
    assert view.average_price_usd is not None
    assert round(view.average_price_usd, 2) == Decimal("98600.15")
    closure = close_purchase(books, ORDER, OrderStatus.COMPLETED, "window used", actor="ic1")
    assert closure.status is OrderStatus.COMPLETED
    assert [(v.proposal.order_id, v.status) for v in list_purchases(books)] == [
        (ORDER, OrderStatus.COMPLETED)
    ]
    assert {"purchases.propose", "approvals.record", "purchases.fill", "purchases.close"} <= {
        r.action for r in audit_log(books)
    }
    verify_ledger(books)
    verify_audit(books)


def test_replaying_a_fill_is_a_no_op_and_a_changed_replay_is_refused(books: Reserve) -> None:
    approved(books)
    first = record_fill(books, ORDER, fill(), actor="intake1")
    before = state(books)
    again = record_fill(books, ORDER, fill(kzt_per_usd=None), actor="intake1")
    assert (again.created, again.entry_seq, again.kzt_per_usd) == (False, first.entry_seq, RATE)
    assert state(books) == before
    refused(
        books, Conflict, f"purchase {ORDER} fill AIX:T-1: ref: this venue trade is already "
        "recorded with other details",
        lambda: record_fill(books, ORDER, fill(quantity=BTC), actor="intake1"),
    )  # fmt: skip
    other = approved(books, proposal(order_id="PO-2025-013"))
    refused(
        books, Conflict, f"ref: already recorded for order {ORDER}",
        lambda: record_fill(books, other, fill(), actor="intake1"),
    )  # fmt: skip
    close_purchase(books, ORDER, OrderStatus.COMPLETED, "done", actor="admin")
    assert not record_fill(books, ORDER, fill(), actor="intake1").created  # a replay, not a fill
    verify_ledger(books)


def test_only_other_committee_members_approve(books: Reserve) -> None:
    propose_purchase(books, proposal(), actor="ic1")
    approve = approve_purchase
    refused(
        books, InvalidInput, "ic1 proposed the request and cannot approve it",
        lambda: approve(books, ORDER, actor="ic1"),
    )  # fmt: skip
    for outsider in ("intake1", "admin"):
        refused(
            books, InvalidInput,
            f"{outsider} holds none of the roles rule investment-committee needs "
            "(committee-member)",
            lambda who=outsider: approve(books, ORDER, actor=who),
        )  # fmt: skip
    approve(books, ORDER, actor="ic2")
    refused(
        books, Conflict, "ic2 has already approved this request",
        lambda: approve(books, ORDER, actor="ic2"),
    )  # fmt: skip
    refused(
        books, NotFound, "there is no purchase order 'PO-9'",
        lambda: approve(books, "PO-9", actor="ic2"),
    )  # fmt: skip


def test_no_fill_below_quorum(books: Reserve) -> None:
    propose_purchase(books, proposal(), actor="ic1")
    approve_purchase(books, ORDER, actor="ic2")
    approve_purchase(books, ORDER, actor="ic3")
    for message in (
        f"order: order {ORDER} is PROPOSED, not APPROVED: it takes no fills",
        f"purchase:{ORDER}: approvals: 2 valid approval(s); rule investment-committee needs 3",
    ):
        refused(
            books, InvalidInput, message, lambda: record_fill(books, ORDER, fill(), actor="intake1")
        )
    approve_purchase(books, ORDER, actor="ic4")
    set_user_active(books, "ic4", active=False, actor="admin")  # approvals count as they stand
    refused(
        books, InvalidInput, "approval by ic4: approver: ic4 is deactivated",
        lambda: record_fill(books, ORDER, fill(), actor="intake1"),
    )  # fmt: skip
    approve_purchase(books, ORDER, actor="ic5")
    assert show_purchase(books, ORDER).status is OrderStatus.PROPOSED  # a bad approval stays bad


def test_fills_within_budget_window_licence_and_rate(books: Reserve) -> None:
    approved(books, proposal(amount_usd=Decimal("1000000")))
    record_fill(books, ORDER, fill(quantity=10 * BTC, fee_usd=Decimal(100)), actor="intake1")
    where = f"purchase {ORDER} fill AIX:T-2"
    cases = [
        (
            fill("T-2", quantity=BTC, fee_usd=Decimal(10)),
            f"{where}: quantity: the fill costs USD 98,010.00 but only USD 19,900.00 "
            "of the approved 1,000,000.00 is left",
        ),
        (
            fill("T-2", quantity=BTC // 100, filled_on=date(2025, 11, 30)),
            f"{where}: filled_on: 2025-11-30 is outside the approved window 2025-12-01..2025-12-30",
        ),
        (
            fill("T-2", quantity=BTC // 100, venue="OFFSHORE"),
            "venue: 'OFFSHORE' is not a licensed venue (AIX, ATAIX, INTEBIX)",
        ),
        (
            fill("T-2", quantity=BTC // 100, kzt_per_usd=None),
            f"{where}: kzt_per_usd: the bundled USD/KZT series has no rate within 3 day(s) "
            "before 2025-12-02 (the latest is of 2023-04-30); give the rate of the day",
        ),
        (fill("", quantity=BTC // 100), "ref: the venue's trade id must be 1 to 100 characters"),
        (fill("T-2", quantity=0), f"{where}: quantity: must be positive"),
    ]
    for bad, message in cases:
        refused(
            books,
            InvalidInput,
            message,
            lambda f=bad: record_fill(books, ORDER, f, actor="intake1"),
        )
    refused(
        books, InvalidInput, "ic2 cannot act: recording a purchase fill needs administrator, "
        "intake-officer",
        lambda: record_fill(books, ORDER, fill("T-3", quantity=BTC // 100), actor="ic2"),
    )  # fmt: skip


def test_no_fill_dated_after_today(books: Reserve) -> None:
    late = proposal(window_start=date(2026, 1, 10), window_end=date(2026, 1, 31))
    approved(books, late)
    refused(
        books, InvalidInput, "filled_on: 2026-01-16 is after today, 2026-01-15",
        lambda: record_fill(books, ORDER, fill(filled_on=date(2026, 1, 16)), actor="intake1"),
    )  # fmt: skip


def test_a_cancelled_order_takes_no_fill_nor_approval(books: Reserve) -> None:
    approved(books)
    record_fill(books, ORDER, fill(), actor="intake1")
    close_purchase(books, ORDER, OrderStatus.CANCELLED, "market halted", actor="ic2")
    refused(
        books, InvalidInput, f"order {ORDER} is CANCELLED, not APPROVED: it takes no fills",
        lambda: record_fill(books, ORDER, fill("T-2"), actor="intake1"),
    )  # fmt: skip
    refused(
        books, InvalidInput, "status: is already CANCELLED since 2026-01-15 (market halted): "
        "nothing to approve",
        lambda: approve_purchase(books, ORDER, actor="ic5"),
    )  # fmt: skip
    refused(
        books, Conflict, "is already CANCELLED since 2026-01-15",
        lambda: close_purchase(books, ORDER, OrderStatus.COMPLETED, "done", actor="ic1"),
    )  # fmt: skip
    again = close_purchase(books, ORDER, OrderStatus.CANCELLED, "market halted", actor="ic1")
    assert again.closed_by == "ic2"  # the first closure, unchanged
    view = show_purchase(books, ORDER)
    assert (view.status, view.units_bought) == (OrderStatus.CANCELLED, 1000 * BTC)
    verify_ledger(books)


def test_closing_needs_a_reason_a_role_and_for_completion_a_fill(books: Reserve) -> None:
    propose_purchase(books, proposal(), actor="ic1")
    close = close_purchase
    refused(
        books, InvalidInput, "has no fill, so it cannot be COMPLETED: cancel it instead",
        lambda: close(books, ORDER, OrderStatus.COMPLETED, "nothing bought", actor="ic1"),
    )  # fmt: skip
    refused(
        books, InvalidInput, "reason: say why the order closes",
        lambda: close(books, ORDER, OrderStatus.CANCELLED, "  ", actor="ic1"),
    )  # fmt: skip
    refused(
        books, InvalidInput, "APPROVED does not close an order",
        lambda: close(books, ORDER, OrderStatus.APPROVED, "why not", actor="ic1"),
    )  # fmt: skip
    refused(
        books, InvalidInput, "intake1 cannot act: closing a purchase needs",
        lambda: close(books, ORDER, OrderStatus.CANCELLED, "stop", actor="intake1"),
    )  # fmt: skip
    close(books, ORDER, OrderStatus.CANCELLED, "never approved", actor="admin")
    assert show_purchase(books, ORDER).status is OrderStatus.CANCELLED


def test_bad_proposals_are_refused(books: Reserve) -> None:
    refused(
        books, InvalidInput, "intake1 cannot act: proposing a purchase needs committee-member",
        lambda: propose_purchase(books, proposal(), actor="intake1"),
    )  # fmt: skip
    bad = proposal(
        order_id="PO 1", amount_usd=Decimal("10.001"), asset="USD", fund="NOPE",
        window_end=date(2025, 11, 1),
    )  # fmt: skip
    before = state(books)
    with pytest.raises(InvalidInput) as caught:
        propose_purchase(books, bad, actor="ic1")
    assert [(p.field, p.reason) for p in caught.value.problems] == [
        ("order_id", "must be 1-40 letters, digits and '-', e.g. PO-2025-007"),
        ("amount_usd", "is in dollars and cents, not finer"),
        ("window", "ends before it starts"),
        ("asset", "USD is held without lots: nothing to buy"),
        ("fund", "unknown fund 'NOPE'"),
    ]
    assert state(books) == before
    first = propose_purchase(books, proposal(), actor="ic1")
    before = state(books)
    assert propose_purchase(books, proposal(), actor="ic1") == first
    assert state(books) == before
    refused(
        books, Conflict, f"purchase {ORDER}: order_id: is already proposed with other details",
        lambda: propose_purchase(books, proposal(amount_usd=Decimal(1)), actor="ic1"),
    )  # fmt: skip


def test_a_proposal_that_could_never_reach_its_quorum_is_refused(books: Reserve) -> None:
    for member in ("ic4", "ic5"):
        set_user_active(books, member, active=False, actor="admin")
    refused(
        books, InvalidInput, "the committee's quorum is 3 but only 2 active committee member(s) "
        "besides the proposer exist: the proposal could never be approved",
        lambda: propose_purchase(books, proposal(), actor="ic1"),
    )  # fmt: skip
    set_user_active(books, "ic4", active=True, actor="admin")
    assert propose_purchase(books, proposal(), actor="ic1").quorum == 3


def test_a_wei_scale_fill_books_and_verifies(books: Reserve) -> None:
    approved(books, proposal(asset="ETH", amount_usd=Decimal(1_000_000)))
    wei = fill(quantity=123_456_789_012_345_678_901, price_usd=Decimal("3456.789012345"))
    done = record_fill(books, ORDER, wei, actor="intake1")
    (lot,) = open_lots(books)
    assert (lot.account, lot.units) == ("Assets:Reserve:SFDA:ETH:Venue:AIX", wei.quantity)
    assert abs(lot.cost_usd - done.cost_usd) < Decimal("1e-20")  # stored to 28 digits
    held = {(b.account, b.asset): b.amount for b in balances(books)}
    assert held[(FUNDING, "USD")] == -47_576_462  # 426,764.0717... + 49,000.55 fee
    verify_ledger(books)
