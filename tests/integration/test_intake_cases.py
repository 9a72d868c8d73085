"""Seizure cases on real databases: custody, two-approver orders, forfeiture, return, sales."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound
from reserve.governance.people import OrgUnit, Role, User
from reserve.intake.cases import SeizedAsset, SeizureCase
from reserve.intake.legal import LegalOrder, LegalState
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, PostingDraft
from reserve.services.governance import add_unit, add_user, audit_log, verify_audit
from reserve.services.holdings import CUSTODIAL, holdings_by_fund
from reserve.services.intake_cases import (
    case_position,
    list_cases,
    open_case,
    record_seizure,
    show_case,
)
from reserve.services.intake_orders import approve_order, execute_order, propose_order
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import balances, open_accounts, open_lots, post_entries

S = LegalState
CASE = SeizureCase("2024-001", "AFM", "Astana City Court", "Darknet market", date(2024, 3, 1))
OTHER = SeizureCase("2024-002", "AFM", "Almaty City Court", "Ransomware", date(2024, 3, 2))
TXID = "ab" * 32
DOC = hashlib.sha256(b"order 12/2024").hexdigest()
VAULT = "Assets:Reserve:SFDA:BTC:vault-astana-1"
CUSTODY = "Assets:Custody:Seized:2024-001:BTC"
BTC = 100_000_000


def seized(amount: int = 5 * BTC, *, case: str = CASE.number, vout: int | None = 1) -> SeizedAsset:
    return SeizedAsset(
        case, "bitcoin", "BTC", amount, TXID, vout, "bc1qsource", "bc1qdest",
        datetime(2024, 3, 5, 12, tzinfo=UTC),
    )  # fmt: skip


def order(frm: S, to: S, amount: int, **kw: Any) -> LegalOrder:
    fields: dict[str, Any] = {
        "case": CASE.number,
        "asset": "BTC",
        "amount": amount,
        "from_state": frm,
        "to_state": to,
        "reference": "12/2024",
        "issued_on": date(2024, 6, 1),
        "document_sha256": DOC,
        "proposer": "",
        "approvers": frozenset(),
    }
    return LegalOrder(**{**fields, **kw})


def staffed(reserve: Reserve) -> Reserve:
    add_unit(reserve, OrgUnit("HQ", "Head office"), actor="setup")
    add_unit(reserve, OrgUnit("LEGAL", "Legal department"), actor="setup")
    add_user(reserve, User("root", "Root", "HQ", frozenset({Role.ADMINISTRATOR})), actor="setup")
    add_user(
        reserve,
        User("intake9", "Intake officer", "HQ", frozenset({Role.INTAKE_OFFICER})),
        actor="root",
    )
    for name in ("legal7", "legal8", "legal9"):
        add_user(reserve, User(name, name, "LEGAL", frozenset({Role.LEGAL_OFFICER})), actor="root")
    return reserve


def with_case(reserve: Reserve) -> Reserve:
    """Staff, one case with 5 BTC seized."""
    staffed(reserve)
    open_case(reserve, CASE, actor="intake9")
    record_seizure(
        reserve,
        seized(),
        fair_value_usd=Decimal(330000),
        fair_value_kzt=Decimal(1),
        actor="intake9",
    )
    return reserve


@pytest.fixture
def books(reserve: Reserve) -> Reserve:
    return with_case(reserve)


def approved(reserve: Reserve, draft: LegalOrder) -> int:
    recorded = propose_order(reserve, draft, actor="legal7")
    approve_order(reserve, recorded.id, actor="legal8")
    approve_order(reserve, recorded.id, actor="legal9")
    return recorded.id


def state(reserve: Reserve) -> tuple[Any, ...]:
    """Everything a refused use case must leave as it was."""
    with reserve.reading() as uow:
        return (
            uow.ledger.head(),
            sorted(uow.ledger.current_balances().items()),
            sorted(uow.ledger.accounts()),
            uow.governance.audit_head(),
            uow.intake.cases(),
            uow.intake.seizures(),
            uow.intake.orders(),
            [uow.governance.approvals_for(f"legal-order:{i}") for i in range(1, 5)],
        )


def units(reserve: Reserve) -> dict[LegalState, int]:
    (line,) = case_position(reserve, CASE.number)
    return dict(line.units)


def test_a_seizure_lands_in_the_cases_custody_never_in_a_fund(books: Reserve) -> None:
    assert [b.account for b in balances(books, account_prefix="Assets")] == [CUSTODY]
    (lot,) = open_lots(books)
    assert (lot.lot.source_kind, lot.lot.source_ref, lot.units) == ("seizure", f"{TXID}:1", 5 * BTC)
    assert [(h.book, h.amount) for h in holdings_by_fund(books)] == [(CUSTODIAL, 5 * BTC)]
    (line,) = case_position(books, CASE.number)
    assert (line.units, line.custody_balance) == ({S.SEIZED: 5 * BTC}, 5 * BTC)
    assert list_cases(books) == [CASE]
    assert {"cases.open", "cases.seize", "intake.seizure", "accounts.open"} <= {
        r.action for r in audit_log(books)
    }
    verify_ledger(books)
    verify_audit(books)


def test_replaying_a_seizure_returns_the_first(books: Reserve) -> None:
    before = state(books)
    again = record_seizure(
        books, seized(), fair_value_usd=Decimal(330000), fair_value_kzt=Decimal(1), actor="intake9"
    )
    assert not again.created
    assert state(books) == before
    with pytest.raises(Conflict, match="already recorded with other details"):
        record_seizure(
            books,
            seized(4 * BTC),
            fair_value_usd=Decimal(1),
            fair_value_kzt=Decimal(1),
            actor="intake9",
        )
    assert state(books) == before


def test_the_same_txid_in_two_cases_is_refused(books: Reserve) -> None:
    open_case(books, OTHER, actor="intake9")
    before = state(books)
    with pytest.raises(
        Conflict, match=f"seizure {TXID}:1: txid: already recorded in case 2024-001"
    ):
        record_seizure(
            books, seized(case=OTHER.number), fair_value_usd=Decimal(1), fair_value_kzt=Decimal(1),
            actor="intake9",
        )  # fmt: skip
    assert state(books) == before


def test_a_cases_units_cannot_be_posted_to_another_cases_account(books: Reserve) -> None:
    other = Account("Assets:Custody:Seized:2024-002:BTC", None, date(2024, 3, 1))
    open_accounts(books, [other], actor="root")
    before = state(books)
    move = EntryDraft(
        "mix", date(2024, 3, 6), "transfer", "wrong case",
        (
            PostingDraft(CUSTODY, "BTC", -BTC),
            PostingDraft("Assets:Custody:Seized:2024-002:BTC", "BTC", BTC),
        ),
    )  # fmt: skip
    with pytest.raises(
        InvalidInput, match="mixes the custody accounts of cases 2024-001, 2024-002"
    ):
        post_entries(books, [move], actor="root")
    assert state(books) == before


def test_seizures_need_an_open_case_and_an_intake_officer(books: Reserve) -> None:
    before = state(books)
    with pytest.raises(NotFound, match="'2024-009' is not an open case"):
        record_seizure(
            books, seized(case="2024-009", vout=2), fair_value_usd=Decimal(1),
            fair_value_kzt=Decimal(1), actor="intake9",
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="legal7 cannot act: recording a seizure needs"):
        record_seizure(
            books,
            seized(vout=3),
            fair_value_usd=Decimal(1),
            fair_value_kzt=Decimal(1),
            actor="legal7",
        )
    with pytest.raises(InvalidInput, match="txid: 'nope' is not a 64-hex transaction id"):
        record_seizure(
            books, replace(seized(vout=4), txid="nope"), fair_value_usd=Decimal(1),
            fair_value_kzt=Decimal(1), actor="intake9",
        )  # fmt: skip
    assert state(books) == before


def test_forfeiture_then_transfer_moves_the_units_into_the_fund_at_fair_value(
    books: Reserve,
) -> None:
    execute_order(books, approved(books, order(S.SEIZED, S.FORFEITED, 5 * BTC)), actor="legal7")
    assert units(books) == {S.FORFEITED: 5 * BTC}
    assert [b.account for b in balances(books, account_prefix="Assets")] == [CUSTODY]
    later = {"issued_on": date(2024, 6, 20), "reference": "12/2024-T"}
    transfer = approved(books, order(S.FORFEITED, S.TRANSFERRED_TO_RESERVE, 5 * BTC, **later))
    done = execute_order(
        books, transfer, actor="legal8", fund="SFDA", fund_account=VAULT,
        fair_value_usd=Decimal("350000.00"), fair_value_kzt=Decimal("157500000.00"),
    )  # fmt: skip
    assert done.entry_seq is not None
    assert units(books) == {S.TRANSFERRED_TO_RESERVE: 5 * BTC}
    (lot,) = open_lots(books)
    assert (lot.account, lot.units, lot.lot.source_kind, lot.lot.source_ref) == (
        VAULT, 5 * BTC, "forfeiture", "12/2024-T",
    )  # fmt: skip
    # acquired on the forfeiture (2024-06-01), not on the later transfer order
    assert (lot.cost_usd, lot.lot.acquired_on) == (Decimal("350000.00"), date(2024, 6, 1))
    assert [(h.book, h.amount) for h in holdings_by_fund(books)] == [
        ("SFDA", 5 * BTC),
        ("RESERVE", 5 * BTC),
    ]
    (line,) = case_position(books, CASE.number)
    assert line.custody_balance == 0
    verify_ledger(books)
    verify_audit(books)


def test_a_partial_return_goes_to_named_recipients(books: Reserve) -> None:
    ret = approved(books, order(S.SEIZED, S.RETURNED, 2 * BTC, recipients=("Victim One",)))
    done = execute_order(books, ret, actor="legal7")
    assert units(books) == {S.SEIZED: 3 * BTC, S.RETURNED: 2 * BTC}
    assert [b.amount for b in balances(books, account_prefix="Assets")] == [3 * BTC]
    with books.reading() as uow:
        entry = uow.ledger.entry(done.entry_seq or 0)
    assert entry is not None
    assert entry.refs["recipients"] == "Victim One"
    view = show_case(books, CASE.number)
    assert [o.status for o in view.orders] == ["EXECUTED"]
    assert len(view.approvals[ret]) == 2


def test_an_illegal_transition_is_refused(books: Reserve) -> None:
    before = state(books)
    with pytest.raises(InvalidInput, match="SEIZED -> TRANSFERRED_TO_RESERVE is not allowed"):
        propose_order(books, order(S.SEIZED, S.TRANSFERRED_TO_RESERVE, BTC), actor="legal7")
    with pytest.raises(InvalidInput, match="SEIZED -> SOLD is not allowed"):
        propose_order(books, order(S.SEIZED, S.SOLD, BTC), actor="legal7")
    assert state(books) == before


def test_one_approver_is_not_enough(books: Reserve) -> None:
    proposed = propose_order(books, order(S.SEIZED, S.FORFEITED, BTC), actor="legal7")
    approve_order(books, proposed.id, actor="legal8")
    before = state(books)
    with pytest.raises(
        InvalidInput, match="1 valid approval\\(s\\); rule legal-transition needs 2"
    ):
        execute_order(books, proposed.id, actor="legal7")
    assert state(books) == before


def test_the_proposer_cannot_approve(books: Reserve) -> None:
    proposed = propose_order(books, order(S.SEIZED, S.FORFEITED, BTC), actor="legal7")
    before = state(books)
    with pytest.raises(InvalidInput, match="legal7 proposed the request and cannot approve it"):
        approve_order(books, proposed.id, actor="legal7")
    with pytest.raises(InvalidInput, match="intake9 holds none of the roles rule legal-transition"):
        approve_order(books, proposed.id, actor="intake9")
    assert state(books) == before


def test_moving_more_than_the_state_holds_is_refused(books: Reserve) -> None:
    before = state(books)
    with pytest.raises(InvalidInput, match="600000000 units are not SEIZED: the case holds 5000"):
        propose_order(
            books, order(S.SEIZED, S.RETURNED, 6 * BTC, recipients=("V",)), actor="legal7"
        )
    assert state(books) == before
    first = approved(books, order(S.SEIZED, S.FORFEITED, 4 * BTC))
    second = approved(books, order(S.SEIZED, S.RESTRAINED, 2 * BTC))
    execute_order(books, first, actor="legal7")
    before = state(books)
    with pytest.raises(InvalidInput, match="200000000 units are not SEIZED: the case holds 1000"):
        execute_order(books, second, actor="legal7")
    assert state(books) == before


def test_an_order_moves_no_more_than_it_covers(books: Reserve) -> None:
    forfeit = approved(books, order(S.SEIZED, S.FORFEITED, 5 * BTC))
    execute_order(books, forfeit, actor="legal7")
    transfer = approved(books, order(S.FORFEITED, S.TRANSFERRED_TO_RESERVE, 2 * BTC))
    execute_order(
        books, transfer, actor="legal7", fund="SFDA", fund_account=VAULT,
        fair_value_usd=Decimal(1), fair_value_kzt=Decimal(1),
    )  # fmt: skip
    before = state(books)
    with pytest.raises(InvalidInput, match=f"legal-order:{transfer}: status: was already executed"):
        execute_order(
            books, transfer, actor="legal7", fund="SFDA", fund_account=VAULT,
            fair_value_usd=Decimal(1), fair_value_kzt=Decimal(1),
        )  # fmt: skip
    assert state(books) == before
    assert units(books) == {S.FORFEITED: 3 * BTC, S.TRANSFERRED_TO_RESERVE: 2 * BTC}
    assert [b.amount for b in balances(books, account_prefix=VAULT)] == [2 * BTC]


def test_a_transfer_needs_a_fund_account_and_a_fair_value(books: Reserve) -> None:
    execute_order(books, approved(books, order(S.SEIZED, S.FORFEITED, BTC)), actor="legal7")
    transfer = approved(books, order(S.FORFEITED, S.TRANSFERRED_TO_RESERVE, BTC))
    before = state(books)
    with pytest.raises(InvalidInput) as refused:
        execute_order(books, transfer, actor="legal7", fund="NOPE", fund_account=CUSTODY)
    where = f"legal-order:{transfer}"
    assert {str(p) for p in refused.value.problems} >= {
        f"{where}: fund: unknown fund 'NOPE'",
        f"{where}: fund_account: {CUSTODY} is not a fund's asset account",
        f"{where}: fair_value_usd: the fair value on the forfeiture date is needed",
    }
    assert state(books) == before
