"""Booking rules, without a database: lots open, move, relieve FIFO or by name, and balance."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from reserve.ledger.accounts import Account
from reserve.ledger.assets import Asset
from reserve.ledger.booking import BookingContext, BookingRefused, book_entry
from reserve.ledger.lots import LotBook
from reserve.ledger.model import Booking, EntryDraft, PostingDraft

from support import CUSTODY, DAY, FEES, MINING, VAULT, VAULT2, intake, lot, move

ASSETS = {"BTC": Asset("BTC", 8, "Bitcoin"), "USD": Asset("USD", 2, "US dollar", tracks_lots=False)}
OPENED = date(2024, 1, 1)


@pytest.fixture
def ctx() -> BookingContext:
    accounts = {
        name: Account(name, None, OPENED)
        for name in (CUSTODY, VAULT, VAULT2, FEES, MINING, "Assets:Cash:USD", "Equity:FX")
    }
    return BookingContext(ASSETS, accounts, LotBook())


class Ledger:
    """Books drafts one after another, as the posting use case does."""

    def __init__(self, ctx: BookingContext) -> None:
        self.ctx, self.seq = ctx, 0

    def book(self, draft: EntryDraft):  # type: ignore[no-untyped-def]
        booked = book_entry(draft, seq=self.seq + 1, where=f"entry {self.seq + 1}", ctx=self.ctx)
        self.seq += 1
        return booked

    def held(self, account: str) -> dict[str, int]:
        return {lot.lot_id: units for lot, units in self.ctx.book.fifo(account, "BTC")}


def refused(ctx: BookingContext, draft: EntryDraft) -> str:
    with pytest.raises(BookingRefused) as caught:
        book_entry(draft, seq=99, where="entry 99", ctx=ctx)
    return str(caught.value)


def test_an_intake_opens_a_lot_and_the_counter_leg_carries_it(ctx: BookingContext) -> None:
    booked = Ledger(ctx).book(intake("k1", VAULT, 150_000_000, opening=lot(lot_id="M-1")))
    assert [(p.account, p.amount, p.lot_id, p.booking) for p in booked.postings] == [
        (VAULT, 150_000_000, "M-1", Booking.OPEN),
        (MINING, -150_000_000, "M-1", Booking.MATCHED),
    ]
    assert booked.lots[0].units == 150_000_000
    assert booked.lots[0].acquired_on == DAY


def test_a_transfer_keeps_each_lot_identity_and_the_fee_carries_its_lot(
    ctx: BookingContext,
) -> None:
    books = Ledger(ctx)
    books.book(intake("a", VAULT, 60, opening=lot(lot_id="A")))
    books.book(
        intake(
            "b",
            VAULT,
            40,
            day=DAY + timedelta(1),
            opening=lot(lot_id="B", acquired_on=DAY + timedelta(1)),
        )
    )
    booked = books.book(move("m", VAULT, VAULT2, 100, fee=1))
    assert books.held(VAULT) == {}
    assert books.held(VAULT2) == {"A": 60, "B": 39}
    fee_legs = [(p.lot_id, p.amount) for p in booked.postings if p.account == FEES]
    assert fee_legs == [("B", 1)]


def test_fifo_takes_the_oldest_acquisition_first_whatever_the_posting_order(
    ctx: BookingContext,
) -> None:
    books = Ledger(ctx)
    books.book(intake("new", VAULT, 10, opening=lot(lot_id="NEW", acquired_on=DAY)))
    books.book(intake("old", VAULT, 10, opening=lot(lot_id="OLD", acquired_on=DAY - timedelta(30))))
    books.book(move("m", VAULT, VAULT2, 15))
    assert books.held(VAULT) == {"NEW": 5}
    assert books.held(VAULT2) == {"OLD": 10, "NEW": 5}


def test_same_day_lots_leave_in_the_order_they_arrived(ctx: BookingContext) -> None:
    books = Ledger(ctx)
    books.book(intake("x", VAULT, 10, opening=lot(lot_id="X")))
    books.book(intake("y", VAULT2, 10, opening=lot(lot_id="Y")))
    books.book(move("y-in", VAULT2, VAULT, 10))  # Y arrives in VAULT after X
    books.book(move("x-out", VAULT, VAULT2, 10))  # FIFO: X (first to arrive) leaves
    assert books.held(VAULT) == {"Y": 10}
    assert books.held(VAULT2) == {"X": 10}


def test_a_named_lot_is_relieved_instead_of_fifo(ctx: BookingContext) -> None:
    books = Ledger(ctx)
    books.book(intake("a", VAULT, 10, opening=lot(lot_id="A")))
    books.book(intake("b", VAULT, 10, opening=lot(lot_id="B")))
    books.book(move("m", VAULT, VAULT2, 4, lot_id="B"))
    assert books.held(VAULT) == {"A": 10, "B": 6}


def test_unbalanced_entry_is_refused_naming_the_asset(ctx: BookingContext) -> None:
    draft = EntryDraft(
        "u",
        DAY,
        "intake",
        "",
        (PostingDraft(VAULT, "BTC", 5, opens=lot()), PostingDraft(MINING, "BTC", -4)),
    )
    assert "BTC does not balance: the postings sum to 0.00000001 BTC" in refused(ctx, draft)


def test_relieving_more_than_held_is_refused(ctx: BookingContext) -> None:
    books = Ledger(ctx)
    books.book(intake("a", VAULT, 10, opening=lot(lot_id="A")))
    message = refused(ctx, move("m", VAULT, VAULT2, 11))
    assert "postings[0].amount: relieves 0.00000011 BTC from" in message
    assert "which holds 0.00000010 BTC" in message
    assert books.held(VAULT) == {"A": 10}  # a refused entry changes nothing


def test_relieving_more_than_a_named_lot_holds_is_refused(ctx: BookingContext) -> None:
    books = Ledger(ctx)
    books.book(intake("a", VAULT, 10, opening=lot(lot_id="A")))
    books.book(intake("b", VAULT, 10, opening=lot(lot_id="B")))
    assert "from lot A, which holds 0.00000010 BTC" in refused(
        ctx, move("m", VAULT, VAULT2, 11, lot_id="A")
    )


def test_a_negative_lot_is_refused(ctx: BookingContext) -> None:
    draft = EntryDraft(
        "n",
        DAY,
        "intake",
        "",
        (PostingDraft(VAULT, "BTC", -5, opens=lot()), PostingDraft(MINING, "BTC", 5)),
    )
    assert "postings[0].amount: a lot opens with positive units" in refused(ctx, draft)


def test_units_cannot_enter_an_asset_account_without_a_lot(ctx: BookingContext) -> None:
    draft = EntryDraft(
        "n", DAY, "x", "", (PostingDraft(VAULT, "BTC", 5), PostingDraft(MINING, "BTC", -5))
    )
    assert "would enter Assets:Reserve:SFDA:BTC:vault-astana-1 without a lot" in refused(ctx, draft)


def test_unknown_account_asset_and_lot_are_all_named(ctx: BookingContext) -> None:
    draft = EntryDraft(
        "n",
        DAY,
        "x",
        "",
        (PostingDraft("Assets:Nowhere", "DOGE", 5), PostingDraft(VAULT, "BTC", -5, lot="L404")),
    )
    message = refused(ctx, draft)
    assert "postings[0].account: unknown account 'Assets:Nowhere'" in message
    assert "postings[0].asset: unknown asset 'DOGE'" in message
    assert "postings[1].lot: unknown lot 'L404'" in message


def test_posting_before_the_account_opens_is_refused(ctx: BookingContext) -> None:
    early = replace(intake("e", VAULT, 5), date=OPENED - timedelta(days=1))
    assert "opens on 2024-01-01, after the entry's date" in refused(ctx, early)


def test_fiat_moves_without_lots(ctx: BookingContext) -> None:
    draft = EntryDraft(
        "fx",
        DAY,
        "conversion",
        "",
        (PostingDraft("Assets:Cash:USD", "USD", 500), PostingDraft("Equity:FX", "USD", -500)),
    )
    booked = Ledger(ctx).book(draft)
    assert {p.booking for p in booked.postings} == {Booking.PLAIN}
    assert all(p.lot_id is None for p in booked.postings)


def test_a_draft_dated_before_the_latest_entry_is_refused(ctx: BookingContext) -> None:
    with pytest.raises(BookingRefused, match="date: 2024-03-05 is before 2024-03-06"):
        book_entry(
            intake("k", VAULT, 5), seq=1, where="entry 1", ctx=ctx, not_before=DAY + timedelta(1)
        )


def test_the_verifier_refuses_a_chain_whose_dates_go_back() -> None:
    from reserve.ledger.chain import ChainVerifier
    from reserve.ledger.hashing import GENESIS_HASH, entry_hash
    from reserve.ledger.model import Entry

    def entry(seq: int, day: date, prev: str) -> Entry:
        blank = Entry(
            seq,
            datetime(2026, 1, 1, tzinfo=UTC),
            day,
            "note",
            "",
            {},
            "t",
            f"k{seq}",
            None,
            "d",
            (),
            (),
            prev,
            "",
        )
        return replace(blank, hash=entry_hash(blank))

    verifier = ChainVerifier(ASSETS, {})
    first = entry(1, DAY, GENESIS_HASH)
    assert verifier.feed(first) is None
    broken = verifier.feed(entry(2, DAY - timedelta(1), first.hash))
    assert broken is not None
    assert (broken.seq, broken.reason) == (
        2,
        "dated 2024-03-04, before the entry it follows (2024-03-05)",
    )
