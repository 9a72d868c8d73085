"""Invariants over random histories: zero sums per asset, balances equal to their postings."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reserve.ledger.accounts import is_under
from reserve.ledger.workload import WorkloadShape, workload, workload_accounts
from reserve.services.integrity import verify_ledger
from reserve.services.ledger import balances, open_accounts, open_lots, post_entries

from conftest import make_reserve

START = date(2021, 1, 1)

shapes = st.builds(
    WorkloadShape,
    intake_percent=st.integers(min_value=10, max_value=60),
    transfer_percent=st.integers(min_value=10, max_value=40),
    per_day=st.integers(min_value=1, max_value=20),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    count=st.integers(min_value=1, max_value=80),
    shape=shapes,
    batch=st.integers(min_value=1, max_value=40),
)
def test_random_histories_keep_the_books_whole(
    seed: int, count: int, shape: WorkloadShape, batch: int
) -> None:
    with TemporaryDirectory() as folder:
        reserve = make_reserve(f"sqlite:///{Path(folder) / 'p.db'}")
        try:
            open_accounts(reserve, workload_accounts(START))
            drafts = list(workload(count, seed=seed, start=START, shape=shape))
            for at in range(0, count, batch):
                post_entries(reserve, drafts[at : at + batch], actor="prop")

            posted: dict[tuple[str, str], int] = defaultdict(int)
            with reserve.reading() as uow:
                for entry in uow.ledger.stream_entries():
                    per_asset: dict[str, int] = defaultdict(int)
                    for p in entry.postings:
                        per_asset[p.asset] += p.amount
                        posted[(p.account, p.asset)] += p.amount
                    assert set(per_asset.values()) <= {0}, entry.seq
                assert set(uow.ledger.sums_by_asset().values()) <= {0}

            stored = {(b.account, b.asset): b.amount for b in balances(reserve)}
            assert stored == {k: v for k, v in posted.items() if v}
            far = {
                (b.account, b.asset): b.amount for b in balances(reserve, as_of=date(2100, 1, 1))
            }
            assert far == stored

            in_lots: dict[tuple[str, str], int] = defaultdict(int)
            for line in open_lots(reserve):
                assert line.units > 0
                in_lots[(line.account, line.lot.asset)] += line.units
            asset_accounts = {k: v for k, v in stored.items() if is_under(k[0], "Assets")}
            assert dict(in_lots) == asset_accounts
            assert verify_ledger(reserve).entries == count
        finally:
            reserve.close()
