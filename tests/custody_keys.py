"""Test key holders, vaults and real PSBTs, built the way the reserve builds them.

Keys are embit BIP32 roots from fixed seeds (``sha256(bytes([n]))``), so every run makes the same
fingerprints and addresses. PSBTs come from bdkpython, the coordinator's builder, through a
watch-only in-memory wallet funded by a fake unconfirmed transaction: no node, no network.
Signing is embit's ``PSBT.sign_with``, as the offline signer does it.

Typical use::

    holders = make_holders(3)
    vault = make_vault(holders, threshold=2)
    psbt, approved = vault_spend(vault)            # 1 BTC in, 0.3 BTC out, 2000 sats fee
    signed = sign(psbt, holders[0], holders[1])
    raw_tx = finalize(signed)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import bdkpython as bdk
from embit import bip32
from embit.psbt import PSBT
from embit.script import Script, address_to_scriptpubkey
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from reserve.custody.descriptors import VaultScript, embit_network
from reserve.custody.spend_check import ApprovedSpend, Payment, SpentInput

NETWORK: Final = "regtest"
ACCOUNT_PATH: Final = "m/48h/1h/0h/2h"  # BIP48 multisig, testnet coin type, P2WSH script type
ORIGIN_PATH: Final = "48h/1h/0h/2h"
#: a regtest P2WPKH address that belongs to nobody in these tests
DESTINATION: Final = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
ONE_BTC: Final = 100_000_000


@dataclass(frozen=True)
class HolderKeys:
    """One test key holder: a master key from a fixed seed and what a vault knows of it."""

    name: str
    root: bip32.HDKey
    fingerprint: str  # hex, of the master key
    account_xpub: str  # tpub at ACCOUNT_PATH
    tprv: str  # the master key, as a key file holds it

    @property
    def origin_key(self) -> str:
        """The key as a descriptor names it: ``[fingerprint/48h/1h/0h/2h]tpub...``."""
        return f"[{self.fingerprint}/{ORIGIN_PATH}]{self.account_xpub}"

    def key_file(self) -> str:
        """The text of this holder's key file for ``reserve-signer``."""
        return json.dumps({"holder": self.name, "xprv": self.tprv})


def make_holder(seed_byte: int, *, name: str | None = None) -> HolderKeys:
    """The key holder whose master seed is ``sha256(bytes([seed_byte]))``."""
    net = embit_network(NETWORK)
    root = bip32.HDKey.from_seed(hashlib.sha256(bytes([seed_byte])).digest(), version=net["xprv"])
    account = root.derive(ACCOUNT_PATH).to_public()
    return HolderKeys(
        name=name or f"holder-{seed_byte}",
        root=root,
        fingerprint=root.my_fingerprint.hex(),
        account_xpub=account.to_string(version=net["xpub"]),
        tprv=root.to_string(version=net["xprv"]),
    )


def make_holders(count: int, *, first_seed: int = 0) -> list[HolderKeys]:
    """``count`` holders from consecutive seed bytes; use another ``first_seed`` for outsiders."""
    return [make_holder(first_seed + n) for n in range(count)]


def make_vault(
    holders: Sequence[HolderKeys], threshold: int, *, name: str = "vault-test"
) -> VaultScript:
    """An M-of-N ``wsh(sortedmulti(...))`` vault on regtest over the holders' account keys."""
    keys = ",".join(f"{holder.origin_key}/0/*" for holder in holders)
    external = f"wsh(sortedmulti({threshold},{keys}))"
    internal = external.replace("/0/*", "/1/*")
    return VaultScript(name, NETWORK, threshold, external, internal)


def watch_only_wallet(vault: VaultScript) -> bdk.Wallet:
    """The coordinator's view of the vault: bdk, public descriptors, memory only."""
    return bdk.Wallet(
        bdk.Descriptor(vault.external, bdk.NetworkKind.TEST),
        bdk.Descriptor(vault.internal, bdk.NetworkKind.TEST),
        bdk.Network.REGTEST,
        bdk.Persister.new_in_memory(),
    )


def fund(
    wallet: bdk.Wallet, amounts: Sequence[int], *, first_index: int = 0, tag: bytes = b"funding"
) -> tuple[SpentInput, ...]:
    """Pay ``amounts`` to receive addresses ``first_index, first_index+1, ...`` in one fake
    unconfirmed transaction the wallet is told about; a different ``tag`` makes another txid."""
    outputs = []
    for offset, amount in enumerate(amounts):
        address = wallet.peek_address(bdk.KeychainKind.EXTERNAL, first_index + offset).address
        outputs.append(TransactionOutput(amount, Script(address.script_pubkey().to_bytes())))
    previous = hashlib.sha256(tag).digest()  # a made-up coin, so each tag gives a new txid
    funding = Transaction(vin=[TransactionInput(previous, 0)], vout=outputs)
    wallet.apply_unconfirmed_txs(
        [bdk.UnconfirmedTx(tx=bdk.Transaction(funding.serialize()), last_seen=1)]
    )
    txid = funding.txid().hex()
    return tuple(
        SpentInput(txid, vout, amount, keychain_change=False, index=first_index + vout)
        for vout, amount in enumerate(amounts)
    )


def address_script(address: str) -> bytes:
    return bytes(address_to_scriptpubkey(address).data)


def build_spend(
    wallet: bdk.Wallet,
    coins: Sequence[SpentInput],
    payments: Sequence[Payment],
    *,
    fee: int,
    spend_only: Sequence[SpentInput] = (),
    shuffle: bool = False,
) -> tuple[str, ApprovedSpend]:
    """bdk builds the PSBT (coin selection, change) and the approval that describes it.

    ``coins`` are the funded coins the wallet may pick from; ``spend_only`` forces exactly those.
    Outputs keep payment order with change last unless ``shuffle``, as bdk does by default.
    """
    builder = bdk.TxBuilder()
    for payment in payments:
        builder = builder.add_recipient(
            bdk.Script(payment.script_pubkey), bdk.Amount.from_sat(payment.amount)
        )
    if spend_only:
        outpoints = [
            bdk.OutPoint(txid=bdk.Txid.from_string(c.txid), vout=c.vout) for c in spend_only
        ]
        builder = builder.add_utxos(outpoints).manually_selected_only()
    ordering = bdk.TxOrdering.SHUFFLE if shuffle else bdk.TxOrdering.UNTOUCHED
    built = builder.fee_absolute(bdk.Amount.from_sat(fee)).ordering(ordering).finish(wallet)
    psbt_b64 = built.serialize()
    psbt = PSBT.from_string(psbt_b64)
    by_outpoint = {(c.txid, c.vout): c for c in coins}
    inputs = tuple(by_outpoint[(inp.txid.hex(), inp.vout)] for inp in psbt.inputs)
    change = 0
    for out in psbt.outputs:
        found = wallet.derivation_of_spk(bdk.Script(out.script_pubkey.data))
        if found is not None and found.keychain == bdk.KeychainKind.INTERNAL:
            change += out.value
    return psbt_b64, ApprovedSpend(inputs, tuple(payments), fee, change)


def vault_spend(
    vault: VaultScript,
    *,
    funding: Sequence[int] = (ONE_BTC,),
    payments: Sequence[Payment] = (Payment(address_script(DESTINATION), 30_000_000),),
    fee: int = 2_000,
    shuffle: bool = False,
) -> tuple[str, ApprovedSpend]:
    """A fresh wallet, funded with ``funding``, paying ``payments``: the usual test spend."""
    wallet = watch_only_wallet(vault)
    coins = fund(wallet, funding)
    return build_spend(wallet, coins, payments, fee=fee, shuffle=shuffle)


def sign(psbt_b64: str, *holders: HolderKeys) -> str:
    """The PSBT signed by each holder in turn with embit (a holder twice signs once)."""
    psbt = PSBT.from_string(psbt_b64)
    for holder in holders:
        psbt.sign_with(holder.root)
    return str(psbt.to_string())


def inject_signature(psbt_b64: str, holder: HolderKeys, *, input_index: int = 0) -> str:
    """Add ``holder``'s signature to one input even when the PSBT does not list their key, as
    a tampered coordinator could: it signs the right digest with the key at the input's path."""
    psbt = PSBT.from_string(psbt_b64)
    inp = psbt.inputs[input_index]
    path = next(iter(inp.bip32_derivations.values())).derivation[-2:]
    key = holder.root.derive(ACCOUNT_PATH).derive(path).key
    signature = key.sign(psbt.sighash(input_index)).serialize() + b"\x01"
    inp.partial_sigs[key.get_public_key()] = signature
    return str(psbt.to_string())


def edit_psbt(psbt_b64: str, change: Callable[[PSBT], object]) -> str:
    """The PSBT after ``change`` edits its embit form in place (an output's value, a script...)."""
    psbt = PSBT.from_string(psbt_b64)
    change(psbt)
    return str(psbt.to_string())


def finalize_psbt(psbt_b64: str) -> str:
    """bdk's finalizer: the PSBT with each input's final witness in place of its signatures."""
    result = bdk.Psbt(psbt_b64).finalize()
    if not result.could_finalize:
        raise AssertionError(f"bdk could not finalize: {result.errors}")
    return str(result.psbt.serialize())


def finalize(psbt_b64: str) -> bytes:
    """bdk's finalizer and extractor: the raw transaction a node would be sent."""
    return bytes(bdk.Psbt(finalize_psbt(psbt_b64)).extract_tx().serialize())


def vault_backup(vault: VaultScript) -> str:
    """The vault backup JSON a signer is given (``VaultScript.to_backup``)."""
    return json.dumps(vault.to_backup(), indent=2)
