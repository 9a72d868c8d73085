"""Bulk import of mining reports and purchase fills: whole files or nothing, named rows,
re-imports that change nothing; on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from test_intake_purchases import approved, staffed

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.intake.mining import MiningOperation
from reserve.intake.records import RecordKind
from reserve.services.intake_import import import_records
from reserve.services.intake_mining import period_report, register_operation
from reserve.services.intake_purchases import show_purchase
from reserve.services.integrity import verify_ledger

TXIDS = [f"{n:02x}" * 32 for n in range(1, 9)]
MINE = MiningOperation("EKB-1", "Ekibastuz", "State energy holding", Decimal(25000))


def report(period: str, amount: str, txid: str, **kw: str) -> dict[str, Any]:
    row = {
        "operation": "EKB-1",
        "period": period,
        "amount": amount,
        "payout_txids": txid,
        "energy_mwh": "14400",
        "cost_kzt": "360000000",
        "kzt_per_usd": "480.5",
    }
    return {**row, **kw}


def fill(ref: str, quantity: str, **kw: str) -> dict[str, Any]:
    row = {
        "order_id": "PO-2025-012",
        "venue": "AIX",
        "ref": ref,
        "quantity": quantity,
        "price_usd": "98000",
        "fee_usd": "49.00",
        "filled_on": "2025-12-02",
        "kzt_per_usd": "512.40",
    }
    return {**row, **kw}


def labelled(name: str, rows: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{name} row {i}", row) for i, row in enumerate(rows, start=2)]


def snapshot(reserve: Reserve) -> tuple[Any, ...]:
    with reserve.reading() as uow:
        return (
            uow.ledger.head(),
            sorted(uow.ledger.current_balances().items()),
            uow.governance.audit_head(),
            uow.mining.outputs(),
            uow.purchases.fills(),
        )


@pytest.fixture
def books(reserve: Reserve) -> Reserve:
    staffed(reserve)
    register_operation(reserve, MINE, actor="intake1")
    return reserve


def test_a_mining_report_imports_once_and_splits_by_the_rule_in_force(books: Reserve) -> None:
    rows = labelled(
        "mining.json",
        [report("2024-12", "13.31", TXIDS[0]), report("2025-01", "12.84", TXIDS[1])],
    )
    done = import_records(books, RecordKind.MINING, rows, actor="intake1")
    assert (done.rows, done.created) == (2, 2)
    lines = {line.period: line for line in period_report(books)}
    assert (lines["2024-12"].required, lines["2025-01"].required) == (665_500_000, 963_000_000)
    before = snapshot(books)
    again = import_records(books, RecordKind.MINING, rows, actor="intake1")
    assert again.created == 0
    assert snapshot(books) == before


@pytest.mark.parametrize(
    ("middle", "message"),
    [
        (report("2024-13", "1", TXIDS[3]), "period: '2024-13' is not a month written YYYY-MM"),
        (report("2024-11", "1", TXIDS[3], operation="NOPE"), "unknown mining operation 'NOPE'"),
        (report("2024-11", "1", TXIDS[0]), "payout_txids"),
        (report("2024-11", "1", TXIDS[3], kzt_per_usd=""), "kzt_per_usd"),
    ],
    ids=["bad-period", "unknown-operation", "payout-reported-twice", "no-rate"],
)
def test_a_broken_mining_row_in_the_middle_writes_nothing(
    books: Reserve, middle: dict[str, Any], message: str
) -> None:
    before = snapshot(books)
    rows = labelled(
        "mining.csv",
        [report("2024-10", "13.85", TXIDS[0]), middle, report("2024-12", "2", TXIDS[2])],
    )
    with pytest.raises(InvalidInput) as refused:
        import_records(books, RecordKind.MINING, rows, actor="intake1")
    found = [str(p) for p in refused.value.problems]
    assert any(p.startswith("mining.csv row 3: ") and message in p for p in found), found
    assert snapshot(books) == before


def test_fills_import_once_and_a_fill_beyond_the_budget_writes_nothing(books: Reserve) -> None:
    order = approved(books)
    rows = labelled("fills.csv", [fill("T-1", "1000"), fill("T-2", "500.5")])
    assert import_records(books, RecordKind.FILLS, rows, actor="intake1").created == 2
    view = show_purchase(books, order)
    assert view.units_bought == 150_050_000_000
    assert view.spent_usd == Decimal("1500.5") * 98000 + 98
    before = snapshot(books)
    assert import_records(books, RecordKind.FILLS, rows, actor="intake1").created == 0
    assert snapshot(books) == before
    too_much = labelled("more.csv", [fill("T-3", "10"), fill("T-4", "2000"), fill("T-5", "1")])
    with pytest.raises(InvalidInput, match=r"more.csv row 3: quantity: the fill costs"):
        import_records(books, RecordKind.FILLS, too_much, actor="intake1")
    assert snapshot(books) == before
    checked = verify_ledger(books)
    assert (checked.entries, checked.head) == before[0]
