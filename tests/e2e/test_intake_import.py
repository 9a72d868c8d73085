"""`reserve intake import`: whole files or nothing, named rows, re-imports that change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reserve.cli.app import run

TXID = "4f1d0c5a9e2b7d36c1a8f0e4b2d9c7a65e3f1b0d8c6a4e2f0b9d7c5a3e1f0b2d"
CASES = """number,agency,court,description,opened_on
2024-001,AFM,Astana City Court,Darknet market,2024-03-01
2024-002,AFM,Almaty City Court,Exchange fraud,2024-03-02
"""
SEIZURES_HEADER = (
    "case,chain,asset,amount,txid,vout,source_address,destination_address,seized_at,"
    "fair_value_usd,fair_value_kzt\n"
)


def seizure(case: str, vout: int, amount: str = "1.5") -> str:
    return (
        f"{case},bitcoin,BTC,{amount},{TXID},{vout},bc1qsuspect,bc1qstate,"
        f"2024-03-05T09:30:00Z,100000,45000000\n"
    )


class Cli:
    def __init__(self, db: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db, self.folder, self.capsys = db, folder, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = run(["--db", self.db, "--as", "intake1", *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def load(self, name: str, text: str, kind: str) -> tuple[int, str, str]:
        path = self.folder / name
        path.write_text(text)
        return self("intake", "import", str(path), "--kind", kind)

    def state(self) -> Any:
        code, out, _ = self("ledger", "balances", "--json")
        assert code == 0
        listed = self("intake", "case", "list", "--json")[1]
        audit = self("audit", "list", "--json")[1]
        return json.loads(out), json.loads(listed), len(json.loads(audit))


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(sqlite_url, tmp_path, capsys)


def test_a_case_register_and_its_seizures_import_once(cli: Cli) -> None:
    code, out, _ = cli.load("cases.csv", CASES, "cases")
    assert (code, out.strip()) == (0, "cases.csv: 2 cases rows, 2 new")
    text = (
        SEIZURES_HEADER + seizure("2024-001", 0) + seizure("2024-001", 1) + seizure("2024-002", 2)
    )
    assert cli.load("seizures.csv", text, "seizures")[0] == 0
    before = cli.state()
    custody = {b["account"]: b["amount"] for b in before[0] if b["account"].startswith("Assets")}
    assert custody == {
        "Assets:Custody:Seized:2024-001:BTC": "3.00000000",
        "Assets:Custody:Seized:2024-002:BTC": "1.50000000",
    }
    code, out, _ = cli.load("seizures.csv", text, "seizures")
    assert (code, out.strip()) == (0, "seizures.csv: 3 seizures rows, 0 new")
    assert cli.load("cases.csv", CASES, "cases")[0] == 0
    assert cli.state() == before  # nothing new: no entry, no case, no audit record


@pytest.mark.parametrize(
    ("middle", "message"),
    [
        (
            seizure("2024-001", 1, amount="1.123456789"),
            "seizures.csv row 3: amount: '1.123456789' has 9 decimals",
        ),
        (seizure("2099-999", 1), "seizures.csv row 3: case: '2099-999' is not an open case"),
        (seizure("2024-002", 0), "seizures.csv row 3: txid: already recorded in case 2024-001"),
    ],
    ids=["bad-amount", "unknown-case", "txid-in-two-cases"],
)
def test_a_broken_row_in_the_middle_writes_nothing(cli: Cli, middle: str, message: str) -> None:
    assert cli.load("cases.csv", CASES, "cases")[0] == 0
    before = cli.state()
    text = SEIZURES_HEADER + seizure("2024-001", 0) + middle + seizure("2024-002", 2)
    code, _, err = cli.load("seizures.csv", text, "seizures")
    assert code == 2
    assert message in err
    assert cli.state() == before


def test_json_files_and_unsupported_kinds(cli: Cli) -> None:
    rows = [
        {
            "number": "2024-003",
            "agency": "AFM",
            "court": "Shymkent Court",
            "opened_on": "2024-04-01",
        }
    ]
    code, out, _ = cli.load("cases.json", json.dumps(rows), "cases")
    assert (code, out.strip()) == (0, "cases.json: 1 cases rows, 1 new")
    code, _, err = cli.load("mining.csv", "operation,period\n", "mining")
    assert code == 2
    assert "the file holds no row" in err
    code, _, err = cli.load("broken.json", "[{", "cases")
    assert code == 2
    assert "file broken.json: line 1: malformed JSON" in err
