"""Any change to any stored field of any entry makes verify fail at exactly that entry."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from reserve.core.errors import IntegrityFailure
from reserve.ledger.workload import workload, workload_accounts
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import open_accounts, post_entries
from reserve.storage.tables import APPEND_ONLY
from reserve.storage.triggers import drop_append_only_sql

from conftest import make_reserve
from support import copy_without_triggers, tampered

START = date(2022, 6, 1)
ENTRIES = 24

# (table, column, key column naming the entry, how to change the value): values that keep
# their type, as a careful forger's would, and values that no longer read as their type.
FIELDS = [
    ("entries", c, "seq", "text")
    for c in (
        "kind",
        "memo",
        "actor",
        "idempotency_key",
        "content_digest",
        "prev_hash",
        "hash",
    )
] + [
    ("entries", "recorded_at", "seq", "timestamp"),
    ("entries", "recorded_at", "seq", "text"),  # unreadable as a timestamp
    ("entries", "refs", "seq", "text"),  # unreadable as JSON
    ("entries", "date", "seq", "text"),
    ("postings", "amount", "entry_seq", "text"),
    ("lots", "cost_usd", "entry_seq", "text"),
    ("lots", "acquired_on", "entry_seq", "text"),
    ("entries", "refs", "seq", "json"),
    ("entries", "date", "seq", "date"),
    ("postings", "amount", "entry_seq", "int"),
    ("postings", "account", "entry_seq", "account"),
    ("postings", "asset", "entry_seq", "asset"),
    ("postings", "lot_id", "entry_seq", "text"),
    ("postings", "booking", "entry_seq", "booking"),
    ("postings", "line", "entry_seq", "key"),
    ("postings", "leg", "entry_seq", "key"),
    ("lots", "units", "entry_seq", "int"),
    ("lots", "cost_usd", "entry_seq", "decimal"),
    ("lots", "cost_kzt", "entry_seq", "decimal"),
    ("lots", "source_kind", "entry_seq", "text"),
    ("lots", "source_ref", "entry_seq", "text"),
    ("lots", "acquired_on", "entry_seq", "date"),
    ("lots", "account", "entry_seq", "account"),
    ("lots", "position", "entry_seq", "int"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tamper") / "template.db"
    reserve = make_reserve(f"sqlite:///{path}")
    open_accounts(reserve, workload_accounts(START))
    post_entries(reserve, list(workload(ENTRIES, seed=11, start=START)), actor="t")
    reserve.close()
    return path


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(FIELDS),
    pick=st.integers(min_value=0, max_value=10**6),
    nudge=st.integers(1, 9),
)
def test_changing_any_stored_field_breaks_the_chain_at_that_entry(
    template: Path, tmp_path: Path, field: tuple[str, str, str, str], pick: int, nudge: int
) -> None:
    table, column, key, kind = field
    copy = copy_without_triggers(template, tmp_path / f"t{pick}.db")
    with sqlite3.connect(copy) as db:
        rows = db.execute(f"SELECT rowid, {key}, {column} FROM {table} ORDER BY rowid").fetchall()
        rows = [r for r in rows if r[2] is not None]
        rowid, seq, old = rows[pick % len(rows)]
        new = tampered(kind, old, nudge)
        assert str(new) != str(old)
        stored = str(new) if isinstance(old, str) else new  # amounts are TEXT on SQLite
        db.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (stored, rowid))
    reserve = make_reserve(f"sqlite:///{copy}")
    try:
        with pytest.raises(IntegrityFailure) as caught:
            verify_ledger(reserve)
        assert caught.value.first_bad_seq == seq, str(caught.value)
    finally:
        reserve.close()


def test_a_deleted_entry_is_named_as_missing(template: Path, tmp_path: Path) -> None:
    copy = copy_without_triggers(template, tmp_path / "gap.db")
    with sqlite3.connect(copy) as db:
        for table, key in (("postings", "entry_seq"), ("lots", "entry_seq"), ("entries", "seq")):
            db.execute(f"DELETE FROM {table} WHERE {key} = 7")
    reserve = make_reserve(f"sqlite:///{copy}")
    with pytest.raises(IntegrityFailure, match="entry 7 is missing") as caught:
        verify_ledger(reserve)
    assert caught.value.first_bad_seq == 7
    reserve.close()


def test_tampering_on_postgresql_is_found_at_that_entry(postgres_url: str) -> None:
    reserve = make_reserve(postgres_url)
    open_accounts(reserve, workload_accounts(START))
    post_entries(reserve, list(workload(12, seed=3, start=START)), actor="t")
    with reserve.engine.begin() as conn:
        for statement in drop_append_only_sql("postgresql", APPEND_ONLY):
            conn.execute(text(statement))
        conn.execute(
            text("UPDATE postings SET amount = amount + 1 WHERE entry_seq = 5 AND line = 0")
        )
    with pytest.raises(IntegrityFailure) as caught:
        verify_ledger(reserve)
    assert caught.value.first_bad_seq == 5
    reserve.close()


def test_a_drifted_projection_is_reported(template: Path, tmp_path: Path) -> None:
    copy = copy_without_triggers(template, tmp_path / "drift.db")
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE balances SET amount = amount || '1' WHERE rowid = 1")
    reserve = make_reserve(f"sqlite:///{copy}")
    with pytest.raises(IntegrityFailure, match="stored balance"):
        verify_ledger(reserve)
    reserve.close()
