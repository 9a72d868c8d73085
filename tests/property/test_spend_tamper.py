"""Whatever is changed in an approved spend's outputs, both checks notice; and no PSBT or
transaction passes with fewer than M distinct vault signatures, however they are repeated."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from embit.psbt import PSBT, OutputScope
from embit.script import Script, Witness
from embit.transaction import Transaction, TransactionOutput
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reserve.custody.spend_check import check_psbt, check_transaction
from reserve.custody.vault_paths import derive

from custody_keys import (
    finalize,
    inject_signature,
    make_holder,
    make_holders,
    make_vault,
    sign,
    vault_spend,
)

HOLDERS = make_holders(3)
OUTSIDER = make_holder(9)
VAULT = make_vault(HOLDERS, 2)
PSBT_B64, APPROVED = vault_spend(VAULT)
SIGNED = sign(PSBT_B64, HOLDERS[0], HOLDERS[1])
RAW_TX = finalize(SIGNED)
SCRIPTS = [bytes(out.script_pubkey.data) for out in PSBT.from_string(PSBT_B64).outputs]
DERIVED = derive(VAULT, change=False, index=0)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Tamper = Callable[[list[Any], Callable[[bytes, int], Any]], None]


@st.composite
def tampering(draw: st.DrawFn) -> tuple[str, Tamper]:
    """One change to an output list: amount +/- k, a flipped script byte, one added, one removed.

    It works on embit's PSBT outputs and transaction outputs alike (both have value and
    script_pubkey); ``make`` builds a new output of the right kind.
    """
    kind = draw(st.sampled_from(["amount", "flip", "add", "remove"]))
    target = draw(st.integers(0, len(SCRIPTS) - 1))
    if kind == "amount":
        delta = draw(st.integers(1, 1_000_000)) * draw(st.sampled_from([1, -1]))

        def shift(outputs: list[Any], make: Callable[[bytes, int], Any]) -> None:
            outputs[target].value += delta

        return f"amount {target} {delta:+}", shift
    if kind == "flip":
        position = draw(st.integers(0, 33))
        mask = draw(st.integers(1, 255))

        def flip(outputs: list[Any], make: Callable[[bytes, int], Any]) -> None:
            script = bytearray(outputs[target].script_pubkey.data)
            script[position % len(script)] ^= mask
            outputs[target].script_pubkey = Script(bytes(script))

        return f"flip {target}@{position}^{mask}", flip
    if kind == "add":
        script = draw(st.one_of(st.sampled_from(SCRIPTS), st.binary(min_size=1, max_size=40)))
        amount = draw(st.integers(1, 100_000_000))
        where = draw(st.integers(0, len(SCRIPTS)))

        def add(outputs: list[Any], make: Callable[[bytes, int], Any]) -> None:
            outputs.insert(where, make(script, amount))

        return f"add {amount} to {script.hex()}", add

    def remove(outputs: list[Any], make: Callable[[bytes, int], Any]) -> None:
        del outputs[target]

    return f"remove {target}", remove


def _psbt_output(script: bytes, amount: int) -> OutputScope:
    return OutputScope(vout=TransactionOutput(amount, Script(script)))


def _tx_output(script: bytes, amount: int) -> TransactionOutput:
    return TransactionOutput(amount, Script(script))


@PROPERTY
@given(change=tampering())
def test_any_change_to_the_outputs_fails_both_checks(change: tuple[str, Tamper]) -> None:
    _label, tamper = change
    for base in (PSBT_B64, SIGNED):
        psbt = PSBT.from_string(base)
        tamper(psbt.outputs, _psbt_output)
        check = check_psbt(psbt.to_string(), VAULT, APPROVED)
        assert check.problems
        assert not check.complete
    tx = Transaction.parse(RAW_TX)
    tamper(tx.vout, _tx_output)
    assert check_transaction(bytes(tx.serialize()), VAULT, APPROVED)


@PROPERTY
@given(signers=st.lists(st.integers(0, 2), max_size=5), outsider=st.booleans())
def test_no_psbt_is_complete_below_m_distinct_vault_signatures(
    signers: list[int], outsider: bool
) -> None:
    psbt = PSBT_B64
    for holder in signers:  # the same key twice is still one signature
        psbt = sign(psbt, HOLDERS[holder])
    if outsider:
        psbt = inject_signature(psbt, OUTSIDER)
    check = check_psbt(psbt, VAULT, APPROVED)
    distinct = {_pubkey(holder) for holder in signers}
    assert check.signers[0] == distinct
    assert check.complete == (len(distinct) >= VAULT.threshold and not outsider)


def _pubkey(holder: int) -> str:
    key = HOLDERS[holder].root.derive("m/48h/1h/0h/2h/0/0").key.get_public_key()
    return str(key.sec().hex())


ALL_SIGNATURES = PSBT.from_string(sign(PSBT_B64, *HOLDERS)).inputs[0].partial_sigs
IN_SCRIPT_ORDER = [
    next(sig for key, sig in ALL_SIGNATURES.items() if key.sec() == pubkey)
    for pubkey in DERIVED.pubkeys
]


@PROPERTY
@given(positions=st.lists(st.integers(0, 2), max_size=4))
def test_a_witness_passes_exactly_with_m_distinct_signatures_in_script_order(
    positions: list[int],
) -> None:
    """CHECKMULTISIG semantics: M signatures, distinct keys, in the order of the keys."""
    tx = Transaction.parse(RAW_TX)
    signatures = [IN_SCRIPT_ORDER[p] for p in positions]
    tx.vin[0].witness = Witness([b"", *signatures, DERIVED.witness_script])
    problems = check_transaction(bytes(tx.serialize()), VAULT, APPROVED, change_index=0)
    valid = len(positions) == VAULT.threshold and positions == sorted(set(positions))
    assert (problems == []) == valid
