"""The `reserve` command end to end: JSON in, tables and JSON out, exit codes, no half writes."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from reserve.cli.app import run
from reserve.storage.tables import APPEND_ONLY
from reserve.storage.triggers import drop_append_only_sql

from support import MINED_JSON

VAULT = "Assets:Reserve:SFDA:BTC:vault-astana-1"
CUSTODY = "Assets:Custody:Seized:2024-001:BTC"

SEIZURE: dict[str, Any] = {
    "idempotency_key": "seizure:2024-001:1",
    "date": "2024-03-05",
    "kind": "seizure",
    "memo": "Seized under order 12/2024",
    "refs": {"case": "2024-001"},
    "postings": [
        {
            "account": CUSTODY,
            "asset": "BTC",
            "amount": "12.5",
            "lot": {
                "source": "seizure",
                "ref": "2024-001",
                "cost_usd": "812500.00",
                "cost_kzt": "365625000.00",
            },
        },
        {"account": "Equity:Custody:2024-001", "asset": "BTC", "amount": "-12.5"},
    ],
}


class Cli:
    def __init__(self, db: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db, self.folder, self.capsys = db, folder, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = run(["--db", self.db, "--as", "clerk", *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def post(self, document: object, name: str = "entries.json") -> tuple[int, str, str]:
        path = self.folder / name
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        return self("ledger", "post", str(path))

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    def state(self) -> tuple[Any, Any]:
        return self.json("ledger", "balances"), self.json("ledger", "lots")


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    c = Cli(sqlite_url, tmp_path, capsys)
    for name, fund in (
        (CUSTODY, None),
        ("Equity:Custody:2024-001", None),
        (VAULT, "SFDA"),
        ("Income:Mining:SFDA", "SFDA"),
    ):
        args = ["ledger", "open", name, "--on", "2024-01-01"] + (["--fund", fund] if fund else [])
        assert c(*args)[0] == 0
    return c


def test_post_balances_lots_verify_and_export(cli: Cli, tmp_path: Path) -> None:
    code, out, _ = cli.post(SEIZURE)
    assert code == 0
    assert "seizure:2024-001:1" in out
    balances = {(b["account"], b["asset"]): b["amount"] for b in cli.json("ledger", "balances")}
    assert balances == {
        (CUSTODY, "BTC"): "12.50000000",
        ("Equity:Custody:2024-001", "BTC"): "-12.50000000",
    }
    [lot] = cli.json("ledger", "lots", "--account", "Assets:Custody")
    assert (lot["units"], lot["source"], lot["cost_usd"]) == ("12.50000000", "seizure", "812500.00")
    assert cli.json("ledger", "balances", "--fund", "SFDA") == []
    assert cli.json("ledger", "balances", "--as-of", "2024-03-04") == []
    code, out, err = cli("ledger", "verify")
    assert code == 0
    assert out.startswith("chain ok: 1 entries, head ")
    assert err == ""  # the progress bar leaves nothing behind off a terminal
    target = tmp_path / "ledger.csv"
    assert cli("ledger", "export", "--format", "csv", "-o", str(target))[0] == 0
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["account"], r["amount"], r["booking"]) for r in rows] == [
        (CUSTODY, "12.50000000", "open"),
        ("Equity:Custody:2024-001", "-12.50000000", "matched"),
    ]


def test_replaying_a_file_changes_nothing(cli: Cli) -> None:
    assert cli.post([SEIZURE])[0] == 0
    before = cli.state()
    code, out, _ = cli.post([SEIZURE])
    assert code == 0
    assert "replay" in out
    assert cli.state() == before


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    entry = json.loads(json.dumps(SEIZURE))
    target = entry
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return entry


BAD_INPUTS = [
    (
        "unbalanced",
        _with(["postings", 1, "amount"], "-12.4"),
        "entry 2 ('seizure:2024-001:1'): postings: BTC does not balance",
    ),
    (
        "unknown asset",
        _with(["postings", 1, "asset"], "DOGE"),
        "entry 2 ('seizure:2024-001:1'): postings[1].asset: unknown asset 'DOGE'",
    ),
    (
        "unknown account",
        _with(["postings", 1, "account"], "Equity:Nobody"),
        "postings[1].account: unknown account 'Equity:Nobody'",
    ),
    (
        "too many decimals",
        _with(["postings", 0, "amount"], "12.500000001"),
        "postings[0].amount: '12.500000001' has 9 decimals; the asset has 8",
    ),
    (
        "negative lot",
        _with(["postings", 0, "lot", "cost_usd"], "-1"),
        "postings[0].lot.cost_usd: a cost basis cannot be negative",
    ),
    (
        "float amount",
        _with(["postings", 0, "amount"], 12.5),
        'postings[0].amount: must be a decimal string such as "1.5"',
    ),
    ("typo field", _with(["postings", 0, "amout"], "1"), "postings[0].amout: unknown field"),
    ("malformed JSON", '[{"idempotency_key": "x",', "file"),
]


@pytest.mark.parametrize(
    ("case", "document", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    cli: Cli, case: str, document: Any, message: str
) -> None:
    good = dict(SEIZURE, idempotency_key="first")
    assert cli.post([good])[0] == 0
    before = cli.state()
    batch = (
        [dict(SEIZURE, idempotency_key="ok-before"), document]
        if not isinstance(document, str)
        else document
    )
    code, _, err = cli.post(batch)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0]
    assert cli.state() == before


def test_relieving_more_than_a_lot_holds(cli: Cli) -> None:
    assert cli.post(SEIZURE)[0] == 0
    [lot] = cli.json("ledger", "lots")
    before = cli.state()
    too_much = {
        "idempotency_key": "return:2024-001",
        "date": "2024-04-01",
        "kind": "return",
        "postings": [
            {"account": CUSTODY, "asset": "BTC", "amount": "-12.50000001", "lot": lot["lot"]},
            {"account": "Equity:Custody:2024-001", "asset": "BTC", "amount": "12.50000001"},
        ],
    }
    code, _, err = cli.post(too_much)
    assert code == 2
    assert err.strip() == (
        "error: entry 1 ('return:2024-001'): postings[0].amount: relieves 12.50000001 BTC "
        f"from lot {lot['lot']}, which holds 12.50000000 BTC in {CUSTODY}"
    )
    assert cli.state() == before


def test_reused_key_with_new_content(cli: Cli) -> None:
    assert cli.post(SEIZURE)[0] == 0
    before = cli.state()
    code, _, err = cli.post(_with(["memo"], "edited"))
    assert code == 2
    assert err.strip() == (
        "error: entry 1 ('seizure:2024-001:1'): idempotency_key: "
        "already used by entry 1 with different content"
    )
    assert cli.state() == before


def test_verify_names_the_first_bad_entry(cli: Cli, sqlite_url: str) -> None:
    assert cli.post([SEIZURE, _with(["idempotency_key"], "second")])[0] == 0
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        for statement in drop_append_only_sql("sqlite", APPEND_ONLY):
            db.execute(statement)
        db.execute("UPDATE entries SET memo = 'forged' WHERE seq = 2")
    code, _, err = cli("ledger", "verify")
    assert code == 1
    assert "entry 2 does not verify: hash does not match" in err


def test_reverse_command_and_bad_dates(cli: Cli) -> None:
    assert cli.post(SEIZURE)[0] == 0
    code, out, _ = cli(
        "ledger", "reverse", "1", "--key", "fix:1", "--memo", "wrong case", "--on", "2024-03-06"
    )
    assert code == 0
    assert "entry 2 reverses entry 1" in out
    assert cli.json("ledger", "balances") == []
    code, _, err = cli("ledger", "balances", "--as-of", "yesterday")
    assert code == 2
    assert "--as-of: 'yesterday' is not a date" in err


def test_registering_an_asset_and_an_account_with_a_bad_name(cli: Cli) -> None:
    assert cli("ledger", "add-asset", "DOT", "--decimals", "10", "--name", "Polkadot")[0] == 0
    assert {a["code"] for a in cli.json("ledger", "assets")} >= {"BTC", "ETH", "KZTE", "DOT"}
    code, _, err = cli("ledger", "open", "Assets:bad name")
    assert code == 2
    assert "segment 'bad name' may hold only letters, digits and '-'" in err


def test_holdings_keep_seized_units_out_of_the_reserve(cli: Cli) -> None:
    assert cli.post(SEIZURE)[0] == 0
    assert cli.post(MINED_JSON)[0] == 0
    books = {(h["book"], h["asset"]): h["amount"] for h in cli.json("ledger", "holdings")}
    assert books == {
        ("SFDA", "BTC"): "0.75000000",
        ("RESERVE", "BTC"): "0.75000000",
        ("CUSTODY", "BTC"): "12.50000000",
    }


def test_demo_runs_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", "--workdir", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    for shown in ("Seizure cases", "Mining periods", "SHORTFALL", "Purchase orders", "COMPLETED"):
        assert shown in out
    assert re.search(r"ledger chain ok: \d+ entries", out)
    assert re.search(r"audit log ok: \d+ records", out)
    database = f"sqlite:///{tmp_path / 'demo' / 'reserve.db'}"
    assert run(["--db", database, "ledger", "verify"]) == 0
    assert run(["--db", database, "audit", "verify"]) == 0
    capsys.readouterr()
    assert run(["--db", database, "ledger", "balances", "--fund", "SFDA", "--json"]) == 0
    sfda = json.loads(capsys.readouterr().out)
    assert all(not row["account"].startswith("Assets:Custody") for row in sfda)


def test_account_names_print_as_written(cli: Cli) -> None:
    code, out, _ = cli("ledger", "open", "Assets:X:Y", "--on", "2024-01-01")
    assert code == 0
    assert "open: Assets:X:Y" in out  # Rich would turn ':X:' into an emoji
