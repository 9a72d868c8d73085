"""The whole transfer lifecycle against a real node (litecoind regtest: Bitcoin Core 0.21's
script interpreter; only the address prefix differs, so the same witness programs are re-encoded).

Fund a 3-of-5 vault, spend from it through request, policy, approvals, time lock, PSBT, three
offline signatures, finalize, independent verification, broadcast and confirmation; the node's
``testmempoolaccept`` must accept what the system finalizes and reject a one-signature spend and a
spend whose amount changed after signing, as the system's own check does. A recovery key spends
alone only once its relative time lock has passed. Reconciliation finds a planted difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from embit.psbt import PSBT
from embit.script import Witness
from embit.transaction import Transaction

from reserve.adapters.bdk_vault import VaultWallet, finalize
from reserve.bootstrap import bootstrap
from reserve.cli.app import run
from reserve.config import Settings
from reserve.core.errors import InvalidInput
from reserve.custody.signer import read_key_file, sign
from reserve.custody.spend_check import check_transaction
from reserve.custody.transfers import TransferRequest, TransferStatus
from reserve.services import custody_reconcile, custody_signing, custody_transfers, custody_vaults
from reserve.services.custody_transfers import approved_spend, show_transfer

from custody_world import RULES, CustodyWorld, build_world, whitelist
from regtest import LitecoinRegtest, litecoind, reencode  # noqa: F401  (the fixture)

COIN = 100_000_000


@pytest.fixture
def world(tmp_path: Path, node: LitecoinRegtest) -> Iterator[CustodyWorld]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'reserve.db'}",
        wallet_dir=tmp_path / "wallets",
        custody_confirmations=1,
    )
    reserve = bootstrap(settings)
    world = build_world(reserve)
    yield world
    reserve.close()


@pytest.fixture
def node(litecoind: LitecoinRegtest) -> LitecoinRegtest:  # noqa: F811
    return litecoind


def _funded_vault(
    world: CustodyWorld, node: LitecoinRegtest, name: str, units: int, **kw: object
) -> tuple[str, str]:
    holders = kw.pop("holders", ("kh1", "kh2", "kh3", "kh4", "kh5"))
    threshold = kw.pop("threshold", 3)
    world.vault(name, holders, threshold, **kw)  # type: ignore[arg-type]
    issued = custody_vaults.issue_address(world.reserve, name, "test funding", actor="kh1")
    txid, _vout = node.fund_script(bytes.fromhex(issued.script_hex), units)
    node.mine(1)
    created = custody_vaults.sync_deposits(world.reserve, name, node.core_rpc(), actor="kh1")
    assert created == 1
    with world.reserve.reading() as uow:
        account = custody_vaults.get_vault(uow, name).account
    world.book_into(account, units, f"fund-{name}")
    return account, txid


def _destination(node: LitecoinRegtest) -> tuple[str, str]:
    """A node wallet address, and the same witness program as a bcrt (regtest) address."""
    ltc = str(node.rpc("getnewaddress", "dest", "bech32"))
    return ltc, reencode(ltc, "bcrt")


def _sign_as(world: CustodyWorld, holder: str, psbt: str, vault: str) -> str:
    backup = custody_vaults.backup(world.reserve, vault)
    from reserve.custody.descriptors import VaultScript

    key = read_key_file(world.keys[holder].key_file(), f"{holder}.json")
    return sign(psbt, VaultScript.from_backup(backup), key)


def test_full_lifecycle_is_accepted_by_the_node_and_booked(
    world: CustodyWorld, node: LitecoinRegtest, capsys: pytest.CaptureFixture[str]
) -> None:
    account, _ = _funded_vault(world, node, "cold-main", 2 * COIN)
    _ltc, dest = _destination(node)
    world.policy(RULES, whitelist(dest))
    reserve = world.reserve
    request = TransferRequest(
        "TR-1",
        "cold-main",
        "BTC",
        dest,
        "other",
        COIN // 2,
        3_000,
        "to the treasury's whitelisted address",
    )
    view = custody_transfers.request_transfer(reserve, request, actor="kh1")
    assert view.status == TransferStatus.PENDING
    assert view.needed == 2
    assert view.stored.evaluation["rule"] == "cold-to-whitelist"
    with pytest.raises(InvalidInput, match="proposed the request and cannot approve it"):
        custody_transfers.approve_transfer(reserve, "TR-1", actor="kh1")
    custody_transfers.approve_transfer(reserve, "TR-1", actor="risk1")
    view = custody_transfers.approve_transfer(reserve, "TR-1", actor="admin")
    assert view.status == TransferStatus.APPROVED
    with pytest.raises(InvalidInput, match="signing opens at"):
        custody_signing.build_transfer(reserve, "TR-1", actor="kh1")
    world.clock.advance(hours=24)
    psbt = custody_signing.build_transfer(reserve, "TR-1", actor="kh1")
    copies = [_sign_as(world, holder, psbt, "cold-main") for holder in ("kh2", "kh4")]
    custody_signing.import_signed(reserve, "TR-1", copies, actor="kh1")
    with pytest.raises(InvalidInput, match="2 of the 3 signatures"):
        custody_signing.finalize_transfer(reserve, "TR-1", actor="kh1")
    custody_signing.import_signed(
        reserve, "TR-1", [_sign_as(world, "kh5", psbt, "cold-main")], actor="kh1"
    )
    txid = custody_signing.finalize_transfer(reserve, "TR-1", actor="kh1")
    view = show_transfer(reserve, "TR-1")
    raw = custody_signing.final_transaction(view)
    accepted = node.core_rpc().test_accept(raw)
    assert accepted.allowed, accepted.reason

    # the node and the system's own check both refuse the same spend with its amount changed
    tampered = Transaction.parse(raw)
    payment = next(o for o in tampered.vout if o.value == COIN // 2)
    payment.value -= 1_000
    refused = node.core_rpc().test_accept(tampered.serialize())
    assert not refused.allowed
    assert refused.reason
    with reserve.reading() as uow:
        vault = custody_vaults.get_vault(uow, "cold-main")
    assert check_transaction(tampered.serialize(), vault.spec.script(), approved_spend(view, vault))

    assert custody_signing.broadcast_transfer(reserve, "TR-1", node.core_rpc(), actor="kh1") == txid
    waiting = custody_signing.confirm_transfer(reserve, "TR-1", node.core_rpc(), actor="kh1")
    assert waiting.entry_seq is None
    assert waiting.confirmations == 0
    node.mine(1)
    done = custody_signing.confirm_transfer(reserve, "TR-1", node.core_rpc(), actor="kh1")
    assert done.entry_seq is not None
    assert show_transfer(reserve, "TR-1").status == TransferStatus.CONFIRMED
    status = node.core_rpc().status(txid)
    assert status.confirmations >= 1

    # the ledger and the chain agree to the satoshi; a planted satoshi is found
    found = custody_reconcile.reconcile(reserve, node.core_rpc(), actor="auditor1")
    assert [(f.vault, f.difference, f.break_id) for f in found] == [("cold-main", 0, None)]
    assert found[0].chain_units == 2 * COIN - COIN // 2 - 3_000
    world.book_into(account, 1, "planted")
    found = custody_reconcile.reconcile(reserve, node.core_rpc(), actor="auditor1")
    assert found[0].difference == -1
    assert found[0].break_id is not None
    assert [b.ledger_units - b.chain_units for b in custody_reconcile.list_breaks(reserve)] == [1]

    # the same through the command line: exit 1, the difference to the satoshi, a second break
    rpc = f"http://{node.rpc_user}:{node.rpc_password}@127.0.0.1:{node.rpc_port}"
    capsys.readouterr()
    args = ["--db", reserve.settings.database_url, "--as", "auditor1", "custody", "reconcile"]
    assert run([*args, "--rpc", rpc, "--json"]) == 1
    [line] = json.loads(capsys.readouterr().out)
    assert (line["vault"], line["difference"], line["break"]) == ("cold-main", -1, 2)


def test_one_signature_spend_is_refused_by_node_and_check(
    world: CustodyWorld, node: LitecoinRegtest
) -> None:
    _funded_vault(world, node, "cold-one", COIN)
    _ltc, dest = _destination(node)
    world.policy(RULES, whitelist(dest))
    reserve = world.reserve
    request = TransferRequest("TR-2", "cold-one", "BTC", dest, "other", COIN // 4, 2_000, "test")
    custody_transfers.request_transfer(reserve, request, actor="kh1")
    for approver in ("risk1", "admin"):
        custody_transfers.approve_transfer(reserve, "TR-2", actor=approver)
    world.clock.advance(hours=25)
    psbt = custody_signing.build_transfer(reserve, "TR-2", actor="kh1")
    one = PSBT.from_string(_sign_as(world, "kh3", psbt, "cold-one"))
    witness_script = one.inputs[0].witness_script
    signature = next(iter(one.inputs[0].partial_sigs.values()))
    tx = one.tx
    tx.vin[0].witness = Witness(
        [b"", signature, witness_script.serialize()[1:] if False else witness_script.data]
    )
    verdict = node.core_rpc().test_accept(tx.serialize())
    assert not verdict.allowed
    assert verdict.reason
    view = show_transfer(reserve, "TR-2")
    with reserve.reading() as uow:
        vault = custody_vaults.get_vault(uow, "cold-one")
    problems = check_transaction(tx.serialize(), vault.spec.script(), approved_spend(view, vault))
    assert any("signature" in str(p) for p in problems), problems


def test_recovery_key_spends_only_after_its_time_lock(
    world: CustodyWorld, node: LitecoinRegtest
) -> None:
    after = 10
    _funded_vault(
        world,
        node,
        "cold-rescue",
        COIN,
        holders=("kh1", "kh2", "kh3"),
        threshold=2,
        recovery=("kx1", after),
    )
    with world.reserve.reading() as uow:
        vault = custody_vaults.get_vault(uow, "cold-rescue")
        deposits = uow.custody.deposits("cold-rescue")
    wallet = VaultWallet(vault.spec.script(), None)
    wallet.add_transactions([bytes.fromhex(d.raw_tx) for d in deposits])
    _ltc, dest = _destination(node)
    from custody_keys import address_script

    built = wallet.build_spend(
        inputs=[(deposits[0].txid, deposits[0].vout)],
        payments=[(address_script(dest), COIN // 2)],
        fee=2_000,
        change_index=0,
        recovery=True,
    )
    signed = PSBT.from_string(built.psbt)
    assert signed.sign_with(world.keys["kx1"].root) == 1
    raw = finalize(signed.to_string(), where="recovery")
    early = node.core_rpc().test_accept(raw)
    assert not early.allowed
    assert "non-BIP68-final" in str(early.reason)
    node.mine(after - 2)  # the coin now has after - 1 confirmations
    assert not node.core_rpc().test_accept(raw).allowed
    node.mine(1)
    ready = node.core_rpc().test_accept(raw)
    assert ready.allowed, ready.reason
