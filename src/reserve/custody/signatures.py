"""ECDSA checks for one vault input: its partial signatures, or its finished P2WSH witness.

The verifier must be code that did not build the PSBT. So the digest is recomputed here with
embit (BIP143, from the vault's own witness script and the approved amount, never from what the
PSBT claims) and each signature is checked by libsecp256k1 through coincurve. Nothing here
implements elliptic-curve arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from coincurve import PublicKey
from coincurve._libsecp256k1 import ffi, lib
from coincurve.context import GLOBAL_CONTEXT
from coincurve.ecdsa import cdata_to_der, der_to_cdata
from embit.script import Script
from embit.transaction import SIGHASH, Transaction

from reserve.core.errors import Problem
from reserve.custody.vault_paths import DerivedScript

HIGH_S: Final = "high-S signature: valid, but nodes refuse to relay it (BIP146 LOW_S)"


def segwit_digest(tx: Transaction, index: int, derived: DerivedScript, amount: int) -> bytes:
    """The BIP143 SIGHASH_ALL digest input ``index`` must sign: the script code of a P2WSH
    input is its witness script, and the amount is the one the reserve approved."""
    script_code = Script(derived.witness_script)
    return bytes(tx.sighash_segwit(index, script_code, amount, sighash=SIGHASH.ALL))


def _parse_der(der: bytes) -> Any | None:
    """libsecp256k1's strict DER parse; a signature that does not re-encode to the same bytes
    is not canonical (BIP66) and is refused."""
    try:
        parsed = der_to_cdata(der)
    except ValueError:
        return None
    return parsed if cdata_to_der(parsed) == der else None


def _low_s(parsed: Any) -> tuple[bytes, bool]:
    """The signature with S in the lower half, and whether it had to be flipped.

    Consensus accepts either S; libsecp256k1's verify accepts only the low one, so a high-S
    signature is normalised before verifying and reported on its own.
    """
    normal = ffi.new("secp256k1_ecdsa_signature *")
    was_high = lib.secp256k1_ecdsa_signature_normalize(GLOBAL_CONTEXT.ctx, normal, parsed)
    return cdata_to_der(normal), bool(was_high)


def signature_problem(signature: bytes) -> str | None:
    """Why a signature (DER plus its sighash byte) cannot even be checked, or None."""
    if not signature:
        return "empty signature"
    if signature[-1] != SIGHASH.ALL:
        return f"sighash type 0x{signature[-1]:02x}; only SIGHASH_ALL (0x01) is allowed"
    if _parse_der(signature[:-1]) is None:
        return "not a strict DER signature"
    return None


def is_high_s(signature: bytes) -> bool:
    parsed = _parse_der(signature[:-1]) if signature else None
    return parsed is not None and _low_s(parsed)[1]


def verifies(signature: bytes, pubkey: bytes, digest: bytes) -> bool:
    """Whether ``signature`` is a SIGHASH_ALL signature by ``pubkey`` over ``digest``."""
    if signature_problem(signature) is not None:
        return False
    low, _ = _low_s(_parse_der(signature[:-1]))
    try:
        key = PublicKey(pubkey)
    except ValueError:
        return False
    return bool(key.verify(low, digest, hasher=None))


def partial_signature_check(
    where: str, partial_sigs: Mapping[bytes, bytes], derived: DerivedScript, digest: bytes
) -> tuple[list[Problem], frozenset[str]]:
    """Every partial signature of a PSBT input: problems, and the vault keys that truly signed."""
    problems: list[Problem] = []
    signers: set[str] = set()
    for pubkey, signature in partial_sigs.items():
        field = f"partial_sig {pubkey.hex()}"
        reason = signature_problem(signature)
        if pubkey not in derived.pubkeys:
            reason = f"signature from a key not in the vault {_at(derived)}"
        elif reason is None and not verifies(signature, pubkey, digest):
            reason = "does not verify: the transaction is not the one that was signed"
        if reason is not None:
            problems.append(Problem(where, field, reason))
            continue
        signers.add(pubkey.hex())
        if is_high_s(signature):
            problems.append(Problem(where, field, HIGH_S))
    return problems, frozenset(signers)


def witness_check(
    where: str, items: Sequence[bytes], derived: DerivedScript, digest: bytes, threshold: int
) -> tuple[list[Problem], frozenset[str]]:
    """A finished witness ``[empty, sig1..sigM, witness_script]``, judged as the interpreter does.

    OP_CHECKMULTISIG walks signatures and keys together in script order: each signature is tried
    against the next keys until one verifies, and a key is never used twice, so M signatures
    that pass are M distinct vault keys.
    """
    reason: str | None
    if not items or items[-1] != derived.witness_script:
        reason = f"is not the vault's witness script {_at(derived)}"
        return [Problem(where, "witness_script", reason)], frozenset()
    problems: list[Problem] = []
    if items[0] != b"":
        problems.append(Problem(where, "witness", "must start with CHECKMULTISIG's empty dummy"))
    signatures = items[1:-1]
    if len(signatures) != derived.required:
        reason = f"{len(signatures)} signatures; the witness script takes {derived.required}"
        problems.append(Problem(where, "witness", reason))
    signers: set[str] = set()
    keys = iter(derived.pubkeys)
    for number, signature in enumerate(signatures, start=1):
        matched = next((key for key in keys if verifies(signature, key, digest)), None)
        reason = signature_problem(signature)
        if reason is None and matched is None:
            reason = "does not verify against any vault key left in script order"
        if reason is None and is_high_s(signature):
            reason = HIGH_S
        if matched is not None:
            signers.add(matched.hex())
        if reason is not None:
            problems.append(Problem(where, f"signature {number}", reason))
    if len(signers) < threshold:
        reason = f"{len(signers)} valid vault signatures; the vault needs {threshold}"
        problems.append(Problem(where, "witness", reason))
    return problems, frozenset(signers)


def _at(derived: DerivedScript) -> str:
    return f"at {'change' if derived.change else 'receive'} index {derived.index}"
