"""Booking: turning an entry draft into legs that name their lots.

Rules, in order:
1. Every posting names a known account (opened by the entry's date) and a known asset, with a
   non-zero amount; postings sum to zero per asset.
2. On an ``Assets`` account, a positive posting either opens a lot (``opens``), names the lot it
   receives, or receives the lots released elsewhere in the same entry; a negative posting
   relieves the named lot, or the account's lots FIFO. An asset account never goes below zero
   in any lot.
3. Postings that name no lot take the lots that the rest of the entry leaves unbalanced, in the
   order they appeared, so a transfer keeps each lot's identity, date and cost and a fee carries
   the lot it was paid from.
4. Within the entry, every lot's legs sum to zero.

Booking changes the lot book only when the whole entry is accepted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from operator import attrgetter
from typing import Final

from reserve.core.errors import Problem
from reserve.core.money import format_units
from reserve.ledger.accounts import Account
from reserve.ledger.assets import Asset
from reserve.ledger.lots import LotBook, arrival_of
from reserve.ledger.model import Booking, EntryDraft, Lot, Posting, PostingDraft

KIND: Final = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
LOT_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:-]{0,63}$")
MAX_KEY: Final = 200
MAX_MEMO: Final = 2000


@dataclass(frozen=True)
class BookingContext:
    assets: Mapping[str, Asset]
    accounts: Mapping[str, Account]
    book: LotBook

    @cached_property
    def lot_holders(self) -> frozenset[str]:
        """The accounts that hold lots, asked once per leg: a set lookup, not a string split."""
        return lot_holders(self.accounts)


def lot_holders(accounts: Mapping[str, Account]) -> frozenset[str]:
    return frozenset(name for name, account in accounts.items() if account.holds_lots)


@dataclass(frozen=True)
class Booked:
    postings: tuple[Posting, ...]
    lots: tuple[Lot, ...]


@dataclass(slots=True)
class _Leg:
    line: int
    account: str
    asset: str
    amount: int
    lot_id: str | None
    booking: Booking


def header_problems(
    draft: EntryDraft, where: str, *, not_before: date | None = None
) -> list[Problem]:
    """Problems with the entry's own fields, before its postings are looked at.

    The chain is kept in date order (``not_before`` is the latest entry's date): booking in
    posting order must equal booking in date order, or an as-of balance could show a lot
    relieved before it was acquired. A late correction is dated the day it is made.
    """
    problems: list[Problem] = []
    if not_before is not None and draft.date < not_before:
        problems.append(
            Problem(
                where,
                "date",
                f"{draft.date} is before {not_before}, the date of the latest entry: the ledger "
                "is kept in date order, so date a late entry the day it is posted",
            )
        )
    if not draft.idempotency_key.strip():
        problems.append(Problem(where, "idempotency_key", "must not be empty"))
    elif len(draft.idempotency_key) > MAX_KEY:
        problems.append(Problem(where, "idempotency_key", f"is longer than {MAX_KEY}"))
    if not KIND.match(draft.kind):
        problems.append(Problem(where, "kind", f"{draft.kind!r} must be lowercase, e.g. seizure"))
    if len(draft.memo) > MAX_MEMO:
        problems.append(Problem(where, "memo", f"is longer than {MAX_MEMO} characters"))
    if draft.reverses is None and len(draft.postings) < 2:
        problems.append(Problem(where, "postings", "an entry needs at least two postings"))
    return problems


def _posting_problems(
    p: PostingDraft, field: str, where: str, draft: EntryDraft, ctx: BookingContext
) -> list[Problem]:
    problems: list[Problem] = []

    def bad(sub: str, reason: str) -> None:
        problems.append(Problem(where, f"{field}.{sub}", reason))

    account = ctx.accounts.get(p.account)
    asset = ctx.assets.get(p.asset)
    if account is None:
        bad("account", f"unknown account {p.account!r}")
    elif account.opened_on > draft.date:
        bad("account", f"{p.account} opens on {account.opened_on}, after the entry's date")
    if asset is None:
        bad("asset", f"unknown asset {p.asset!r}")
    if p.amount == 0:
        bad("amount", "must not be zero")
    if p.opens is not None and p.lot is not None:
        bad("lot", "a posting either opens a lot or names one, not both")
    if asset is not None and not asset.tracks_lots and (p.opens or p.lot):
        bad("lot", f"{asset.code} is held without lots")
    if p.opens is not None:
        o = p.opens
        if account is not None and not account.holds_lots:
            bad("lot", f"only Assets accounts hold lots, not {p.account}")
        if p.amount < 0:
            bad("amount", "a lot opens with positive units; a negative lot is refused")
        if o.lot_id is not None and not LOT_ID.match(o.lot_id):
            bad("lot.id", f"{o.lot_id!r} may hold only letters, digits, '.', ':' and '-'")
        elif o.lot_id is not None and ctx.book.lot(o.lot_id) is not None:
            bad("lot.id", f"lot {o.lot_id} already exists")
        if o.acquired_on is not None and o.acquired_on > draft.date:
            bad("lot.acquired", f"{o.acquired_on} is after the entry's date {draft.date}")
        if not o.source_kind.strip():
            bad("lot.source", "must name where the units came from")
        if o.cost_usd < 0:
            bad("lot.cost_usd", "a cost basis cannot be negative")
        if o.cost_kzt < 0:
            bad("lot.cost_kzt", "a cost basis cannot be negative")
    if p.lot is not None:
        lot = ctx.book.lot(p.lot)
        if lot is None:
            bad("lot", f"unknown lot {p.lot!r}")
        elif lot.asset != p.asset:
            bad("lot", f"lot {p.lot} holds {lot.asset}, not {p.asset}")
    return problems


def book_entry(
    draft: EntryDraft,
    *,
    seq: int,
    where: str,
    ctx: BookingContext,
    not_before: date | None = None,
) -> Booked:
    """Book ``draft`` as entry ``seq``, or raise ``BookingRefused`` with every problem found."""
    problems = header_problems(draft, where, not_before=not_before)
    for i, p in enumerate(draft.postings):
        problems += _posting_problems(p, f"postings[{i}]", where, draft, ctx)
    opened_ids = [p.opens.lot_id for p in draft.postings if p.opens and p.opens.lot_id]
    if len(opened_ids) != len(set(opened_ids)):
        problems.append(Problem(where, "postings", "the same lot id is opened twice"))
    if problems:
        raise BookingRefused(problems)

    sums: dict[str, int] = defaultdict(int)
    for p in draft.postings:
        sums[p.asset] += p.amount
    unbalanced = [
        Problem(
            where,
            "postings",
            f"{code} does not balance: the postings sum to "
            f"{format_units(total, ctx.assets[code].decimals)} {code}",
        )
        for code, total in sums.items()
        if total != 0
    ]
    if unbalanced:
        raise BookingRefused(unbalanced)
    return _Booker(draft, seq, where, ctx).run()


def apply_legs(
    book: LotBook,
    accounts: Mapping[str, Account],
    seq: int,
    postings: tuple[Posting, ...],
    *,
    holders: Container[str] | None = None,
) -> None:
    """Move lot units in posting order; shared by booking and verification.

    ``holders``, when given, are the names of the lot-holding accounts among ``accounts``.
    """
    if holders is None:
        holders = lot_holders(accounts)
    for position, p in enumerate(postings):
        if p.lot_id is not None and p.account in holders:
            book.apply(p.account, p.asset, p.lot_id, p.amount, arrival=arrival_of(seq, position))


class BookingRefused(Exception):
    """Internal carrier of booking problems; the use case turns it into ``InvalidInput``."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


class _Booker:
    def __init__(self, draft: EntryDraft, seq: int, where: str, ctx: BookingContext) -> None:
        self.draft, self.seq, self.where, self.ctx = draft, seq, where, ctx
        self.pending: dict[tuple[str, str, str], int] = defaultdict(int)
        self.legs: list[_Leg] = []
        self.lots: list[Lot] = []
        self.problems: list[Problem] = []
        self.unassigned: list[tuple[int, PostingDraft]] = []
        self.holders = ctx.lot_holders

    def available(self, account: str, asset: str, lot_id: str) -> int:
        return self.ctx.book.held(account, asset, lot_id) + self.pending[(account, asset, lot_id)]

    def add(
        self, line: int, p: PostingDraft, amount: int, lot_id: str | None, how: Booking
    ) -> None:
        self.legs.append(_Leg(line, p.account, p.asset, amount, lot_id, how))
        if lot_id is not None and p.account in self.holders:
            self.pending[(p.account, p.asset, lot_id)] += amount

    def fmt(self, amount: int, asset: str) -> str:
        return f"{format_units(amount, self.ctx.assets[asset].decimals)} {asset}"

    def run(self) -> Booked:
        for line, p in enumerate(self.draft.postings):
            self.assign(line, p)
        self.check_lot_balance(self.match())
        if self.problems:
            raise BookingRefused(self.problems)
        for lot in self.lots:
            self.ctx.book.remember(lot)
        postings = self.numbered()
        apply_legs(self.ctx.book, self.ctx.accounts, self.seq, postings, holders=self.holders)
        return Booked(postings, tuple(self.lots))

    def assign(self, line: int, p: PostingDraft) -> None:
        asset = self.ctx.assets[p.asset]
        holds_lots = p.account in self.holders
        if not asset.tracks_lots:
            self.add(line, p, p.amount, None, Booking.PLAIN)
        elif p.opens is not None:
            self.open_lot(line, p)
        elif p.lot is not None:
            if holds_lots and p.amount < 0:
                held = self.available(p.account, p.asset, p.lot)
                if held < -p.amount:
                    self.problems.append(
                        Problem(
                            self.where,
                            f"postings[{line}].amount",
                            f"relieves {self.fmt(-p.amount, p.asset)} from lot {p.lot}, "
                            f"which holds {self.fmt(held, p.asset)} in {p.account}",
                        )
                    )
                    return
            self.add(line, p, p.amount, p.lot, Booking.NAMED)
        elif holds_lots and p.amount < 0:
            self.relieve_fifo(line, p, f"postings[{line}]")
        else:
            self.unassigned.append((line, p))

    def open_lot(self, line: int, p: PostingDraft) -> None:
        assert p.opens is not None
        position = len(self.lots) + 1
        lot = Lot(
            lot_id=p.opens.lot_id or f"L{self.seq}.{position}",
            asset=p.asset,
            account=p.account,
            source_kind=p.opens.source_kind,
            source_ref=p.opens.source_ref,
            acquired_on=p.opens.acquired_on or self.draft.date,
            units=p.amount,
            cost_usd=p.opens.cost_usd,
            cost_kzt=p.opens.cost_kzt,
            entry_seq=self.seq,
            position=position,
        )
        if self.ctx.book.lot(lot.lot_id) is not None:
            self.problems.append(
                Problem(self.where, f"postings[{line}].lot.id", f"lot {lot.lot_id} already exists")
            )
            return
        self.lots.append(lot)
        self.add(line, p, p.amount, lot.lot_id, Booking.OPEN)

    def relieve_fifo(self, line: int, p: PostingDraft, field: str) -> None:
        need = -p.amount
        takes: list[tuple[str, int]] = []
        for lot, _units in self.ctx.book.fifo(p.account, p.asset):
            free = self.available(p.account, p.asset, lot.lot_id)
            if free <= 0:
                continue
            take = min(free, need)
            takes.append((lot.lot_id, take))
            need -= take
            if need == 0:
                break
        if need:
            held = -p.amount - need
            self.problems.append(
                Problem(
                    self.where,
                    f"{field}.amount",
                    f"relieves {self.fmt(-p.amount, p.asset)} from {p.account}, "
                    f"which holds {self.fmt(held, p.asset)}",
                )
            )
            return
        for lot_id, take in takes:
            self.add(line, p, -take, lot_id, Booking.FIFO)

    def net_by_lot(self) -> dict[str, dict[str, int]]:
        net: dict[str, dict[str, int]] = defaultdict(dict)
        for leg in self.legs:
            if leg.lot_id is not None:
                per_asset = net[leg.asset]
                per_asset[leg.lot_id] = per_asset.get(leg.lot_id, 0) + leg.amount
        return net

    def match(self) -> dict[str, dict[str, int]]:
        """Give the unassigned postings the lots the rest of the entry leaves unbalanced;
        returns the net per lot after matching (what ``net_by_lot`` would now compute)."""
        net = self.net_by_lot()
        for line, p in self.unassigned:
            remaining = p.amount
            for lot_id, balance in net[p.asset].items():
                if remaining == 0:
                    break
                if balance * remaining >= 0:
                    continue  # this lot needs units of the other sign
                take = min(abs(balance), abs(remaining)) * (1 if remaining > 0 else -1)
                self.add(line, p, take, lot_id, Booking.MATCHED)
                net[p.asset][lot_id] = balance + take
                remaining -= take
            if remaining == 0:
                continue
            if p.account in self.holders:
                self.problems.append(
                    Problem(
                        self.where,
                        f"postings[{line}].lot",
                        f"{self.fmt(remaining, p.asset)} would enter {p.account} without a lot: "
                        "open one with 'lot' or relieve lots in the same entry",
                    )
                )
            else:
                self.add(line, p, remaining, None, Booking.PLAIN)
        return net

    def check_lot_balance(self, net: dict[str, dict[str, int]]) -> None:
        for asset, per_lot in net.items():
            for lot_id, balance in per_lot.items():
                if balance:
                    self.problems.append(
                        Problem(
                            self.where,
                            "postings",
                            f"lot {lot_id} does not balance ({self.fmt(balance, asset)}): "
                            "units of a lot may only move, never appear or vanish",
                        )
                    )

    def numbered(self) -> tuple[Posting, ...]:
        """Legs by posting line, in the order they were made within a line (a stable sort)."""
        postings: list[Posting] = []
        line, leg_no = -1, 0
        for leg in sorted(self.legs, key=_BY_LINE):
            leg_no = leg_no + 1 if leg.line == line else 0
            line = leg.line
            postings.append(
                Posting(line, leg_no, leg.account, leg.asset, leg.amount, leg.lot_id, leg.booking)
            )
        return tuple(postings)


_BY_LINE: Final = attrgetter("line")
