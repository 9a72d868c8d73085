"""`reserve custody transfer ...` end to end: request, approve, build, offline signing with
``reserve-signer``, import and finalize, and the refusals on the way (exit 2, nothing written).

No node: a vault is funded by recording a made-up transaction paying one of its addresses
(``reserve custody vault deposit``). The clock is pinned at 2025-02-20, the last BTC/USD close
bundled in ``data/prices``, so transfers have a USD value and the velocity rule can be decided.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

import pytest
from embit.psbt import PSBT, InputScope
from embit.script import p2pkh
from embit.transaction import TransactionInput
from test_custody_cli import (
    CUSTODY,
    HANDLES,
    KEYS,
    RULES_NOW,
    Cli,
    mainnet_xpub,
    make_cli,
    template_db,
)

from reserve.cli.signer import default_out
from reserve.cli.signer import run as signer_run
from reserve.config import Settings
from reserve.custody.descriptors import embit_network

from custody_keys import (
    ACCOUNT_PATH,
    DESTINATION,
    edit_psbt,
    inject_signature,
    make_holder,
    make_vault,
    vault_spend,
)
from custody_world import whitelist

COIN: Final = 100_000_000
TRANSFER: Final = (CUSTODY, "transfer")
VELOCITY_RULES: Final = RULES_NOW.replace(
    '[[rules]]\nname = "cold-to-whitelist"',
    '[[rules]]\nname = "cold-velocity"\naction = "approve"\n'
    'when = { source_tiers = ["cold"], destinations = ["whitelisted"], '
    "velocity_usd_over = 100000 }\n"
    'approvals = { count = 3, roles = ["risk-officer", "administrator"] }\n\n'
    '[[rules]]\nname = "cold-to-whitelist"',
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_db(tmp_path_factory)


@pytest.fixture
def cli(template: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cli:  # fmt: skip
    return make_cli(template, sqlite_url, capsys, monkeypatch, tmp_path)


@pytest.fixture
def desk(cli: Cli) -> Cli:
    """A 3-of-5 cold vault holding one coin of 1 BTC; the test rules, without time lock."""
    cli.vault("cold-1")
    cli.fund("cold-1", COIN, "coin one")
    cli.policy(RULES_NOW, whitelist(DESTINATION))
    return cli


@pytest.fixture
def built(desk: Cli) -> dict[str, Path]:
    """TR-1 (0.3 BTC to the whitelisted address) approved by risk1 and admin, and built:
    the unsigned PSBT file for each key, by key id."""
    desk.request("TR-1", "0.3")
    for approver in ("risk1", "admin"):
        desk.ok(approver, *TRANSFER, "approve", "TR-1")
    printed = desk.ok("kh1", *TRANSFER, "build", "TR-1", "--out-dir", str(desk.folder / "signing"))
    files = [Path(line.split()[0]) for line in printed.splitlines()]
    return {path.name.removeprefix("TR-1-").removesuffix(".psbt"): path for path in files}


def signed_by(cli: Cli, holder: str, psbt_file: Path, backup: Path) -> Path:
    """What ``reserve-signer sign FILE --key KEYFILE --vault BACKUP --yes`` writes."""
    key = cli.key_file(KEYS[holder])
    assert signer_run(["sign", str(psbt_file), "--key", str(key), "--vault", str(backup),
                       "--yes"]) == 0  # fmt: skip
    return default_out(psbt_file, KEYS[holder].fingerprint)


def tampered(cli: Cli, name: str, psbt: str) -> Path:
    path = cli.folder / f"{name}.psbt"
    path.write_text(psbt + "\n", encoding="utf-8")
    return path


def unsigned(built: dict[str, Path]) -> str:
    return built["kh1-key"].read_text(encoding="utf-8").strip()


# -- request and approval -------------------------------------------------------------------
def test_approving_your_own_request_is_refused(desk: Cli) -> None:
    # kr1 holds both roles, so only having initiated the request stands in the way
    desk.ok("admin", "users", "add", "kr1", "--name", "Custodian and risk officer", "--unit",
            "TREASURY", "--role", "custodian", "--role", "risk-officer")  # fmt: skip
    assert desk.request("TR-1", "0.3", actor="kr1")["approvals_needed"] == 2
    desk.refused("transfer:TR-1: approval by kr1: approver: kr1 proposed the request and cannot "
                 "approve it", "kr1", *TRANSFER, "approve", "TR-1")  # fmt: skip
    desk.ok("kh1", *TRANSFER, "request", "TR-2", "--vault", "cold-1", "--to", DESTINATION,
            "--amount", "0.1", "--fee", "2000", "--memo", "second")  # fmt: skip
    desk.refused("kh1 proposed the request and cannot approve it", "kh1", *TRANSFER, "approve",
                 "TR-2")  # fmt: skip


def test_a_sanctioned_destination_is_refused(cli: Cli) -> None:
    data = Settings().data_dir / "sanctions" / "sanctioned_addresses_XBT.txt"
    lines = data.read_text(encoding="utf-8").splitlines()
    sanctioned = next(a for a in lines if a.startswith("bc1q"))  # the lists are mainnet only
    for handle in HANDLES[:5]:  # the same seeds' mainnet account keys (BIP48 coin type 0)
        cli.ok("admin", CUSTODY, "key", "add", f"{handle}-main", "--holder", handle, "--xpub",
               mainnet_xpub(KEYS[handle]), "--fingerprint", KEYS[handle].fingerprint,
               "--path", "m/48h/0h/0h/2h", "--network", "bitcoin")  # fmt: skip
    keys = [arg for h in HANDLES[:5] for arg in ("--key", f"{h}-main")]
    cli.ok("admin", CUSTODY, "vault", "create", "main-1", "--fund", "SFDA", "--threshold", "3",
           *keys, "--network", "bitcoin")  # fmt: skip
    cli.vault("cold-1")
    cli.policy(RULES_NOW, whitelist(DESTINATION, sanctioned))  # whitelisted does not help
    request = [*TRANSFER, "request", "TR-S", "--amount", "0.1", "--fee", "2000", "--memo", "x",
               "--to", sanctioned]  # fmt: skip
    cli.refused(f"transfer TR-S: policy:sanctioned-destination: {sanctioned} is on the sanctions "
                "lists (lists 7760efb282b9 as of 2025-11-19)", "kh1", *request, "--vault",
                "main-1")  # fmt: skip
    # a regtest vault refuses the mainnet address as such, before any screening
    cli.refused(f"transfer TR-S: destination: {sanctioned} is not an address of the regtest "
                "network", "kh1", *request, "--vault", "cold-1")  # fmt: skip


def test_a_second_transfer_over_the_velocity_limit_needs_more_approvals(cli: Cli) -> None:
    cli.vault("cold-1")
    for tag in ("coin one", "coin two"):
        cli.fund("cold-1", COIN, tag)
    cli.policy(VELOCITY_RULES, whitelist(DESTINATION))
    first = cli.request("TR-1", "0.5")  # USD 48,800.03 at the close of 97,600.0625
    assert (first["rule"], first["approvals_needed"], first["amount_usd"]) == (
        "cold-to-whitelist", 2, "48800.03")  # fmt: skip
    second = cli.request("TR-2", "0.6")  # 48,800.03 + 58,560.04 in 24 hours > 100,000
    assert (second["rule"], second["approvals_needed"], second["amount_usd"]) == (
        "cold-velocity", 3, "58560.04")  # fmt: skip
    for approver in ("risk1", "admin"):
        cli.ok(approver, *TRANSFER, "approve", "TR-2")
    shown = cli.json(*TRANSFER, "show", "TR-2")
    assert (shown["status"], shown["approvals_needed"]) == ("PENDING", 1)
    cli.refused("transfer:TR-2: status: is PENDING; this step needs APPROVED", "kh1", *TRANSFER,
                "build", "TR-2", "--out-dir", str(cli.folder / "signing"))  # fmt: skip
    assert not (cli.folder / "signing").exists()
    assert "APPROVED" in cli.ok("risk2", *TRANSFER, "approve", "TR-2")
    cli.clock.advance(hours=25)  # a day later the two no longer count against the limit
    assert cli.request("TR-3", "0.6")["rule"] == "cold-to-whitelist"


def test_without_a_usd_price_a_usd_rule_refuses(cli: Cli) -> None:
    cli.vault("cold-1")
    cli.policy(VELOCITY_RULES, whitelist(DESTINATION))
    cli.clock.advance(days=4)  # the bundled closes end on 2025-02-20; a price may be 3 days old
    cli.refused('transfer TR-1: policy:no-usd-price: no USD price for BTC on 2025-02-24, the USD '
                'conditions of rule "cold-velocity" cannot be evaluated', "kh1", *TRANSFER,
                "request", "TR-1", "--vault", "cold-1", "--to", DESTINATION, "--amount", "0.1",
                "--fee", "2000", "--memo", "unpriced")  # fmt: skip


# -- importing signed PSBTs -----------------------------------------------------------------
NOT_OURS: Final = "transfer:TR-1: psbt: is not the PSBT built for this transfer"


def test_a_psbt_of_another_vault_is_refused(desk: Cli, built: dict[str, Path]) -> None:
    other, _ = vault_spend(make_vault([KEYS["kh1"], KEYS["kh2"], KEYS["kx1"]], 2, name="other"))
    path = tampered(desk, "other", other)
    desk.refused(NOT_OURS, "kh1", *TRANSFER, "import", "TR-1", str(path))


def test_a_psbt_paying_other_amounts_is_refused(desk: Cli, built: dict[str, Path]) -> None:
    def less(psbt: PSBT) -> None:
        psbt.outputs[0].value -= 1_000

    path = tampered(desk, "amount", edit_psbt(unsigned(built), less))
    desk.refused(NOT_OURS, "kh1", *TRANSFER, "import", "TR-1", str(path))


def test_a_psbt_spending_an_unknown_input_is_refused(desk: Cli, built: dict[str, Path]) -> None:
    def extra(psbt: PSBT) -> None:
        coin = TransactionInput(hashlib.sha256(b"not the vault's").digest(), 0)
        psbt.inputs.append(InputScope(vin=coin))

    path = tampered(desk, "input", edit_psbt(unsigned(built), extra))
    desk.refused(NOT_OURS, "kh1", *TRANSFER, "import", "TR-1", str(path))


def test_a_psbt_lying_about_its_input_is_refused(desk: Cli, built: dict[str, Path]) -> None:
    def richer(psbt: PSBT) -> None:  # the unsigned transaction, hence its txid, is unchanged
        psbt.inputs[0].witness_utxo.value += 1

    signed = signed_by(desk, "kh2", built["kh2-key"], desk.backup("cold-1"))
    path = tampered(desk, "richer", edit_psbt(signed.read_text(encoding="utf-8"), richer))
    desk.refused("psbt input 0: witness_utxo.amount: 100000001 sats; the approved input holds "
                 "100000000 sats", "kh1", *TRANSFER, "import", "TR-1", str(path))  # fmt: skip


def test_a_signature_by_a_key_not_in_the_vault_is_refused(
    desk: Cli, built: dict[str, Path]
) -> None:
    outsider = make_holder(77, name="outsider")
    pubkey = outsider.root.derive(ACCOUNT_PATH).derive([0, 0]).key.sec().hex()
    path = tampered(desk, "outsider", inject_signature(unsigned(built), outsider))
    desk.refused(f"psbt input 0: partial_sig {pubkey}: signature from a key not in the vault",
                 "kh1", *TRANSFER, "import", "TR-1", str(path))  # fmt: skip
    desk.refused("transfer:TR-1: psbt: carries no signature", "kh1", *TRANSFER, "import", "TR-1",
                 str(built["kh1-key"]))  # fmt: skip


def test_a_refused_file_imports_none_of_the_files(desk: Cli, built: dict[str, Path]) -> None:
    good = signed_by(desk, "kh2", built["kh2-key"], desk.backup("cold-1"))
    bad = tampered(desk, "outsider", inject_signature(unsigned(built), make_holder(77)))
    desk.refused("signature from a key not in the vault", "kh1", *TRANSFER, "import", "TR-1",
                 str(good), str(bad))  # fmt: skip


def test_a_mainnet_legacy_address_is_refused_on_regtest(cli: Cli) -> None:
    key = KEYS["kx1"].root.derive("m/44h/0h/0h/0/0").key
    legacy = p2pkh(key).address(embit_network("bitcoin"))  # 1..., nobody's in these tests
    cli.vault("cold-1")
    cli.policy(RULES_NOW, whitelist(DESTINATION, legacy))
    cli.refused(f"transfer TR-1: destination: {legacy} is not an address of the regtest network",
                "kh1", *TRANSFER, "request", "TR-1", "--vault", "cold-1", "--to", legacy,
                "--amount", "0.1", "--fee", "2000", "--memo", "mainnet")  # fmt: skip


# -- the whole way ----------------------------------------------------------------------------
def test_request_approve_build_sign_import_finalize(desk: Cli, built: dict[str, Path]) -> None:
    assert sorted(built) == [f"{h}-key" for h in HANDLES[:5]]
    txid = PSBT.from_string(unsigned(built)).tx.txid().hex()
    backup = desk.backup("cold-1")
    signed = [signed_by(desk, h, built[f"{h}-key"], backup) for h in ("kh2", "kh4", "kh5")]
    assert "SIGNING" in desk.ok("kh1", *TRANSFER, "import", "TR-1", *map(str, signed[:2]))
    desk.refused("transfer:TR-1: signatures: 2 of the 3 signatures a spend needs", "kh1",
                 *TRANSFER, "finalize", "TR-1")  # fmt: skip
    desk.ok("kh1", *TRANSFER, "import", "TR-1", str(signed[2]))
    assert desk.ok("kh1", *TRANSFER, "finalize", "TR-1").strip() == (
        f"transfer TR-1: finalized and verified, txid {txid}")  # fmt: skip
    shown = desk.json(*TRANSFER, "show", "TR-1")
    assert (shown["status"], shown["approvers"]) == ("VERIFIED", ["admin", "risk1"])
    assert [e["kind"] for e in shown["events"]] == [
        "built", "signed", "signed", "signed", "finalized", "verified"]  # fmt: skip
    assert shown["events"][-1]["txid"] == txid
    [vault] = desk.json(CUSTODY, "vault", "list")
    assert (vault["coins"], vault["units"]) == (0, "0.00000000")  # the coin is spoken for
