"""Bulk intake rows: parsed strictly, every bad field of every row named, or nothing at all."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from reserve.core.errors import InvalidInput
from reserve.intake.records import FillRecord, RecordKind, SeizureRecord, parse_records

DECIMALS = {"BTC": 8, "ETH": 18, "USDT": 6}
TXID = "4F1D0C5A9E2B7D36C1A8F0E4B2D9C7A65E3F1B0D8C6A4E2F0B9D7C5A3E1F0B2D"
SEIZURE = {
    "case": "2024-001", "chain": "bitcoin", "asset": "BTC", "amount": "12.5", "txid": TXID,
    "vout": "1", "source_address": "bc1qsuspect", "destination_address": "bc1qstate",
    "seized_at": "2024-03-05T14:30:00+05:00", "fair_value_usd": "850000",
    "fair_value_kzt": "382500000",
}  # fmt: skip


def rows(*items: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"seizures.csv row {n}", item) for n, item in enumerate(items, start=2)]


def problems_of(kind: RecordKind, items: list[tuple[str, dict[str, Any]]], **kw: Any) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_records(kind, items, decimals=DECIMALS, **kw)
    return [str(p) for p in caught.value.problems]


def test_a_seizure_row_becomes_base_units_and_an_outpoint() -> None:
    [parsed] = parse_records(RecordKind.SEIZURES, rows(SEIZURE), decimals=DECIMALS)
    assert isinstance(parsed, SeizureRecord)
    assert parsed.fair_value_usd == Decimal(850000)
    record = parsed.asset
    assert record.amount == 1_250_000_000
    assert record.outpoint == f"{TXID.lower()}:1"
    assert record.seized_at == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def test_a_broken_row_in_the_middle_fails_the_whole_file_naming_row_and_field() -> None:
    broken = dict(SEIZURE, amount="1.123456789", seized_at="2024-03-05 14:30")
    found = problems_of(RecordKind.SEIZURES, rows(SEIZURE, broken, SEIZURE))
    assert found == [
        "seizures.csv row 3: amount: '1.123456789' has 9 decimals; the asset has 8",
        "seizures.csv row 3: seized_at: '2024-03-05 14:30' has no UTC offset (add Z or +05:00)",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"txid": "abc"}, "txid: 'abc' is not a 64-hex transaction id"),
        ({"asset": "DOGE"}, "asset: unknown asset 'DOGE'"),
        ({"case": " "}, "case: is required"),
        ({"vout": "-1"}, "vout: '-1' is not an output index"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"amount": "0"}, "amount: must be positive"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, str], message: str) -> None:
    [problem] = problems_of(RecordKind.SEIZURES, rows(dict(SEIZURE, **change)))
    assert problem.startswith("seizures.csv row 2: ")
    assert message in problem


def test_missing_columns_are_named() -> None:
    partial = {k: v for k, v in SEIZURE.items() if k not in {"chain", "txid"}}
    assert problems_of(RecordKind.SEIZURES, rows(partial)) == [
        "seizures.csv row 2: chain: is required",
        "seizures.csv row 2: txid: is required",
    ]


def test_mining_reports_and_fills() -> None:
    report = {
        "operation": "ekibastuz", "period": "2024-13", "amount": "3.25",
        "payout_txids": f"{TXID};{TXID[:-1]}", "energy_mwh": "410.5", "cost_kzt": "-1",
    }  # fmt: skip
    assert [p.split(": ", 1)[1] for p in problems_of(RecordKind.MINING, rows(report))] == [
        "period: '2024-13' is not a month written YYYY-MM",
        f"payout_txids: '{TXID[:-1].lower()}' is not a 64-hex transaction id",
        "cost_kzt: -1 is below 0",
    ]
    fill = {"order_id": "PO-1", "venue": "AIX", "ref": "T-1", "quantity": "1.5",
            "price_usd": "98000", "fee_usd": "14.7", "filled_on": "2025-01-07",
            "kzt_per_usd": "512.3"}  # fmt: skip
    [record] = parse_records(
        RecordKind.FILLS, rows(fill), decimals=DECIMALS, asset_of_order={"PO-1": "BTC"}
    )
    assert isinstance(record, FillRecord)
    assert (record.fill.quantity, record.fill.price_usd) == (150_000_000, Decimal(98000))
    assert (record.fill.ref, record.fill.kzt_per_usd) == ("T-1", Decimal("512.3"))
    assert problems_of(
        RecordKind.FILLS, rows({**fill, "ref": " "}), asset_of_order={"PO-1": "BTC"}
    ) == ["seizures.csv row 2: ref: is required"]
    assert problems_of(RecordKind.FILLS, rows(fill)) == [
        "seizures.csv row 2: order_id: unknown order 'PO-1'"
    ]
