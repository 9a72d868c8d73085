"""The coordinator's wallet: a watch-only bdkpython wallet per vault, persisted in SQLite.

bdkpython derives the vault's addresses and builds its unsigned PSBTs (coin control, change,
absolute fee). It holds no private key. It cannot sync from a Bitcoin Core node, so the reserve
feeds it the raw transactions of the deposits it knows (from its own records or a chain
source); the wallet file is a cache that can always be rebuilt from the descriptors and those
transactions. Everything it builds is checked again by ``custody.spend_check``, which does not
use bdkpython at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bdkpython as bdk

from reserve.core.errors import InvalidInput
from reserve.custody.descriptors import VaultScript

_NETWORKS = {
    "bitcoin": (bdk.Network.BITCOIN, bdk.NetworkKind.MAIN),
    "testnet": (bdk.Network.TESTNET, bdk.NetworkKind.TEST),
    "signet": (bdk.Network.SIGNET, bdk.NetworkKind.TEST),
    "regtest": (bdk.Network.REGTEST, bdk.NetworkKind.TEST),
}


@dataclass(frozen=True)
class BuiltSpend:
    psbt: str  # base64
    inputs: tuple[tuple[str, int], ...]  # (txid, vout) in PSBT order
    change_index: int | None
    change_amount: int


def _keychain(change: bool) -> bdk.KeychainKind:
    return bdk.KeychainKind.INTERNAL if change else bdk.KeychainKind.EXTERNAL


class VaultWallet:
    """One vault's watch-only wallet; ``folder=None`` keeps it in memory (the offline demo)."""

    def __init__(self, script: VaultScript, folder: Path | None) -> None:
        self.script = script
        network, kind = _NETWORKS[script.network]
        self._external = bdk.Descriptor(script.external, kind)
        self._internal = bdk.Descriptor(script.internal, kind)
        self._network = network
        if folder is None:
            self._persister = bdk.Persister.new_in_memory()
            self._wallet = bdk.Wallet(self._external, self._internal, network, self._persister)
            return
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{script.name}.sqlite"
        exists = path.exists()
        self._persister = bdk.Persister.new_sqlite(str(path))
        if exists:
            self._wallet = bdk.Wallet.load(self._external, self._internal, self._persister)
        else:
            self._wallet = bdk.Wallet(self._external, self._internal, network, self._persister)
            self._wallet.persist(self._persister)

    def address(self, *, change: bool, index: int) -> str:
        return str(self._wallet.peek_address(_keychain(change), index).address)

    def script_pubkey(self, *, change: bool, index: int) -> bytes:
        info = self._wallet.peek_address(_keychain(change), index)
        return bytes(info.address.script_pubkey().to_bytes())

    def reveal_to(self, *, change: bool, index: int) -> None:
        """Keep bdk's idea of used addresses in step with the reserve's issued addresses."""
        self._wallet.reveal_addresses_to(_keychain(change), index)
        self._wallet.persist(self._persister)

    def add_transactions(self, raw_transactions: Sequence[bytes]) -> None:
        txs = [bdk.UnconfirmedTx(tx=bdk.Transaction(raw), last_seen=1) for raw in raw_transactions]
        self._wallet.apply_unconfirmed_txs(txs)
        self._wallet.persist(self._persister)

    def balance(self) -> int:
        return int(self._wallet.balance().total.to_sat())

    def build_spend(
        self,
        *,
        inputs: Sequence[tuple[str, int]],
        payments: Sequence[tuple[bytes, int]],
        fee: int,
        change_index: int,
        recovery: bool = False,
    ) -> BuiltSpend:
        """An unsigned PSBT spending exactly ``inputs`` to ``payments`` with ``fee``; the
        change, if any, goes to the vault's change address ``change_index`` (never reused)."""
        self._wallet.reveal_addresses_to(bdk.KeychainKind.INTERNAL, change_index)
        builder = bdk.TxBuilder()
        outpoints = [bdk.OutPoint(txid=bdk.Txid.from_string(t), vout=v) for t, v in inputs]
        builder = builder.add_utxos(outpoints).manually_selected_only()
        for script, amount in payments:
            builder = builder.add_recipient(bdk.Script(script), bdk.Amount.from_sat(amount))
        builder = builder.fee_absolute(bdk.Amount.from_sat(fee))
        if self.script.external.startswith("wsh(or_d("):
            builder = self._choose_path(builder, recovery=recovery)
        try:
            psbt = builder.finish(self._wallet)
        except bdk.CreateTxError as refused:
            raise InvalidInput.one(
                f"vault {self.script.name}", "psbt", f"bdk could not build it: {refused}"
            ) from refused
        tx = psbt.extract_tx()
        built_inputs = tuple(
            (str(i.previous_output.txid), int(i.previous_output.vout)) for i in tx.input()
        )
        change_script = self.script_pubkey(change=True, index=change_index)
        change = [o for o in tx.output() if bytes(o.script_pubkey.to_bytes()) == change_script]
        self._wallet.persist(self._persister)
        return BuiltSpend(
            psbt=psbt.serialize(),
            inputs=built_inputs,
            change_index=change_index if change else None,
            change_amount=int(change[0].value.to_sat()) if change else 0,
        )

    def _choose_path(self, builder: bdk.TxBuilder, *, recovery: bool) -> bdk.TxBuilder:
        """A vault with a recovery key has two spending paths; say which one this spend takes."""
        for keychain in (bdk.KeychainKind.EXTERNAL, bdk.KeychainKind.INTERNAL):
            policy = self._wallet.policies(keychain)
            if policy is not None:
                builder = builder.policy_path({policy.id(): [1 if recovery else 0]}, keychain)
        return builder


def combine(psbts: Sequence[str]) -> str:
    """Merge signed copies of one PSBT (each key holder signed their own copy)."""
    merged = bdk.Psbt(psbts[0])
    for other in psbts[1:]:
        merged = merged.combine(bdk.Psbt(other))
    return str(merged.serialize())


def finalize(psbt: str, *, where: str) -> bytes:
    """The network transaction, once the PSBT carries enough signatures."""
    result = bdk.Psbt(psbt).finalize()
    if not result.could_finalize:
        errors = "; ".join(str(e) for e in (result.errors or []))
        raise InvalidInput.one(where, "signatures", f"cannot finalize: {errors or 'incomplete'}")
    return bytes(result.psbt.extract_tx().serialize())
