"""The ledger on real databases: SQLite and PostgreSQL, migrations applied."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput
from reserve.ledger.model import EntryDraft, PostingDraft
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import balances, open_lots, post_entries, reverse_entry

from support import (
    CASE_EQUITY,
    CUSTODY,
    DAY,
    ETH_WALLET,
    FEES,
    MINING,
    VAULT,
    VAULT2,
    intake,
    lot,
    move,
    open_standard,
)


def fingerprint(reserve: Reserve) -> tuple[int, str, list[tuple[str, str, int]]]:
    with reserve.reading() as uow:
        seq, head = uow.ledger.head()
        rows = sorted((a, s, v) for (a, s), v in uow.ledger.current_balances().items())
    return seq, head, rows


def balance_of(reserve: Reserve, account: str, asset: str = "BTC", **kw: object) -> int:
    found = {(b.account, b.asset): b.amount for b in balances(reserve, **kw)}  # type: ignore[arg-type]
    return found.get((account, asset), 0)


@pytest.fixture
def books(reserve: Reserve) -> Reserve:
    open_standard(reserve)
    return reserve


def test_post_then_read_balances_lots_and_verify(books: Reserve) -> None:
    post_entries(
        books,
        [
            intake(
                "seize",
                CUSTODY,
                125_000_000,
                counter=CASE_EQUITY,
                opening=lot("seizure", "2024-001", lot_id="S1"),
            ),
            intake("mine", VAULT, 325_000_000, opening=lot("mining", "ekibastuz-03")),
            move("to-2", VAULT, VAULT2, 100_000_000, fee=1_000),
        ],
        actor="clerk",
    )
    assert balance_of(books, CUSTODY) == 125_000_000
    assert balance_of(books, VAULT) == 225_000_000
    assert balance_of(books, VAULT2) == 99_999_000
    assert balance_of(books, FEES) == 1_000
    lots = {(line.account, line.lot.lot_id): line.units for line in open_lots(books)}
    assert lots == {
        (CUSTODY, "S1"): 125_000_000,
        (VAULT, "L2.1"): 225_000_000,
        (VAULT2, "L2.1"): 99_999_000,
    }
    report = verify_ledger(books)
    assert report.entries == 3
    assert report.head == fingerprint(books)[1]


def test_fund_filter_never_counts_custody(books: Reserve) -> None:
    post_entries(
        books,
        [intake("seize", CUSTODY, 7, counter=CASE_EQUITY), intake("mine", VAULT, 3)],
        actor="clerk",
    )
    sfda = {(b.account, b.asset): b.amount for b in balances(books, fund="SFDA")}
    assert CUSTODY not in {account for account, _ in sfda}
    assert sfda[(VAULT, "BTC")] == 3


def test_account_prefix_matches_whole_segments(books: Reserve) -> None:
    post_entries(books, [intake("mine", VAULT, 3)], actor="clerk")
    assert balance_of(books, VAULT, account_prefix="Assets:Reserve:SFDA") == 3
    assert balances(books, account_prefix="Assets:Reserve:SF") == []


def test_balances_as_of_a_date(books: Reserve) -> None:
    post_entries(
        books,
        [intake("d1", VAULT, 10, day=DAY), intake("d2", VAULT, 5, day=DAY + timedelta(days=2))],
        actor="clerk",
    )
    assert balance_of(books, VAULT, as_of=DAY) == 10
    assert balance_of(books, VAULT, as_of=DAY + timedelta(days=1)) == 10
    assert balance_of(books, VAULT, as_of=DAY + timedelta(days=2)) == 15
    assert balance_of(books, VAULT, as_of=DAY - timedelta(days=1)) == 0


def test_10_to_the_24_wei_posted_and_summed_exactly(books: Reserve) -> None:
    huge = 10**24 + 1  # 1,000,000 ETH and one wei: far past SQLite's 64-bit INTEGER
    post_entries(
        books,
        [
            intake("eth-1", ETH_WALLET, huge, asset="ETH", opening=lot(usd="3000000000")),
            intake("eth-2", ETH_WALLET, huge, asset="ETH", opening=lot(usd="3000000000")),
        ],
        actor="clerk",
    )
    assert balance_of(books, ETH_WALLET, "ETH") == 2 * huge
    assert balance_of(books, ETH_WALLET, "ETH", as_of=DAY) == 2 * huge  # the SQL aggregate path
    with books.reading() as uow:
        assert uow.ledger.sums_by_asset()["ETH"] == 0
    assert verify_ledger(books).entries == 2


def test_same_key_same_content_returns_the_first_entry(books: Reserve) -> None:
    first = post_entries(books, [intake("once", VAULT, 10)], actor="clerk")[0]
    again = post_entries(books, [intake("once", VAULT, 10)], actor="someone-else")[0]
    assert (again.seq, again.hash, again.created) == (first.seq, first.hash, False)
    assert balance_of(books, VAULT) == 10


def test_same_key_other_content_is_refused_and_writes_nothing(books: Reserve) -> None:
    post_entries(books, [intake("once", VAULT, 10)], actor="clerk")
    before = fingerprint(books)
    with pytest.raises(
        Conflict, match="idempotency_key: already used by entry 1 with different content"
    ):
        post_entries(books, [intake("fresh", VAULT, 1), intake("once", VAULT, 11)], actor="clerk")
    assert fingerprint(books) == before


def test_a_file_with_one_bad_entry_writes_nothing(books: Reserve) -> None:
    before = fingerprint(books)
    bad = EntryDraft(
        "bad",
        DAY,
        "intake",
        "",
        (PostingDraft(VAULT, "BTC", 5, opens=lot()), PostingDraft(MINING, "BTC", -4)),
    )
    with pytest.raises(InvalidInput) as caught:
        post_entries(books, [intake("good", VAULT, 10), bad], actor="clerk")
    assert [str(p) for p in caught.value.problems] == [
        "entry 2 ('bad'): postings: BTC does not balance: the postings sum to 0.00000001 BTC"
    ]
    assert fingerprint(books) == before
    assert open_lots(books) == []


def test_reversal_restores_balances_and_lots_and_is_refused_twice(books: Reserve) -> None:
    post_entries(
        books,
        [intake("in", VAULT, 10, opening=lot(lot_id="A")), move("m", VAULT, VAULT2, 4, fee=1)],
        actor="clerk",
    )
    reversal = reverse_entry(books, 2, key="fix:2", on=DAY, memo="wrong wallet", actor="clerk")
    assert reversal.seq == 3
    assert balance_of(books, VAULT) == 10
    assert balance_of(books, VAULT2) == 0
    assert balance_of(books, FEES) == 0
    assert [(line.account, line.lot.lot_id, line.units) for line in open_lots(books)] == [
        (VAULT, "A", 10)
    ]
    with pytest.raises(InvalidInput, match="entry 2 is already reversed by entry 3"):
        reverse_entry(books, 2, key="fix:2b", on=DAY, memo="again", actor="clerk")
    with pytest.raises(InvalidInput, match="there is no entry 42"):
        reverse_entry(books, 42, key="fix:42", on=DAY, memo="", actor="clerk")
    assert verify_ledger(books).entries == 3


def test_reversing_units_that_have_moved_on_is_refused(books: Reserve) -> None:
    post_entries(
        books,
        [intake("in", VAULT, 10, opening=lot(lot_id="A")), move("m", VAULT, VAULT2, 10)],
        actor="clerk",
    )
    with pytest.raises(
        InvalidInput, match=re.escape("relieves 0.00000010 BTC from lot A, which holds 0.00000000")
    ):
        reverse_entry(books, 1, key="fix:1", on=DAY, memo="", actor="clerk")


@pytest.mark.parametrize("table", ["entries", "postings", "lots", "accounts", "assets"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
def test_triggers_refuse_update_and_delete_on_journal_tables(
    books: Reserve, table: str, statement: str
) -> None:
    post_entries(books, [intake("in", VAULT, 10)], actor="clerk")
    column = {
        "entries": "memo",
        "postings": "amount",
        "lots": "units",
        "accounts": "fund",
        "assets": "name",
    }[table]
    with pytest.raises(DBAPIError, match="append-only"), books.engine.begin() as conn:
        conn.execute(text(statement.format(t=table, c=column)))
    assert verify_ledger(books).entries == 1


def test_a_lot_recorded_late_is_relieved_by_its_acquisition_date(books: Reserve) -> None:
    later = date(2024, 6, 1)
    post_entries(
        books,
        [
            intake("late", VAULT, 10, day=later, opening=lot(lot_id="LATE")),
            intake("early", VAULT, 10, day=later, opening=lot(lot_id="EARLY", acquired_on=DAY)),
        ],
        actor="clerk",
    )
    post_entries(books, [move("m", VAULT, VAULT2, 10, day=later)], actor="clerk")
    assert {line.lot.lot_id for line in open_lots(books, account_prefix=VAULT2)} == {"EARLY"}


def test_an_entry_dated_before_the_latest_is_refused(books: Reserve) -> None:
    post_entries(books, [intake("feb", VAULT, 10, day=date(2024, 2, 1))], actor="clerk")
    before = fingerprint(books)
    with pytest.raises(InvalidInput) as caught:
        post_entries(books, [move("jan", VAULT, VAULT2, 1, day=date(2024, 1, 15))], actor="clerk")
    assert [str(p) for p in caught.value.problems] == [
        "entry 1 ('jan'): date: 2024-01-15 is before 2024-02-01, the date of the latest entry: "
        "the ledger is kept in date order, so date a late entry the day it is posted"
    ]
    assert fingerprint(books) == before
    assert balance_of(books, VAULT, as_of=date(2024, 1, 15)) == 0


def test_a_lot_acquired_after_its_entry_is_refused(books: Reserve) -> None:
    future = intake("f", VAULT, 10, opening=lot(acquired_on=DAY + timedelta(days=1)))
    with pytest.raises(InvalidInput, match=r"postings\[0\]\.lot\.acquired: 2024-03-06 is after"):
        post_entries(books, [future], actor="clerk")


def test_long_work_reports_its_progress(books: Reserve) -> None:
    drafts = [intake(f"k{i}", VAULT, 1) for i in range(3)]
    posted: list[tuple[int, int]] = []
    post_entries(
        books, drafts, actor="clerk", progress=lambda done, total: posted.append((done, total))
    )
    checked: list[tuple[int, int]] = []
    verify_ledger(books, progress=lambda done, total: checked.append((done, total)))
    assert posted[-1] == (3, 3)
    assert checked[-1] == (3, 3)


def test_the_counter_leg_may_come_before_the_leg_that_opens_the_lot(books: Reserve) -> None:
    counter_first = EntryDraft(
        "counter-first",
        DAY,
        "intake",
        "",
        (PostingDraft(MINING, "BTC", -5), PostingDraft(VAULT, "BTC", 5, opens=lot(lot_id="CF"))),
    )
    post_entries(books, [counter_first], actor="clerk")
    assert verify_ledger(books).entries == 1
    assert [(line.lot.lot_id, line.units) for line in open_lots(books)] == [("CF", 5)]


COLD = "Assets:Custody:Seized:2024-001:BTC-cold"


@pytest.fixture
def seized(books: Reserve) -> Reserve:
    from reserve.ledger.accounts import Account
    from reserve.services.ledger import open_accounts

    open_accounts(books, [Account(COLD, None, date(2024, 1, 1))])
    seizure = intake(
        "seize", CUSTODY, 1_000_000, counter=CASE_EQUITY, opening=lot("seizure", "2024-001")
    )
    post_entries(books, [seizure], actor="clerk")
    return books


def test_seized_units_do_not_leave_custody_by_a_plain_post(seized: Reserve) -> None:
    before = fingerprint(seized)
    with pytest.raises(
        InvalidInput, match=re.escape("moves 0.01000000 BTC of case 2024-001 out of custody")
    ):
        post_entries(seized, [move("siphon", CUSTODY, VAULT, 1_000_000)], actor="clerk")
    disguised = move("fee-only", CUSTODY, FEES, 1_000_000)  # "a fee" with no custody move
    with pytest.raises(InvalidInput, match="out of custody: units under legal hold leave only"):
        post_entries(seized, [disguised], actor="clerk")
    assert fingerprint(seized) == before


def test_a_custody_move_pays_its_network_fee_but_not_a_larger_one(seized: Reserve) -> None:
    # 1% of what the case's cold wallet receives: 4,950 of 495,050 is allowed, 4,951 is not
    post_entries(seized, [move("to-cold", CUSTODY, COLD, 500_000, fee=4_950)], actor="clerk")
    assert balance_of(seized, COLD) == 495_050
    with pytest.raises(
        InvalidInput, match=re.escape("moves 0.00000001 BTC of case 2024-001 out of custody")
    ):
        post_entries(seized, [move("greedy", CUSTODY, COLD, 500_000, fee=4_951)], actor="clerk")


def test_a_reversal_of_a_seizure_booked_in_error_is_allowed(seized: Reserve) -> None:
    reverse_entry(seized, 1, key="fix:1", on=DAY, memo="booked twice", actor="clerk")
    assert balance_of(seized, CUSTODY) == 0
