"""The audit log: every action of every user, append-only and hash-chained like the ledger.

``hash = sha256(prev_hash || canonical JSON of the record)`` with the ledger's canonical bytes
and genesis hash, so one way of checking serves both chains. Every stored field is in the
bytes: editing any of them, or removing a record, breaks the chain at exactly that record. The
log says who did what to which subject; the details are strings, so they hash in one spelling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from reserve.core.clock import utc_text
from reserve.ledger.chain import ChainBreak
from reserve.ledger.hashing import GENESIS_HASH, canonical, chain_hash

AUDIT_FORMAT_VERSION: Final = 1


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: datetime
    actor: str
    action: str  # what was done, e.g. "users.add", "ledger.post", "approvals.record"
    subject: str  # to what: a username, a case, "ledger"
    details: dict[str, str]
    prev_hash: str
    hash: str


def audit_payload(record: AuditRecord) -> bytes:
    """The canonical bytes of everything stored for ``record`` except its own hash."""
    return canonical(
        {
            "v": AUDIT_FORMAT_VERSION,
            "seq": record.seq,
            "at": utc_text(record.at),
            "actor": record.actor,
            "action": record.action,
            "subject": record.subject,
            "details": record.details,
        }
    )


def audit_hash(record: AuditRecord) -> str:
    """The hash ``record`` must carry, given its stored ``prev_hash``."""
    return chain_hash(record.prev_hash, audit_payload(record))


def next_record(
    head: tuple[int, str],
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, str],
) -> AuditRecord:
    """The record that extends the log whose last record is ``head`` (seq, hash)."""
    seq, prev_hash = head
    record = AuditRecord(seq + 1, at, actor, action, subject, dict(details), prev_hash, "")
    return replace(record, hash=audit_hash(record))


class AuditVerifier:
    """Feed records in order; the first ``ChainBreak`` is final."""

    def __init__(self) -> None:
        self.count = 0
        self.head = GENESIS_HASH
        self.broken: ChainBreak | None = None

    def feed(self, record: AuditRecord) -> ChainBreak | None:
        if self.broken is not None:
            return self.broken
        reason = self._check(record)
        if reason is not None:
            self.broken = ChainBreak(min(self.count + 1, record.seq), reason)
            return self.broken
        self.count += 1
        self.head = record.hash
        return None

    def _check(self, record: AuditRecord) -> str | None:
        expected = self.count + 1
        if record.seq != expected:
            return f"record {expected} is missing (next stored record is {record.seq})"
        if record.prev_hash != self.head:
            return "prev_hash does not match the previous record's hash"
        if audit_hash(record) != record.hash:
            return "hash does not match the record's content"
        return None
