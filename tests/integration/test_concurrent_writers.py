"""Concurrent writers form one chain (and one audit chain): 8 processes x 200 entries against
PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
from datetime import date

import pytest

from reserve.bootstrap import bootstrap
from reserve.config import Settings
from reserve.services.governance import audit_log, verify_audit
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import balances, post_entries

from support import MINING, VAULT, intake, open_standard

WRITERS = 8
EACH = 200


def _writer(url: str, writer: int, start: mp.synchronize.Event) -> None:  # type: ignore[name-defined]
    reserve = bootstrap(Settings(database_url=url), migrate=False)
    start.wait()
    for n in range(EACH):
        post_entries(
            reserve,
            [intake(f"w{writer}-{n}", VAULT, 1, day=date(2024, 3, 5))],
            actor=f"writer-{writer}",
        )
    reserve.close()


@pytest.mark.slow
def test_eight_processes_posting_at_once_give_one_gapless_chain(postgres_url: str) -> None:
    reserve = bootstrap(Settings(database_url=postgres_url))
    open_standard(reserve)
    spawn = mp.get_context("spawn")
    start = spawn.Event()
    workers = [spawn.Process(target=_writer, args=(postgres_url, w, start)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    report = verify_ledger(reserve)
    assert report.entries == WRITERS * EACH
    with reserve.reading() as uow:
        assert uow.ledger.count_entries() == WRITERS * EACH
        seqs = [e.seq for e in uow.ledger.stream_entries()]
    assert seqs == list(range(1, WRITERS * EACH + 1))
    held = {(b.account, b.asset): b.amount for b in balances(reserve)}
    assert held[(VAULT, "BTC")] == WRITERS * EACH
    assert held[(MINING, "BTC")] == -WRITERS * EACH
    assert verify_audit(reserve).records == WRITERS * EACH + 1  # the accounts, then each post
    posts = [r for r in audit_log(reserve) if r.action == "ledger.post"]
    assert sorted(int(r.details["first_seq"]) for r in posts) == list(range(1, WRITERS * EACH + 1))
    reserve.close()


def test_concurrent_sqlite_writers_also_form_one_chain(sqlite_url: str) -> None:
    reserve = bootstrap(Settings(database_url=sqlite_url))
    open_standard(reserve)
    spawn = mp.get_context("spawn")
    start = spawn.Event()
    workers = [spawn.Process(target=_writer, args=(sqlite_url, w, start)) for w in range(3)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * 3
    assert verify_ledger(reserve).entries == 3 * EACH
    assert verify_audit(reserve).records == 3 * EACH + 1
    reserve.close()
