"""The offline signer's logic: key files, what it shows, what it refuses, what it signs."""

from __future__ import annotations

import json
import re

import pytest
from embit import bip32
from embit.networks import NETWORKS
from embit.psbt import PSBT, OutputScope
from embit.script import Script

from reserve.core.errors import InvalidInput
from reserve.custody.descriptors import VaultScript
from reserve.custody.signer import (
    SignerKey,
    read_key_file,
    read_vault_backup,
    sign,
    summarise,
)
from reserve.custody.spend_check import check_psbt

from custody_keys import (
    DESTINATION,
    address_script,
    edit_psbt,
    make_holder,
    make_holders,
    make_vault,
    vault_backup,
    vault_spend,
)

HOLDERS = make_holders(3)
OUTSIDER = make_holder(9)
VAULT = make_vault(HOLDERS, 2)
PSBT_B64, APPROVED = vault_spend(VAULT)
FOREIGN = "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m"


def key_of(holder_index: int) -> SignerKey:
    return read_key_file(HOLDERS[holder_index].key_file(), "k.json", network="regtest")


def refusal(error: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


# -- key files ---------------------------------------------------------------------------------


def test_a_key_file_gives_the_master_fingerprint_and_hides_the_key() -> None:
    key = key_of(0)
    assert key.fingerprint == HOLDERS[0].fingerprint
    assert key.holder == "holder-0"
    assert HOLDERS[0].tprv not in repr(key)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("{", "file", "not JSON"),
        ('{"xprv": "x"}', "file", "must be"),
        ('{"holder": "", "xprv": "x"}', "holder", "non-empty"),
        ('{"holder": "a", "xprv": 5}', "xprv", "must be a string"),
        ('{"holder": "a", "xprv": "tprv8ZgxMBicQKsPe"}', "xprv", "Checksum mismatch"),
    ],
)
def test_a_bad_key_file_is_refused(text: str, field: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as error:
        read_key_file(text, "k.json")
    [problem] = error.value.problems
    assert (problem.where, problem.field) == ("k.json", field)
    assert reason in problem.reason


def test_a_key_file_with_one_character_changed_fails_its_checksum() -> None:
    tprv = HOLDERS[0].tprv
    broken = tprv[:-5] + ("A" if tprv[-5] != "A" else "B") + tprv[-4:]
    with pytest.raises(InvalidInput, match="Checksum mismatch"):
        read_key_file(json.dumps({"holder": "a", "xprv": broken}), "k.json")


def test_public_child_and_mainnet_keys_are_refused() -> None:
    root = HOLDERS[0].root
    tpub = root.to_public().to_string(version=NETWORKS["regtest"]["xpub"])
    child = root.derive("m/48h").to_string(version=NETWORKS["regtest"]["xprv"])
    mainnet = bip32.HDKey.from_seed(b"\1" * 32).to_string()
    for xprv, reason in [
        (tpub, "is a public key"),
        (child, "is not a master key (depth 1)"),
        (mainnet, "is a key for bitcoin; the vault is on regtest"),
    ]:
        with pytest.raises(InvalidInput, match=re.escape(reason)):
            read_key_file(json.dumps({"holder": "a", "xprv": xprv}), "k.json", network="regtest")


def test_a_vault_backup_is_read_and_checked() -> None:
    assert read_vault_backup(vault_backup(VAULT), "v.json") == VAULT
    wrong = json.loads(vault_backup(VAULT)) | {"threshold": 3}
    with pytest.raises(InvalidInput, match="3, but the descriptor asks for 2"):
        read_vault_backup(json.dumps(wrong), "v.json")
    with pytest.raises(InvalidInput, match=r"v\.json: file: not a vault backup"):
        read_vault_backup("{}", "v.json")


# -- what the signer shows ---------------------------------------------------------------------


def test_the_summary_shows_inputs_destinations_change_and_fee() -> None:
    summary, problems = summarise(PSBT_B64, VAULT)
    assert problems == []
    assert summary.inputs == ((APPROVED.inputs[0].outpoint, 100_000_000),)
    assert summary.payments == ((DESTINATION, 30_000_000),)
    assert summary.change == ((VAULT.address(change=True, index=0), 69_998_000, 0),)
    assert summary.fee == 2_000


def _move_change(psbt: PSBT) -> None:
    psbt.outputs[1].script_pubkey = Script(address_script(FOREIGN))


def test_change_to_a_foreign_script_is_a_problem() -> None:
    summary, problems = summarise(edit_psbt(PSBT_B64, _move_change), VAULT)
    assert summary.change == ()
    assert [str(p) for p in problems] == [
        f"psbt output 1: script: claims to be the vault's change but {FOREIGN} is not "
        "re-derivable from it"
    ]


def test_two_change_outputs_are_a_problem() -> None:
    def split(psbt: PSBT) -> None:
        change = psbt.outputs[1]
        twin = OutputScope(vout=change.vout)
        twin.bip32_derivations = change.bip32_derivations
        change.value -= 1_000
        twin.value = 1_000
        psbt.outputs.append(twin)

    summary, problems = summarise(edit_psbt(PSBT_B64, split), VAULT)
    assert len(summary.change) == 2
    assert [str(p) for p in problems] == ["psbt: change: 2 change outputs; at most one"]


def test_an_input_from_another_vault_is_a_problem() -> None:
    others = make_holders(3, first_seed=20)
    psbt, _ = vault_spend(make_vault(others, 2))
    _, problems = summarise(psbt, VAULT)
    assert ("psbt input 0", "witness_utxo.script") in {(p.where, p.field) for p in problems}


# -- signing -----------------------------------------------------------------------------------


def test_sign_adds_exactly_this_key_and_two_signers_complete_the_spend() -> None:
    once = sign(PSBT_B64, VAULT, key_of(0))
    check = check_psbt(once, VAULT, APPROVED)
    assert check.problems == ()
    assert len(check.signers[0]) == 1
    twice = sign(once, VAULT, key_of(2))
    assert check_psbt(twice, VAULT, APPROVED).complete


def test_sign_refuses_change_to_a_foreign_script() -> None:
    with pytest.raises(InvalidInput) as error:
        sign(edit_psbt(PSBT_B64, _move_change), VAULT, key_of(0))
    assert refusal(error)[0].startswith("psbt output 1: script: claims to be the vault's change")


def test_sign_refuses_a_key_not_in_the_vault() -> None:
    outsider = read_key_file(OUTSIDER.key_file(), "k.json")
    with pytest.raises(InvalidInput) as error:
        sign(PSBT_B64, VAULT, outsider)
    assert refusal(error) == [
        f"key: fingerprint: {OUTSIDER.fingerprint} is not one of the vault's keys "
        f"({', '.join(h.fingerprint for h in HOLDERS)})"
    ]


def test_sign_refuses_a_key_with_a_vault_fingerprint_but_another_account_key() -> None:
    lying = VaultScript(
        "lying",
        "regtest",
        2,
        VAULT.external.replace(HOLDERS[0].account_xpub, OUTSIDER.account_xpub),
        VAULT.internal.replace(HOLDERS[0].account_xpub, OUTSIDER.account_xpub),
    )
    with pytest.raises(InvalidInput, match="has a vault key's fingerprint but derives another"):
        sign(PSBT_B64, lying, key_of(0))


def test_a_psbt_cannot_steer_the_key_to_another_path() -> None:
    """The PSBT's derivation for our key is ignored: the signer signs at the path it derives."""

    def misdirect(psbt: PSBT) -> None:
        derivations = psbt.inputs[0].bip32_derivations
        for path in derivations.values():
            if path.fingerprint.hex() == HOLDERS[0].fingerprint:
                path.derivation[-1] = 5

    signed = sign(edit_psbt(PSBT_B64, misdirect), VAULT, key_of(0))
    check = check_psbt(signed, VAULT, APPROVED)
    assert check.problems == ()
    assert len(check.signers[0]) == 1


def test_sign_refuses_text_that_is_not_a_psbt() -> None:
    with pytest.raises(InvalidInput, match="psbt: encoding: not a PSBT"):
        sign("cHNidP8=", VAULT, key_of(0))


def test_an_understated_input_amount_is_caught_by_the_previous_transaction() -> None:
    """The segwit v0 fee attack hides an input's amount; the full previous transaction shows it."""

    def understate(psbt: PSBT) -> None:
        psbt.inputs[0].witness_utxo.value -= 1_000

    summary, problems = summarise(edit_psbt(PSBT_B64, understate), VAULT)
    assert (summary.inputs[0][1], summary.fee) == (99_999_000, 1_000)  # the true fee is 2000
    assert [str(p) for p in problems] == [
        "psbt input 0: non_witness_utxo: disagrees with witness_utxo"
    ]
