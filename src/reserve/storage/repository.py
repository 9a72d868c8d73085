"""The ledger's rows, read and written on one connection, mapped to the domain's dataclasses.

Rows are mapped explicitly (the journal is append-only, so ORM change tracking buys nothing).
Every read that a single post needs goes through an index, so a post costs the same at ten
entries and at ten million.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import Row, Table, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect

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
# Column orders of the row tuples that ``write_entries`` builds and ``stream_entries`` unpacks;
# ``_LOT_COLUMNS`` is in ``Lot``'s field order, so a lot row is ``Lot(*row)``.
_ENTRY_NAMES: Final = (
    "seq",
    "recorded_at",
    "date",
    "kind",
    "memo",
    "refs",
    "actor",
    "idempotency_key",
    "reverses",
    "content_digest",
    "prev_hash",
    "hash",
)
_POSTING_NAMES: Final = (
    "entry_seq",
    "line",
    "leg",
    "account",
    "asset",
    "amount",
    "lot_id",
    "booking",
)
_LOT_NAMES: Final = tuple(c.name for c in _LOT_COLUMNS)
# Statements run once per (account, asset) or per emptied lot in every post: built once here,
# since building and caching a statement cost more than running it.
_HOLDINGS: Final = (
    select(*_LOT_COLUMNS, t.lot_balances.c.units, t.lot_balances.c.arrival)
    .join(t.lot_balances, t.lot_balances.c.lot_id == t.lots.c.lot_id)
    .where(
        t.lot_balances.c.account == bindparam("holder"),
        t.lot_balances.c.asset == bindparam("held_asset"),
    )
)
_DELETE_HOLDING: Final = t.lot_balances.delete().where(
    t.lot_balances.c.account == bindparam("holder"),
    t.lot_balances.c.lot_id == bindparam("held_lot"),
)
_HEAD: Final = select(t.chain_head.c.seq, t.chain_head.c.hash).where(t.chain_head.c.id == 1)
_LOCK_HEAD_PG: Final = _HEAD.with_for_update()
_MOVE_HEAD: Final = (
    update(t.chain_head)
    .where(t.chain_head.c.id == 1)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
_DIGESTS: Final = select(
    t.entries.c.idempotency_key, t.entries.c.seq, t.entries.c.content_digest
).where(t.entries.c.idempotency_key.in_(bindparam("keys", expanding=True)))
_BALANCES_OF: Final = select(t.balances.c.account, t.balances.c.asset, t.balances.c.amount).where(
    tuple_(t.balances.c.account, t.balances.c.asset).in_(bindparam("keys", expanding=True))
)


@lru_cache(maxsize=16)
def _upsert_statement(
    dialect: str, table: Table, keys: tuple[str, ...], values: tuple[str, ...]
) -> Any:
    """INSERT .. ON CONFLICT DO UPDATE, built once per table (``excluded`` is costly to build)."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = dialect_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={v: stmt.excluded[v] for v in values}
    )


_LOT_SEQ: Final = _LOT_NAMES.index("entry_seq")
_BOOKINGS: Final = {b.value: b for b in Booking}


def _refs_text(refs: Mapping[str, str]) -> str:
    return "{}" if not refs else json.dumps(refs, sort_keys=True, separators=(",", ":"))


def _refs(text: str) -> dict[str, str]:
    refs: dict[str, str] = {} if text == "{}" else json.loads(text)
    return refs


def _booking(value: str) -> Booking:
    return _BOOKINGS.get(value) or Booking(value)


Processor = Callable[[Any], Any]


@lru_cache(maxsize=32)
def _sqlite_insert(
    table: Table, names: tuple[str, ...], dialect: Dialect
) -> tuple[str, tuple[tuple[int, Processor], ...]]:
    """The qmark INSERT for ``names`` and the bind processors of the columns that have one.

    The processors are the column types' own (``BaseUnits``, dates), so the stored text is
    exactly what Core would have written.
    """
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    marks = ", ".join("?" for _ in names)
    sql = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"
    processors = []
    for i, name in enumerate(names):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((i, process))
    return sql, tuple(processors)


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
        query = _LOCK_HEAD_PG if self.dialect == "postgresql" else _HEAD
        row = self.conn.execute(query).one()
        return int(row.seq), str(row.hash)

    def date_of(self, seq: int) -> date | None:
        """The date of entry ``seq`` (the chain head's, when posting): one primary-key read."""
        e = t.entries.c
        return self.conn.execute(select(e.date).where(e.seq == seq)).scalar_one_or_none()

    def head(self) -> tuple[int, str]:
        row = self.conn.execute(select(t.chain_head.c.seq, t.chain_head.c.hash)).one()
        return int(row.seq), str(row.hash)

    # -- entries --------------------------------------------------------------------------
    def digests_by_key(self, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """(seq, content digest) of the entries already posted under any of ``keys``."""
        found: dict[str, tuple[int, str]] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            for key, seq, digest in self.conn.execute(_DIGESTS, {"keys": chunk}):
                found[key] = (int(seq), digest)
        return found

    def reversal_of(self, seq: int) -> int | None:
        e = t.entries.c
        row = self.conn.execute(select(e.seq).where(e.reverses == seq)).first()
        return None if row is None else int(row.seq)

    def entry(self, seq: int) -> Entry | None:
        found = self.stream_entries(first=seq, last=seq)
        try:
            return next(found, None)
        finally:
            found.close()  # releases the server-side cursors on PostgreSQL

    def first_unreadable(self, after: int) -> int | None:
        """The first entry after ``after`` with a stored value that does not read as its type.

        Only a value written behind the ledger's back (SQLite keeps amounts, costs and dates as
        text) can fail; verification calls this to name the entry after the stream failed.
        """
        last = self.conn.execute(select(func.max(t.entries.c.seq))).scalar_one_or_none()
        for seq in range(after + 1, int(last or 0) + 1):
            try:
                self.entry(seq)
            except (ValueError, ArithmeticError):
                return seq
        return None

    def count_entries(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.entries)).scalar_one())

    def write_entries(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        self._insert_many(
            t.entries,
            _ENTRY_NAMES,
            [
                (
                    en.seq,
                    en.recorded_at,
                    en.date,
                    en.kind,
                    en.memo,
                    _refs_text(en.refs),
                    en.actor,
                    en.idempotency_key,
                    en.reverses,
                    en.content_digest,
                    en.prev_hash,
                    en.hash,
                )
                for en in entries
            ],
        )
        lots = [
            (
                lot.lot_id,
                lot.asset,
                lot.account,
                lot.source_kind,
                lot.source_ref,
                lot.acquired_on,
                lot.units,
                lot.cost_usd,
                lot.cost_kzt,
                lot.entry_seq,
                lot.position,
            )
            for en in entries
            for lot in en.lots
        ]
        if lots:
            self._insert_many(t.lots, _LOT_NAMES, lots)
        self._insert_many(
            t.postings,
            _POSTING_NAMES,
            [
                # ``_value_``: the member's value without the descriptor behind ``.value``
                (en.seq, p.line, p.leg, p.account, p.asset, p.amount, p.lot_id, p.booking._value_)
                for en in entries
                for p in en.postings
            ],
        )

    def _insert_many(
        self, table: Table, names: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        """Insert ``rows``, tuples in ``names`` order.

        On SQLite the rows go straight to the driver's executemany, each value through its
        column type's bind processor: Core's per-row parameter handling was most of the cost of
        a bulk post. Other engines take Core's executemany (insertmanyvalues on PostgreSQL).
        """
        if not rows:
            return
        if self.dialect != "sqlite":
            self.conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
            return
        sql, processors = _sqlite_insert(table, names, self.conn.dialect)
        if processors:
            rows = _processed(rows, processors)
        self.conn.exec_driver_sql(sql, rows)

    def stream_entries(
        self, first: int = 1, last: int | None = None
    ) -> Generator[Entry, None, None]:
        """Entries with their legs and lots, in sequence order, without loading them all."""
        e, p, lt = t.entries.c, t.postings.c, t.lots.c
        upper = last if last is not None else 2**62
        entry_rows = self.conn.execute(
            select(*(t.entries.c[name] for name in _ENTRY_NAMES))
            .where(e.seq.between(first, upper))
            .order_by(e.seq)
            .execution_options(yield_per=_STREAM)
        )
        posting_rows = self.conn.execute(
            select(*(t.postings.c[name] for name in _POSTING_NAMES))
            .where(p.entry_seq.between(first, upper))
            .order_by(p.entry_seq, p.line, p.leg)
            .execution_options(yield_per=_STREAM)
        )
        lot_rows = self.conn.execute(
            select(*_LOT_COLUMNS)
            .where(lt.entry_seq.between(first, upper))
            .order_by(lt.entry_seq, lt.position)
            .execution_options(yield_per=_STREAM)
        )
        try:
            yield from self._assemble(entry_rows, posting_rows, lot_rows)
        finally:
            for result in (entry_rows, posting_rows, lot_rows):
                result.close()

    def _assemble(
        self, entry_rows: Iterable[Any], posting_rows: Iterable[Any], lot_rows: Iterable[Any]
    ) -> Iterator[Entry]:
        # Rows are unpacked by position (attribute access on Row was a large share of verify).
        postings = _Grouped(posting_rows, 0)
        lots = _Grouped(lot_rows, _LOT_SEQ)
        for (
            seq,
            recorded_at,
            day,
            kind,
            memo,
            refs,
            actor,
            key,
            reverses,
            digest,
            prev_hash,
            hash_,
        ) in entry_rows:
            seq = int(seq)
            yield Entry(
                seq=seq,
                recorded_at=as_utc(recorded_at),
                date=day,
                kind=kind,
                memo=memo,
                refs=_refs(refs),
                actor=actor,
                idempotency_key=key,
                reverses=None if reverses is None else int(reverses),
                content_digest=digest,
                postings=tuple(
                    Posting(line, leg, account, asset, amount, lot_id, _booking(booking))
                    for _seq, line, leg, account, asset, amount, lot_id, booking in postings.take(
                        seq
                    )
                ),
                lots=tuple(Lot(*r) for r in lots.take(seq)),
                prev_hash=prev_hash,
                hash=hash_,
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
        rows = self.conn.execute(_HOLDINGS, {"holder": account, "held_asset": asset})
        return [(Lot(*lot), held, int(arrival)) for *lot, held, arrival in rows]

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
        found: dict[tuple[str, str], int] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            for account, asset, amount in self.conn.execute(_BALANCES_OF, {"keys": chunk}):
                found[(account, asset)] = amount
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
        self.conn.execute(_MOVE_HEAD, {"head_seq": head[0], "head_hash": head[1]})

    def _delete_holdings(self, chunk: Sequence[tuple[str, str]]) -> None:
        self.conn.execute(_DELETE_HOLDING, [{"holder": a, "held_lot": lot} for a, lot in chunk])

    def _upsert(
        self,
        table: Any,
        rows: list[dict[str, Any]],
        *,
        keys: tuple[str, ...],
        values: tuple[str, ...],
    ) -> None:
        stmt = _upsert_statement(self.dialect, table, keys, values)
        for start in range(0, len(rows), _CHUNK):
            self.conn.execute(stmt, rows[start : start + _CHUNK])


class _Grouped:
    """Walks rows ordered by column ``key`` (an index) alongside the entries, handing out each
    entry's rows."""

    def __init__(self, rows: Iterable[Any], key: int) -> None:
        self._rows = iter(rows)
        self._key = key
        self._next: Any = next(self._rows, None)

    def take(self, seq: int) -> list[Any]:
        taken: list[Any] = []
        key, rows = self._key, self._rows
        row = self._next
        while row is not None:
            at = int(row[key])
            if at > seq:
                break
            if at == seq:
                taken.append(row)
            row = next(rows, None)
        self._next = row
        return taken


def _processed(
    rows: list[tuple[Any, ...]], processors: Sequence[tuple[int, Processor]]
) -> list[tuple[Any, ...]]:
    """``rows`` with each processed column replaced, column by column (zip does the rest)."""
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i, process in processors:
        columns[i] = list(map(process, columns[i]))
    return list(zip(*columns, strict=True))
