"""The offline signer: show a key holder what a PSBT does, and sign only what stays in the vault.

The signer knows nothing of approvals. It protects the key holder against a tampered coordinator:
it re-derives every input and every output that claims to be change from the vault's own
descriptors, shows the inputs, destinations, fee and change it is about to sign, and refuses a
PSBT whose "change" is not the vault's. It signs with embit, with derivations it computed itself,
so a PSBT cannot steer the key to another path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from embit import bip32
from embit.base import EmbitError
from embit.ec import PublicKey
from embit.psbt import DerivationPath
from embit.script import Script
from embit.transaction import SIGHASH

from reserve.core.errors import InvalidInput, Problem
from reserve.custody.descriptors import NETWORK_NAMES, VaultScript, embit_network
from reserve.custody.spend_check import parse_psbt, utxo_problems
from reserve.custody.vault_paths import (
    DerivedScript,
    KeyOrigin,
    change_index,
    claimed_paths,
    derive,
    describe_script,
    key_origins,
    mentions_vault_key,
    p2wsh_program,
)


@dataclass(frozen=True)
class SignerKey:
    """A key holder's master private key, read from their key file."""

    xprv: str = field(repr=False)  # never in a log line or a traceback
    fingerprint: str  # hex, of the master key: what a vault's key origin names
    holder: str = ""


@dataclass(frozen=True)
class SpendSummary:
    """What the key holder is shown before signing; amounts in satoshis."""

    inputs: tuple[tuple[str, int], ...]  # (txid:vout, amount)
    payments: tuple[tuple[str, int], ...]  # (address, amount)
    change: tuple[tuple[str, int, int], ...]  # (address, amount, change index)
    fee: int


def read_key_file(text: str, where: str, *, network: str | None = None) -> SignerKey:
    """A key file is JSON ``{"holder": "...", "xprv": "tprv..."}`` holding a master key."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput.one(where, "file", f"not JSON: {error.msg}") from None
    if not isinstance(data, dict) or set(data) != {"holder", "xprv"}:
        raise InvalidInput.one(where, "file", 'must be {"holder": ..., "xprv": ...} and no more')
    holder, xprv = data["holder"], data["xprv"]
    if not isinstance(holder, str) or not holder.strip():
        raise InvalidInput.one(where, "holder", "must be a non-empty string")
    if not isinstance(xprv, str):
        raise InvalidInput.one(where, "xprv", "must be a string")
    root = _master_key(xprv, where, network)
    return SignerKey(xprv=xprv, fingerprint=root.my_fingerprint.hex(), holder=holder)


def _master_key(xprv: str, where: str, network: str | None) -> bip32.HDKey:
    try:
        root = bip32.HDKey.from_string(xprv.strip())
    except (EmbitError, ValueError) as error:
        raise InvalidInput.one(where, "xprv", f"not an extended key: {error}") from None
    if not root.is_private:
        raise InvalidInput.one(where, "xprv", "is a public key; signing needs the private one")
    if root.depth != 0:
        reason = f"is not a master key (depth {root.depth}); vault key origins start at one"
        raise InvalidInput.one(where, "xprv", reason)
    networks = [name for name in NETWORK_NAMES if embit_network(name)["xprv"] == root.version]
    if not networks:
        raise InvalidInput.one(where, "xprv", "has an unknown version (not xprv or tprv)")
    if network is not None and network not in networks:
        reason = f"is a key for {' / '.join(networks)}; the vault is on {network}"
        raise InvalidInput.one(where, "xprv", reason)
    return root


def read_vault_backup(text: str, where: str) -> VaultScript:
    """The script part of a vault backup (``VaultScript.to_backup``), checked with embit."""
    try:
        vault = VaultScript.from_backup(json.loads(text))
    except json.JSONDecodeError as error:
        raise InvalidInput.one(where, "file", f"not JSON: {error.msg}") from None
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInput.one(where, "file", f"not a vault backup: {error!r}") from None
    if vault.network not in NETWORK_NAMES:
        raise InvalidInput.one(where, "network", f"{vault.network!r} is not a known network")
    for change in (False, True):
        try:
            derive(vault, change=change, index=0)
        except (EmbitError, ValueError, TypeError, AttributeError) as error:
            field = "descriptors.internal" if change else "descriptors.external"
            raise InvalidInput.one(where, field, f"not a multisig descriptor: {error}") from None
    required = derive(vault, change=False, index=0).required
    if vault.threshold != required:
        reason = f"{vault.threshold}, but the descriptor asks for {required} signatures"
        raise InvalidInput.one(where, "threshold", reason)
    return vault


def _spent_script(
    where: str, inp: Any, vault: VaultScript
) -> tuple[DerivedScript | None, list[Problem]]:
    """The vault address an input spends, re-derived from the index its derivation claims."""
    utxo = inp.witness_utxo
    if utxo is None:
        return None, [Problem(where, "witness_utxo", "missing: the amount spent cannot be shown")]
    script = bytes(utxo.script_pubkey.data)
    for branch, index in sorted(claimed_paths(vault, inp.bip32_derivations)):
        derived = derive(vault, change=branch == 1, index=index) if branch in (0, 1) else None
        if derived is not None and derived.script_pubkey == script:
            problems = utxo_problems(where, inp)
            ws = inp.witness_script
            if ws is not None and p2wsh_program(bytes(ws.data)) != script:
                problems.append(Problem(where, "witness_script", "is not the vault's script"))
            if inp.sighash_type not in (None, SIGHASH.ALL):
                problems.append(Problem(where, "sighash_type", "only SIGHASH_ALL is signed"))
            return derived, problems
    reason = f"{describe_script(script, vault.network)} is not from this vault's descriptors"
    return None, [Problem(where, "witness_utxo.script", reason)]


def summarise(psbt_b64: str, vault: VaultScript) -> tuple[SpendSummary, list[Problem]]:
    """What the PSBT does, and what is wrong with it from the key holder's side.

    Raises InvalidInput only when the text is not a PSBT at all.
    """
    psbt = parse_psbt(psbt_b64)
    problems: list[Problem] = []
    inputs = []
    for number, inp in enumerate(psbt.inputs):
        problems += _spent_script(f"psbt input {number}", inp, vault)[1]
        amount = int(inp.witness_utxo.value) if inp.witness_utxo is not None else 0
        inputs.append((f"{bytes(inp.txid).hex()}:{inp.vout}", amount))
    payments, change = [], []
    for number, out in enumerate(psbt.outputs):
        script, amount = bytes(out.script_pubkey.data), int(out.value)
        address = describe_script(script, vault.network)
        claims = sorted(i for b, i in claimed_paths(vault, out.bip32_derivations) if b == 1)
        index = change_index(vault, script, claims)
        if index is not None:
            change.append((address, amount, index))
        elif mentions_vault_key(vault, out.bip32_derivations):
            reason = f"claims to be the vault's change but {address} is not re-derivable from it"
            problems.append(Problem(f"psbt output {number}", "script", reason))
        else:
            payments.append((address, amount))
    if len(change) > 1:
        problems.append(Problem("psbt", "change", f"{len(change)} change outputs; at most one"))
    fee = sum(a for _, a in inputs) - sum(int(out.value) for out in psbt.outputs)
    if fee < 0:
        problems.append(Problem("psbt", "fee", f"{fee} sats: outputs exceed inputs"))
    return SpendSummary(tuple(inputs), tuple(payments), tuple(change), fee), problems


def sign(psbt_b64: str, vault: VaultScript, key: SignerKey) -> str:
    """The PSBT with this key's signature on every vault input; refuses rather than guess."""
    root = _master_key(key.xprv, "key", vault.network)
    origin = _vault_origin(root, vault)
    _, problems = summarise(psbt_b64, vault)
    if problems:
        raise InvalidInput(problems)
    psbt, signing = parse_psbt(psbt_b64), parse_psbt(psbt_b64)
    ours: dict[int, PublicKey] = {}
    for number, inp in enumerate(signing.inputs):
        derived, _ = _spent_script(f"psbt input {number}", inp, vault)
        inp.bip32_derivations = {}  # sign through our own derivations only, whatever the PSBT says
        if derived is None:
            continue
        path = [*origin.path, 1 if derived.change else 0, derived.index]
        pubkey = root.derive(path).key.get_public_key()
        if bytes(pubkey.sec()) not in derived.pubkeys:
            continue
        inp.bip32_derivations = {pubkey: DerivationPath(root.my_fingerprint, path)}
        inp.witness_script = Script(derived.witness_script)
        psbt.inputs[number].witness_script = inp.witness_script
        ours[number] = pubkey
    try:
        signing.sign_with(root)
    except EmbitError as error:
        raise InvalidInput.one("psbt", "inputs", f"embit refused to sign: {error}") from None
    signed = 0
    for number, pubkey in ours.items():
        signature = signing.inputs[number].partial_sigs.get(pubkey)
        if signature is not None:
            psbt.inputs[number].partial_sigs[pubkey] = signature
            signed += 1
    if signed == 0:
        raise InvalidInput.one("psbt", "inputs", f"key {key.fingerprint} signed nothing")
    return str(psbt.to_string())


def _vault_origin(root: bip32.HDKey, vault: VaultScript) -> KeyOrigin:
    """The vault key this master key is, checked by deriving its account xpub."""
    fingerprint = bytes(root.my_fingerprint)
    for origin in key_origins(vault):
        if origin.fingerprint != fingerprint:
            continue
        xpub = root.derive(list(origin.path)).to_public()
        if xpub.to_string(version=embit_network(vault.network)["xpub"]) != origin.xpub:
            reason = "has a vault key's fingerprint but derives another account key"
            raise InvalidInput.one("key", "xprv", reason)
        return origin
    known = ", ".join(origin.fingerprint.hex() for origin in key_origins(vault))
    reason = f"{fingerprint.hex()} is not one of the vault's keys ({known})"
    raise InvalidInput.one("key", "fingerprint", reason)
