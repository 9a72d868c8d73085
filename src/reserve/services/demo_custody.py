"""The demo's custody chapter: five key holders in five cities, a 3-of-5 cold vault that receives
the forfeited and purchased BTC, a 2-of-3 warm vault, and one transfer from cold to warm that
collects its approvals and three offline signatures and is verified before broadcast.

The demo has no network, so the coins' arrival in the vault is a synthetic transaction built
from the ledger's movement (its input spends nothing real), and the transfer stops at VERIFIED:
``reserve custody transfer broadcast`` against a node is the step it leaves out. The key holders'
master keys come from fixed demo seeds and stay in memory: in life each sits on its own
air-gapped signer, and the reserve only ever sees the xpubs.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Final

from embit import bip32
from embit.script import Script
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from reserve.bootstrap import Reserve
from reserve.custody.descriptors import VaultScript, embit_network
from reserve.custody.keys import VaultKey
from reserve.custody.signer import read_key_file, sign
from reserve.custody.transfers import TransferRequest
from reserve.custody.vaults import Tier, VaultSpec
from reserve.governance.people import OrgUnit, Role, User
from reserve.services import custody_policy, custody_signing, custody_transfers, custody_vaults
from reserve.services.governance import add_unit, add_user

NETWORK: Final = "regtest"
PATH: Final = "m/48h/1h/0h/2h"
CITIES: Final = ("Astana", "Almaty", "Shymkent", "Aktobe", "Karaganda")
HOLDERS: Final = tuple(f"kh{n}" for n in range(1, 6))
RISK: Final = ("risk1", "risk2")
COLD, WARM = "vault-astana-1", "vault-almaty-warm"
TRANSFER: Final = "TR-2025-001"
TRANSFER_UNITS: Final = 400 * 100_000_000
TRANSFER_FEE: Final = 12_400


def _root(holder: str) -> bip32.HDKey:
    seed = hashlib.sha256(f"sovereign-reserve demo key {holder}".encode()).digest()
    return bip32.HDKey.from_seed(seed, version=embit_network(NETWORK)["xprv"])


def key_of(holder: str) -> VaultKey:
    root = _root(holder)
    xpub = root.derive(PATH).to_public().to_string(version=embit_network(NETWORK)["xpub"])
    return VaultKey(f"{holder}-key", holder, root.my_fingerprint.hex(), PATH, xpub)


def setup(reserve: Reserve, admin: str) -> None:
    """Key holders (custodians of two units, one per city), risk officers, keys, two vaults."""
    add_unit(reserve, OrgUnit("TREASURY", "Treasury"), actor=admin)
    for n, holder in enumerate(HOLDERS):
        unit = ("OPS", "TREASURY")[n % 2]
        user = User(holder, f"Key holder in {CITIES[n]}", unit, frozenset({Role.CUSTODIAN}))
        add_user(reserve, user, actor=admin)
        custody_vaults.add_key_holder(reserve, holder, CITIES[n], actor=admin)
        custody_vaults.add_key(reserve, key_of(holder), network=NETWORK, actor=admin)
    for name in RISK:
        add_user(
            reserve,
            User(name, f"Risk officer {name[-1]}", "ADM", frozenset({Role.RISK_OFFICER})),
            actor=admin,
        )
    keys = {h: key_of(h) for h in HOLDERS}
    cold = VaultSpec(COLD, "SFDA", "BTC", Tier.COLD, NETWORK, 3, tuple(keys.values()))
    warm = VaultSpec(
        WARM, "SFDA", "BTC", Tier.WARM, NETWORK, 2, (keys["kh2"], keys["kh3"], keys["kh4"])
    )
    for spec in (cold, warm):
        custody_vaults.create_vault(reserve, spec, actor=admin)


def arrive(reserve: Reserve, key: str, units: int, actor: str) -> None:
    """The cold vault receives ``units`` on a fresh address (a synthetic transaction)."""
    issued = custody_vaults.issue_address(reserve, COLD, f"withdrawal {key}", actor=actor)
    digest = hashlib.sha256(f"demo withdrawal {key}".encode()).digest()
    tx = Transaction(
        vin=[TransactionInput(digest, 0)],
        vout=[TransactionOutput(units, Script(bytes.fromhex(issued.script_hex)))],
    )
    custody_vaults.record_deposit(reserve, COLD, tx.serialize(), sources=(), actor=actor)


def policy(reserve: Reserve, rules_file: Path, admin: str) -> None:
    """The project's transfer policy and a whitelist holding the warm vault's address, each
    proposed by a risk officer and approved by the administrator and the other risk officer."""
    warm_address = custody_vaults.issue_address(reserve, WARM, "top-up from cold", actor=admin)
    whitelist = (
        'version = "demo-1"\n[[entries]]\n'
        f'address = "{warm_address.address}"\nasset = "BTC"\nlabel = "SFDA warm vault"\n'
    )
    for kind, text in (("rules", rules_file.read_text(encoding="utf-8")), ("whitelist", whitelist)):
        version = custody_policy.propose_policy(reserve, kind, text, where=kind, actor=RISK[0])
        for approver in (admin, RISK[1]):
            custody_policy.approve_policy(reserve, kind, version.sha256, actor=approver)


def request(reserve: Reserve) -> None:
    with reserve.reading() as uow:
        address = uow.custody.addresses(WARM)[0].address
    transfer = TransferRequest(
        TRANSFER,
        COLD,
        "BTC",
        address,
        "other",
        TRANSFER_UNITS,
        TRANSFER_FEE,
        "Top up the warm vault for the quarter's sales",
    )
    custody_transfers.request_transfer(reserve, transfer, actor="kh1")
    for approver in ("kh2", RISK[0], RISK[1]):
        custody_transfers.approve_transfer(reserve, TRANSFER, actor=approver)


def sign_and_verify(reserve: Reserve) -> str:
    """Build after the time lock, sign offline as kh1, kh3 and kh5, import, finalize, verify."""
    psbt = custody_signing.build_transfer(reserve, TRANSFER, actor="kh1")
    backup = VaultScript.from_backup(custody_vaults.backup(reserve, COLD))
    copies = []
    for holder in ("kh1", "kh3", "kh5"):
        root = _root(holder)
        key_file = json.dumps(
            {"holder": holder, "xprv": root.to_string(version=embit_network(NETWORK)["xprv"])}
        )
        signed = sign(psbt, backup, read_key_file(key_file, f"{holder} key"))
        copies.append(signed)
    custody_signing.import_signed(reserve, TRANSFER, copies, actor="kh1")
    return custody_signing.finalize_transfer(reserve, TRANSFER, actor="kh1")


def custody_days(last_move: date) -> tuple[date, date, date]:
    """Policy, request and signing days after the last move into the vault (time lock: 24h)."""
    return (
        last_move + timedelta(days=1),
        last_move + timedelta(days=2),
        last_move + timedelta(days=4),
    )
