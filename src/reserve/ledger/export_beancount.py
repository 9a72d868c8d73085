"""Beancount export, so that an independent tool can check our books.

Every leg is written with its exact units; every lot-carrying leg with the lot's cost spec
``{unit cost USD, acquisition date, "lot id"}``, so beancount tracks the same lots. Two modes:

* ``explicit``: every reduction names its lot; beancount must find exactly that lot.
* ``fifo``: legs we relieved FIFO are written as one ``{}`` reduction per posting in accounts
  booked ``"FIFO"``, so beancount picks the lots itself and must pick the ones we picked.

Final ``balance`` assertions use ``~ 0`` (exact). Cost weights are products of 18-decimal
amounts and unit costs, which beancount rounds at 28 digits, so the USD weight tolerance is set
to 1e-6: it bears only on cost weights, never on the units asserted.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from decimal import Context, Decimal
from enum import StrEnum
from typing import Final

from reserve.core.errors import InvalidInput
from reserve.core.money import decimal_text, format_units
from reserve.ledger.accounts import Account
from reserve.ledger.assets import Asset
from reserve.ledger.model import Booking, Entry, Lot, Posting

COST_CURRENCY: Final = "USD"
_UNIT_COST: Final = Context(prec=34)
_PLAIN_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")


class BookingMode(StrEnum):
    EXPLICIT = "explicit"
    FIFO = "fifo"


def beancount_account(name: str) -> str:
    """Beancount wants each segment to start with a capital or digit: ``vault-1`` -> ``Vault-1``."""
    return ":".join(s[:1].upper() + s[1:] for s in name.split(":"))


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ref_lines(refs: Mapping[str, str]) -> Iterator[str]:
    """An entry's refs as metadata. A key made of letters, digits, ``_`` and ``-`` is written
    ``ref-<key>``, lowercased with ``-`` for ``_``; any other key (beancount could not read it),
    or one that would clash with another once lowercased, as a numbered pair ``ref_<n>-key`` and
    ``ref_<n>-value``: a form the first never takes, so no two refs share a metadata key."""
    slugs = {key: key.lower().replace("_", "-") for key in refs if _PLAIN_KEY.fullmatch(key)}
    uses = Counter(slugs.values())
    odd = 0
    for key, value in sorted(refs.items()):
        slug = slugs.get(key)
        if slug is not None and uses[slug] == 1:
            yield f"  ref-{slug}: {_quote(value)}\n"
        else:
            odd += 1
            yield f"  ref_{odd}-key: {_quote(key)}\n  ref_{odd}-value: {_quote(value)}\n"


def unit_cost(lot: Lot, decimals: int) -> Decimal:
    """USD per whole unit, the same number for every leg of the lot."""
    if lot.units == 0:
        return Decimal(0)
    raw = _UNIT_COST.divide(lot.cost_usd * (10**decimals), Decimal(lot.units))
    return Decimal(decimal_text(raw))


class BeancountWriter:
    def __init__(
        self,
        assets: Mapping[str, Asset],
        accounts: Mapping[str, Account],
        *,
        mode: BookingMode = BookingMode.EXPLICIT,
    ) -> None:
        self.assets = assets
        self.accounts = accounts
        self.mode = mode
        self.lots: dict[str, Lot] = {}
        self.names = {name: beancount_account(name) for name in accounts}
        clashes = len(set(self.names.values())) != len(self.names)
        if clashes:
            raise InvalidInput.one("export", "accounts", "two accounts differ only in case")
        self.touched: dict[tuple[str, str], int] = defaultdict(int)

    def lines(self, entries: Iterable[Entry]) -> Iterator[str]:
        yield from self._header()
        last = None
        for entry in entries:
            # Beancount books by date and a back-dated entry may come last in the chain: the
            # closing assertions go after the latest date, not after the last entry's.
            last = entry.date if last is None else max(last, entry.date)
            yield from self._entry(entry)
        if last is not None:
            yield from self._balances(last + timedelta(days=1))

    def _header(self) -> Iterator[str]:
        yield 'option "title" "Sovereign Reserve ledger"\n'
        yield f'option "operating_currency" "{COST_CURRENCY}"\n'
        yield f'option "inferred_tolerance_default" "{COST_CURRENCY}:0.000001"\n\n'
        first = min((a.opened_on for a in self.accounts.values()), default=None)
        if first is not None:
            for asset in sorted(self.assets.values(), key=lambda a: a.code):
                yield f"{first.isoformat()} commodity {asset.code}\n"
                yield f"  name: {_quote(asset.name)}\n  decimals: {asset.decimals}\n"
            yield "\n"
        for account in sorted(self.accounts.values(), key=lambda a: (a.opened_on, a.name)):
            opened, method = account.opened_on.isoformat(), self._method(account)
            yield f'{opened} open {self.names[account.name]} "{method}"\n'
            yield f"  name: {_quote(account.name)}\n"
            if account.fund:
                yield f"  fund: {_quote(account.fund)}\n"
        yield "\n"

    def _method(self, account: Account) -> str:
        if not account.holds_lots:
            return "NONE"
        return "FIFO" if self.mode is BookingMode.FIFO else "STRICT"

    def _entry(self, entry: Entry) -> Iterator[str]:
        for lot in entry.lots:
            self.lots[lot.lot_id] = lot
        yield f"{entry.date.isoformat()} * {_quote(entry.kind)} {_quote(entry.memo)}\n"
        yield f"  seq: {entry.seq}\n  hash: {_quote(entry.hash)}\n"
        yield f"  idempotency_key: {_quote(entry.idempotency_key)}\n"
        yield from _ref_lines(entry.refs)
        merged: dict[int, int] = {}
        for p in entry.postings:
            self.touched[(p.account, p.asset)] += p.amount
            if self.mode is BookingMode.FIFO and p.booking is Booking.FIFO:
                merged[p.line] = merged.get(p.line, 0) + p.amount
        emitted: set[int] = set()
        for p in entry.postings:
            if p.line in merged:
                if p.line not in emitted:
                    emitted.add(p.line)
                    units = self._units(merged[p.line], p.asset)
                    yield f"  {self.names[p.account]}  {units} {{}}\n"
                continue
            yield from self._leg(p)
        yield "\n"

    def _units(self, amount: int, asset: str) -> str:
        return f"{format_units(amount, self.assets[asset].decimals)} {asset}"

    def _leg(self, p: Posting) -> Iterator[str]:
        units = self._units(p.amount, p.asset)
        if p.lot_id is None:
            yield f"  {self.names[p.account]}  {units}\n"
            return
        lot = self.lots[p.lot_id]
        cost = decimal_text(unit_cost(lot, self.assets[lot.asset].decimals))
        spec = f'{{{cost} {COST_CURRENCY}, {lot.acquired_on.isoformat()}, "{lot.lot_id}"}}'
        yield f"  {self.names[p.account]}  {units} {spec}\n"
        if p.booking is Booking.OPEN:
            yield f"    source: {_quote(lot.source_kind)}\n"
            yield f"    source-ref: {_quote(lot.source_ref)}\n"
            yield f"    cost-usd: {_quote(decimal_text(lot.cost_usd))}\n"
            yield f"    cost-kzt: {_quote(decimal_text(lot.cost_kzt))}\n"

    def _balances(self, day: object) -> Iterator[str]:
        for (account, asset), amount in sorted(self.touched.items()):
            units = format_units(amount, self.assets[asset].decimals)
            yield f"{day} balance {self.names[account]}  {units} ~ 0 {asset}\n"
