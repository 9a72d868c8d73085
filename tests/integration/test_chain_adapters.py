"""Both chain adapters against a real regtest node: one contract, two back ends.

``CoreRpc`` talks to ``litecoind`` directly; ``Esplora`` talks to the node through the
test-only Esplora facade. Coins are paid to fresh ``wsh(pk(K))`` scripts built with embit and
spent with signatures embit makes, so nothing here trusts the node's wallet about scripts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

import pytest
from embit.ec import PrivateKey
from embit.script import Script, Witness, p2wsh
from embit.transaction import SIGHASH, Transaction, TransactionInput, TransactionOutput

from reserve.adapters.chain import AcceptResult, ChainSource, ChainUtxo, TxStatus, coins_to_sats
from reserve.adapters.chain_esplora import Esplora
from reserve.adapters.chain_rpc import CoreRpc
from reserve.core.errors import ChainUnavailable, NotFound

import esplora_facade
import regtest
from regtest import LitecoinRegtest, address_for_script, free_port, reencode

# the session fixtures, under the names tests ask for (both share one node, see regtest.py)
litecoind = regtest.litecoind
esplora_url = esplora_facade.esplora_url
pytestmark = pytest.mark.slow
FEE = 10_000  # sats; well above Litecoin's minimum relay fee for a one-in one-out spend


@dataclass(frozen=True)
class SingleKeyVault:
    """A 1-of-1 P2WSH: the witness script ``<K> OP_CHECKSIG`` and the output script paying it."""

    key: PrivateKey
    witness_script: Script

    @classmethod
    def fresh(cls) -> SingleKeyVault:
        key = PrivateKey(secrets.token_bytes(32))
        return cls(key, Script(bytes([33]) + key.sec() + b"\xac"))

    @property
    def script(self) -> bytes:
        return bytes(p2wsh(self.witness_script).data)

    def spend(
        self, utxo: tuple[str, int, int], to: bytes, *, signer: PrivateKey | None = None
    ) -> Transaction:
        """A transaction spending ``utxo`` (txid, vout, amount) to ``to``, less ``FEE``."""
        txid, vout, amount = utxo
        tx = Transaction(
            vin=[TransactionInput(bytes.fromhex(txid), vout)],
            vout=[TransactionOutput(amount - FEE, Script(to))],
        )
        digest = tx.sighash_segwit(0, self.witness_script, amount)
        signature = (signer or self.key).sign(digest).serialize() + bytes([SIGHASH.ALL])
        tx.vin[0].witness = Witness([signature, self.witness_script.data])
        return tx


@pytest.fixture(params=["rpc", "esplora"])
def chain(request: pytest.FixtureRequest, litecoind: LitecoinRegtest) -> ChainSource:
    if request.param == "rpc":
        return litecoind.core_rpc()
    return Esplora(request.getfixturevalue("esplora_url"), timeout=30.0)


@pytest.fixture
def funded(litecoind: LitecoinRegtest) -> tuple[SingleKeyVault, str, int]:
    """A fresh vault paid 1.23456789 coins in one confirmed transaction."""
    vault = SingleKeyVault.fresh()
    txid, vout = litecoind.fund_script(vault.script, 123_456_789)
    litecoind.mine(1)
    return vault, txid, vout


def test_tip_height_follows_mined_blocks(chain: ChainSource, litecoind: LitecoinRegtest) -> None:
    before = chain.tip_height()
    assert before == litecoind.rpc("getblockcount")
    litecoind.mine(3)
    assert chain.tip_height() == before + 3


def test_payment_is_seen_unconfirmed_then_confirmed(
    chain: ChainSource,
    litecoind: LitecoinRegtest,
) -> None:
    vault = SingleKeyVault.fresh()
    assert chain.utxos([vault.script]) == []
    txid, vout = litecoind.fund_script(vault.script, 123_456_789)
    assert chain.utxos([vault.script]) == [ChainUtxo(txid, vout, 123_456_789, vault.script, None)]
    assert chain.status(txid) == TxStatus(txid, 0, None, in_mempool=True)

    (block,) = litecoind.mine(1)
    height = litecoind.rpc("getblockheader", block)["height"]
    assert chain.utxos([vault.script]) == [ChainUtxo(txid, vout, 123_456_789, vault.script, height)]
    assert chain.status(txid) == TxStatus(txid, 1, height, in_mempool=False)
    litecoind.mine(2)
    assert chain.status(txid) == TxStatus(txid, 3, height, in_mempool=False)


def test_utxos_of_several_scripts_at_once(chain: ChainSource, litecoind: LitecoinRegtest) -> None:
    first, second, unused = SingleKeyVault.fresh(), SingleKeyVault.fresh(), SingleKeyVault.fresh()
    paid = {
        litecoind.fund_script(first.script, 50_000),
        litecoind.fund_script(second.script, 70_001),
    }
    litecoind.mine(1)
    found = chain.utxos([first.script, second.script, unused.script, first.script])
    assert {(u.txid, u.vout) for u in found} == paid
    assert sorted(u.amount for u in found) == [50_000, 70_001]
    assert chain.utxos([]) == []


def test_both_adapters_report_the_same_utxos(
    litecoind: LitecoinRegtest,
    esplora_url: str,
    funded: tuple[SingleKeyVault, str, int],
) -> None:
    vault, _, _ = funded
    litecoind.fund_script(vault.script, 4_200)  # a second, unconfirmed payment
    by_rpc = litecoind.core_rpc().utxos([vault.script])
    assert len(by_rpc) == 2
    assert Esplora(esplora_url).utxos([vault.script]) == by_rpc


def test_transaction_returns_the_raw_bytes(
    chain: ChainSource, funded: tuple[SingleKeyVault, str, int]
) -> None:
    vault, txid, vout = funded
    tx = Transaction.parse(chain.transaction(txid))
    assert tx.txid().hex() == txid
    assert tx.vout[vout].value == 123_456_789
    assert bytes(tx.vout[vout].script_pubkey.data) == vault.script


def test_signed_spend_is_accepted_broadcast_and_confirmed(
    chain: ChainSource,
    litecoind: LitecoinRegtest,
    funded: tuple[SingleKeyVault, str, int],
) -> None:
    vault, txid, vout = funded
    destination = SingleKeyVault.fresh()
    spend = vault.spend((txid, vout, 123_456_789), destination.script)
    raw = spend.serialize()
    assert litecoind.core_rpc().test_accept(raw) == AcceptResult(allowed=True, reason=None)

    assert chain.broadcast(raw) == spend.txid().hex()
    assert chain.utxos([vault.script]) == []  # spent in the mempool
    (pending,) = chain.utxos([destination.script])
    assert (pending.amount, pending.height) == (123_456_789 - FEE, None)
    assert chain.status(pending.txid).in_mempool

    litecoind.mine(1)
    assert chain.status(pending.txid).confirmations == 1
    assert chain.utxos([destination.script])[0].height == chain.tip_height()


def test_wrongly_signed_spend_is_refused_with_the_nodes_reason(
    chain: ChainSource,
    litecoind: LitecoinRegtest,
    funded: tuple[SingleKeyVault, str, int],
) -> None:
    vault, txid, vout = funded
    forged = vault.spend(
        (txid, vout, 123_456_789), SingleKeyVault.fresh().script, signer=SingleKeyVault.fresh().key
    )
    verdict = litecoind.core_rpc().test_accept(forged.serialize())
    assert not verdict.allowed
    assert verdict.reason is not None
    # 0.21 nodes call a failed witness script "non-mandatory-script-verify-flag (...)": their
    # consensus-only recheck leaves out SCRIPT_VERIFY_WITNESS (newer Core says "mandatory-")
    assert "script-verify-flag" in verdict.reason

    with pytest.raises(ChainUnavailable, match=r"node refused transaction: .*script-verify-flag"):
        chain.broadcast(forged.serialize())
    assert chain.utxos([vault.script])[0].txid == txid  # still unspent


def test_garbage_is_refused(chain: ChainSource, litecoind: LitecoinRegtest) -> None:
    with pytest.raises(ChainUnavailable, match=r"node refused transaction: .*decode failed"):
        chain.broadcast(b"\x01\x00\x00\x00garbage")
    verdict = litecoind.core_rpc().test_accept(b"\x01\x00\x00\x00garbage")
    assert not verdict.allowed
    assert verdict.reason is not None
    assert verdict.reason.startswith("TX decode failed")


def test_unknown_transaction(chain: ChainSource) -> None:
    unknown = "ab" * 32
    assert chain.status(unknown) == TxStatus(unknown, 0, None, in_mempool=False)
    with pytest.raises(NotFound):
        chain.transaction(unknown)


def test_esplora_cannot_test_without_broadcasting(esplora_url: str) -> None:
    with pytest.raises(ChainUnavailable, match="without broadcasting"):
        Esplora(esplora_url).test_accept(b"\x00")


def test_unreachable_sources_raise_chain_unavailable() -> None:
    port = free_port()  # nobody listens there
    with pytest.raises(ChainUnavailable, match="not reachable"):
        CoreRpc(f"http://127.0.0.1:{port}", "user", "password", timeout=5).tip_height()
    with pytest.raises(ChainUnavailable, match="not reachable"):
        Esplora(f"http://127.0.0.1:{port}", timeout=5).tip_height()


def test_wrong_rpc_password_is_chain_unavailable(litecoind: LitecoinRegtest) -> None:
    with pytest.raises(ChainUnavailable, match="HTTP 401"):
        CoreRpc(litecoind.url, litecoind.rpc_user, "wrong", timeout=5).tip_height()


def test_addresses_are_the_nodes_spelling_of_the_script(litecoind: LitecoinRegtest) -> None:
    script = SingleKeyVault.fresh().script
    address = address_for_script(script)
    assert address.startswith("rltc1q")
    assert litecoind.rpc("validateaddress", address)["scriptPubKey"] == script.hex()
    bitcoin_regtest = reencode(address, "bcrt")
    assert bitcoin_regtest.startswith("bcrt1q")
    assert reencode(bitcoin_regtest, "rltc") == address


@pytest.mark.parametrize("value", [Decimal("0.000000001"), Decimal("-1"), 1.5, "1.5"])
def test_amounts_that_are_not_whole_satoshis_are_nonsense(value: object) -> None:
    with pytest.raises(ChainUnavailable):
        coins_to_sats(value, what="test")


def test_coin_amounts_convert_exactly() -> None:
    assert coins_to_sats(Decimal("20999999.97690000"), what="test") == 2_099_999_997_690_000
    assert coins_to_sats(Decimal("0.00000001"), what="test") == 1
