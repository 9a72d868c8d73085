"""Bulk intake records: case registers, seizure records, mining reports and purchase fills.

Rows come from CSV or JSON files already read by the caller, each with a label naming where it
stands (``seizures.csv row 7``). Parsing is strict (unknown columns and blank required cells
are refused) and reports every bad field of every row, so a file is fixed in one round and then
imported whole or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from reserve.core.errors import InvalidInput, Problem
from reserve.core.fields import FieldReader
from reserve.intake.cases import TXID, SeizedAsset, SeizureCase
from reserve.intake.mining import MiningOutput
from reserve.intake.purchases import Fill


class RecordKind(StrEnum):
    CASES = "cases"
    SEIZURES = "seizures"
    MINING = "mining"
    FILLS = "fills"


@dataclass(frozen=True)
class SeizureRecord:
    """A seized asset with its fair value at seizure: the custodial record's cost."""

    asset: SeizedAsset
    fair_value_usd: Decimal
    fair_value_kzt: Decimal


@dataclass(frozen=True)
class FillRecord:
    order_id: str
    fill: Fill


Record = SeizureCase | SeizureRecord | MiningOutput | FillRecord

COLUMNS: Final[Mapping[RecordKind, frozenset[str]]] = {
    RecordKind.CASES: frozenset({"number", "agency", "court", "description", "opened_on"}),
    RecordKind.SEIZURES: frozenset(
        {
            "case",
            "chain",
            "asset",
            "amount",
            "txid",
            "vout",
            "source_address",
            "destination_address",
            "seized_at",
            "fair_value_usd",
            "fair_value_kzt",
        }
    ),
    RecordKind.MINING: frozenset(
        {
            "operation",
            "period",
            "amount",
            "payout_txids",
            "energy_mwh",
            "cost_kzt",
            "kzt_per_usd",
            "fair_value_usd",
        }
    ),
    RecordKind.FILLS: frozenset(
        {"order_id", "venue", "ref", "quantity", "price_usd", "fee_usd", "filled_on", "kzt_per_usd"}
    ),
}
OPTIONAL: Final = frozenset({"vout", "description", "kzt_per_usd", "fair_value_usd"})
PERIOD: Final = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def parse_records(
    kind: RecordKind,
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    decimals: Mapping[str, int],
    asset_of_operation: Mapping[str, str] | None = None,
    asset_of_order: Mapping[str, str] | None = None,
) -> list[Record]:
    """Records of ``kind`` from labelled rows; every problem of every row, or none.

    ``decimals`` gives each asset's decimals; mining amounts are in the asset their operation
    mines (``asset_of_operation``, BTC when not given), fill quantities in the asset of their
    order (``asset_of_order``).
    """
    records: list[Record] = []
    problems: list[Problem] = []
    for label, row in rows:
        reader = FieldReader(label)
        reader.unknown(row, set(COLUMNS[kind]))
        for column in sorted(COLUMNS[kind] - OPTIONAL - set(row)):
            reader.bad(column, "is required")
        if not reader.problems:
            record = _PARSERS[kind](reader, row, decimals, asset_of_operation, asset_of_order or {})
            if record is not None and not reader.problems:
                records.append(record)
        problems += reader.problems
    if problems:
        raise InvalidInput(problems)
    return records


def _case(r: FieldReader, row: Mapping[str, Any], *_: Any) -> Record | None:
    opened = r.day(row.get("opened_on"), "opened_on")
    number = r.required(row, "number")
    agency, court = r.required(row, "agency"), r.required(row, "court")
    description = r.text(row, "description", default="")
    return None if opened is None else SeizureCase(number, agency, court, description, opened)


def _seizure(
    r: FieldReader, row: Mapping[str, Any], decimals: Mapping[str, int], *_: Any
) -> Record | None:
    asset = r.required(row, "asset")
    places = decimals.get(asset)
    if asset and places is None:
        r.bad("asset", f"unknown asset {asset!r}")
    amount = r.units(row.get("amount"), places or 0, "amount") if places is not None else 0
    if amount <= 0 and places is not None and not r.problems:
        r.bad("amount", "must be positive")
    txid = r.required(row, "txid")
    if txid and not TXID.match(txid):
        r.bad("txid", f"{txid!r} is not a 64-hex transaction id")
    vout = _vout(r, row.get("vout"))
    case, chain = r.required(row, "case"), r.required(row, "chain")
    source, target = r.required(row, "source_address"), r.required(row, "destination_address")
    seized_at = r.moment(row.get("seized_at"), "seized_at")
    usd = r.decimal(row.get("fair_value_usd"), "fair_value_usd", minimum=_ZERO)
    kzt = r.decimal(row.get("fair_value_kzt"), "fair_value_kzt", minimum=_ZERO)
    if seized_at is None:
        return None
    seized = SeizedAsset(case, chain, asset, amount, txid.lower(), vout, source, target, seized_at)
    return SeizureRecord(seized, usd, kzt)


def _vout(r: FieldReader, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    r.bad("vout", f"{value!r} is not an output index (0, 1, ...)")
    return None


def _mining(
    r: FieldReader,
    row: Mapping[str, Any],
    decimals: Mapping[str, int],
    asset_of_operation: Mapping[str, str] | None,
    _: Any,
) -> Record | None:
    operation = r.required(row, "operation")
    mined = "BTC" if asset_of_operation is None else asset_of_operation.get(operation)
    if mined is None:
        if operation:
            r.bad("operation", f"unknown mining operation {operation!r}")
        return None
    period = r.required(row, "period")
    if period and not PERIOD.match(period):
        r.bad("period", f"{period!r} is not a month written YYYY-MM")
    amount = r.units(row.get("amount"), decimals.get(mined, 8), "amount")
    txids = tuple(
        t.strip().lower() for t in r.required(row, "payout_txids").split(";") if t.strip()
    )
    bad_txids = [t for t in txids if not TXID.match(t)]
    if bad_txids:
        r.bad("payout_txids", f"{bad_txids[0]!r} is not a 64-hex transaction id")
    return MiningOutput(
        operation=operation,
        period=period,
        amount=amount,
        payout_txids=txids,
        energy_mwh=r.decimal(row.get("energy_mwh"), "energy_mwh", minimum=_ZERO),
        cost_kzt=r.decimal(row.get("cost_kzt"), "cost_kzt", minimum=_ZERO),
        kzt_per_usd=_optional(r, row, "kzt_per_usd"),
        fair_value_usd=_optional(r, row, "fair_value_usd"),
    )


def _optional(r: FieldReader, row: Mapping[str, Any], column: str) -> Decimal | None:
    value = row.get(column)
    if value is None or value == "":
        return None
    return r.decimal(value, column, minimum=_ZERO)


def _fill(
    r: FieldReader,
    row: Mapping[str, Any],
    decimals: Mapping[str, int],
    _operations: Any,
    asset_of_order: Mapping[str, str],
) -> Record | None:
    order_id = r.required(row, "order_id")
    asset = asset_of_order.get(order_id)
    if order_id and asset is None:
        r.bad("order_id", f"unknown order {order_id!r}")
        return None
    venue, ref = r.required(row, "venue"), r.required(row, "ref")
    quantity = r.units(row.get("quantity"), decimals.get(asset or "", 8), "quantity")
    price = r.decimal(row.get("price_usd"), "price_usd")
    fee = r.decimal(row.get("fee_usd"), "fee_usd")
    filled_on = r.day(row.get("filled_on"), "filled_on")
    if filled_on is None:
        return None
    rate = _optional(r, row, "kzt_per_usd")
    return FillRecord(order_id, Fill(venue, quantity, price, fee, filled_on, ref, rate))


_ZERO: Final = Decimal(0)
_PARSERS: Final = {
    RecordKind.CASES: _case,
    RecordKind.SEIZURES: _seizure,
    RecordKind.MINING: _mining,
    RecordKind.FILLS: _fill,
}
