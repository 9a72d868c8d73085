"""No transfer gets a PSBT to sign, let alone finalized, with fewer approvals than its rule demands:
whatever mix of approvals is attempted (the initiator, repeats, people without the role), the
build step opens exactly when enough distinct eligible approvers other than the initiator agreed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reserve.bootstrap import bootstrap
from reserve.config import Settings
from reserve.core.errors import InvalidInput
from reserve.custody.transfers import TransferRequest
from reserve.services import custody_signing, custody_transfers, custody_vaults

from custody_world import RULES, build_world, whitelist

ELIGIBLE = ("risk1", "risk2", "admin")  # roles the rule names: risk-officer, administrator
OTHERS = ("kh1", "kh2", "kh3", "auditor1")  # kh1 initiates; the rest lack the roles
COIN = 100_000_000


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(attempts=st.lists(st.sampled_from(ELIGIBLE + OTHERS), max_size=6))
def test_build_opens_only_at_the_rules_quorum(
    tmp_path_factory: pytest.TempPathFactory, attempts: list[str]
) -> None:
    folder: Path = tmp_path_factory.mktemp("approvals")
    reserve = bootstrap(
        Settings(database_url=f"sqlite:///{folder / 'r.db'}", wallet_dir=folder / "wallets")
    )
    try:
        world = build_world(reserve)
        world.vault("cold-p", ("kh1", "kh2", "kh3", "kh4", "kh5"), 3)
        issued = custody_vaults.issue_address(reserve, "cold-p", "test", actor="kh1")
        funding = Transaction(
            vin=[TransactionInput(hashlib.sha256(b"p").digest(), 0)],
            vout=[TransactionOutput(COIN, Script(bytes.fromhex(issued.script_hex)))],
        )
        custody_vaults.record_deposit(
            reserve, "cold-p", funding.serialize(), sources=(), actor="kh1"
        )
        destination = custody_vaults.issue_address(reserve, "cold-p", "self", actor="kh1")
        world.policy(RULES, whitelist(destination.address))
        request = TransferRequest(
            "TR-P", "cold-p", "BTC", destination.address, "other", COIN // 4, 1_000, "property"
        )
        custody_transfers.request_transfer(reserve, request, actor="kh1")
        counted: set[str] = set()
        for approver in attempts:
            try:
                custody_transfers.approve_transfer(reserve, "TR-P", actor=approver)
            except InvalidInput:
                assert approver not in ELIGIBLE or approver in counted
                continue
            assert approver in ELIGIBLE
            counted.add(approver)
        world.clock.advance(hours=25)
        if len(counted) >= 2:
            assert custody_signing.build_transfer(reserve, "TR-P", actor="kh1")
        else:
            with pytest.raises(InvalidInput, match="this step needs APPROVED"):
                custody_signing.build_transfer(reserve, "TR-P", actor="kh1")
    finally:
        reserve.close()
