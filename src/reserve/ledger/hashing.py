"""Canonical bytes and the sha256 chain.

``hash = sha256(prev_hash || canonical JSON of the entry)``, where ``prev_hash`` is the previous
entry's hash as 32 raw bytes (all zeros before the first entry) and the JSON has sorted keys, no
spaces, amounts as integer strings and decimals in one spelling. Every stored field of an entry,
its legs and the lots it opens is in the bytes, so a change to any of them breaks the chain at
exactly that entry. The content digest (for idempotency) leaves out what a replay may change:
the sequence number, the time it was recorded and the acting user.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from reserve.core.clock import utc_text
from reserve.core.money import decimal_text
from reserve.ledger.model import Entry, EntryDraft, Lot, Posting

GENESIS_HASH: Final = "0" * 64
FORMAT_VERSION: Final = 1


# One encoder for every call (``json.dumps`` with options builds a new one each time). The
# bodies are trees built here, never cyclic, so the circular-reference check is skipped; the
# bytes are those of ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
# ensure_ascii=False)``.
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)


def canonical(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode()


@lru_cache(maxsize=256)
def _moment_text(moment: datetime) -> str:
    """``utc_text``, remembered: the entries of one post share their ``recorded_at``."""
    return utc_text(moment)


def draft_digest(draft: EntryDraft) -> str:
    """What an idempotency key promises: the same key always means this content."""
    body = {
        "date": draft.date.isoformat(),
        "kind": draft.kind,
        "memo": draft.memo,
        "refs": draft.refs,
        "reverses": draft.reverses,
        "postings": [
            {
                "account": p.account,
                "asset": p.asset,
                "amount": str(p.amount),
                "lot": p.lot,
                "opens": None
                if p.opens is None
                else {
                    "lot_id": p.opens.lot_id,
                    "source_kind": p.opens.source_kind,
                    "source_ref": p.opens.source_ref,
                    "acquired_on": p.opens.acquired_on.isoformat() if p.opens.acquired_on else None,
                    "cost_usd": decimal_text(p.opens.cost_usd),
                    "cost_kzt": decimal_text(p.opens.cost_kzt),
                },
            }
            for p in draft.postings
        ],
    }
    return hashlib.sha256(canonical(body)).hexdigest()


def _posting_body(p: Posting) -> list[Any]:
    # ``Booking`` is a StrEnum: JSON writes its value, with no enum descriptor on the hot path
    return [p.line, p.leg, p.account, p.asset, str(p.amount), p.lot_id, p.booking]


def _lot_body(lot: Lot) -> list[Any]:
    return [
        lot.lot_id,
        lot.asset,
        lot.account,
        lot.source_kind,
        lot.source_ref,
        lot.acquired_on.isoformat(),
        str(lot.units),
        decimal_text(lot.cost_usd),
        decimal_text(lot.cost_kzt),
        lot.entry_seq,
        lot.position,
    ]


def entry_payload(entry: Entry) -> bytes:
    """The canonical bytes of everything stored for ``entry`` except its own hash."""
    return canonical(
        {
            "v": FORMAT_VERSION,
            "seq": entry.seq,
            "recorded_at": _moment_text(entry.recorded_at),
            "date": entry.date.isoformat(),
            "kind": entry.kind,
            "memo": entry.memo,
            "refs": entry.refs,
            "actor": entry.actor,
            "idempotency_key": entry.idempotency_key,
            "reverses": entry.reverses,
            "content_digest": entry.content_digest,
            "postings": [_posting_body(p) for p in entry.postings],
            "lots": [_lot_body(lot) for lot in entry.lots],
        }
    )


def chain_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + payload).hexdigest()


def entry_hash(entry: Entry) -> str:
    """The hash ``entry`` must carry, given its stored ``prev_hash``."""
    return chain_hash(entry.prev_hash, entry_payload(entry))
