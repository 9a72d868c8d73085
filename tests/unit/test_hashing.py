"""The chain's hash format: pinned, because a ledger written today must verify forever."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from reserve.ledger.hashing import GENESIS_HASH, draft_digest, entry_hash, entry_payload
from reserve.ledger.model import Booking, Entry, EntryDraft, Lot, Posting, PostingDraft

VAULT = "Assets:Reserve:SFDA:BTC:vault-astana-1"
LOT = Lot(
    "L1.1", "BTC", VAULT, "mining", "batch-1", date(2024, 3, 5), 150_000_000,
    Decimal("97500.50"), Decimal("43875225"), 1, 1,
)  # fmt: skip
ENTRY = Entry(
    seq=1,
    recorded_at=datetime(2026, 1, 15, 9, 30, tzinfo=UTC),
    date=date(2024, 3, 5),
    kind="mining",
    memo="Ekibastuz, März",
    refs={"batch": "b-1"},
    actor="clerk",
    idempotency_key="mining:b-1",
    reverses=None,
    content_digest="ab" * 32,
    postings=(
        Posting(0, 0, VAULT, "BTC", 150_000_000, "L1.1", Booking.OPEN),
        Posting(1, 0, "Income:Mining:SFDA", "BTC", -150_000_000, "L1.1", Booking.MATCHED),
    ),
    lots=(LOT,),
    prev_hash=GENESIS_HASH,
    hash="",
)

EXPECTED_PAYLOAD = (
    '{"actor":"clerk","content_digest":"' + "ab" * 32 + '","date":"2024-03-05",'
    '"idempotency_key":"mining:b-1","kind":"mining",'
    '"lots":[["L1.1","BTC","' + VAULT + '","mining","batch-1","2024-03-05","150000000",'
    '"97500.5","43875225",1,1]],'
    '"memo":"Ekibastuz, März",'
    '"postings":[[0,0,"' + VAULT + '","BTC","150000000","L1.1","open"],'
    '[1,0,"Income:Mining:SFDA","BTC","-150000000","L1.1","matched"]],'
    '"recorded_at":"2026-01-15T09:30:00.000000Z","refs":{"batch":"b-1"},"reverses":null,'
    '"seq":1,"v":1}'
)


def test_the_payload_is_the_documented_canonical_json() -> None:
    assert entry_payload(ENTRY).decode() == EXPECTED_PAYLOAD


def test_the_hash_chains_the_previous_hash_as_raw_bytes() -> None:
    expected = hashlib.sha256(bytes(32) + EXPECTED_PAYLOAD.encode()).hexdigest()
    assert entry_hash(ENTRY) == expected
    second = replace(ENTRY, seq=2, prev_hash=expected)
    assert entry_hash(second) != entry_hash(replace(second, prev_hash=GENESIS_HASH))


def test_the_content_digest_ignores_who_and_when_but_not_what() -> None:
    draft = EntryDraft(
        "k",
        date(2024, 3, 5),
        "transfer",
        "memo",
        (PostingDraft(VAULT, "BTC", -1), PostingDraft("Equity:X", "BTC", 1)),
    )
    assert draft_digest(draft) == draft_digest(replace(draft))
    assert draft_digest(draft) != draft_digest(replace(draft, memo="other"))
    assert draft_digest(draft) != draft_digest(replace(draft, postings=draft.postings[::-1]))
