"""Custody use cases for key holders, keys and vaults: register, create, issue addresses,
record deposits, export backups.

A vault is created only when its keys are dispersed by the rules (sites and units) and when
bdkpython and embit derive the same receive and change addresses from its descriptors: two
independent implementations agreeing is the check that the descriptor means what we think.
Addresses are issued once, each with its purpose, and never again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from embit.script import Script
from embit.transaction import Transaction

from reserve.adapters.bdk_vault import VaultWallet
from reserve.adapters.chain import ChainSource
from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, IntegrityFailure, InvalidInput, NotFound, Problem
from reserve.custody.descriptors import embit_network
from reserve.custody.keys import KeyHolder, VaultKey, key_problems, normalise_path, site_problems
from reserve.custody.vaults import VaultSpec, vault_problems
from reserve.governance.people import Role
from reserve.ledger.accounts import Account
from reserve.services.audit import record_now
from reserve.services.intake_context import ensure_accounts, require_role
from reserve.storage.custody_repo import Deposit, IssuedAddress, StoredVault
from reserve.storage.uow import UnitOfWork

CUSTODY_ROLES: Final = frozenset({Role.CUSTODIAN, Role.ADMINISTRATOR})
CROSS_CHECK: Final = 20  # addresses per keychain compared between bdkpython and embit


def wallet_folder(reserve: Reserve) -> Path:
    """Where the vault wallets live: the configured folder, or one beside a SQLite file."""
    if reserve.settings.wallet_dir is not None:
        return reserve.settings.wallet_dir
    url = reserve.settings.database_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url.removeprefix("sqlite:///") + ".wallets")
    return Path("wallets")


def open_wallet(reserve: Reserve, vault: StoredVault, deposits: list[Deposit]) -> VaultWallet:
    """The vault's watch-only wallet, fed every deposit the reserve knows of."""
    wallet = VaultWallet(vault.spec.script(), wallet_folder(reserve))
    if deposits:
        wallet.add_transactions([bytes.fromhex(d.raw_tx) for d in deposits])
    return wallet


def vault_account(spec: VaultSpec) -> str:
    return f"Assets:Reserve:{spec.fund}:{spec.asset}:{spec.name}"


# -- key holders and keys -------------------------------------------------------------------
def add_key_holder(reserve: Reserve, holder: str, site: str, *, actor: str) -> KeyHolder:
    """Register a user as a key holder at a site; the unit is the user's own."""
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "registering a key holder")
        where = f"key holder {holder}"
        user = uow.governance.user(holder)
        problems = site_problems(site, where=where)
        if user is None or not user.active:
            problems.append(Problem(where, "holder", "is not an active user"))
        elif Role.CUSTODIAN not in user.roles:
            problems.append(Problem(where, "holder", "must hold the custodian role"))
        if problems:
            raise InvalidInput(problems)
        assert user is not None
        found = KeyHolder(holder, user.unit, site)
        earlier = uow.custody.holders().get(holder)
        if earlier is not None:
            if earlier == found:
                return earlier
            raise Conflict.one(where, "site", f"is already registered at {earlier.site}")
        uow.custody.add_holder(found, by=actor, at=reserve.clock())
        record_now(uow, reserve, actor, "custody.holder", where, {"site": site, "unit": user.unit})
        uow.commit()
    return found


def add_key(reserve: Reserve, key: VaultKey, *, network: str, actor: str) -> VaultKey:
    """Register the public half of a key holder's key (xpub, fingerprint, path)."""
    key = VaultKey(
        key.key_id, key.holder, key.fingerprint.lower(), normalise_path(key.path), key.xpub.strip()
    )
    where = f"key {key.key_id}"
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "registering a key")
        problems = key_problems(key, network=network, where=where)
        if key.holder not in uow.custody.holders():
            problems.append(Problem(where, "holder", f"{key.holder} is not a key holder"))
        if problems:
            raise InvalidInput(problems)
        known = uow.custody.keys()
        if key.key_id in known:
            if known[key.key_id] == key:
                return key
            raise Conflict.one(where, "key_id", "is already registered with other details")
        if any(k.xpub == key.xpub for k in known.values()):
            raise Conflict.one(where, "xpub", "is already registered under another key id")
        uow.custody.add_key(key, by=actor, at=reserve.clock())
        record_now(
            uow,
            reserve,
            actor,
            "custody.key",
            where,
            {"holder": key.holder, "fingerprint": key.fingerprint, "path": key.path},
        )
        uow.commit()
    return key


# -- vaults ---------------------------------------------------------------------------------
def create_vault(reserve: Reserve, spec: VaultSpec, *, actor: str) -> StoredVault:
    """Create a vault whose keys and sites pass the rules and whose derivations agree."""
    where = f"vault {spec.name}"
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "creating a vault")
        problems = vault_problems(spec, uow.custody.holders())
        known = uow.custody.keys()
        for key in spec.keys:
            if known.get(key.key_id) != key:
                problems.append(Problem(where, "keys", f"{key.key_id} is not a registered key"))
        if spec.fund not in uow.ledger.funds():
            problems.append(Problem(where, "fund", f"unknown fund {spec.fund!r}"))
        if spec.asset not in uow.ledger.assets():
            problems.append(Problem(where, "asset", f"unknown asset {spec.asset!r}"))
        if problems:
            raise InvalidInput(problems)
        earlier = uow.custody.vault(spec.name)
        if earlier is not None:
            if earlier.spec == spec:
                return earlier
            raise Conflict.one(where, "name", "a vault of that name exists with other keys")
        _cross_check(reserve, spec)
        account = vault_account(spec)
        ensure_accounts(
            uow, reserve, [Account(account, spec.fund, reserve.clock().date())], actor=actor
        )
        at = reserve.clock()
        uow.custody.add_vault(spec, account=account, by=actor, at=at)
        record_now(uow, reserve, actor, "custody.vault", where, _vault_details(spec))
        uow.commit()
    return StoredVault(spec, account, actor, at)


def _cross_check(reserve: Reserve, spec: VaultSpec) -> None:
    script = spec.script()
    wallet = VaultWallet(script, None)
    for change in (False, True):
        for index in range(CROSS_CHECK):
            ours, theirs = (
                wallet.address(change=change, index=index),
                script.address(change=change, index=index),
            )
            if ours != theirs:
                raise IntegrityFailure(
                    f"vault {spec.name}: bdkpython derives {ours} but embit {theirs} "
                    f"({'change' if change else 'receive'} {index})"
                )
    VaultWallet(script, wallet_folder(reserve))  # the persisted watch-only wallet


def _vault_details(spec: VaultSpec) -> dict[str, str]:
    return {
        "fund": spec.fund,
        "asset": spec.asset,
        "tier": spec.tier.value,
        "threshold": f"{spec.threshold}-of-{len(spec.keys)}",
        "keys": ",".join(k.key_id for k in spec.keys),
        "recovery": f"{spec.recovery.key.key_id} after {spec.recovery.after_blocks} blocks"
        if spec.recovery
        else "none",
        "external": spec.script().external,
    }


def get_vault(uow: UnitOfWork, name: str) -> StoredVault:
    found = uow.custody.vault(name)
    if found is None:
        raise NotFound.one(f"vault {name}", "vault", "no such vault")
    return found


def issue_address(reserve: Reserve, vault: str, purpose: str, *, actor: str) -> IssuedAddress:
    """The vault's next receive address, issued once for ``purpose`` and never reused."""
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "issuing an address")
        issued = issue_in(uow, reserve, get_vault(uow, vault), purpose, change=False, actor=actor)
        uow.commit()
    return issued


def issue_in(
    uow: UnitOfWork, reserve: Reserve, vault: StoredVault, purpose: str, *, change: bool, actor: str
) -> IssuedAddress:
    if not purpose.strip():
        raise InvalidInput.one(f"vault {vault.spec.name}", "purpose", "say what it is for")
    script = vault.spec.script()
    index = uow.custody.next_index(vault.spec.name, change=change)
    issued = IssuedAddress(
        vault.spec.name,
        change,
        index,
        script.address(change=change, index=index),
        script.script_pubkey(change=change, index=index).hex(),
        purpose,
        reserve.clock(),
    )
    uow.custody.add_address(issued, by=actor)
    record_now(
        uow,
        reserve,
        actor,
        "custody.address",
        f"vault {vault.spec.name}",
        {"address": issued.address, "index": str(index), "change": str(change), "purpose": purpose},
    )
    return issued


def backup(reserve: Reserve, vault: str) -> dict[str, Any]:
    """Everything needed to rebuild and spend the vault without this system: descriptors,
    keys with their holders and sites, threshold and recovery path."""
    with reserve.reading() as uow:
        stored = get_vault(uow, vault)
        holders = uow.custody.holders()
    spec = stored.spec
    keys = [*spec.keys, *([spec.recovery.key] if spec.recovery else [])]
    return {
        **spec.script().to_backup(),
        "fund": spec.fund,
        "asset": spec.asset,
        "tier": spec.tier.value,
        "account": stored.account,
        "keys": [
            {
                "key_id": k.key_id,
                "holder": k.holder,
                "site": holders[k.holder].site,
                "unit": holders[k.holder].unit,
                "fingerprint": k.fingerprint,
                "path": k.path,
                "xpub": k.xpub,
            }
            for k in keys
        ],
        "policy": {
            "threshold": spec.threshold,
            "keys": len(spec.keys),
            "recovery": None
            if spec.recovery is None
            else {"key_id": spec.recovery.key.key_id, "after_blocks": spec.recovery.after_blocks},
        },
    }


# -- deposits -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DepositRecorded:
    deposit: Deposit
    created: bool


def record_deposit(
    reserve: Reserve, vault: str, raw_tx: bytes, *, sources: tuple[str, ...], actor: str
) -> list[DepositRecorded]:
    """Every output of ``raw_tx`` paying one of the vault's issued addresses becomes a known
    deposit (a spendable coin of the vault); recording it again is a no-op."""
    with reserve.writing() as uow:
        require_role(uow, actor, CUSTODY_ROLES, "recording a deposit")
        done = deposit_in(uow, reserve, get_vault(uow, vault), raw_tx, sources, actor=actor)
        if any(d.created for d in done):
            uow.commit()
    return done


def deposit_in(
    uow: UnitOfWork,
    reserve: Reserve,
    vault: StoredVault,
    raw_tx: bytes,
    sources: tuple[str, ...],
    *,
    actor: str,
) -> list[DepositRecorded]:
    where = f"vault {vault.spec.name}"
    try:
        tx = Transaction.parse(raw_tx)
    except (ValueError, TypeError, IndexError) as bad:
        raise InvalidInput.one(where, "transaction", f"not a transaction ({bad})") from bad
    issued = {a.script_hex: a for a in uow.custody.addresses(vault.spec.name)}
    known = {d.outpoint: d for d in uow.custody.deposits()}
    txid = tx.txid().hex()
    done: list[DepositRecorded] = []
    for vout, output in enumerate(tx.vout):
        address = issued.get(output.script_pubkey.data.hex())
        if address is None:
            continue
        deposit = Deposit(
            vault.spec.name,
            txid,
            vout,
            int(output.value),
            address.change,
            address.index,
            raw_tx.hex(),
            sources,
            reserve.clock(),
        )
        earlier = known.get(deposit.outpoint)
        if earlier is not None:
            done.append(DepositRecorded(earlier, False))
            continue
        uow.custody.add_deposit(deposit, by=actor)
        record_now(
            uow,
            reserve,
            actor,
            "custody.deposit",
            where,
            {
                "outpoint": deposit.outpoint,
                "amount": str(deposit.amount),
                "address": address.address,
                "sources": ",".join(sources),
            },
        )
        done.append(DepositRecorded(deposit, True))
    if not done:
        raise InvalidInput.one(where, "transaction", f"{txid} pays none of the vault's addresses")
    return done


def sync_deposits(reserve: Reserve, vault: str, chain: ChainSource, *, actor: str) -> int:
    """Record every unspent output the chain shows on the vault's issued addresses, with the
    addresses that funded it (for sanctions screening); returns how many were new."""
    with reserve.reading() as uow:
        stored = get_vault(uow, vault)
        scripts = [bytes.fromhex(a.script_hex) for a in uow.custody.addresses(vault)]
    found = chain.utxos(scripts) if scripts else []
    network = embit_network(stored.spec.network)
    created = 0
    for txid in sorted({u.txid for u in found}):
        raw = chain.transaction(txid)
        sources = _funding_addresses(chain, raw, network)
        done = record_deposit(reserve, vault, raw, sources=sources, actor=actor)
        created += sum(1 for d in done if d.created)
    return created


def _funding_addresses(chain: ChainSource, raw: bytes, network: dict[str, Any]) -> tuple[str, ...]:
    tx = Transaction.parse(raw)
    addresses: set[str] = set()
    for vin in tx.vin:
        if vin.txid == bytes(32):  # a coinbase spends nothing
            continue
        previous = Transaction.parse(chain.transaction(vin.txid.hex()))
        spent = previous.vout[vin.vout].script_pubkey
        try:
            addresses.add(str(Script(spent.data).address(network)))
        except (ValueError, TypeError):  # a script with no address form
            addresses.add(spent.data.hex())
    return tuple(sorted(addresses))


def vault_listing(reserve: Reserve) -> list[tuple[StoredVault, int, int]]:
    """Each vault with the coins it is known to hold (count, units) from unspent deposits."""
    from reserve.services.custody_transfers import unspent_deposits

    with reserve.reading() as uow:
        vaults = list(uow.custody.vaults().values())
        result = []
        for vault in vaults:
            coins = unspent_deposits(uow, vault.spec.name)
            result.append((vault, len(coins), sum(d.amount for d in coins)))
    return result
