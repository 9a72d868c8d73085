"""Is this PSBT, or this finished transaction, exactly the spend that was approved?

The largest multisig loss to date came from a tampered signing front end: signers approved what
they could not see. So before any key signs, and again before broadcast, the reserve checks
every input, every output, the change and the fee against the approval, outside the coordinator
that built the PSBT with bdkpython. This module is that second opinion: embit and coincurve
only, it believes nothing a PSBT says about itself (amounts, scripts and derivations are
re-derived from the vault's descriptors), and it returns every problem it finds.
"""

from __future__ import annotations

import binascii
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from embit.base import EmbitError
from embit.psbt import PSBT, InputScope
from embit.transaction import SIGHASH, Transaction

from reserve.core.errors import InvalidInput, Problem
from reserve.custody.descriptors import VaultScript
from reserve.custody.signatures import partial_signature_check, segwit_digest, witness_check
from reserve.custody.spend_outputs import (
    Payment,
    SpendOutput,
    fee_problems,
    output_check,
)
from reserve.custody.vault_paths import (
    CHANGE_LOOKAHEAD,
    HARDENED,
    DerivedScript,
    claimed_paths,
    derive,
    describe_script,
    mentions_vault_key,
    p2wsh_program,
)

__all__ = [
    "ApprovedSpend",
    "Payment",
    "SpendCheck",
    "SpentInput",
    "approved_problems",
    "check_psbt",
    "check_transaction",
    "parse_psbt",
    "utxo_problems",
]

#: what embit raises on bytes that are not a PSBT or a transaction (it has no single root)
PARSE_ERRORS: Final = (EmbitError, ValueError, RuntimeError, IndexError, binascii.Error)


@dataclass(frozen=True)
class SpentInput:
    """A vault UTXO the approved request spends, and the derivation of the address it sits on."""

    txid: str  # hex, in the order block explorers and RPC show it
    vout: int
    amount: int
    keychain_change: bool
    index: int

    @property
    def outpoint(self) -> str:
        return f"{self.txid.lower()}:{self.vout}"


@dataclass(frozen=True)
class ApprovedSpend:
    """What the approvers agreed to: these inputs, these payments, this fee, this much change."""

    inputs: tuple[SpentInput, ...]
    payments: tuple[Payment, ...]
    fee: int
    change: int  # satoshis back to the vault's change descriptor; 0 = no change output


@dataclass(frozen=True)
class SpendCheck:
    """The verdict on a PSBT. ``signers`` maps each input to the vault keys (hex compressed
    pubkeys) whose signatures verified; ``complete`` means no problems and at least M of them
    on every input."""

    problems: tuple[Problem, ...]
    signers: dict[int, frozenset[str]]
    complete: bool
    change_index: int | None = None  # re-derived; pass it on to check_transaction


def approved_problems(approved: ApprovedSpend) -> list[Problem]:
    """An approval that does not add up cannot be checked against: inputs = payments+change+fee."""
    where = "approved spend"
    problems = [Problem(where, "inputs", "spends nothing")] if not approved.inputs else []
    seen = Counter(spent.outpoint for spent in approved.inputs)
    problems += [Problem(where, "inputs", f"{op} listed twice") for op, n in seen.items() if n > 1]
    amounts = [("input", s.amount) for s in approved.inputs]
    amounts += [("payment", p.amount) for p in approved.payments]
    problems += [Problem(where, what, f"{n} sats is not positive") for what, n in amounts if n <= 0]
    problems += [
        Problem(where, "inputs", f"{s.outpoint}: index {s.index} is not an unhardened index")
        for s in approved.inputs
        if not _derivable(s)
    ]
    if approved.fee < 0 or approved.change < 0:
        problems.append(Problem(where, "fee", "fee and change cannot be negative"))
    held = sum(s.amount for s in approved.inputs)
    spent = sum(p.amount for p in approved.payments) + approved.change + approved.fee
    if held != spent:
        reason = f"inputs hold {held} sats but payments, change and fee add up to {spent}"
        problems.append(Problem(where, "fee", reason))
    return problems


def _derivable(spent: SpentInput) -> bool:
    return 0 <= spent.index < HARDENED


def _input_problems(
    prefix: str, outpoints: Sequence[tuple[str, int]], approved: ApprovedSpend
) -> tuple[list[Problem], list[SpentInput | None]]:
    """Set equality of outpoints: each input approved, none twice, none approved left out."""
    by_outpoint = {(s.txid.lower(), s.vout): s for s in approved.inputs if _derivable(s)}
    problems: list[Problem] = []
    matched: list[SpentInput | None] = []
    seen: set[tuple[str, int]] = set()
    for number, outpoint in enumerate(outpoints):
        where, shown = f"{prefix} input {number}", f"{outpoint[0]}:{outpoint[1]}"
        spent = by_outpoint.get(outpoint)
        if outpoint in seen:
            problems.append(Problem(where, "outpoint", f"spends {shown} a second time"))
            spent = None
        elif spent is None:
            problems.append(Problem(where, "outpoint", f"{shown} is not an approved input"))
        seen.add(outpoint)
        matched.append(spent)
    for key, spent in by_outpoint.items():
        if key not in seen:
            reason = f"approved input {spent.outpoint} is missing"
            problems.append(Problem(prefix, "inputs", reason))
    return problems, matched


def _psbt_input_problems(
    where: str, inp: InputScope, derived: DerivedScript, spent: SpentInput, network: str
) -> list[Problem]:
    """What a PSBT input says about the coin it spends must be what the reserve derives."""
    problems = []
    utxo = inp.witness_utxo
    if utxo is None:
        problems.append(Problem(where, "witness_utxo", "missing: the coin cannot be checked"))
    else:
        if utxo.value != spent.amount:
            reason = f"{utxo.value} sats; the approved input holds {spent.amount} sats"
            problems.append(Problem(where, "witness_utxo.amount", reason))
        if bytes(utxo.script_pubkey.data) != derived.script_pubkey:
            shown = describe_script(bytes(utxo.script_pubkey.data), network)
            reason = f"{shown} is not the vault's address {_path(derived)}"
            problems.append(Problem(where, "witness_utxo.script", reason))
    script = inp.witness_script
    if script is not None and p2wsh_program(bytes(script.data)) != derived.script_pubkey:
        reason = f"does not hash to the vault's P2WSH program {_path(derived)}"
        problems.append(Problem(where, "witness_script", reason))
    problems += utxo_problems(where, inp)
    if inp.sighash_type not in (None, SIGHASH.ALL):
        reason = f"{inp.sighash_type}; only SIGHASH_ALL (1) is allowed"
        problems.append(Problem(where, "sighash_type", reason))
    if inp.redeem_script is not None:
        problems.append(Problem(where, "redeem_script", "a native P2WSH input has none"))
    if inp.final_scriptsig is not None and inp.final_scriptsig.data:
        problems.append(Problem(where, "final_scriptsig", "must be empty for native P2WSH"))
    return problems


def _path(derived: DerivedScript) -> str:
    return f"{'change' if derived.change else 'receive'} index {derived.index}"


def parse_psbt(text: str) -> PSBT:
    """embit's reading of a base64 (or hex) PSBT; refused when it is not one, or when an input
    or output lacks the fields every check needs."""
    try:
        psbt = PSBT.from_string(text.strip())
    except PARSE_ERRORS as error:
        raise InvalidInput.one("psbt", "encoding", f"not a PSBT: {error}") from None
    if any(inp.txid is None or inp.vout is None for inp in psbt.inputs) or any(
        out.value is None or out.script_pubkey is None for out in psbt.outputs
    ):
        raise InvalidInput.one("psbt", "encoding", "an input or output is missing a field")
    return psbt


def utxo_problems(where: str, inp: InputScope) -> list[Problem]:
    """A full previous transaction, when given, must be the one spent and agree with the
    witness UTXO: the amount a segwit v0 signature commits to is only checked this way."""
    full = inp.non_witness_utxo
    if full is None:
        return []
    if full.txid() != inp.txid or inp.vout >= len(full.vout):
        return [Problem(where, "non_witness_utxo", "is not the transaction this input spends")]
    if inp.witness_utxo is not None and full.vout[inp.vout].serialize() != (
        inp.witness_utxo.serialize()
    ):
        return [Problem(where, "non_witness_utxo", "disagrees with witness_utxo")]
    return []


def check_psbt(psbt_b64: str, vault: VaultScript, approved: ApprovedSpend) -> SpendCheck:
    """Check a PSBT against its approval before a key signs it (and after each signature)."""
    try:
        psbt = parse_psbt(psbt_b64)
    except InvalidInput as bad:
        return SpendCheck(bad.problems, {}, False)
    outpoints = [(bytes(inp.txid).hex(), int(inp.vout)) for inp in psbt.inputs]
    problems, matched = _input_problems("psbt", outpoints, approved)
    problems = approved_problems(approved) + problems
    tx = psbt.tx
    signers: dict[int, frozenset[str]] = {}
    for number, (inp, spent) in enumerate(zip(psbt.inputs, matched, strict=True)):
        signers[number] = frozenset()
        if spent is None:
            continue  # already a problem; no derivation to check its signatures against
        where = f"psbt input {number}"
        derived = derive(vault, change=spent.keychain_change, index=spent.index)
        problems += _psbt_input_problems(where, inp, derived, spent, vault.network)
        digest = segwit_digest(tx, number, derived, spent.amount)
        partial = {bytes(pub.sec()): bytes(sig) for pub, sig in inp.partial_sigs.items()}
        found, signed = partial_signature_check(where, partial, derived, digest)
        if inp.final_scriptwitness is not None:
            items = [bytes(item) for item in inp.final_scriptwitness.items]
            final, finished = witness_check(where, items, derived, digest, vault.threshold)
            found, signed = found + final, signed | finished
        problems += found
        signers[number] = signed
    outputs = [_psbt_output(out, vault) for out in psbt.outputs]
    verdict = output_check(
        "psbt", outputs, vault, payments=approved.payments, change=approved.change
    )
    amounts = [_amount(inp, spent) for inp, spent in zip(psbt.inputs, matched, strict=True)]
    problems += [*verdict.problems, *fee_problems("psbt", amounts, outputs, approved.fee)]
    quorum = bool(signers) and all(len(keys) >= vault.threshold for keys in signers.values())
    return SpendCheck(tuple(problems), signers, not problems and quorum, verdict.change_index)


def _psbt_output(out: Any, vault: VaultScript) -> SpendOutput:
    claims = claimed_paths(vault, out.bip32_derivations)
    return SpendOutput(
        script=bytes(out.script_pubkey.data),
        amount=int(out.value),
        claimed_change=tuple(sorted(index for branch, index in claims if branch == 1)),
        mentions_vault=mentions_vault_key(vault, out.bip32_derivations),
    )


def _amount(inp: InputScope, spent: SpentInput | None) -> int | None:
    """The coin's true amount: the reserve's own record when approved, else the PSBT's word."""
    if spent is not None:
        return spent.amount
    return int(inp.witness_utxo.value) if inp.witness_utxo is not None else None


def check_transaction(
    raw_tx: bytes,
    vault: VaultScript,
    approved: ApprovedSpend,
    *,
    change_index: int | None = None,
) -> list[Problem]:
    """Check the finished transaction about to be broadcast: the same inputs, outputs and fee,
    and a witness on every input that the interpreter would accept with M vault signatures.

    ``change_index`` (from :class:`SpendCheck`) pins the change address; without it the first
    ``CHANGE_LOOKAHEAD`` change addresses are searched, since a transaction carries no paths.
    """
    try:
        tx = Transaction.parse(raw_tx)
    except PARSE_ERRORS as error:
        return [Problem("transaction", "encoding", f"not a transaction: {error}")]
    outpoints = [(bytes(vin.txid).hex(), int(vin.vout)) for vin in tx.vin]
    problems, matched = _input_problems("transaction", outpoints, approved)
    problems = approved_problems(approved) + problems
    for number, (vin, spent) in enumerate(zip(tx.vin, matched, strict=True)):
        if spent is None:
            continue
        where = f"transaction input {number}"
        if vin.script_sig is not None and vin.script_sig.data:
            problems.append(Problem(where, "script_sig", "must be empty for a native P2WSH input"))
        derived = derive(vault, change=spent.keychain_change, index=spent.index)
        digest = segwit_digest(tx, number, derived, spent.amount)
        items = [bytes(item) for item in vin.witness.items] if vin.witness else []
        problems += witness_check(where, items, derived, digest, vault.threshold)[0]
    outputs = [SpendOutput(bytes(out.script_pubkey.data), int(out.value)) for out in tx.vout]
    search = range(CHANGE_LOOKAHEAD) if change_index is None else (change_index,)
    verdict = output_check(
        "transaction",
        outputs,
        vault,
        payments=approved.payments,
        change=approved.change,
        search=search,
    )
    amounts = [None if spent is None else spent.amount for spent in matched]
    fee = fee_problems("transaction", amounts, outputs, approved.fee)
    return [*problems, *verdict.problems, *fee]
