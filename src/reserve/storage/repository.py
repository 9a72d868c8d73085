"""The ledger's rows, read and written on one connection, mapped to the domain's dataclasses.

Rows are mapped explicitly (the journal is append-only, so ORM change tracking buys nothing).
Every read that a single post needs goes through an index, so a post costs the same at ten
entries and at ten million.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any, Final

from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from reserve.core.clock import as_utc
from reserve.ledger.accounts import Account
from reserve.ledger.assets import Asset, Fund
from reserve.ledger.model import Booking, Entry, Lot, Posting
from reserve.storage import tables as t
from reserve.storage.types import exact_sum

_CHUNK: Final = 500
_STREAM: Final = 5000


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _under(column: Any, prefix: str) -> Any:
    return or_(column == prefix, column.like(_escape_like(prefix) + ":%", escape="\\"))


def _lot(row: Row[Any] | Any) -> Lot:
    return Lot(
        lot_id=row.lot_id,
        asset=row.asset,
        account=row.account,
        source_kind=row.source_kind,
        source_ref=row.source_ref,
        acquired_on=row.acquired_on,
        units=row.units,
        cost_usd=row.cost_usd,
        cost_kzt=row.cost_kzt,
        entry_seq=row.entry_seq,
        position=row.position,
    )


_LOT_COLUMNS: Final = [
    t.lots.c.lot_id,
    t.lots.c.asset,
    t.lots.c.account,
    t.lots.c.source_kind,
    t.lots.c.source_ref,
    t.lots.c.acquired_on,
    t.lots.c.units,
    t.lots.c.cost_usd,
    t.lots.c.cost_kzt,
    t.lots.c.entry_seq,
    t.lots.c.position,
]


class LedgerStore:
    """Reads and writes of the ledger tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name

    # -- reference data -------------------------------------------------------------------
    def assets(self) -> dict[str, Asset]:
        rows = self.conn.execute(select(t.assets)).all()
        return {r.code: Asset(r.code, r.decimals, r.name, r.tracks_lots) for r in rows}

    def funds(self) -> dict[str, Fund]:
        return {r.code: Fund(r.code, r.name) for r in self.conn.execute(select(t.funds)).all()}

    def accounts(self) -> dict[str, Account]:
        rows = self.conn.execute(select(t.accounts)).all()
        return {r.name: Account(r.name, r.fund, r.opened_on) for r in rows}

    def add_asset(self, asset: Asset) -> None:
        self.conn.execute(
            insert(t.assets).values(
                code=asset.code,
                decimals=asset.decimals,
                name=asset.name,
                tracks_lots=asset.tracks_lots,
            )
        )

    def add_fund(self, fund: Fund) -> None:
        self.conn.execute(insert(t.funds).values(code=fund.code, name=fund.name))

    def add_account(self, account: Account) -> None:
        self.conn.execute(
            insert(t.accounts).values(
                name=account.name, fund=account.fund, opened_on=account.opened_on
            )
        )

    # -- the chain head -------------------------------------------------------------------
    def lock_head(self) -> tuple[int, str]:
        """The chain head, locked until commit so that no other writer can extend it."""
        query = select(t.chain_head.c.seq, t.chain_head.c.hash).where(t.chain_head.c.id == 1)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        row = self.conn.execute(query).one()
        return int(row.seq), str(row.hash)

    def head(self) -> tuple[int, str]:
        row = self.conn.execute(select(t.chain_head.c.seq, t.chain_head.c.hash)).one()
        return int(row.seq), str(row.hash)

    # -- entries --------------------------------------------------------------------------
    def digests_by_key(self, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """(seq, content digest) of the entries already posted under any of ``keys``."""
        found: dict[str, tuple[int, str]] = {}
        e = t.entries.c
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            query = select(e.idempotency_key, e.seq, e.content_digest).where(
                e.idempotency_key.in_(chunk)
            )
            for row in self.conn.execute(query):
                found[row.idempotency_key] = (int(row.seq), row.content_digest)
        return found

    def reversal_of(self, seq: int) -> int | None:
        e = t.entries.c
        row = self.conn.execute(select(e.seq).where(e.reverses == seq)).first()
        return None if row is None else int(row.seq)

    def entry(self, seq: int) -> Entry | None:
        return next(self.stream_entries(first=seq, last=seq), None)

    def count_entries(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.entries)).scalar_one())

    def write_entries(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        self.conn.execute(
            insert(t.entries),
            [
                {
                    "seq": en.seq,
                    "recorded_at": en.recorded_at,
                    "date": en.date,
                    "kind": en.kind,
                    "memo": en.memo,
                    "refs": json.dumps(en.refs, sort_keys=True, separators=(",", ":")),
                    "actor": en.actor,
                    "idempotency_key": en.idempotency_key,
                    "reverses": en.reverses,
                    "content_digest": en.content_digest,
                    "prev_hash": en.prev_hash,
                    "hash": en.hash,
                }
                for en in entries
            ],
        )
        lots = [lot for en in entries for lot in en.lots]
        if lots:
            self.conn.execute(
                insert(t.lots),
                [{c.name: getattr(lot, c.name) for c in _LOT_COLUMNS} for lot in lots],
            )
        self.conn.execute(
            insert(t.postings),
            [
                {
                    "entry_seq": en.seq,
                    "line": p.line,
                    "leg": p.leg,
                    "account": p.account,
                    "asset": p.asset,
                    "amount": p.amount,
                    "lot_id": p.lot_id,
                    "booking": p.booking.value,
                }
                for en in entries
                for p in en.postings
            ],
        )

    def stream_entries(self, first: int = 1, last: int | None = None) -> Iterator[Entry]:
        """Entries with their legs and lots, in sequence order, without loading them all."""
        e, p, lt = t.entries.c, t.postings.c, t.lots.c
        upper = last if last is not None else 2**62
        conn = self.conn.execution_options(yield_per=_STREAM)
        entry_rows = conn.execute(
            select(t.entries).where(e.seq.between(first, upper)).order_by(e.seq)
        )
        posting_rows = self.conn.execution_options(yield_per=_STREAM).execute(
            select(t.postings)
            .where(p.entry_seq.between(first, upper))
            .order_by(p.entry_seq, p.line, p.leg)
        )
        lot_rows = self.conn.execution_options(yield_per=_STREAM).execute(
            select(*_LOT_COLUMNS)
            .where(lt.entry_seq.between(first, upper))
            .order_by(lt.entry_seq, lt.position)
        )
        postings = _Grouped(posting_rows, "entry_seq")
        lots = _Grouped(lot_rows, "entry_seq")
        for row in entry_rows:
            seq = int(row.seq)
            yield Entry(
                seq=seq,
                recorded_at=as_utc(row.recorded_at),
                date=row.date,
                kind=row.kind,
                memo=row.memo,
                refs=json.loads(row.refs),
                actor=row.actor,
                idempotency_key=row.idempotency_key,
                reverses=None if row.reverses is None else int(row.reverses),
                content_digest=row.content_digest,
                postings=tuple(
                    Posting(
                        r.line,
                        r.leg,
                        r.account,
                        r.asset,
                        r.amount,
                        r.lot_id,
                        Booking(r.booking),
                    )
                    for r in postings.take(seq)
                ),
                lots=tuple(_lot(r) for r in lots.take(seq)),
                prev_hash=row.prev_hash,
                hash=row.hash,
            )

    # -- lots -----------------------------------------------------------------------------
    def lots_by_id(self, lot_ids: Iterable[str]) -> list[Lot]:
        ids = sorted(set(lot_ids))
        found: list[Lot] = []
        for start in range(0, len(ids), _CHUNK):
            query = select(*_LOT_COLUMNS).where(t.lots.c.lot_id.in_(ids[start : start + _CHUNK]))
            found += [_lot(r) for r in self.conn.execute(query)]
        return found

    def holdings_of(self, account: str, asset: str) -> list[tuple[Lot, int, int]]:
        """(lot, units held, arrival) for each open lot of ``account`` in ``asset``."""
        lb = t.lot_balances.c
        query = (
            select(*_LOT_COLUMNS, lb.units.label("held"), lb.arrival)
            .join(t.lot_balances, t.lot_balances.c.lot_id == t.lots.c.lot_id)
            .where(lb.account == account, lb.asset == asset)
        )
        return [(_lot(r), r.held, int(r.arrival)) for r in self.conn.execute(query)]

    def open_lots(
        self, *, account_prefix: str | None = None, asset: str | None = None
    ) -> list[tuple[str, Lot, int]]:
        """(holding account, lot, units held) for every open lot, oldest first."""
        lb = t.lot_balances.c
        query = select(lb.account.label("holder"), lb.units.label("held"), *_LOT_COLUMNS).join(
            t.lots, t.lots.c.lot_id == lb.lot_id
        )
        if account_prefix:
            query = query.where(_under(lb.account, account_prefix))
        if asset:
            query = query.where(lb.asset == asset)
        rows = self.conn.execute(query).all()
        found = [(r.holder, _lot(r), r.held) for r in rows]
        found.sort(key=lambda item: (item[0], item[1].fifo_key))
        return found

    def all_holdings(self) -> dict[tuple[str, str], tuple[int, int]]:
        rows = self.conn.execute(select(t.lot_balances))
        return {(r.account, r.lot_id): (r.units, int(r.arrival)) for r in rows}

    # -- balances -------------------------------------------------------------------------
    def balances_of(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        wanted = sorted(set(keys))
        b = t.balances.c
        found: dict[tuple[str, str], int] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            cond = or_(*(and_(b.account == a, b.asset == s) for a, s in chunk))
            for row in self.conn.execute(select(t.balances).where(cond)):
                found[(row.account, row.asset)] = row.amount
        return found

    def current_balances(
        self, *, account_prefix: str | None = None, asset: str | None = None
    ) -> dict[tuple[str, str], int]:
        b = t.balances.c
        query = select(t.balances)
        if account_prefix:
            query = query.where(_under(b.account, account_prefix))
        if asset:
            query = query.where(b.asset == asset)
        return {(r.account, r.asset): r.amount for r in self.conn.execute(query) if r.amount}

    def balances_as_of(
        self, as_of: date, *, account_prefix: str | None = None, asset: str | None = None
    ) -> dict[tuple[str, str], int]:
        """Sums of postings on or before ``as_of`` (the entry's date), exact on both engines."""
        p, e = t.postings.c, t.entries.c
        query = (
            select(p.account, p.asset, exact_sum(p.amount).label("amount"))
            .join(t.entries, e.seq == p.entry_seq)
            .where(e.date <= as_of)
            .group_by(p.account, p.asset)
        )
        if account_prefix:
            query = query.where(_under(p.account, account_prefix))
        if asset:
            query = query.where(p.asset == asset)
        return {(r.account, r.asset): r.amount for r in self.conn.execute(query) if r.amount}

    def sums_by_asset(self) -> dict[str, int]:
        """Every asset's postings summed over the whole journal: zero in a sound ledger."""
        p = t.postings.c
        query = select(p.asset, exact_sum(p.amount).label("amount")).group_by(p.asset)
        return {r.asset: r.amount for r in self.conn.execute(query)}

    # -- projections ----------------------------------------------------------------------
    def save_projections(
        self,
        *,
        balances: Mapping[tuple[str, str], int],
        holdings: Mapping[tuple[str, str], tuple[str, int, int]],
        head: tuple[int, str],
    ) -> None:
        """Upsert balances and lot holdings (dropping emptied lots) and move the chain head."""
        if balances:
            self._upsert(
                t.balances,
                [{"account": a, "asset": s, "amount": v} for (a, s), v in balances.items()],
                keys=("account", "asset"),
                values=("amount",),
            )
        emptied = [(a, lot) for (a, lot), (_s, units, _at) in holdings.items() if units == 0]
        for start in range(0, len(emptied), _CHUNK):
            chunk = emptied[start : start + _CHUNK]
            self._delete_holdings(chunk)
        kept = [
            {"account": a, "lot_id": lot, "asset": s, "units": units, "arrival": at}
            for (a, lot), (s, units, at) in holdings.items()
            if units != 0
        ]
        if kept:
            self._upsert(
                t.lot_balances, kept, keys=("account", "lot_id"), values=("units", "arrival")
            )
        self.conn.execute(
            update(t.chain_head).where(t.chain_head.c.id == 1).values(seq=head[0], hash=head[1])
        )

    def _delete_holdings(self, chunk: Sequence[tuple[str, str]]) -> None:
        lb = t.lot_balances.c
        cond = or_(*(and_(lb.account == a, lb.lot_id == lot) for a, lot in chunk))
        self.conn.execute(t.lot_balances.delete().where(cond))

    def _upsert(
        self,
        table: Any,
        rows: list[dict[str, Any]],
        *,
        keys: tuple[str, ...],
        values: tuple[str, ...],
    ) -> None:
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        for start in range(0, len(rows), _CHUNK):
            stmt = dialect_insert(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=list(keys), set_={v: stmt.excluded[v] for v in values}
            )
            self.conn.execute(stmt, rows[start : start + _CHUNK])


class _Grouped:
    """Walks rows ordered by ``key`` alongside the entries, handing out each entry's rows."""

    def __init__(self, rows: Iterable[Row[Any]], key: str) -> None:
        self._rows = iter(rows)
        self._key = key
        self._next: Row[Any] | None = next(self._rows, None)

    def take(self, seq: int) -> list[Row[Any]]:
        taken: list[Row[Any]] = []
        while self._next is not None:
            at = int(getattr(self._next, self._key))
            if at > seq:
                break
            if at == seq:
                taken.append(self._next)
            self._next = next(self._rows, None)
        return taken
