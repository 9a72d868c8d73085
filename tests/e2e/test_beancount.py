"""The Beancount export, checked by beancount itself.

Acceptance: the export passes ``bean-check`` and beancount's balances and open lots equal ours,
both with every lot named (``BookingMode.EXPLICIT``) and with reductions left to beancount's own
FIFO booking (``BookingMode.FIFO``); every leg carries exact decimals and every balance
assertion is written ``~ 0``.

Nothing here is compared with numbers copied from our own output: each ledger is built through
the real services on SQLite, exported, run through ``bean-check`` as a subprocess, loaded with
beancount's loader, and replayed into beancount ``Inventory`` objects. What beancount ends up
with (per account and currency; per lot in asset accounts; per entry, which lots each leg
moved) must equal what our services report. The tamper tests show that the checks can fail.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any, TypeVar

import pytest
from beancount import loader
from beancount.core import convert, data
from beancount.core.inventory import Inventory
from beancount.core.position import Cost

from reserve.bootstrap import Reserve
from reserve.cli.app import run
from reserve.core.errors import InvalidInput
from reserve.ledger.accounts import Account
from reserve.ledger.export_beancount import BookingMode, beancount_account
from reserve.ledger.model import EntryDraft, LotOpening, PostingDraft
from reserve.ledger.workload import WorkloadShape, workload, workload_accounts
from reserve.services.demo import run_story
from reserve.services.export import ExportFormat, export_ledger
from reserve.services.ledger import (
    balances,
    list_assets,
    open_accounts,
    open_lots,
    post_entries,
    reverse_entry,
)

BEAN_CHECK = Path(sys.executable).with_name("bean-check")
MODES = pytest.mark.parametrize("mode", list(BookingMode), ids=lambda m: str(m))
BALANCE_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} balance ")
EXACT_BALANCE_LINE = re.compile(
    r"^\d{4}-\d{2}-\d{2} balance (?P<account>\S+) +(?P<units>-?\d+(?:\.\d+)?) ~ 0 "
    r"(?P<currency>[A-Z][A-Z0-9]*)$"
)
AUTO_LOT_ID = re.compile(r"^L(\d+)\.(\d+)$")

Leg = tuple[str, str, Decimal, str | None]  # account, currency, units, lot id (None: no lot)
K = TypeVar("K")


# -- helpers ---------------------------------------------------------------------------------
def whole(amount: int, decimals: int) -> Decimal:
    """Base units as exact whole units, computed here rather than by the code under test."""
    with localcontext() as ctx:
        ctx.prec = 400
        return Decimal(amount).scaleb(-decimals)


def export(reserve: Reserve, path: Path, mode: BookingMode) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        export_ledger(reserve, handle, fmt=ExportFormat.BEANCOUNT, mode=mode)
    return path


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BEANCOUNT_DISABLE_LOAD_CACHE": "1"}
    return subprocess.run(
        [str(BEAN_CHECK), str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def differences(ours: Mapping[K, object], theirs: Mapping[K, object]) -> dict[K, Any]:
    """Every key where the two sides disagree, with (ours, beancount's)."""
    return {
        key: (ours.get(key), theirs.get(key))
        for key in set(ours) | set(theirs)
        if ours.get(key) != theirs.get(key)
    }


@dataclass
class OurJournal:
    """Our legs per entry, read back through the CSV export (one row per leg)."""

    legs: dict[int, Counter[Leg]] = field(default_factory=dict)
    fifo: dict[int, set[tuple[str, str]]] = field(default_factory=dict)  # (account, asset)
    fifo_lines: int = 0  # posting lines we relieved FIFO


def our_journal(reserve: Reserve) -> OurJournal:
    decimals = {a.code: a.decimals for a in list_assets(reserve)}
    buffer = io.StringIO()
    export_ledger(reserve, buffer, fmt=ExportFormat.CSV)
    journal = OurJournal()
    fifo_lines: set[tuple[int, int]] = set()
    for row in csv.DictReader(io.StringIO(buffer.getvalue())):
        seq, asset = int(row["seq"]), row["asset"]
        account = beancount_account(row["account"])
        units = whole(int(row["base_units"]), decimals[asset])
        journal.legs.setdefault(seq, Counter())[(account, asset, units, row["lot_id"] or None)] += 1
        if row["booking"] == "fifo":
            journal.fifo.setdefault(seq, set()).add((account, asset))
            fifo_lines.add((seq, int(row["line"])))
    journal.fifo_lines = len(fifo_lines)
    return journal


@dataclass
class Replay:
    """Beancount's own view: inventories after every booked transaction, and per-entry legs."""

    inventories: dict[str, Inventory] = field(default_factory=lambda: defaultdict(Inventory))
    legs: dict[int, Counter[Leg]] = field(default_factory=dict)
    balance_asserts: list[data.Balance] = field(default_factory=list)
    inexact: list[str] = field(default_factory=list)  # legs not written with the asset's decimals
    last_day: date | None = None
    tied_reliefs: int = 0  # FIFO reliefs where two or more lots shared the oldest date
    arrival_decides: int = 0  # ... and the tie's arrival order differs from creation order


def replay(
    entries: Iterable[data.Directive], decimals: Mapping[str, int], ours: OurJournal
) -> Replay:
    """Walk beancount's booked transactions in beancount's order, accumulating inventories."""
    seen = Replay()
    for entry in entries:
        if isinstance(entry, data.Balance):
            seen.balance_asserts.append(entry)
            number = entry.amount.number
            assert number is not None
            if number.as_tuple().exponent != -decimals[entry.amount.currency]:
                seen.inexact.append(f"balance {entry.account} {entry.amount}")
            continue
        if not isinstance(entry, data.Transaction):
            continue
        seq = int(entry.meta["seq"])
        for account, currency in ours.fifo.get(seq, ()):
            _count_ties(seen, seen.inventories[account], currency)
        legs: Counter[Leg] = Counter()
        for posting in entry.postings:
            units = posting.units
            assert units is not None
            assert isinstance(units.number, Decimal)
            assert posting.cost is None or isinstance(posting.cost, Cost)  # booked
            label = posting.cost.label if posting.cost is not None else None
            legs[(posting.account, units.currency, units.number, label)] += 1
            if units.number.as_tuple().exponent != -decimals[units.currency]:
                seen.inexact.append(f"entry {seq}: {posting.account} {units}")
            seen.inventories[posting.account].add_position(posting)
        seen.legs[seq] = legs
        seen.last_day = entry.date if seen.last_day is None else max(seen.last_day, entry.date)
    return seen


def _count_ties(seen: Replay, inventory: Inventory, currency: str) -> None:
    lots = [p.cost for p in inventory if p.units.currency == currency and p.cost is not None]
    if not lots:
        return
    oldest = min(c.date for c in lots)
    tied = [c for c in lots if c.date == oldest]  # in beancount's order: arrival in the account
    if len(tied) < 2:
        return
    seen.tied_reliefs += 1
    created = [AUTO_LOT_ID.match(c.label or "") for c in tied]
    if all(created):
        order = [(int(m[1]), int(m[2])) for m in created if m]
        if order != sorted(order):
            seen.arrival_decides += 1


def beancount_balances(seen: Replay) -> dict[tuple[str, str], Decimal]:
    found: dict[tuple[str, str], Decimal] = {}
    for account, inventory in seen.inventories.items():
        for position in inventory.reduce(convert.get_units):  # type: ignore[no-untyped-call]
            if position.units.number != 0:
                found[(account, position.units.currency)] = position.units.number
    return found


def beancount_lots(seen: Replay) -> dict[tuple[str, str | None], tuple[str, Decimal, date]]:
    """Positions held at cost in asset accounts: (account, lot label) -> (asset, units, date)."""
    found: dict[tuple[str, str | None], tuple[str, Decimal, date]] = {}
    for account, inventory in seen.inventories.items():
        if not account.startswith("Assets:"):
            continue
        for position in inventory:
            cost = position.cost
            if cost is None or position.units.number == 0:
                continue
            key = (account, cost.label)
            assert key not in found, f"beancount holds lot {cost.label} twice in {account}"
            found[key] = (position.units.currency, position.units.number, cost.date)
    return found


def our_balances(reserve: Reserve) -> dict[tuple[str, str], Decimal]:
    return {
        (beancount_account(line.account), line.asset): whole(line.amount, line.decimals)
        for line in balances(reserve)
    }


def our_lots(reserve: Reserve) -> dict[tuple[str, str | None], tuple[str, Decimal, date]]:
    found: dict[tuple[str, str | None], tuple[str, Decimal, date]] = {}
    for line in open_lots(reserve):
        key = (beancount_account(line.account), line.lot.lot_id)
        assert key not in found
        found[key] = (line.lot.asset, whole(line.units, line.decimals), line.lot.acquired_on)
    return found


def load(path: Path) -> list[data.Directive]:
    entries, errors, _options = loader.load_file(str(path))
    assert errors == [], [str(e.message) for e in errors]
    return list(entries)


def cross_check(reserve: Reserve, path: Path, mode: BookingMode) -> Replay:
    """bean-check passes, and beancount's balances, lots and per-entry legs equal ours."""
    checked = bean_check(path)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")

    assets = {a.code: a for a in list_assets(reserve)}
    decimals = {code: a.decimals for code, a in assets.items()}
    ours = our_journal(reserve)
    seen = replay(load(path), decimals, ours)

    # Every leg and every asserted balance is written with exactly the asset's decimals.
    assert seen.inexact == []

    # The mode decides who picks the lots: in FIFO mode each FIFO relief is one `{}` leg.
    text = path.read_text(encoding="utf-8")
    open_reductions = sum(1 for line in text.splitlines() if line.endswith(" {}"))
    expected = ours.fifo_lines if mode is BookingMode.FIFO else 0
    assert open_reductions == expected

    # One `~ 0` balance assertion per (account, asset) ever posted to, after the last entry.
    lines = [line for line in text.splitlines() if BALANCE_LINE.match(line)]
    assert lines, "the export asserts no balance"
    assert [line for line in lines if not EXACT_BALANCE_LINE.match(line)] == []
    assert len(lines) == len(seen.balance_asserts)
    assert all(b.tolerance == 0 for b in seen.balance_asserts)
    assert seen.last_day is not None
    assert all(b.date > seen.last_day for b in seen.balance_asserts)
    asserted = Counter((b.account, b.amount.currency) for b in seen.balance_asserts)
    posted = {(acct, cur) for legs in seen.legs.values() for (acct, cur, _u, _l) in legs}
    assert set(asserted) == posted
    assert max(asserted.values()) == 1
    ours_now = our_balances(reserve)
    asserted_amounts = {
        (b.account, b.amount.currency): b.amount.number
        for b in seen.balance_asserts
        if b.amount.number != 0
    }
    assert differences(ours_now, asserted_amounts) == {}

    # Beancount's balances, per account and currency, equal ours exactly.
    assert differences(ours_now, beancount_balances(seen)) == {}

    # Beancount's open lots in asset accounts equal ours: same lot, units and date.
    assert differences(our_lots(reserve), beancount_lots(seen)) == {}
    uncosted = {
        (account, p.units.currency)
        for account, inventory in seen.inventories.items()
        if account.startswith("Assets:")
        for p in inventory
        if p.cost is None and assets[p.units.currency].tracks_lots
    }
    assert uncosted == set()

    # Entry by entry, beancount moved the same lots as we did (in FIFO mode: its own picks).
    assert set(seen.legs) == set(ours.legs)
    wrong = {seq: (ours.legs[seq], seen.legs[seq]) for seq in ours.legs}
    assert {seq: pair for seq, pair in wrong.items() if pair[0] != pair[1]} == {}
    return seen


# -- ledgers ------------------------------------------------------------------------------
@MODES
def test_demo_story_agrees_with_beancount(
    sqlite_reserve: Reserve, tmp_path: Path, mode: BookingMode
) -> None:
    run_story(sqlite_reserve)
    seen = cross_check(sqlite_reserve, export(sqlite_reserve, tmp_path / "demo.bean", mode), mode)
    # The consolidation relieves two lots seized the same day: a tie FIFO settles by arrival.
    assert seen.tied_reliefs >= 1


WORKLOADS = [
    pytest.param(2000, 7, WorkloadShape(), id="2000-seed7-50-a-day"),
    # Hundreds of lots acquired on the same day: FIFO hinges on arrival in the account.
    pytest.param(2000, 11, WorkloadShape(per_day=500), id="2000-seed11-500-a-day"),
    pytest.param(
        800,
        3,
        WorkloadShape(intake_percent=20, transfer_percent=65, per_day=10_000),
        id="800-seed3-one-day",
    ),
]


@MODES
@pytest.mark.parametrize(("count", "seed", "shape"), WORKLOADS)
def test_workload_agrees_with_beancount(
    sqlite_reserve: Reserve,
    tmp_path: Path,
    mode: BookingMode,
    count: int,
    seed: int,
    shape: WorkloadShape,
) -> None:
    start = date(2020, 1, 1)
    open_accounts(sqlite_reserve, workload_accounts(start))
    drafts = list(workload(count, seed=seed, start=start, shape=shape))
    post_entries(sqlite_reserve, drafts, actor="test")
    path = export(sqlite_reserve, tmp_path / "workload.bean", mode)
    seen = cross_check(sqlite_reserve, path, mode)
    assert our_lots(sqlite_reserve), "the workload left no open lot to compare"
    if shape.per_day >= 500:
        # The hard case really occurs: same-day lots whose arrival order is not creation order.
        assert seen.tied_reliefs >= 50
        assert seen.arrival_decides >= 1


HOT = "Assets:Reserve:SFDA:ETH:hot-1"
COLD = "Assets:Reserve:SFDA:ETH:cold-1"
CASH = "Assets:Reserve:SFDA:Cash:USD"
INTAKE = "Equity:Intake:SFDA"
FX = "Equity:Conversion:FX"
FEES = "Expenses:Fees:Network"
DISPOSALS = "Equity:Disposals:SFDA"
SALES = "Income:Sales:SFDA"
ETH = 10**18
AWKWARD_MEMO = 'Decision "IC-7" \\ approved\nby the board: қаулы'
AWKWARD_REFS = {  # refs are free-form: keys beancount cannot take as-is, and clashing ones
    "decision": "IC-7",
    "tx.id": "0xabc",
    "Case No": "2024/001",
    "ключ": "мән",
    "order_no": "PO-7",
    "ORDER-NO": "PO-8",
    "": "empty key",
    "note": 'say "hi" \\ then\nleave',
}
BIG = 10**24  # one million ether, in wei


def _intake(
    key: str, day: date, units: int, lot: str, usd: str, acquired: date | None = None
) -> EntryDraft:
    cost = Decimal(usd)
    opening = LotOpening("purchase", key, cost, cost * 450, lot_id=lot, acquired_on=acquired)
    postings = (PostingDraft(HOT, "ETH", units, opens=opening), PostingDraft(INTAKE, "ETH", -units))
    return EntryDraft(key, day, "intake", f"intake of {lot}", postings)


def _move(key: str, day: date, *postings: PostingDraft, kind: str = "transfer") -> EntryDraft:
    return EntryDraft(key, day, kind, key, postings)


def build_hand_scenario(reserve: Reserve) -> dict[str, int]:
    """Named reliefs, a lot that leaves and comes back, a reversal, fiat, and 10^24 wei."""
    d = date(2024, 1, 1)
    accounts = [HOT, COLD, CASH, INTAKE, FX, FEES, DISPOSALS, SALES]
    open_accounts(reserve, [Account(name, "SFDA", d) for name in accounts])
    day = d + timedelta(days=9)  # 2024-01-10
    posted = post_entries(
        reserve,
        [
            _intake("big", day, BIG, "ETH-BIG", "2345678901.23"),
            _intake("small", day, 3 * ETH, "ETH-SMALL", "7000.00"),
            # Recorded later, acquired earlier: FIFO must take it first.
            _intake("old", day + timedelta(1), 2 * ETH, "ETH-OLD", "4100.00", date(2024, 1, 5)),
            EntryDraft(
                "fx-in",
                day + timedelta(2),
                "conversion",
                AWKWARD_MEMO,
                (PostingDraft(CASH, "USD", 100_000_000), PostingDraft(FX, "USD", -100_000_000)),
                refs=AWKWARD_REFS,
            ),
            _move(  # a named relief
                "small-to-cold",
                day + timedelta(5),
                PostingDraft(HOT, "ETH", -3 * ETH // 2, lot="ETH-SMALL"),
                PostingDraft(COLD, "ETH", 3 * ETH // 2),
            ),
            # ETH-BIG leaves the hot wallet and comes back: it now arrived after ETH-SMALL.
            _move(
                "big-out",
                day + timedelta(6),
                PostingDraft(HOT, "ETH", -BIG, lot="ETH-BIG"),
                PostingDraft(COLD, "ETH", BIG),
            ),
            _move(
                "big-back",
                day + timedelta(7),
                PostingDraft(COLD, "ETH", -BIG, lot="ETH-BIG"),
                PostingDraft(HOT, "ETH", BIG),
            ),
        ],
        actor="test",
    )
    fifo = post_entries(
        reserve,
        [
            _move(  # FIFO: ETH-OLD 2, ETH-SMALL 1.5, then ETH-BIG 1 (not ETH-BIG 2.5)
                "fifo-out",
                day + timedelta(8),
                PostingDraft(HOT, "ETH", -9 * ETH // 2),
                PostingDraft(COLD, "ETH", 9 * ETH // 2 - 45 * ETH // 10_000),
                PostingDraft(FEES, "ETH", 45 * ETH // 10_000),
            ),
            _move(  # a sale: named lot out, dollars in
                "sale",
                day + timedelta(9),
                PostingDraft(COLD, "ETH", -5 * ETH // 4, lot="ETH-SMALL"),
                PostingDraft(DISPOSALS, "ETH", 5 * ETH // 4),
                PostingDraft(CASH, "USD", 310_000),
                PostingDraft(SALES, "USD", -310_000),
                kind="disposal",
            ),
        ],
        actor="test",
    )
    reversal = reverse_entry(
        reserve,
        fifo[0].seq,
        key="undo-fifo-out",
        on=day + timedelta(10),
        memo="sent to the wrong wallet",
        actor="test",
    )
    after = post_entries(
        reserve,
        [
            _move(  # after the reversal ETH-OLD and ETH-SMALL arrived last: OLD, BIG, SMALL
                "fifo-dispose",
                day + timedelta(11),
                PostingDraft(HOT, "ETH", -(2 * ETH + 1)),
                PostingDraft(DISPOSALS, "ETH", 2 * ETH + 1),
                kind="disposal",
            ),
            _move(
                "fx-out",
                day + timedelta(12),
                PostingDraft(CASH, "USD", -50_000_000),
                PostingDraft(FX, "USD", 50_000_000),
                kind="conversion",
            ),
        ],
        actor="test",
    )
    return {
        "first": posted[0].seq,
        "fifo_out": fifo[0].seq,
        "reversal": reversal.seq,
        "fifo_dispose": after[0].seq,
    }


@MODES
def test_hand_scenario_agrees_with_beancount(
    sqlite_reserve: Reserve, tmp_path: Path, mode: BookingMode
) -> None:
    seqs = build_hand_scenario(sqlite_reserve)
    seen = cross_check(sqlite_reserve, export(sqlite_reserve, tmp_path / "hand.bean", mode), mode)

    # Beancount's own booking of the two FIFO reliefs, as worked out by hand above.
    hot = beancount_account(HOT)
    relieved = {
        seq: {(label, -units) for (acct, _c, units, label) in seen.legs[seq] if acct == hot}
        for seq in (seqs["fifo_out"], seqs["fifo_dispose"])
    }
    assert relieved[seqs["fifo_out"]] == {
        ("ETH-OLD", Decimal(2)),
        ("ETH-SMALL", Decimal("1.5")),
        ("ETH-BIG", Decimal(1)),
    }
    assert relieved[seqs["fifo_dispose"]] == {
        ("ETH-OLD", Decimal(2)),
        ("ETH-BIG", Decimal("1E-18")),
    }
    # Free-form refs and memo reach beancount intact (whitespace runs are folded to one space).
    fx_in = next(
        e
        for e in load(tmp_path / "hand.bean")
        if isinstance(e, data.Transaction) and e.meta.get("idempotency_key") == "fx-in"
    )
    assert fx_in.narration == " ".join(AWKWARD_MEMO.split())
    written = {k: v for k, v in fx_in.meta.items() if k.startswith("ref")}
    plain = {k.removeprefix("ref-"): v for k, v in written.items() if k.startswith("ref-")}
    paired = {
        written[k]: written[k.removesuffix("-key") + "-value"]
        for k in written
        if k.startswith("ref_") and k.endswith("-key")
    }
    assert len(written) == len(plain) + 2 * len(paired)
    # The plain keys here are already lowercase without "_", so every key comes back as given.
    assert {**plain, **paired} == {k: " ".join(v.split()) for k, v in AWKWARD_REFS.items()}
    # 10^24 wei went through beancount without losing a wei.
    assert any(units == whole(BIG, 18) for (_a, _c, units, _l) in seen.legs[seqs["first"]])


# -- the checks can fail --------------------------------------------------------------------
def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def _one_base_unit_further(units: str) -> str:
    """``units`` one unit of its last decimal further from zero, with the same decimals."""
    decimals = len(units.partition(".")[2])
    step = Decimal(1).scaleb(-decimals)
    with localcontext() as ctx:
        ctx.prec = 400
        value = Decimal(units)
        return format(value - step if value < 0 else value + step, "f")


@MODES
def test_bean_check_rejects_a_changed_leg(
    sqlite_reserve: Reserve, tmp_path: Path, mode: BookingMode
) -> None:
    run_story(sqlite_reserve)
    path = export(sqlite_reserve, tmp_path / "demo.bean", mode)
    assert bean_check(path).returncode == 0
    # One satoshi more network fee on one leg: the entry no longer balances.
    text = path.read_text(encoding="utf-8")
    fee = re.search(r"^  Expenses:Fees:Network  (\S+) BTC ", text, re.MULTILINE)
    assert fee is not None
    tampered = tmp_path / "tampered.bean"
    tampered.write_text(
        _replace_once(
            text, fee.group(0), fee.group(0).replace(fee[1], _one_base_unit_further(fee[1]))
        ),
        encoding="utf-8",
    )
    result = bean_check(tampered)
    assert result.returncode != 0
    assert result.stdout + result.stderr


@MODES
def test_balance_assertions_catch_one_base_unit(
    sqlite_reserve: Reserve, tmp_path: Path, mode: BookingMode
) -> None:
    """A lot's two legs in the mining entry one satoshi larger: the entry still balances, and
    only the exact ``~ 0`` balance assertions notice."""
    run_story(sqlite_reserve)
    path = export(sqlite_reserve, tmp_path / "demo.bean", mode)
    text = path.read_text(encoding="utf-8")
    block = next(b for b in text.split("\n\n") if '"mining"' in b)
    legs = re.findall(r"^  \S+  (-?\S+) BTC ", block, re.MULTILINE)
    assert len(legs) == 4  # the for-sale and the retained lot, each with its income leg
    changed = block
    for units in (legs[0], f"-{legs[0]}"):  # the for-sale lot and its own income leg
        changed = changed.replace(f"  {units} BTC", f"  {_one_base_unit_further(units)} BTC", 1)
    assert changed != block
    tampered = tmp_path / "tampered.bean"
    tampered.write_text(_replace_once(text, block, changed), encoding="utf-8")
    result = bean_check(tampered)
    assert result.returncode != 0
    errors = result.stdout + result.stderr
    assert errors.count("Balance failed") == 2, errors
    assert "does not balance" not in errors


def test_balance_assertion_is_exact_to_one_wei(sqlite_reserve: Reserve, tmp_path: Path) -> None:
    run_story(sqlite_reserve)
    path = export(sqlite_reserve, tmp_path / "demo.bean", BookingMode.EXPLICIT)
    text = path.read_text(encoding="utf-8")
    line = next(
        m for m in map(EXACT_BALANCE_LINE.match, text.splitlines()) if m and m["currency"] == "BNB"
    )
    assert len(line["units"].split(".")[1]) == 18
    off = line.group(0).replace(
        f" {line['units']} ~", f" {_one_base_unit_further(line['units'])} ~"
    )
    tampered = tmp_path / "tampered.bean"
    tampered.write_text(_replace_once(text, line.group(0), off), encoding="utf-8")
    result = bean_check(tampered)
    assert result.returncode != 0
    assert "Balance failed" in result.stdout + result.stderr


def test_lot_comparison_sees_a_fifo_pick_that_bean_check_cannot(
    sqlite_reserve: Reserve, tmp_path: Path
) -> None:
    """Two same-day lots at the same unit cost: if beancount picked the other one, the entry
    would still balance and bean-check would pass; only comparing lots can tell."""
    d = date(2024, 1, 1)
    open_accounts(sqlite_reserve, [Account(n, "SFDA", d) for n in (HOT, COLD, INTAKE)])
    day = date(2024, 1, 10)
    post_entries(
        sqlite_reserve,
        [
            _intake("first", day, ETH, "A", "2000"),
            _intake("second", day, ETH, "B", "2000"),
            _move(
                "out", day, PostingDraft(HOT, "ETH", -ETH // 2), PostingDraft(COLD, "ETH", ETH // 2)
            ),
        ],
        actor="test",
    )
    path = export(sqlite_reserve, tmp_path / "fifo.bean", BookingMode.FIFO)
    cross_check(sqlite_reserve, path, BookingMode.FIFO)

    # Swap the two intakes: beancount's FIFO now relieves B while the file says A arrived.
    text = path.read_text(encoding="utf-8")
    blocks = text.split("\n\n")
    first = next(i for i, b in enumerate(blocks) if 'idempotency_key: "first"' in b)
    second = next(i for i, b in enumerate(blocks) if 'idempotency_key: "second"' in b)
    blocks[first], blocks[second] = blocks[second], blocks[first]
    swapped = tmp_path / "swapped.bean"
    swapped.write_text("\n\n".join(blocks), encoding="utf-8")
    assert bean_check(swapped).returncode == 0

    decimals = {a.code: a.decimals for a in list_assets(sqlite_reserve)}
    seen = replay(load(swapped), decimals, our_journal(sqlite_reserve))
    assert differences(our_balances(sqlite_reserve), beancount_balances(seen)) == {}
    assert differences(our_lots(sqlite_reserve), beancount_lots(seen)) != {}


# -- the command line ---------------------------------------------------------------------
def test_cli_export_with_fifo_booking(
    sqlite_reserve: Reserve, sqlite_url: str, tmp_path: Path
) -> None:
    run_story(sqlite_reserve)
    out = tmp_path / "books.beancount"
    argv = ["--db", sqlite_url, "ledger", "export", "--format", "beancount", "-o", str(out)]
    assert run([*argv, "--booking", "fifo"]) == 0
    cross_check(sqlite_reserve, out, BookingMode.FIFO)


# -- lots recorded late ---------------------------------------------------------------------
@MODES
def test_lots_recorded_late_export_cleanly(
    sqlite_reserve: Reserve, tmp_path: Path, mode: BookingMode
) -> None:
    """A lot acquired before the day it was recorded keeps its acquisition date for FIFO."""
    d = date(2024, 1, 1)
    open_accounts(sqlite_reserve, [Account(n, "SFDA", d) for n in (HOT, COLD, INTAKE, CASH, FX)])
    jan, feb = date(2024, 1, 15), date(2024, 2, 1)
    for draft in (
        _move("fx-1", jan, PostingDraft(CASH, "USD", 5_000), PostingDraft(FX, "USD", -5_000)),
        _intake("a", feb, 5 * ETH, "A", "10000"),
        _intake("b", feb, 2 * ETH, "B", "3000", acquired=jan),  # older lot, recorded later
        _move("fifo", feb, PostingDraft(HOT, "ETH", -3 * ETH), PostingDraft(COLD, "ETH", 3 * ETH)),
        _move("fx-2", feb, PostingDraft(CASH, "USD", 10_000), PostingDraft(FX, "USD", -10_000)),
    ):
        post_entries(sqlite_reserve, [draft], actor="test")
    moved = {line.lot.lot_id: line.units for line in open_lots(sqlite_reserve, account_prefix=COLD)}
    assert moved == {"B": 2 * ETH, "A": ETH}
    cross_check(sqlite_reserve, export(sqlite_reserve, tmp_path / "late.bean", mode), mode)


# -- date order -----------------------------------------------------------------------------
def test_back_dated_relief_is_refused(sqlite_reserve: Reserve) -> None:
    """Booking happens in posting order and beancount books in date order: the chain keeps
    them the same by refusing an entry dated before the latest one."""
    d = date(2024, 1, 1)
    open_accounts(sqlite_reserve, [Account(n, "SFDA", d) for n in (HOT, COLD, INTAKE)])
    post_entries(sqlite_reserve, [_intake("a", date(2024, 2, 1), 5 * ETH, "A", "100")], actor="t")
    back_dated = _move(
        "t", date(2024, 1, 15), PostingDraft(HOT, "ETH", -ETH), PostingDraft(COLD, "ETH", ETH)
    )
    with pytest.raises(InvalidInput, match="is kept in date order"):
        post_entries(sqlite_reserve, [back_dated], actor="test")
