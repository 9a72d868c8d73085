"""Entries written as JSON, the format of ``reserve ledger post``.

One entry is an object; a file may hold one entry or a list of them. Amounts are decimal strings
of whole units (``"1.5"`` BTC), costs decimal strings of USD and KZT. A posting's ``lot`` is
either the id of an existing lot (to relieve or receive exactly that lot) or an object that opens
a new lot. Unknown fields are refused, so a typo cannot silently drop data::

    {"idempotency_key": "seizure:2024-001:1", "date": "2024-03-05", "kind": "seizure",
     "memo": "Seized under order 12/2024", "refs": {"case": "2024-001"},
     "postings": [
       {"account": "Assets:Custody:Seized:2024-001:BTC", "asset": "BTC", "amount": "12.5",
        "lot": {"source": "seizure", "ref": "2024-001", "cost_usd": "812500.00",
                "cost_kzt": "365625000.00"}},
       {"account": "Equity:Custody:2024-001", "asset": "BTC", "amount": "-12.5"}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from reserve.core.errors import InvalidInput, Problem
from reserve.core.fields import FieldReader
from reserve.core.money import AmountError, parse_decimal, to_base_units
from reserve.ledger.assets import Asset
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft

ENTRY_FIELDS: Final = {"idempotency_key", "date", "kind", "memo", "refs", "postings", "reverses"}
POSTING_FIELDS: Final = {"account", "asset", "amount", "lot"}
LOT_FIELDS: Final = {"id", "source", "ref", "acquired", "cost_usd", "cost_kzt"}


def parse_entries(document: Any, assets: Mapping[str, Asset]) -> list[EntryDraft]:
    """Drafts from a parsed JSON document; every problem in every entry, or none."""
    items = document if isinstance(document, list) else [document]
    if not items:
        raise InvalidInput.one("file", "entries", "holds no entry")
    drafts: list[EntryDraft] = []
    problems: list[Problem] = []
    for index, item in enumerate(items, start=1):
        key = item.get("idempotency_key") if isinstance(item, dict) else None
        where = f"entry {index}" + (f" ({key!r})" if isinstance(key, str) else "")
        reader = FieldReader(where)
        draft = _entry(item, reader, assets)
        problems += reader.problems
        if draft is not None and not reader.problems:
            drafts.append(draft)
    if problems:
        raise InvalidInput(problems)
    return drafts


def _entry(item: Any, r: FieldReader, assets: Mapping[str, Asset]) -> EntryDraft | None:
    if not isinstance(item, dict):
        r.bad("entry", f"must be a JSON object, not {type(item).__name__}")
        return None
    r.unknown(item, ENTRY_FIELDS, "")
    key = r.text(item, "idempotency_key", "idempotency_key")
    day = r.day(item.get("date"), "date")
    kind = r.text(item, "kind", "kind", default="journal")
    memo = r.text(item, "memo", "memo", default="")
    refs = item.get("refs", {})
    if not isinstance(refs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in refs.items()
    ):
        r.bad("refs", 'must be an object of strings, e.g. {"case": "2024-001"}')
        refs = {}
    reverses = item.get("reverses")
    if reverses is not None and (isinstance(reverses, bool) or not isinstance(reverses, int)):
        r.bad("reverses", "must be the sequence number of the entry to reverse")
        reverses = None
    raw_postings = item.get("postings", [])
    if reverses is not None and raw_postings:
        r.bad("postings", "a reversing entry takes its postings from the entry it reverses")
    if not isinstance(raw_postings, list):
        r.bad("postings", "must be a list")
        raw_postings = []
    postings = [_posting(p, f"postings[{i}]", r, assets) for i, p in enumerate(raw_postings)]
    if r.problems or day is None:
        return None
    return EntryDraft(
        idempotency_key=key,
        date=day,
        kind=kind,
        memo=memo,
        refs=dict(refs),
        postings=tuple(p for p in postings if p is not None),
        reverses=reverses,
    )


def _posting(
    raw: Any, field: str, r: FieldReader, assets: Mapping[str, Asset]
) -> PostingDraft | None:
    if not isinstance(raw, dict):
        r.bad(field, "must be an object with account, asset and amount")
        return None
    r.unknown(raw, POSTING_FIELDS, f"{field}.")
    account = r.text(raw, "account", f"{field}.account")
    code = r.text(raw, "asset", f"{field}.asset")
    asset = assets.get(code)
    amount = 0
    if code and asset is None:
        r.bad(f"{field}.asset", f"unknown asset {code!r}")
    elif asset is not None:
        try:
            amount = to_base_units(raw.get("amount"), asset.decimals)
        except AmountError as error:
            r.bad(f"{field}.amount", str(error))
    lot = raw.get("lot")
    if lot is None:
        return PostingDraft(account, code, amount)
    if isinstance(lot, str):
        return PostingDraft(account, code, amount, lot=lot)
    if not isinstance(lot, dict):
        r.bad(f"{field}.lot", "must be a lot id or an object that opens a lot")
        return None
    return PostingDraft(account, code, amount, opens=_opening(lot, f"{field}.lot", r))


def _opening(raw: Mapping[str, Any], field: str, r: FieldReader) -> LotOpening | None:
    r.unknown(raw, LOT_FIELDS, f"{field}.")
    costs = {}
    for key in ("cost_usd", "cost_kzt"):
        try:
            costs[key] = parse_decimal(raw.get(key))
        except AmountError as error:
            r.bad(f"{field}.{key}", str(error))
    acquired = raw.get("acquired")
    lot_id = raw.get("id")
    if lot_id is not None and not isinstance(lot_id, str):
        r.bad(f"{field}.id", "must be a string")
        lot_id = None
    opening = LotOpening(
        source_kind=r.text(raw, "source", f"{field}.source"),
        source_ref=r.text(raw, "ref", f"{field}.ref"),
        cost_usd=costs.get("cost_usd", parse_decimal("0")),
        cost_kzt=costs.get("cost_kzt", parse_decimal("0")),
        lot_id=lot_id,
        acquired_on=None if acquired is None else r.day(acquired, f"{field}.acquired"),
    )
    return opening
