"""CSV export: one row per leg, with the entry's chain fields, for spreadsheets and auditors."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from io import StringIO
from typing import Final

from reserve.core.clock import utc_text
from reserve.core.money import format_units
from reserve.ledger.accounts import Account
from reserve.ledger.assets import Asset
from reserve.ledger.model import Entry

COLUMNS: Final = (
    "seq", "date", "recorded_at", "kind", "idempotency_key", "actor", "reverses", "line", "leg",
    "account", "fund", "asset", "amount", "base_units", "lot_id", "booking", "memo",
    "prev_hash", "hash",
)  # fmt: skip


def csv_lines(
    entries: Iterable[Entry], assets: Mapping[str, Asset], accounts: Mapping[str, Account]
) -> Iterator[str]:
    buffer = StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(COLUMNS)
    yield flush()
    for entry in entries:
        for p in entry.postings:
            writer.writerow(
                (
                    entry.seq, entry.date.isoformat(), utc_text(entry.recorded_at), entry.kind,
                    entry.idempotency_key, entry.actor, entry.reverses or "", p.line, p.leg,
                    p.account, accounts[p.account].fund or "", p.asset,
                    format_units(p.amount, assets[p.asset].decimals), p.amount, p.lot_id or "",
                    p.booking.value, entry.memo, entry.prev_hash, entry.hash,
                )
            )  # fmt: skip
        yield flush()
