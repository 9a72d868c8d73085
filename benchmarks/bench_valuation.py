"""Benchmark the daily valuation backfill against a floor measured in the same run.

    .venv/bin/python benchmarks/bench_valuation.py --lots 100000 --days 730

A reserve of ``--lots`` lots (the seeded ledger workload: intakes open lots, transfers move
them between wallets with fees, disposals relieve them) over ``--days`` days, with the bundled
prices loaded and the fixes published. Timed:

* ours: ``value_range`` over every day: holdings per account, asset and provenance with their
  cost basis, the day's fixes checked, marks, NAV, a stored run with its lines per day;
* floor: one SQL aggregate over the same rows per day (``SUM(amount) GROUP BY account, lot``
  of the postings dated up to that day): the least any day-by-day valuation from the journal
  must read.

Target: ours <= 3 x floor. Nothing asserts; the script prints PASS or FAIL next to the ratio.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from reserve.bootstrap import Reserve, bootstrap
from reserve.config import Settings
from reserve.ledger.workload import WorkloadShape, workload, workload_accounts
from reserve.services.ledger import open_accounts, post_entries
from reserve.services.market import fix_range
from reserve.services.market_load import load_market
from reserve.services.valuation import value_range

START = date(2021, 1, 1)
ACTOR = "bench"
SHAPE_PERCENT = (70, 20)  # intakes open lots; transfers; the rest are disposals
TARGET = 3.0


def build(path: Path, lots: int, days: int) -> tuple[Reserve, int]:
    """A ledger with about ``lots`` lots spread evenly over ``days`` days."""
    transactions = lots * 100 // SHAPE_PERCENT[0]
    shape = WorkloadShape(SHAPE_PERCENT[0], SHAPE_PERCENT[1], max(1, -(-transactions // days)))
    reserve = bootstrap(Settings(database_url=f"sqlite:///{path}"))
    open_accounts(reserve, workload_accounts(START))
    drafts = list(workload(transactions, start=START, shape=shape))
    for start in range(0, len(drafts), 5000):
        post_entries(reserve, drafts[start : start + 5000], actor=ACTOR)
    return reserve, transactions


def floor(path: Path, first: date, last: date) -> float:
    """One aggregate over the postings dated up to each day, for every day. It sums in floating
    point (wei overflow SQLite's integers): cheaper than any exact sum, so a stricter floor."""
    connection = sqlite3.connect(path)
    query = (
        "SELECT p.account, p.lot_id, TOTAL(CAST(p.amount AS REAL)) FROM postings p "
        "JOIN entries e ON e.seq = p.entry_seq WHERE e.date <= ? AND p.lot_id IS NOT NULL "
        "GROUP BY p.account, p.lot_id"
    )
    started = time.perf_counter()
    day = first
    while day <= last:
        connection.execute(query, (day.isoformat(),)).fetchall()
        day += timedelta(days=1)
    spent = time.perf_counter() - started
    connection.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-valuation-") as folder:
        path = Path(folder) / "reserve.db"
        started = time.perf_counter()
        reserve, transactions = build(path, args.lots, args.days)
        with reserve.reading() as uow:
            lots = len(uow.market.lots())
        last = START + timedelta(days=args.days - 1)
        load_market(reserve, actor=ACTOR)
        fix_range(reserve, START, last, actor=ACTOR)
        print(
            f"built {transactions:,} transactions, {lots:,} lots, {args.days} days of fixes "
            f"in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        valued = value_range(reserve, START, last, actor=ACTOR)
        ours = time.perf_counter() - started
        spent = floor(path, START, last)
        ratio = ours / spent
        verdict = "PASS" if ratio <= TARGET else "FAIL"
        print(
            f"backfill of {len(valued)} daily valuations: {ours:.2f} s; floor (one SQL "
            f"aggregate per day): {spent:.2f} s; ratio {ratio:.2f} (target <= {TARGET}) "
            f"{verdict}"
        )
        print(f"last day {valued[-1].day}: NAV USD {valued[-1].total.nav_usd:,.2f}")
        reserve.close()


if __name__ == "__main__":
    main()
