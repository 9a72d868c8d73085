"""Journal entries, postings and lots: the immutable records of the ledger.

A *draft* is what somebody asks to post; booking turns it into an ``Entry`` whose postings are
*legs*: one per (posting line, lot). Every leg of a lot-tracked asset names its lot, so within
one entry the legs sum to zero per asset **and** per lot. That is what keeps a lot's identity,
date and cost when units move between accounts, and what lets an auditor follow any unit back to
the seizure case, mining batch or purchase it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class Booking(StrEnum):
    """How a leg got its lot."""

    OPEN = "open"  # the leg opens a new lot
    FIFO = "fifo"  # relieved from the account's oldest lots
    NAMED = "named"  # the posting named the lot
    MATCHED = "matched"  # the other side of lots opened or relieved in the same entry
    PLAIN = "plain"  # no lot: fiat, or lot-tracked units moving between non-asset accounts


@dataclass(frozen=True)
class LotOpening:
    """A request to open a lot: where the units came from and what they cost."""

    source_kind: str
    source_ref: str
    cost_usd: Decimal
    cost_kzt: Decimal
    lot_id: str | None = None
    acquired_on: date | None = None


@dataclass(frozen=True)
class PostingDraft:
    account: str
    asset: str
    amount: int
    opens: LotOpening | None = None
    lot: str | None = None


@dataclass(frozen=True)
class EntryDraft:
    idempotency_key: str
    date: date
    kind: str
    memo: str
    postings: tuple[PostingDraft, ...]
    refs: dict[str, str] = field(default_factory=dict)
    reverses: int | None = None


@dataclass(frozen=True)
class Lot:
    """Units acquired together: their origin, acquisition date and cost basis."""

    lot_id: str
    asset: str
    account: str
    source_kind: str
    source_ref: str
    acquired_on: date
    units: int
    cost_usd: Decimal
    cost_kzt: Decimal
    entry_seq: int
    position: int

    @property
    def fifo_key(self) -> tuple[date, int, int]:
        return (self.acquired_on, self.entry_seq, self.position)

    def cost_of(self, units: int) -> tuple[Decimal, Decimal]:
        """The cost basis of ``units`` of this lot, pro rata, in USD and KZT."""
        if self.units == 0:
            return Decimal(0), Decimal(0)
        share = Decimal(units) / Decimal(self.units)
        return self.cost_usd * share, self.cost_kzt * share


@dataclass(frozen=True)
class Posting:
    line: int
    leg: int
    account: str
    asset: str
    amount: int
    lot_id: str | None
    booking: Booking


@dataclass(frozen=True)
class Entry:
    seq: int
    recorded_at: datetime
    date: date
    kind: str
    memo: str
    refs: dict[str, str]
    actor: str
    idempotency_key: str
    reverses: int | None
    content_digest: str
    postings: tuple[Posting, ...]
    lots: tuple[Lot, ...]
    prev_hash: str
    hash: str
