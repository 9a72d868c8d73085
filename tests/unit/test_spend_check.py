"""The spend check against real bdk PSBTs: a correct spend passes; every tampering is named."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from embit.psbt import PSBT, OutputScope
from embit.script import Script
from embit.transaction import SIGHASH, Transaction, TransactionOutput

from reserve.core.errors import Problem
from reserve.custody import spend_check
from reserve.custody.spend_check import (
    ApprovedSpend,
    Payment,
    SpentInput,
    check_psbt,
    check_transaction,
)

from custody_keys import (
    DESTINATION,
    address_script,
    build_spend,
    edit_psbt,
    finalize,
    finalize_psbt,
    fund,
    inject_signature,
    make_holder,
    make_holders,
    make_vault,
    sign,
    vault_spend,
    watch_only_wallet,
)

HOLDERS = make_holders(3)
OUTSIDER = make_holder(9)
VAULT = make_vault(HOLDERS, 2)
PSBT_B64, APPROVED = vault_spend(VAULT)  # output 0 pays 0.3 BTC, output 1 is change
SIGNED = sign(PSBT_B64, HOLDERS[0], HOLDERS[1])
DEST = address_script(DESTINATION)


def pubkey(holder_index: int, psbt_b64: str = PSBT_B64) -> str:
    """The holder's key on input 0 of the PSBT, as check_psbt reports signers."""
    psbt = PSBT.from_string(psbt_b64)
    for key, path in psbt.inputs[0].bip32_derivations.items():
        if path.fingerprint.hex() == HOLDERS[holder_index].fingerprint:
            return str(key.sec().hex())
    raise AssertionError("holder not in the PSBT")


def reasons(problems: tuple[Problem, ...] | list[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


def test_a_correct_two_of_three_spend_with_two_signatures_is_complete() -> None:
    check = check_psbt(SIGNED, VAULT, APPROVED)
    assert check.problems == ()
    assert check.complete
    assert check.signers == {0: frozenset({pubkey(0), pubkey(1)})}
    assert check.change_index == 0


def test_one_signature_is_not_enough() -> None:
    check = check_psbt(sign(PSBT_B64, HOLDERS[2]), VAULT, APPROVED)
    assert check.problems == ()
    assert check.signers == {0: frozenset({pubkey(2)})}
    assert not check.complete


def test_an_unsigned_psbt_is_correct_but_incomplete() -> None:
    check = check_psbt(PSBT_B64, VAULT, APPROVED)
    assert (check.problems, check.complete) == ((), False)


def test_the_output_order_does_not_matter() -> None:
    psbt, approved = vault_spend(VAULT, shuffle=True)
    assert check_psbt(sign(psbt, HOLDERS[0], HOLDERS[2]), VAULT, approved).complete


def test_a_bdk_finalized_psbt_is_checked_through_its_witness() -> None:
    check = check_psbt(finalize_psbt(SIGNED), VAULT, APPROVED)
    assert check.problems == ()
    assert check.complete
    assert check.signers[0] == {pubkey(0), pubkey(1)}


def test_a_signature_from_a_key_outside_the_vault_is_refused() -> None:
    tampered = inject_signature(sign(PSBT_B64, HOLDERS[0]), OUTSIDER)
    check = check_psbt(tampered, VAULT, APPROVED)
    assert not check.complete
    [problem] = check.problems
    assert problem.where == "psbt input 0"
    assert problem.field.startswith("partial_sig ")
    assert "signature from a key not in the vault at receive index 0" in problem.reason
    assert check.signers[0] == {pubkey(0)}


def test_a_signature_under_another_vault_key_does_not_verify() -> None:
    def swap(psbt: PSBT) -> None:
        sigs = psbt.inputs[0].partial_sigs
        [(key, signature)] = list(sigs.items())
        other = next(k for k in psbt.inputs[0].bip32_derivations if k != key)
        sigs.clear()
        sigs[other] = signature

    check = check_psbt(edit_psbt(sign(PSBT_B64, HOLDERS[0]), swap), VAULT, APPROVED)
    assert [p.reason for p in check.problems] == [
        "does not verify: the transaction is not the one that was signed"
    ]
    assert check.signers[0] == frozenset()


def test_a_sighash_other_than_all_is_refused() -> None:
    def none_hash(psbt: PSBT) -> None:
        psbt.sign_with(HOLDERS[0].root, sighash=SIGHASH.NONE)

    check = check_psbt(edit_psbt(PSBT_B64, none_hash), VAULT, APPROVED)
    assert reasons(check.problems) == [
        f"psbt input 0: partial_sig {pubkey(0)}: sighash type 0x02; "
        "only SIGHASH_ALL (0x01) is allowed"
    ]


def _high_s(der: bytes) -> bytes:
    """The same signature with S replaced by n - S (valid for consensus, refused by policy)."""
    order = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    r = der[4 : 4 + der[3]]
    s = int.from_bytes(der[6 + len(r) :], "big")
    high = (order - s).to_bytes(33, "big").lstrip(b"\0")
    high = b"\0" + high if high[0] & 0x80 else high
    body = b"\x02" + bytes([len(r)]) + r + b"\x02" + bytes([len(high)]) + high
    return b"\x30" + bytes([len(body)]) + body


def test_a_high_s_signature_verifies_but_is_flagged() -> None:
    def flip(psbt: PSBT) -> None:
        sigs = psbt.inputs[0].partial_sigs
        for key, signature in list(sigs.items()):
            sigs[key] = _high_s(signature[:-1]) + signature[-1:]

    check = check_psbt(edit_psbt(sign(PSBT_B64, HOLDERS[0]), flip), VAULT, APPROVED)
    assert check.signers[0] == {pubkey(0)}
    assert [p.reason for p in check.problems] == [
        "high-S signature: valid, but nodes refuse to relay it (BIP146 LOW_S)"
    ]


def test_a_changed_payment_amount_is_named() -> None:
    def more(psbt: PSBT) -> None:
        psbt.outputs[0].value += 1_000

    check = check_psbt(edit_psbt(SIGNED, more), VAULT, APPROVED)
    assert not check.complete
    assert (
        Problem(
            "psbt output 0",
            "amount",
            f"pays 30001000 sats to {DESTINATION}; the approved payment is 30000000 sats",
        )
        in check.problems
    )
    assert Problem("psbt", "fee", "1000 sats; the approved fee is 2000 sats") in check.problems
    assert any("does not verify" in p.reason for p in check.problems)


def test_an_added_output_is_named() -> None:
    def add(psbt: PSBT) -> None:
        psbt.outputs.append(OutputScope(vout=TransactionOutput(500, Script(DEST))))

    check = check_psbt(edit_psbt(PSBT_B64, add), VAULT, APPROVED)
    assert reasons(check.problems) == [
        f"psbt output 2: script: not in the approved spend: 500 sats to {DESTINATION}",
        "psbt: fee: 1500 sats; the approved fee is 2000 sats",
    ]


def test_a_removed_payment_is_named() -> None:
    def drop(psbt: PSBT) -> None:
        del psbt.outputs[0]

    check = check_psbt(edit_psbt(PSBT_B64, drop), VAULT, APPROVED)
    assert reasons(check.problems) == [
        f"psbt: outputs: approved payment of 30000000 sats to {DESTINATION} is missing",
        "psbt: fee: 30002000 sats; the approved fee is 2000 sats",
    ]


def test_change_moved_to_a_foreign_script_is_refused() -> None:
    foreign = address_script("bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m")

    def move(psbt: PSBT) -> None:
        psbt.outputs[1].script_pubkey = Script(foreign)

    check = check_psbt(edit_psbt(PSBT_B64, move), VAULT, APPROVED)
    assert reasons(check.problems) == [
        "psbt output 1: script: claims to be the vault's change (index 0) but "
        "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m is not re-derivable from the vault's "
        "change descriptor",
        "psbt: change: approved change of 69998000 sats back to the vault is missing",
    ]


def test_change_moved_and_stripped_of_its_derivations_is_refused() -> None:
    def move(psbt: PSBT) -> None:
        psbt.outputs[1].script_pubkey = Script(DEST)
        psbt.outputs[1].bip32_derivations.clear()

    check = check_psbt(edit_psbt(PSBT_B64, move), VAULT, APPROVED)
    assert [p.where for p in check.problems] == ["psbt output 1", "psbt"]
    assert "not in the approved spend: 69998000 sats" in check.problems[0].reason


def test_change_to_a_receive_address_of_the_vault_is_not_change() -> None:
    receive = VAULT.script_pubkey(change=False, index=0)

    def move(psbt: PSBT) -> None:
        psbt.outputs[1].script_pubkey = Script(receive)

    check = check_psbt(edit_psbt(PSBT_B64, move), VAULT, APPROVED)
    assert check.problems[0].where == "psbt output 1"
    assert "claims to be the vault's change" in check.problems[0].reason


def test_a_fee_other_than_the_approved_one_is_named() -> None:
    wallet = watch_only_wallet(VAULT)
    coins = fund(wallet, [100_000_000])
    psbt, approved = build_spend(wallet, coins, [Payment(DEST, 30_000_000)], fee=5_000)
    lower_fee = dataclasses.replace(approved, fee=2_000, change=approved.change + 3_000)
    check = check_psbt(psbt, VAULT, lower_fee)
    assert reasons(check.problems) == [
        "psbt output 1: amount: change of 69995000 sats; the approved change is 69998000 sats",
        "psbt: fee: 5000 sats; the approved fee is 2000 sats",
    ]


def _two_coin_spend() -> tuple[str, ApprovedSpend]:
    wallet = watch_only_wallet(VAULT)
    coins = fund(wallet, [60_000_000, 50_000_000], tag=b"two coins")
    return build_spend(wallet, coins, [Payment(DEST, 80_000_000)], fee=3_000, spend_only=coins)


def test_an_unknown_input_is_named() -> None:
    psbt, approved = _two_coin_spend()
    kept, dropped = approved.inputs
    only_one = dataclasses.replace(approved, inputs=(kept,), change=approved.change - 50_000_000)
    check = check_psbt(psbt, VAULT, only_one)
    assert (
        Problem("psbt input 1", "outpoint", f"{dropped.outpoint} is not an approved input")
        in check.problems
    )
    assert not check.complete


def test_a_missing_input_is_named() -> None:
    extra = SpentInput("ab" * 32, 3, 1_000, keychain_change=False, index=4)
    approved = dataclasses.replace(
        APPROVED, inputs=(*APPROVED.inputs, extra), change=APPROVED.change + 1_000
    )
    check = check_psbt(SIGNED, VAULT, approved)
    assert Problem("psbt", "inputs", f"approved input {'ab' * 32}:3 is missing") in check.problems


def test_an_input_whose_amount_or_script_was_altered_is_named() -> None:
    def alter(psbt: PSBT) -> None:
        psbt.inputs[0].witness_utxo.value = 200_000_000

    check = check_psbt(edit_psbt(PSBT_B64, alter), VAULT, APPROVED)
    assert reasons(check.problems) == [
        "psbt input 0: witness_utxo.amount: 200000000 sats; the approved input holds "
        "100000000 sats",
        "psbt input 0: non_witness_utxo: disagrees with witness_utxo",  # bdk includes both
    ]
    wrong_index = dataclasses.replace(APPROVED.inputs[0], index=1)
    check = check_psbt(PSBT_B64, VAULT, dataclasses.replace(APPROVED, inputs=(wrong_index,)))
    assert {p.field for p in check.problems} == {"witness_utxo.script", "witness_script"}


def test_a_psbt_for_another_vault_is_refused() -> None:
    others = make_holders(3, first_seed=20)
    other_vault = make_vault(others, 2, name="other")
    psbt, approved = vault_spend(other_vault)
    check = check_psbt(sign(psbt, others[0], others[1]), VAULT, approved)
    assert not check.complete
    fields = {(p.where, p.field) for p in check.problems}
    assert ("psbt input 0", "witness_utxo.script") in fields
    assert ("psbt input 0", "witness_script") in fields
    assert ("psbt output 1", "script") in fields  # its change is not our change
    assert sum(p.reason.startswith("signature from a key not in") for p in check.problems) == 2


def test_text_that_is_not_a_psbt_is_one_problem() -> None:
    check = check_psbt("not base64!", VAULT, APPROVED)
    assert [(p.where, p.field) for p in check.problems] == [("psbt", "encoding")]
    assert not check.complete


def test_an_approval_that_does_not_add_up_is_named() -> None:
    check = check_psbt(SIGNED, VAULT, dataclasses.replace(APPROVED, fee=2_001))
    assert (
        Problem(
            "approved spend",
            "fee",
            "inputs hold 100000000 sats but payments, change and fee add up to 100000001",
        )
        in check.problems
    )


# -- the finished transaction ------------------------------------------------------------------

RAW_TX = finalize(SIGNED)


def test_a_bdk_finalized_transaction_passes() -> None:
    assert check_transaction(RAW_TX, VAULT, APPROVED) == []
    assert check_transaction(RAW_TX, VAULT, APPROVED, change_index=0) == []


def _edit_tx(change: object) -> bytes:
    tx = Transaction.parse(RAW_TX)
    change(tx)  # type: ignore[operator]
    return bytes(tx.serialize())


def test_an_output_amount_modified_after_signing_fails_twice() -> None:
    def more(tx: Transaction) -> None:
        tx.vout[0].value += 1

    problems = check_transaction(_edit_tx(more), VAULT, APPROVED, change_index=0)
    fields = [(p.where, p.field) for p in problems]
    assert ("transaction output 0", "amount") in fields
    assert ("transaction", "fee") in fields
    assert ("transaction input 0", "signature 1") in fields  # no longer verifies
    assert ("transaction input 0", "witness") in fields  # below the threshold


def test_the_same_signature_twice_counts_once_as_checkmultisig_does() -> None:
    def twice(tx: Transaction) -> None:
        items = tx.vin[0].witness.items
        items[2] = items[1]

    problems = check_transaction(_edit_tx(twice), VAULT, APPROVED)
    assert reasons(problems) == [
        "transaction input 0: signature 2: does not verify against any vault key left in "
        "script order",
        "transaction input 0: witness: 1 valid vault signatures; the vault needs 2",
    ]


def test_a_witness_with_too_few_signatures_or_a_foreign_script_fails() -> None:
    def drop(tx: Transaction) -> None:
        del tx.vin[0].witness.items[2]

    assert reasons(check_transaction(_edit_tx(drop), VAULT, APPROVED)) == [
        "transaction input 0: witness: 1 signatures; the witness script takes 2",
        "transaction input 0: witness: 1 valid vault signatures; the vault needs 2",
    ]

    def foreign(tx: Transaction) -> None:
        tx.vin[0].witness.items[-1] = b"\x51"

    assert [p.field for p in check_transaction(_edit_tx(foreign), VAULT, APPROVED)] == [
        "witness_script"
    ]


def test_a_transaction_spending_an_unapproved_coin_fails() -> None:
    other = dataclasses.replace(APPROVED.inputs[0], vout=7)
    problems = check_transaction(RAW_TX, VAULT, dataclasses.replace(APPROVED, inputs=(other,)))
    assert [(p.where, p.field) for p in problems] == [
        ("transaction input 0", "outpoint"),
        ("transaction", "inputs"),
        ("transaction", "fee"),
    ]


def test_bytes_that_are_not_a_transaction_are_one_problem() -> None:
    assert [p.field for p in check_transaction(b"\x01\x02", VAULT, APPROVED)] == ["encoding"]


@pytest.mark.parametrize("module", sorted(Path(spend_check.__file__).parent.glob("*.py")))
def test_custody_never_imports_the_psbt_builder(module: Path) -> None:
    """The verifier must be code that did not build the PSBT: no bdkpython in custody."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] in {"bdkpython", "bdk"}}


def test_an_approved_input_with_a_hardened_index_is_refused_not_derived() -> None:
    hardened = dataclasses.replace(APPROVED.inputs[0], index=2**31)
    check = check_psbt(SIGNED, VAULT, dataclasses.replace(APPROVED, inputs=(hardened,)))
    assert not check.complete
    assert any("is not an unhardened index" in p.reason for p in check.problems)
