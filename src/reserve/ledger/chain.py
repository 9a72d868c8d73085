"""Verifying the ledger: replay the chain, rebook the lots, recompute the balances.

The verifier is fed stored entries in sequence order and stops at the first one that does not
verify, naming its sequence number. An entry verifies when it follows its predecessor without a
gap, links to its hash, hashes to what it carries, and its legs obey the booking rules (zero sum
per asset and per lot, lots opened where it says, no asset account below zero in any lot). After
the last entry the caller compares the rebuilt balances and lot holdings with the stored ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from reserve.ledger.accounts import Account
from reserve.ledger.assets import Asset
from reserve.ledger.booking import apply_legs, lot_holders
from reserve.ledger.hashing import GENESIS_HASH, entry_hash
from reserve.ledger.lots import LotBook
from reserve.ledger.model import Booking, Entry


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


class ChainVerifier:
    """Feed entries in order; the first ``ChainBreak`` is final."""

    def __init__(self, assets: Mapping[str, Asset], accounts: Mapping[str, Account]) -> None:
        self.assets = assets
        self.accounts = accounts
        self.holders = lot_holders(accounts)
        self.book = LotBook()
        self.balances: dict[tuple[str, str], int] = defaultdict(int)
        self.count = 0
        self.head = GENESIS_HASH
        self.last_date: date | None = None
        self.broken: ChainBreak | None = None

    def feed(self, entry: Entry) -> ChainBreak | None:
        if self.broken is not None:
            return self.broken
        reason = self._check(entry)
        if reason is not None:
            expected = self.count + 1
            self.broken = ChainBreak(min(expected, entry.seq), reason)
            return self.broken
        self.count += 1
        self.head = entry.hash
        self.last_date = entry.date
        return None

    def _check(self, entry: Entry) -> str | None:
        expected = self.count + 1
        if entry.seq != expected:
            return f"entry {expected} is missing (next stored entry is {entry.seq})"
        if entry.prev_hash != self.head:
            return "prev_hash does not match the previous entry's hash"
        if entry_hash(entry) != entry.hash:
            return "hash does not match the entry's content"
        if self.last_date is not None and entry.date < self.last_date:
            return f"dated {entry.date}, before the entry it follows ({self.last_date})"
        return self._rebook(entry)

    def _rebook(self, entry: Entry) -> str | None:
        accounts, assets, holders, book = self.accounts, self.assets, self.holders, self.book
        per_asset: dict[str, int] = {}
        per_lot: dict[str, int] = {}
        opened = {lot.lot_id: lot for lot in entry.lots}
        opened_here = frozenset(opened)  # a leg may name a lot that a later leg opens
        for p in entry.postings:
            asset = assets.get(p.asset)
            if asset is None or p.account not in accounts:
                return f"posting {p.line}.{p.leg} names an unknown account or asset"
            per_asset[p.asset] = per_asset.get(p.asset, 0) + p.amount
            lot_id = p.lot_id
            if lot_id is None:
                if asset.tracks_lots and p.account in holders:
                    return f"posting {p.line}.{p.leg}: units in {p.account} without a lot"
                continue
            per_lot[lot_id] = per_lot.get(lot_id, 0) + p.amount
            if p.booking is Booking.OPEN:
                lot = opened.pop(lot_id, None)
                if lot is None or lot.units != p.amount or lot.account != p.account:
                    return f"posting {p.line}.{p.leg} opens lot {lot_id} inconsistently"
                book.remember(lot)
            elif book.lot(lot_id) is None and lot_id not in opened_here:
                return f"posting {p.line}.{p.leg} names lot {lot_id}, never opened"
        if opened:
            return f"lot {next(iter(opened))} is recorded but no posting opens it"
        if any(per_asset.values()) or any(per_lot.values()):
            return "postings do not sum to zero per asset and per lot"
        balances = self.balances
        for p in entry.postings:
            balances[(p.account, p.asset)] += p.amount
        apply_legs(book, accounts, entry.seq, entry.postings, holders=holders)
        for p in entry.postings:
            if p.lot_id is not None and book.held(p.account, p.asset, p.lot_id) < 0:
                return f"{p.account} goes below zero in lot {p.lot_id}"
        return None

    def nonzero_balances(self) -> dict[tuple[str, str], int]:
        return {key: amount for key, amount in self.balances.items() if amount != 0}
