"""`reserve-signer` end to end, in process: it shows the spend, writes the signed PSBT, and on
bad input exits 2 with one line per problem and writes nothing."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from embit.psbt import PSBT
from embit.script import Script

from reserve.cli.signer import run
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
VAULT = make_vault(HOLDERS, 2, name="vault-astana-1")
PSBT_B64, APPROVED = vault_spend(VAULT)
FOREIGN = "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m"
SIGNED_NAME = f"spend.signed-{HOLDERS[0].fingerprint}.psbt"


class Signer:
    """A folder with a PSBT, a key file and a vault backup, and the signer run on it."""

    def __init__(self, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.folder, self.capsys = folder, capsys
        self.write("spend.psbt", PSBT_B64)
        self.write("key.json", HOLDERS[0].key_file())
        self.write("vault.json", vault_backup(VAULT))

    def write(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.write_text(text, encoding="utf-8")
        return path

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = run(["sign", *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def sign(
        self, *extra: str, psbt: str = "spend.psbt", key: str = "key.json"
    ) -> tuple[int, str, str]:
        f = self.folder
        return self(str(f / psbt), "--key", str(f / key), "--vault", str(f / "vault.json"), *extra)

    def files(self) -> set[str]:
        return {path.name for path in self.folder.iterdir()}

    def refused(self, message: str, *extra: str, **files: str) -> None:
        before = self.files()
        code, _out, err = self.sign("--yes", *extra, **files)
        assert code == 2, err
        assert message in err, err
        assert all(line.startswith("error: ") for line in err.splitlines()), err
        assert self.files() == before


@pytest.fixture
def signer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Signer:
    return Signer(tmp_path, capsys)


def test_it_shows_the_spend_and_writes_the_signed_psbt(signer: Signer) -> None:
    code, out, err = signer.sign("--yes")
    assert code == 0, err
    assert "vault vault-astana-1: signing as holder-0" in out
    assert APPROVED.inputs[0].outpoint in out
    assert f"{DESTINATION} │ 0.30000000 │ 30000000" in out
    change_address = VAULT.address(change=True, index=0)
    assert f"{change_address} (change index 0) │ 0.69998000 │ 69998000" in out
    assert "fee: 0.00002000 BTC (2000 sats)" in out
    written = signer.folder / SIGNED_NAME
    assert f"signed PSBT written to {written}" in out
    check = check_psbt(written.read_text(encoding="ascii"), VAULT, APPROVED)
    assert check.problems == ()
    assert len(check.signers[0]) == 1


def test_it_asks_first_and_a_no_writes_nothing(
    signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    code, out, err = signer.sign()
    assert code == 1
    assert "sign? [y/N]" in out
    assert "not signed; nothing written" in err
    assert SIGNED_NAME not in signer.files()
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert signer.sign()[0] == 0
    assert SIGNED_NAME in signer.files()


def test_json_and_a_chosen_output_file(signer: Signer) -> None:
    target = signer.folder / "out" / "mine.psbt"
    target.parent.mkdir()
    code, out, err = signer.sign("--yes", "--json", "--out", str(target))
    assert code == 0, err
    shown = json.loads(out)
    assert shown["payments"] == [{"address": DESTINATION, "btc": "0.30000000", "sats": 30000000}]
    assert shown["change"][0]["index"] == 0
    assert shown["fee"] == {"btc": "0.00002000", "sats": 2000}
    assert shown["out"] == str(target)
    assert target.exists()


def test_a_binary_psbt_file_is_accepted(signer: Signer) -> None:
    (signer.folder / "spend.psbt").write_bytes(base64.b64decode(PSBT_B64))
    assert signer.sign("--yes")[0] == 0


def test_change_to_a_foreign_script_is_refused_and_nothing_written(signer: Signer) -> None:
    def move(psbt: PSBT) -> None:
        psbt.outputs[1].script_pubkey = Script(address_script(FOREIGN))

    signer.write("spend.psbt", edit_psbt(PSBT_B64, move))
    signer.refused(
        f"error: psbt output 1: script: claims to be the vault's change but {FOREIGN} is not "
        "re-derivable from it"
    )


def test_a_key_not_in_the_vault_is_refused(signer: Signer) -> None:
    outsider = make_holder(9)
    signer.write("outsider.json", outsider.key_file())
    signer.refused(
        f"error: key: fingerprint: {outsider.fingerprint} is not one of the vault's keys",
        key="outsider.json",
    )


def test_a_bad_key_file_is_refused(signer: Signer) -> None:
    tprv = HOLDERS[0].tprv
    broken = tprv[:-5] + ("A" if tprv[-5] != "A" else "B") + tprv[-4:]
    signer.write("bad.json", json.dumps({"holder": "holder-0", "xprv": broken}))
    signer.refused(
        f"error: {signer.folder / 'bad.json'}: xprv: not an extended key", key="bad.json"
    )
    signer.write("bad.json", "not json")
    signer.refused("file: not JSON", key="bad.json")


def test_missing_files_are_refused(signer: Signer) -> None:
    signer.refused(f"error: {signer.folder / 'nope.psbt'}: file: does not exist", psbt="nope.psbt")


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["sign", "--help"]):
        assert run(args) == 0
        assert "Example" in capsys.readouterr().out


def test_the_signer_loads_no_database_network_or_builder_code() -> None:
    probe = (
        "import sys, reserve.cli.signer\n"
        "bad = ('reserve.storage', 'reserve.services', 'reserve.adapters', 'reserve.bootstrap',"
        " 'sqlalchemy', 'psycopg', 'bdkpython', 'httpx', 'requests')\n"
        "print(sorted(m for m in sys.modules if m.startswith(bad)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
