"""Benchmark the ledger against floors measured in the same run, on the same machine.

    .venv/bin/python benchmarks/bench_ledger.py --transactions 100000

Every figure is a ratio against something measured here and now, never a constant, so the
result does not depend on how fast the machine is:

1. bulk ingest through ``post_entries`` against a raw stdlib ``sqlite3`` insert of the same rows
   with a sha256 chain (target: ours >= 0.25 of raw);
2. full verify (``reserve ledger verify``) against ``bean-check`` on the Beancount export, both as
   subprocesses, wall time and peak memory (targets: >= 5x faster, >= 4x less memory);
3. balances of every account (``reserve ledger balances --json``) against ``bean-query`` on the
   same export, both as subprocesses (target: >= 80x faster);
4. one durable append at 10k entries and at full size: p99 must not grow (big/small <= 1.5).

Nothing here asserts: the script prints PASS or FAIL next to each ratio and a summary table.
The workload is ``reserve.ledger.workload``: seeded, so every run replays the same history.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from hashlib import sha256
from itertools import islice
from pathlib import Path

from reserve.bootstrap import Reserve, bootstrap
from reserve.config import Settings
from reserve.ledger.model import EntryDraft
from reserve.ledger.workload import workload, workload_accounts
from reserve.services.export import ExportFormat, export_ledger
from reserve.services.ledger import balances, open_accounts, post_entries

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the virtualenv's bin: reserve, bean-check, bean-query
START = date(2020, 1, 1)
ACTOR = "bench"
BALANCE_QUERY = "SELECT account, sum(position) GROUP BY account"
GENESIS = "0" * 64

TARGET_INGEST = 0.25  # ours / raw throughput, at least
TARGET_VERIFY_SPEED = 5.0  # bean-check time / ours, at least
TARGET_VERIFY_MEMORY = 4.0  # bean-check peak RSS / ours, at least
TARGET_BALANCES = 80.0  # bean-query time / ours, at least
TARGET_APPEND = 1.5  # p99 at full size / p99 at 10k, at most


@dataclass(frozen=True)
class Result:
    """One line of the summary: a measured ratio and the bound it must meet."""

    name: str
    detail: str
    ratio: float | None
    target: float
    at_most: bool = False  # the ratio must stay below the target instead of above

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "SKIP"
        ok = self.ratio <= self.target if self.at_most else self.ratio >= self.target
        return "PASS" if ok else "FAIL"

    @property
    def bound(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.target:g}"


@dataclass(frozen=True)
class Run:
    """A finished subprocess: wall time from spawn to exit and its own peak RSS."""

    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


# -- output -------------------------------------------------------------------------------
def say(text: str = "") -> None:
    """Print at once: a 1M run takes long and should show where it is."""
    print(text, flush=True)


def show(result: Result) -> Result:
    ratio = "n/a" if result.ratio is None else f"{result.ratio:.2f}"
    say(f"  => ratio {ratio} (target {result.bound}): {result.verdict}")
    return result


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: with 300 samples p99 is the 297th, a real observation."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


# -- subprocesses -------------------------------------------------------------------------
def run_measured(args: Sequence[str], workdir: Path, label: str) -> Run:
    """Run ``args`` and measure it alone.

    ``os.wait4`` returns the rusage of exactly this child, so its ``ru_maxrss`` is this
    process's own peak (RUSAGE_CHILDREN would be the maximum over every child so far). Output
    goes to files, so a chatty child can never block on a full pipe.
    """
    out_path, err_path = workdir / f"{label}.out", workdir / f"{label}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(list(args), stdout=out, stderr=err, cwd=workdir)
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    return Run(
        seconds=seconds,
        max_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        returncode=child.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def median_run(args: Sequence[str], workdir: Path, label: str, repeat: int) -> Run:
    """The run with the median wall time out of ``repeat``: one slow outlier cannot decide."""
    runs = sorted(
        (run_measured(args, workdir, label) for _ in range(repeat)), key=lambda r: r.seconds
    )
    return runs[len(runs) // 2]


def require_ok(run: Run, what: str) -> None:
    """A failed comparison run would make its timing meaningless: show why and say so."""
    if run.returncode != 0:
        tail = (run.stderr or run.stdout).strip().splitlines()[-5:]
        say(f"  !! {what} exited {run.returncode}; its timing is not a valid comparison:")
        for line in tail:
            say(f"     {line}")


# -- our ingest ---------------------------------------------------------------------------
def fresh_reserve(path: Path) -> Reserve:
    """A migrated, empty ledger file with the workload's accounts open."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    reserve = bootstrap(Settings(database_url=f"sqlite:///{path}"))
    open_accounts(reserve, workload_accounts(START))
    return reserve


def bulk_post(reserve: Reserve, drafts: Iterator[EntryDraft], count: int, batch: int) -> float:
    """Post ``count`` drafts, ``batch`` per call; returns the seconds spent inside the calls
    (drafts are generated outside the clock, as the raw floor's rows are read outside it)."""
    spent = 0.0
    left = count
    while left > 0:
        chunk = list(islice(drafts, min(batch, left)))
        if not chunk:
            break
        started = time.perf_counter()
        post_entries(reserve, chunk, actor=ACTOR)
        spent += time.perf_counter() - started
        left -= len(chunk)
    return spent


def single_appends(
    reserve: Reserve, drafts: Iterator[EntryDraft], count: int, rounds: int
) -> list[list[float]]:
    """Seconds of each one-draft post (its own transaction, fsync'ed on commit), in ``rounds``
    rounds of ``count``: a p99 of fsync latency on a shared machine is noisy, so the verdict
    takes the median of the rounds' p99s."""
    taken: list[list[float]] = []
    for _ in range(rounds):
        samples = []
        for draft in islice(drafts, count):
            started = time.perf_counter()
            post_entries(reserve, [draft], actor=ACTOR)
            samples.append(time.perf_counter() - started)
        taken.append(samples)
    return taken


@dataclass(frozen=True)
class Ingest:
    entries: int
    bulk_entries: int
    bulk_seconds: float
    small_size: int
    small_appends: list[list[float]]
    big_size: int
    big_appends: list[list[float]]


def ingest(
    path: Path, n: int, *, seed: int, batch: int, small: int, appends: int, rounds: int
) -> Ingest:
    """Bulk-post ``n`` drafts, pausing at ``small`` entries and at the end for single appends.

    The appends take the next drafts of the same seeded stream, so the ledger stays one valid
    history; they are timed apart from the bulk throughput.
    """
    reserve = fresh_reserve(path)
    per_size = appends * rounds
    drafts = workload(n + 2 * per_size, seed=seed)
    try:
        spent = bulk_post(reserve, drafts, small, batch)
        say(f"  bulk {small:,} entries in {spent:.2f} s; {per_size} single appends at {small:,}")
        small_samples = single_appends(reserve, drafts, appends, rounds)
        spent += bulk_post(reserve, drafts, n - small, batch)
        big_size = n + per_size
        say(f"  bulk {n:,} entries in {spent:.2f} s; {per_size} single appends at {big_size:,}")
        big_samples = single_appends(reserve, drafts, appends, rounds)
    finally:
        reserve.close()
    return Ingest(n + 2 * per_size, n, spent, small, small_samples, big_size, big_samples)


# -- the raw floor ------------------------------------------------------------------------
def raw_connection(path: Path) -> sqlite3.Connection:
    """stdlib sqlite3 with our engine's pragmas: WAL, synchronous=FULL, foreign keys on, 16 MiB
    page cache."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-16384")
    return conn


def stored_batches(source: Path, batch: int) -> Iterator[list[tuple[tuple[object, ...], list]]]:
    """Our stored entries with their postings, ``batch`` entries at a time, as raw rows."""
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        (last,) = conn.execute("SELECT coalesce(max(seq), 0) FROM entries").fetchone()
        for first in range(1, last + 1, batch):
            upper = first + batch - 1
            entries = conn.execute(
                "SELECT seq, recorded_at, date, kind, memo, refs, actor, idempotency_key, "
                "reverses, content_digest FROM entries WHERE seq BETWEEN ? AND ? ORDER BY seq",
                (first, upper),
            ).fetchall()
            legs: dict[int, list[tuple[object, ...]]] = {row[0]: [] for row in entries}
            for leg in conn.execute(
                "SELECT entry_seq, line, leg, account, asset, amount, lot_id, booking "
                "FROM postings WHERE entry_seq BETWEEN ? AND ? ORDER BY entry_seq, line, leg",
                (first, upper),
            ):
                legs[leg[0]].append(leg)
            yield [(row, legs[row[0]]) for row in entries]
    finally:
        conn.close()


def raw_floor(source: Path, target: Path, batch: int) -> tuple[int, float]:
    """Insert our stored entries and postings into a fresh file with bare sqlite3.

    Per entry: canonical JSON (a list, so no key sorting) of every stored field and its legs,
    ``sha256(prev_hash bytes + payload)``, then executemany per batch and a commit per batch.
    The schema is ours (same indexes, foreign keys and triggers), made outside the clock. The
    floor writes neither lots nor projections (balances, lot holdings, chain head): ours does.
    """
    fresh_reserve(target).close()  # schema and accounts, untimed
    conn = raw_connection(target)
    head, count, spent = GENESIS, 0, 0.0
    try:
        for rows in stored_batches(source, batch):
            started = time.perf_counter()
            entry_rows, posting_rows = [], []
            for entry, legs in rows:
                payload = json.dumps(
                    [*entry, [list(leg[1:]) for leg in legs]],
                    separators=(",", ":"),
                    ensure_ascii=False,
                ).encode()
                digest = sha256(bytes.fromhex(head) + payload).hexdigest()
                entry_rows.append((*entry, head, digest))
                posting_rows += legs
                head = digest
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO entries (seq, recorded_at, date, kind, memo, refs, actor, "
                "idempotency_key, reverses, content_digest, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                entry_rows,
            )
            conn.executemany(
                "INSERT INTO postings (entry_seq, line, leg, account, asset, amount, lot_id, "
                "booking) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                posting_rows,
            )
            conn.execute("COMMIT")
            spent += time.perf_counter() - started
            count += len(rows)
    finally:
        conn.close()
    return count, spent


# -- the four comparisons -----------------------------------------------------------------
def compare_ingest(done: Ingest, raw: tuple[int, float]) -> Result:
    ours_rate = done.bulk_entries / done.bulk_seconds
    raw_count, raw_seconds = raw
    raw_rate = raw_count / raw_seconds
    say(f"  ours: {done.bulk_entries:,} entries via post_entries in {done.bulk_seconds:.2f} s")
    say(f"        = {ours_rate:,.0f} entries/s (booking, lots, digests, chain, projections)")
    say(f"  raw : {raw_count:,} entries via sqlite3 executemany in {raw_seconds:.2f} s")
    say(f"        = {raw_rate:,.0f} entries/s (chain + entries + postings only)")
    detail = f"{ours_rate:,.0f} vs {raw_rate:,.0f} entries/s"
    return show(Result("1. bulk ingest / raw sqlite3", detail, ours_rate / raw_rate, TARGET_INGEST))


def reserve_cli(db: Path, *command: str) -> list[str]:
    return [str(BIN / "reserve"), "--db", f"sqlite:///{db}", *command]


def describe(label: str, run: Run) -> str:
    return f"  {label:<34} {run.seconds:9.3f} s   peak RSS {run.max_rss_mb:8.1f} MB"


def compare_verify(db: Path, ledger: Path, workdir: Path, repeat: int) -> list[Result]:
    ours = median_run(reserve_cli(db, "ledger", "verify"), workdir, "verify-ours", repeat)
    require_ok(ours, "reserve ledger verify")
    bean_check = [str(BIN / "bean-check"), "--no-cache", str(ledger)]
    theirs = median_run(bean_check, workdir, "verify-bean", repeat)
    require_ok(theirs, "bean-check")
    say(describe("ours: reserve ledger verify", ours))
    say(f"        {ours.stdout.strip()[:100]}")
    say(describe("bean: bean-check --no-cache", theirs))
    say("  (each a separate process, start-up included; peak RSS from os.wait4 of that process;")
    say("   bean-check without its pickle cache, so it parses, books and checks every run; the")
    say("   export ends in exact balance assertions, so bean-check also confirms our balances)")
    speed = Result(
        "2a. verify speed vs bean-check",
        f"{ours.seconds:.2f} s vs {theirs.seconds:.2f} s",
        theirs.seconds / ours.seconds,
        TARGET_VERIFY_SPEED,
    )
    memory = Result(
        "2b. verify peak memory vs bean-check",
        f"{ours.max_rss_mb:.0f} MB vs {theirs.max_rss_mb:.0f} MB",
        theirs.max_rss_mb / ours.max_rss_mb,
        TARGET_VERIFY_MEMORY,
    )
    say("  speed:")
    show(speed)
    say("  memory:")
    show(memory)
    return [speed, memory]


def in_process_balances(db: Path) -> tuple[float, int]:
    """``balances(reserve)`` inside this process: the cost without interpreter start-up."""
    reserve = bootstrap(Settings(database_url=f"sqlite:///{db}"), migrate=False)
    try:
        started = time.perf_counter()
        lines = balances(reserve)
        return time.perf_counter() - started, len(lines)
    finally:
        reserve.close()


def compare_balances(db: Path, ledger: Path, workdir: Path, repeat: int) -> Result:
    runs = max(repeat, 5)  # ours is short: a median of five costs little
    ours = median_run(reserve_cli(db, "ledger", "balances", "--json"), workdir, "bal-ours", runs)
    require_ok(ours, "reserve ledger balances")
    ledger.with_name(f".{ledger.name}.picklecache").unlink(missing_ok=True)
    query = [str(BIN / "bean-query"), str(ledger), BALANCE_QUERY]
    cold = run_measured(query, workdir, "bal-bean-cold")
    require_ok(cold, "bean-query")
    warm = run_measured(query, workdir, "bal-bean-warm")
    seconds, count = in_process_balances(db)
    say(describe(f"ours: ledger balances --json (x{runs})", ours))
    say(f"        in-process balances(): {seconds * 1000:.1f} ms for {count} lines (info only)")
    say(describe("bean: bean-query, cold", cold))
    say(describe("bean: bean-query, warm (cache hit)", warm))
    say("  (subprocess vs subprocess, start-up included on both sides. Judged on the cold run:")
    say("   every append changes the export, which invalidates beancount's pickle cache; the")
    say("   cold run also pays for writing that cache. Warm, for information only:")
    say(
        f"   {warm.seconds / ours.seconds:.1f}x. Ours reads the balances kept in step by each post)"
    )
    return show(
        Result(
            "3. balances vs bean-query (cold)",
            f"{ours.seconds:.3f} s vs {cold.seconds:.2f} s",
            cold.seconds / ours.seconds,
            TARGET_BALANCES,
        )
    )


def compare_appends(done: Ingest) -> Result:
    def p99(rounds: list[list[float]]) -> float:
        return statistics.median(percentile(samples, 99) for samples in rounds)

    def describe(size: int, rounds: list[list[float]]) -> str:
        every = [sample for samples in rounds for sample in samples]
        p50 = percentile(every, 50) * 1000
        each = ", ".join(f"{percentile(samples, 99) * 1000:.2f}" for samples in rounds)
        return (
            f"at {size:>9,} entries: p50 {p50:7.2f} ms  p99 {p99(rounds) * 1000:7.2f} ms "
            f"(median of rounds: {each}; n={len(every)})"
        )

    say(f"  {describe(done.small_size, done.small_appends)}")
    say(f"  {describe(done.big_size, done.big_appends)}")
    say("  (one post_entries call with one draft: own transaction, WAL, synchronous=FULL)")
    small, big = p99(done.small_appends), p99(done.big_appends)
    detail = f"p99 {small * 1000:.2f} ms -> {big * 1000:.2f} ms"
    return show(Result("4. append p99 big/small", detail, big / small, TARGET_APPEND, True))


# -- the run ------------------------------------------------------------------------------
def summary(results: Sequence[Result]) -> None:
    say("\nSummary")
    say(f"  {'comparison':<38} {'measured':<34} {'ratio':>8} {'target':>8}  verdict")
    for r in results:
        ratio = "n/a" if r.ratio is None else f"{r.ratio:.2f}"
        say(f"  {r.name:<38} {r.detail:<34} {ratio:>8} {r.bound:>8}  {r.verdict}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="drafts per post_entries call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--appends", type=int, default=1000, help="single appends per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of appends per size")
    parser.add_argument("--small", type=int, default=10_000, help="size of the first appends")
    parser.add_argument("--repeat", type=int, default=1, help="runs per subprocess (median)")
    parser.add_argument(
        "--beancount-max",
        type=int,
        default=200_000,
        help="skip bean-check and bean-query above this many entries (they hold it all in RAM)",
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench-run")
    return parser.parse_args(argv)


def export_beancount(db: Path, ledger: Path) -> None:
    """The file both beancount tools read: our own export, written outside every clock."""
    started = time.perf_counter()
    reserve = bootstrap(Settings(database_url=f"sqlite:///{db}"), migrate=False)
    try:
        with ledger.open("w", encoding="utf-8", newline="") as handle:
            export_ledger(reserve, handle, fmt=ExportFormat.BEANCOUNT)
    finally:
        reserve.close()
    seconds, size = time.perf_counter() - started, ledger.stat().st_size / 2**20
    say(f"\n(exported to Beancount in {seconds:.1f} s: {size:.0f} MB, booking STRICT)")


def ours_alone(db: Path, workdir: Path) -> list[Result]:
    """Above --beancount-max: our side alone, for the record, with the comparisons skipped."""
    verify = run_measured(reserve_cli(db, "ledger", "verify"), workdir, "verify")
    require_ok(verify, "reserve ledger verify")
    query = run_measured(reserve_cli(db, "ledger", "balances", "--json"), workdir, "balances")
    require_ok(query, "reserve ledger balances")
    say(f"  ours alone: verify {verify.seconds:.2f} s, peak RSS {verify.max_rss_mb:.1f} MB")
    say(f"              {verify.stdout.strip()[:100]}")
    say(f"  ours alone: balances --json {query.seconds:.3f} s")
    return [
        Result("2a. verify speed vs bean-check", "skipped", None, TARGET_VERIFY_SPEED),
        Result("2b. verify peak memory vs bean-check", "skipped", None, TARGET_VERIFY_MEMORY),
        Result("3. balances vs bean-query (cold)", "skipped", None, TARGET_BALANCES),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    n = args.transactions
    workdir: Path = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    ours_db, raw_db, ledger = workdir / "ours.db", workdir / "raw.db", workdir / "ledger.beancount"
    began = time.perf_counter()
    say(f"Sovereign Reserve benchmark: {n:,} workload transactions (seed {args.seed}), SQLite")
    say(f"work folder {workdir}; python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}")

    say(f"\n1. Bulk ingest (post_entries, {args.batch} drafts per call) vs raw sqlite3")
    small = min(args.small, n // 2)
    done = ingest(
        ours_db,
        n,
        seed=args.seed,
        batch=args.batch,
        small=small,
        appends=args.appends,
        rounds=args.rounds,
    )
    raw = raw_floor(ours_db, raw_db, args.batch)
    results = [compare_ingest(done, raw)]

    if done.entries <= args.beancount_max:
        export_beancount(ours_db, ledger)
        say("\n2. Full verify vs bean-check")
        results += compare_verify(ours_db, ledger, workdir, args.repeat)
        say("\n3. Balances of all accounts vs bean-query")
        results.append(compare_balances(ours_db, ledger, workdir, args.repeat))
    else:
        say(
            f"\n2./3. skipped: {done.entries:,} entries is above --beancount-max "
            f"{args.beancount_max:,} (beancount holds the whole file in memory)"
        )
        results += ours_alone(ours_db, workdir)

    say("\n4. One durable append, small vs full ledger")
    results.append(compare_appends(done))
    summary(results)
    say(f"\n(benchmark took {time.perf_counter() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
