"""Ledger use cases: post, reverse, open accounts, register assets, read balances and lots.

Each function is one unit of work: it commits everything or nothing. Posting holds the writer's
lock from reading the chain head to commit, so concurrent writers form one chain. Every write
checks who acts and appends its audit record in the same unit of work (``services.audit``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Final, TypeVar

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound, Problem
from reserve.core.money import format_units
from reserve.intake.custody_accounts import CUSTODY_ROOT, case_of
from reserve.ledger.accounts import NETWORK_FEES, Account, name_problems
from reserve.ledger.assets import Asset, Fund, asset_problems, fund_problems
from reserve.ledger.booking import BookingContext, BookingRefused, book_entry
from reserve.ledger.hashing import draft_digest, entry_hash
from reserve.ledger.lots import LotBook
from reserve.ledger.model import Entry, EntryDraft, Lot, Posting, PostingDraft
from reserve.services.audit import SYSTEM, acting_user, record_action
from reserve.services.progress import Progress, tracked
from reserve.storage.repository import LedgerStore
from reserve.storage.uow import UnitOfWork

_Ref = TypeVar("_Ref", Asset, Fund)
FEE_SHARE: Final = 100  # a custody move's network fee may be at most 1/100 of what it moves


@dataclass(frozen=True)
class Posted:
    seq: int
    hash: str
    idempotency_key: str
    created: bool


@dataclass(frozen=True)
class BalanceLine:
    account: str
    fund: str | None
    asset: str
    amount: int
    decimals: int


@dataclass(frozen=True)
class LotLine:
    account: str
    lot: Lot
    units: int
    decimals: int
    cost_usd: Decimal
    cost_kzt: Decimal


# -- reference data -----------------------------------------------------------------------
def register_asset(reserve: Reserve, asset: Asset, *, actor: str = SYSTEM) -> Asset:
    """Register an asset; registering the same definition again is a no-op."""
    return _register(
        reserve,
        f"asset {asset.code}",
        asset,
        asset_problems(asset),
        known=lambda store: store.assets().get(asset.code),
        add=LedgerStore.add_asset,
        actor=actor,
        action="assets.add",
    )


def register_fund(reserve: Reserve, fund: Fund, *, actor: str = SYSTEM) -> Fund:
    """Register a fund (a separate book); registering the same fund again is a no-op."""
    return _register(
        reserve,
        f"fund {fund.code}",
        fund,
        fund_problems(fund),
        known=lambda store: store.funds().get(fund.code),
        add=LedgerStore.add_fund,
        actor=actor,
        action="funds.add",
    )


def _register(
    reserve: Reserve,
    where: str,
    item: _Ref,
    problems: list[tuple[str, str]],
    *,
    known: Callable[[LedgerStore], _Ref | None],
    add: Callable[[LedgerStore, _Ref], None],
    actor: str,
    action: str,
) -> _Ref:
    if problems:
        raise InvalidInput([Problem(where, field, reason) for field, reason in problems])
    with reserve.writing() as uow:
        acting_user(uow, actor)
        earlier = known(uow.ledger)
        if earlier == item:
            return item
        if earlier is not None:
            raise Conflict.one(where, "code", f"already registered as {earlier}")
        add(uow.ledger, item)
        details = {k: str(v) for k, v in asdict(item).items()}
        record_action(
            uow, at=reserve.clock(), actor=actor, action=action, subject=where, details=details
        )
        uow.commit()
    return item


def open_accounts(
    reserve: Reserve, accounts: Sequence[Account], *, actor: str = SYSTEM
) -> list[Account]:
    """Open accounts (all or none); reopening an identical account is a no-op."""
    with reserve.writing() as uow:
        acting_user(uow, actor)
        open_in(uow, reserve, accounts, actor=actor)
        uow.commit()
    return list(accounts)


def open_in(
    uow: UnitOfWork, reserve: Reserve, accounts: Sequence[Account], *, actor: str
) -> list[Account]:
    """Open ``accounts`` inside the caller's unit of work (which has checked ``actor``), so a use
    case that needs accounts opens them and uses them all or not at all; returns the new ones."""
    known = uow.ledger.accounts()
    funds = uow.ledger.funds()
    problems: list[Problem] = []
    fresh: dict[str, Account] = {}
    for account in accounts:
        where = f"account {account.name}"
        problems += [Problem(where, "name", reason) for reason in name_problems(account.name)]
        if account.fund is not None and account.fund not in funds:
            problems.append(Problem(where, "fund", f"unknown fund {account.fund!r}"))
        earlier = known.get(account.name) or fresh.get(account.name)
        if earlier is not None and earlier != account:
            problems.append(Problem(where, "name", f"already open as {earlier}"))
        elif earlier is None:
            fresh[account.name] = account
    if problems:
        raise InvalidInput(problems)
    for account in fresh.values():
        uow.ledger.add_account(account)
    if fresh:
        record_action(
            uow,
            at=reserve.clock(),
            actor=actor,
            action="accounts.open",
            subject=next(iter(fresh)) if len(fresh) == 1 else f"{len(fresh)} accounts",
            details={"accounts": ",".join(fresh), "count": str(len(fresh))},
        )
    return list(fresh.values())


def list_accounts(reserve: Reserve) -> list[Account]:
    with reserve.reading() as uow:
        return sorted(uow.ledger.accounts().values(), key=lambda a: a.name)


def list_assets(reserve: Reserve) -> list[Asset]:
    with reserve.reading() as uow:
        return sorted(uow.ledger.assets().values(), key=lambda a: a.code)


def list_funds(reserve: Reserve) -> list[Fund]:
    with reserve.reading() as uow:
        return sorted(uow.ledger.funds().values(), key=lambda f: f.code)


# -- posting --------------------------------------------------------------------------------
def post_entries(
    reserve: Reserve,
    drafts: Sequence[EntryDraft],
    *,
    actor: str,
    progress: Progress | None = None,
) -> list[Posted]:
    """Post every draft or none. A replayed idempotency key with the same content returns the
    entry first posted under it; with other content it is refused."""
    return _post(reserve, drafts, actor=actor, progress=progress, action="ledger.post")


def reverse_entry(
    reserve: Reserve, seq: int, *, key: str, on: date, memo: str, actor: str
) -> Posted:
    """Post the reversing entry of entry ``seq``: the correction that leaves history intact."""
    draft = EntryDraft(key, on, "reversal", memo, (), {"reverses": str(seq)}, reverses=seq)
    return _post(reserve, [draft], actor=actor, progress=None, action="ledger.reverse")[0]


def _post(
    reserve: Reserve,
    drafts: Sequence[EntryDraft],
    *,
    actor: str,
    progress: Progress | None,
    action: str,
) -> list[Posted]:
    with reserve.writing() as uow:
        acting_user(uow, actor)
        results = post_in(uow, reserve, drafts, actor=actor, progress=progress, action=action)
        uow.commit()
    return results


def post_in(
    uow: UnitOfWork,
    reserve: Reserve,
    drafts: Sequence[EntryDraft],
    *,
    actor: str,
    progress: Progress | None = None,
    action: str = "ledger.post",
    released: Mapping[tuple[str, str], int] | None = None,
) -> list[Posted]:
    """Post ``drafts`` inside the caller's unit of work (which has checked ``actor``), so a use
    case that records something and books it does both or neither. Raises on any problem; the
    caller's unit of work then rolls back.

    ``released`` is what executed legal orders let leave custody in this call, per (case,
    asset): seized units under legal hold move out of their case's accounts only within it.
    """
    posting = _Posting(uow.ledger, reserve, actor)
    posting.released.update(released or {})
    posting.seen.update(uow.ledger.digests_by_key([d.idempotency_key for d in drafts]))
    numbered = tracked(enumerate(drafts, start=1), len(drafts), progress)
    results = [posting.post(i, draft) for i, draft in numbered]
    if posting.problems:
        conflicts = all(p.field == "idempotency_key" for p in posting.problems)
        raise (Conflict if conflicts else InvalidInput)(posting.problems)
    posting.write()
    if posting.entries:  # a pure replay changed nothing, so there is nothing to record
        first, last = posting.entries[0], posting.entries[-1]
        record_action(
            uow,
            at=posting.now,
            actor=actor,
            action=action,
            subject="ledger",
            details={
                "first_seq": str(first.seq),
                "last_seq": str(last.seq),
                "entries": str(len(posting.entries)),
                "head": last.hash,
            },
        )
    return [r for r in results if r is not None]


class _Posting:
    """The state of one posting unit of work: head, lot book and balance changes so far."""

    def __init__(self, store: LedgerStore, reserve: Reserve, actor: str) -> None:
        self.store = store
        self.actor = actor
        self.now = reserve.clock()
        self.seq, self.head = store.lock_head()
        self.last_date = store.date_of(self.seq)
        self.ctx = BookingContext(store.assets(), store.accounts(), LotBook())
        self.deltas: dict[tuple[str, str], int] = {}  # (account, asset) -> change in this unit
        self.entries: list[Entry] = []
        self.problems: list[Problem] = []
        self.seen: dict[str, tuple[int, str]] = {}  # idempotency key -> (seq, content digest)
        self.reversed: set[int] = set()
        self.released: dict[tuple[str, str], int] = {}  # (case, asset) -> units an order frees

    def post(self, index: int, draft: EntryDraft) -> Posted | None:
        where = f"entry {index} ({draft.idempotency_key!r})"
        digest = draft_digest(draft)
        earlier = self.seen.get(draft.idempotency_key)
        if earlier is not None:
            seq, known = earlier
            if known != digest:
                self.problems.append(
                    Problem(
                        where,
                        "idempotency_key",
                        f"already used by entry {seq} with different content",
                    )
                )
                return None
            return Posted(seq, self._hash_of(seq), draft.idempotency_key, created=False)
        expanded = self._expand_reversal(draft, where) if draft.reverses is not None else draft
        if expanded is None:
            return None
        mixed = _cases_mixed(expanded)
        if mixed:
            self.problems.append(
                Problem(
                    where,
                    "postings",
                    f"mixes the custody accounts of cases {', '.join(mixed)}: a case's units "
                    "stay in that case's accounts",
                )
            )
            return None
        self._preload(expanded)
        try:
            booked = book_entry(
                expanded, seq=self.seq + 1, where=where, ctx=self.ctx, not_before=self.last_date
            )
        except BookingRefused as refused:
            self.problems += refused.problems
            return None
        if draft.reverses is None and not self._within_release(booked.postings, where):
            return None
        self.seq += 1
        entry = Entry(
            seq=self.seq,
            recorded_at=self.now,
            date=draft.date,
            kind=draft.kind,
            memo=draft.memo,
            refs=dict(draft.refs),
            actor=self.actor,
            idempotency_key=draft.idempotency_key,
            reverses=draft.reverses,
            content_digest=digest,
            postings=booked.postings,
            lots=booked.lots,
            prev_hash=self.head,
            hash="",
        )
        entry = replace(entry, hash=entry_hash(entry))
        self.head = entry.hash
        self.last_date = entry.date
        self.entries.append(entry)
        self.seen[draft.idempotency_key] = (entry.seq, digest)
        self._track_balances(entry)
        return Posted(entry.seq, entry.hash, entry.idempotency_key, created=True)

    def _within_release(self, postings: Sequence[Posting], where: str) -> bool:
        """Units leaving a case's custody (beyond the network fees of its own custody moves)
        must fit what executed orders released; a reversal, an exact mirror, is exempt."""
        leaving = custody_outflows(postings)
        for (case, asset), units in sorted(leaving.items()):
            free = self.released.get((case, asset), 0)
            if units > free:
                decimals = self.ctx.assets[asset].decimals
                self.problems.append(
                    Problem(
                        where,
                        "postings",
                        f"moves {format_units(units, decimals)} {asset} of case {case} out of "
                        "custody: units under legal hold leave only under an executed legal "
                        "order that covers the case, asset and amount",
                    )
                )
                return False
        for key, units in leaving.items():
            self.released[key] -= units
        return True

    def _hash_of(self, seq: int) -> str:
        for entry in self.entries:
            if entry.seq == seq:
                return entry.hash
        stored = self.store.entry(seq)
        return stored.hash if stored else ""

    def _expand_reversal(self, draft: EntryDraft, where: str) -> EntryDraft | None:
        seq = draft.reverses
        assert seq is not None
        original = next((e for e in self.entries if e.seq == seq), None) or self.store.entry(seq)
        if original is None:
            self.problems.append(Problem(where, "reverses", f"there is no entry {seq}"))
            return None
        already = self.store.reversal_of(seq)
        if already is not None or seq in self.reversed:
            by = f" by entry {already}" if already is not None else " earlier in this file"
            self.problems.append(Problem(where, "reverses", f"entry {seq} is already reversed{by}"))
            return None
        self.reversed.add(seq)
        postings = tuple(
            PostingDraft(p.account, p.asset, -p.amount, lot=p.lot_id) for p in original.postings
        )
        return replace(draft, postings=postings)

    def _preload(self, draft: EntryDraft) -> None:
        """Load the lot holdings and lot records that booking ``draft`` will look at."""
        book, holders = self.ctx.book, self.ctx.lot_holders
        wanted_lots: set[str] = set()
        for p in draft.postings:
            account = self.ctx.accounts.get(p.account)
            asset = self.ctx.assets.get(p.asset)
            if account is None or asset is None or not asset.tracks_lots:
                continue
            if p.account in holders and not book.is_loaded(p.account, p.asset):
                book.load(p.account, p.asset, self.store.holdings_of(p.account, p.asset))
            if p.lot is not None:
                wanted_lots.add(p.lot)
            if p.opens is not None and p.opens.lot_id is not None:
                wanted_lots.add(p.opens.lot_id)
        missing = [lot_id for lot_id in wanted_lots if book.lot(lot_id) is None]
        for lot in self.store.lots_by_id(missing) if missing else []:
            book.remember(lot)

    def _track_balances(self, entry: Entry) -> None:
        """Sum the changes; the stored balances are read once, in ``write`` (the writer's lock
        is held throughout, so they cannot move in between)."""
        deltas = self.deltas
        for p in entry.postings:
            key = (p.account, p.asset)
            deltas[key] = deltas.get(key, 0) + p.amount

    def write(self) -> None:
        if not self.entries:
            return
        self.store.write_entries(self.entries)
        stored = self.store.balances_of(self.deltas)
        balances = {key: stored.get(key, 0) + delta for key, delta in self.deltas.items()}
        holdings = {}
        for account, lot_id in self.ctx.book.changed:
            lot, units, arrival = self.ctx.book.current((account, lot_id))
            holdings[(account, lot_id)] = (lot.asset, units, arrival)
        self.store.save_projections(
            balances=balances,
            holdings=holdings,
            head=(self.seq, self.head),
        )


def custody_outflows(postings: Sequence[Posting]) -> dict[tuple[str, str], int]:
    """Units per (case, asset) that leave the case's custody asset accounts.

    A move between the case's own custody wallets pays its network fee from the coins it moves;
    that fee is not an outflow up to 1/``FEE_SHARE`` of the units the case's wallets receive.
    A larger "fee", or one with no such move, leaves custody like any other outflow.
    """
    net: dict[tuple[str, str], int] = {}
    received: dict[tuple[str, str], int] = {}
    fees: dict[str, int] = {}
    for p in postings:
        case = case_of(p.account) if p.account.startswith(CUSTODY_ROOT) else None
        if case is not None:
            net[(case, p.asset)] = net.get((case, p.asset), 0) + p.amount
            if p.amount > 0:
                received[(case, p.asset)] = received.get((case, p.asset), 0) + p.amount
        elif p.account == NETWORK_FEES:
            fees[p.asset] = fees.get(p.asset, 0) + p.amount
    leaving = {}
    for (case, asset), change in net.items():
        allowance = min(max(fees.get(asset, 0), 0), received.get((case, asset), 0) // FEE_SHARE)
        out = -change - allowance
        if out > 0:
            leaving[(case, asset)] = out
    return leaving


def _cases_mixed(draft: EntryDraft) -> list[str]:
    """The cases whose custody accounts ``draft`` touches, when there are several."""
    cases = {case_of(p.account) for p in draft.postings if ":Custody:" in p.account}
    cases.discard(None)
    return sorted(c for c in cases if c is not None) if len(cases) > 1 else []


# -- reading --------------------------------------------------------------------------------
def balances(
    reserve: Reserve,
    *,
    account_prefix: str | None = None,
    asset: str | None = None,
    as_of: date | None = None,
    fund: str | None = None,
) -> list[BalanceLine]:
    """Balances per account and asset, now or at the end of ``as_of``; zero balances omitted."""
    with reserve.reading() as uow:
        store = uow.ledger
        assets, accounts = store.assets(), store.accounts()
        _check_filters(store, asset=asset, fund=fund)
        if as_of is None:
            found = store.current_balances(account_prefix=account_prefix, asset=asset)
        else:
            found = store.balances_as_of(as_of, account_prefix=account_prefix, asset=asset)
    lines = [
        BalanceLine(name, accounts[name].fund, code, amount, assets[code].decimals)
        for (name, code), amount in found.items()
        if fund is None or accounts[name].fund == fund
    ]
    return sorted(lines, key=lambda line: (line.account, line.asset))


def open_lots(
    reserve: Reserve, *, account_prefix: str | None = None, asset: str | None = None
) -> list[LotLine]:
    """Every open lot in every asset account, with the cost basis of what remains."""
    with reserve.reading() as uow:
        store = uow.ledger
        _check_filters(store, asset=asset, fund=None)
        assets = store.assets()
        rows = store.open_lots(account_prefix=account_prefix, asset=asset)
    lines = []
    for account, lot, units in rows:
        usd, kzt = lot.cost_of(units)
        lines.append(LotLine(account, lot, units, assets[lot.asset].decimals, usd, kzt))
    return lines


def _check_filters(store: LedgerStore, *, asset: str | None, fund: str | None) -> None:
    if asset is not None and asset not in store.assets():
        raise NotFound.one("filter", "asset", f"unknown asset {asset!r}")
    if fund is not None and fund not in store.funds():
        raise NotFound.one("filter", "fund", f"unknown fund {fund!r}")
