"""A transfer request is priced at the published daily fix when there is one, and says so."""

from __future__ import annotations

import decimal
import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from reserve.bootstrap import bootstrap
from reserve.config import Settings
from reserve.custody.transfers import TransferRequest
from reserve.services import custody_transfers, custody_vaults
from reserve.services.market import fix_range
from reserve.services.market_load import load_market

from custody_world import RULES, build_world, whitelist

COIN = 100_000_000


def test_the_request_is_priced_at_the_days_fix(tmp_path: Path) -> None:
    reserve = bootstrap(
        Settings(database_url=f"sqlite:///{tmp_path / 'r.db'}", wallet_dir=tmp_path / "wallets")
    )
    try:
        world = build_world(reserve)  # the clock: 2025-06-02, after the primary files end
        world.vault("cold-p", ("kh1", "kh2", "kh3", "kh4", "kh5"), 3)
        issued = custody_vaults.issue_address(reserve, "cold-p", "test", actor="kh1")
        funding = Transaction(
            vin=[TransactionInput(hashlib.sha256(b"pricing").digest(), 0)],
            vout=[TransactionOutput(COIN, Script(bytes.fromhex(issued.script_hex)))],
        )
        custody_vaults.record_deposit(
            reserve, "cold-p", funding.serialize(), sources=(), actor="kh1"
        )
        destination = custody_vaults.issue_address(reserve, "cold-p", "self", actor="kh1")
        world.policy(RULES, whitelist(destination.address))
        load_market(reserve, actor="admin", today=date(2026, 2, 1))
        day = world.clock.now.date()
        fix_range(reserve, day - timedelta(days=1), day, actor="admin")
        with reserve.reading() as uow:
            fix = uow.market.fix("BTC", day)
        assert fix is not None
        assert fix.status == "DEGRADED"  # only CoinGecko still quotes BTC in mid-2025
        request = TransferRequest(
            "TR-P", "cold-p", "BTC", destination.address, "other", COIN // 4, 1_000, "priced"
        )
        view = custody_transfers.request_transfer(reserve, request, actor="kh1")
        with decimal.localcontext(prec=60):
            expected = (fix.value / 4).quantize(Decimal("0.01"))
        assert view.stored.amount_usd == expected
        assert view.stored.evaluation["usd_priced_by"] == f"fix {day} v1 DEGRADED"
    finally:
        reserve.close()
