"""Transfer requests and the life they lead: every step is an event, the state is derived.

A request names a vault, a destination, an amount and the network fee, all in satoshis. Its
canonical JSON is hashed; approvals, the PSBT and the final checks all refer to that hash, so a
request cannot be changed after the approvers saw it. The steps are recorded as events, never
as updates: ``built`` (the unsigned PSBT), ``signed`` (each signature file imported),
``finalized``, ``verified`` (the independent check passed), ``broadcast``, ``confirmed`` (with
the ledger entry) or ``cancelled``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from reserve.core.errors import Problem

TRANSFER_ID: Final = re.compile(r"^[A-Z][A-Z0-9-]{2,39}$")
NETWORK_FEES: Final = "Expenses:Fees:Network"


class TransferStatus(StrEnum):
    BLOCKED = "BLOCKED"  # the policy evaluation found violations; it can never proceed
    PENDING = "PENDING"  # waiting for approvals
    APPROVED = "APPROVED"
    BUILT = "BUILT"
    SIGNING = "SIGNING"  # some signatures imported
    FINALIZED = "FINALIZED"
    VERIFIED = "VERIFIED"
    BROADCAST = "BROADCAST"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class EventKind(StrEnum):
    BUILT = "built"
    SIGNED = "signed"
    FINALIZED = "finalized"
    VERIFIED = "verified"
    BROADCAST = "broadcast"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class TransferRequest:
    transfer_id: str
    vault: str
    asset: str
    destination: str  # an address of the vault's network
    destination_kind: str  # "court" for a court-named recipient, else "other" (the policy
    # upgrades a whitelisted address itself)
    amount: int
    fee: int
    memo: str
    court_order: str | None = None

    def canonical(self) -> dict[str, str]:
        """What approvers approve: every field, amounts as decimal strings."""
        return {
            "transfer_id": self.transfer_id,
            "vault": self.vault,
            "asset": self.asset,
            "destination": self.destination,
            "destination_kind": self.destination_kind,
            "amount": str(self.amount),
            "fee": str(self.fee),
            "memo": self.memo,
            "court_order": self.court_order or "",
        }

    @classmethod
    def from_canonical(cls, data: dict[str, str]) -> TransferRequest:
        return cls(
            transfer_id=data["transfer_id"],
            vault=data["vault"],
            asset=data["asset"],
            destination=data["destination"],
            destination_kind=data["destination_kind"],
            amount=int(data["amount"]),
            fee=int(data["fee"]),
            memo=data["memo"],
            court_order=data["court_order"] or None,
        )


@dataclass(frozen=True)
class TransferEvent:
    transfer_id: str
    kind: EventKind
    payload: dict[str, Any]
    actor: str
    at: datetime


def request_problems(request: TransferRequest) -> list[Problem]:
    where = f"transfer {request.transfer_id}"
    problems: list[Problem] = []
    if not TRANSFER_ID.match(request.transfer_id):
        problems.append(Problem(where, "transfer_id", "must be 3-40 capitals, digits or '-'"))
    if request.amount <= 0:
        problems.append(Problem(where, "amount", "must be a positive number of base units"))
    if request.fee <= 0:
        problems.append(Problem(where, "fee", "must be a positive number of base units"))
    if request.destination_kind not in ("court", "other"):
        problems.append(Problem(where, "destination_kind", "must be 'court' or 'other'"))
    if request.destination_kind == "court" and not request.court_order:
        problems.append(Problem(where, "court_order", "a court-named recipient needs the order"))
    if not request.memo.strip():
        problems.append(Problem(where, "memo", "say why the coins move"))
    return problems


def status_of(
    *, blocked: bool, approvals_missing: int, events: Sequence[TransferEvent]
) -> TransferStatus:
    """The state a transfer's events and approvals put it in."""
    kinds = [e.kind for e in events]
    if EventKind.CANCELLED in kinds:
        return TransferStatus.CANCELLED
    if blocked:
        return TransferStatus.BLOCKED
    for kind, status in (
        (EventKind.CONFIRMED, TransferStatus.CONFIRMED),
        (EventKind.BROADCAST, TransferStatus.BROADCAST),
        (EventKind.VERIFIED, TransferStatus.VERIFIED),
        (EventKind.FINALIZED, TransferStatus.FINALIZED),
    ):
        if kind in kinds:
            return status
    if EventKind.SIGNED in kinds:
        return TransferStatus.SIGNING
    if EventKind.BUILT in kinds:
        return TransferStatus.BUILT
    return TransferStatus.PENDING if approvals_missing > 0 else TransferStatus.APPROVED
