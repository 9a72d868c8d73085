"""Small builders for ledger tests: accounts, lots and drafts written the way users write them."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from reserve.bootstrap import Reserve
from reserve.ledger.accounts import Account
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft
from reserve.services.ledger import open_accounts
from reserve.storage.tables import APPEND_ONLY
from reserve.storage.triggers import drop_append_only_sql

DAY = date(2024, 3, 5)
CUSTODY = "Assets:Custody:Seized:2024-001:BTC"
CASE_EQUITY = "Equity:Custody:2024-001"
VAULT = "Assets:Reserve:SFDA:BTC:vault-astana-1"
VAULT2 = "Assets:Reserve:SFDA:BTC:vault-almaty-1"
ETH_WALLET = "Assets:Reserve:SFDA:ETH:hot-1"
FEES = "Expenses:Fees:Network"
MINING = "Income:Mining:SFDA"
DISPOSALS = "Equity:Disposals"

ACCOUNTS = (
    (CUSTODY, None),
    (CASE_EQUITY, None),
    (VAULT, "SFDA"),
    (VAULT2, "SFDA"),
    (ETH_WALLET, "SFDA"),
    (FEES, None),
    (MINING, "SFDA"),
    (DISPOSALS, "SFDA"),
)


def open_standard(reserve: Reserve) -> None:
    open_accounts(reserve, [Account(n, f, date(2024, 1, 1)) for n, f in ACCOUNTS])


def lot(
    source: str = "mining", ref: str = "batch-1", usd: str = "1000", **kw: object
) -> LotOpening:
    return LotOpening(source, ref, Decimal(usd), Decimal(usd) * 450, **kw)  # type: ignore[arg-type]


def intake(
    key: str,
    account: str,
    units: int,
    *,
    asset: str = "BTC",
    counter: str = MINING,
    day: date = DAY,
    opening: LotOpening | None = None,
) -> EntryDraft:
    return EntryDraft(
        key,
        day,
        "intake",
        f"{units} into {account}",
        (
            PostingDraft(account, asset, units, opens=opening or lot()),
            PostingDraft(counter, asset, -units),
        ),
    )


def move(
    key: str,
    source: str,
    target: str,
    units: int,
    *,
    fee: int = 0,
    asset: str = "BTC",
    day: date = DAY,
    lot_id: str | None = None,
) -> EntryDraft:
    legs = [
        PostingDraft(source, asset, -units, lot=lot_id),
        PostingDraft(target, asset, units - fee),
    ]
    if fee:
        legs.append(PostingDraft(FEES, asset, fee))
    return EntryDraft(key, day, "transfer", "move", tuple(legs))


def copy_without_triggers(template: Path, path: Path) -> Path:
    """A private copy of a template SQLite ledger, append-only triggers dropped, to tamper with."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(template) as source, sqlite3.connect(path) as target:
        source.backup(target)
        for statement in drop_append_only_sql("sqlite", APPEND_ONLY):
            target.execute(statement)
    return path


def tampered(kind: str, old: object, nudge: int) -> object:
    """A different value of the same kind, as a forger would write it (or one that no longer
    reads as its type, for ``text``)."""
    if kind == "int":
        return int(str(old)) + nudge
    if kind == "key":  # far from its neighbours, so the primary key stays unique
        return int(str(old)) + 1000 * nudge
    if kind == "timestamp":
        return f"{str(old)[:-6]}{nudge:06d}"
    if kind == "json":
        return f'{{"planted":"{nudge}"}}'
    if kind == "decimal":
        return f"{old}{nudge}" if "." in str(old) else f"{old}.{nudge}"
    if kind == "date":
        return f"2019-01-{nudge % 28 + 1:02d}"
    if kind == "account":
        return "Equity:Intake" if old != "Equity:Intake" else "Equity:Disposals"
    if kind == "asset":
        return "USDT" if old != "USDT" else "BTC"
    if kind == "booking":
        return "named" if old != "named" else "fifo"
    return f"{old}~{nudge}"


MINED_JSON: dict[str, Any] = {
    "idempotency_key": "mining:1",
    "date": "2024-03-06",
    "kind": "mining",
    "postings": [
        {
            "account": VAULT,
            "asset": "BTC",
            "amount": "0.75",
            "lot": {"source": "mining", "ref": "b1", "cost_usd": "1", "cost_kzt": "450"},
        },
        {"account": MINING, "asset": "BTC", "amount": "-0.75"},
    ],
}
"""A month's retained mining output as `reserve ledger post` takes it."""
