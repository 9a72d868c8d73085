"""`reserve intake case` end to end: custody, two-approver orders, forfeiture, return, sales,
refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reserve.cli.app import run

from cli_session import CliSession

TXID = "cd" * 32
VAULT = "Assets:Reserve:SFDA:BTC:vault-astana-1"
CUSTODY = "Assets:Custody:Seized:2024-001:BTC"
COMMANDS = ["open", "list", "show", "seize", "propose", "approve", "execute"]


class Cli(CliSession):
    watched = (("intake", "case", "list"),)

    def __init__(self, db: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        super().__init__(db, capsys)
        self.folder = folder

    def state(self) -> tuple[Any, ...]:
        cases = [
            self.json("intake", "case", "show", c["number"]) for c in self.json(*self.watched[0])
        ]
        return (*super().state(), cases)

    def seize(self, case: str, amount: str, vout: str = "0") -> tuple[int, str, str]:
        return self(
            "intake9", "intake", "case", "seize", case, "--chain", "bitcoin", "--asset", "BTC",
            "--amount", amount, "--txid", TXID, "--vout", vout, "--from", "bc1qsrc",
            "--to", "bc1qdst", "--at", "2024-03-05T12:00:00+00:00", "--usd", "330000",
            "--kzt", "148500000",
        )  # fmt: skip

    def propose(self, frm: str, to: str, amount: str, *extra: str) -> str:
        doc = self.folder / "order.pdf"
        doc.write_bytes(b"%PDF order 12/2024")
        return self.ok(
            "legal7", "intake", "case", "propose", "2024-001", "--asset", "BTC", "--amount", amount,
            "--from", frm, "--to", to, "--reference", "12/2024", "--issued", "2024-06-01",
            "--document", str(doc), *extra,
        )  # fmt: skip

    def approved(self, frm: str, to: str, amount: str, *extra: str) -> str:
        order_id = self.propose(frm, to, amount, *extra).split(":")[0].split()[-1]
        for approver in ("legal8", "legal9"):
            self.ok(approver, "intake", "case", "approve", order_id)
        return order_id


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Staff, and case 2024-001 with 5 BTC seized."""
    c = Cli(sqlite_url, tmp_path, capsys)
    c.ok("setup", "users", "units", "add", "HQ", "--name", "Head office")
    c.ok(
        "setup", "users", "add", "root", "--name", "Root", "--unit", "HQ", "--role", "administrator"
    )
    c.ok(
        "root",
        "users",
        "add",
        "intake9",
        "--name",
        "Intake officer",
        "--unit",
        "HQ",
        "--role",
        "intake-officer",
    )
    for name in ("legal7", "legal8", "legal9"):
        c.ok(
            "root", "users", "add", name, "--name", name, "--unit", "HQ", "--role", "legal-officer"
        )
    for number in ("2024-001", "2024-002"):
        c.ok(
            "intake9", "intake", "case", "open", number, "--agency", "AFM",
            "--court", "Astana Court", "--on", "2024-03-01",
        )  # fmt: skip
    code, _out, err = c.seize("2024-001", "5")
    assert code == 0, err
    return c


def test_every_command_has_an_example() -> None:
    for command in COMMANDS:
        assert run(["intake", "case", command, "--help"]) == 0


def test_seized_units_stay_custodial(cli: Cli) -> None:
    holdings = cli.json("ledger", "holdings")
    assert [(h["book"], h["amount"]) for h in holdings] == [("CUSTODY", "5.00000000")]
    shown = cli.json("intake", "case", "show", "2024-001")
    assert shown["positions"] == [
        {
            "asset": "BTC",
            "units": {"SEIZED": "5.00000000"},
            "in_custody": "5.00000000",
            "sold": "0.00000000",
            "custody_balance": "5.00000000",
        }
    ]
    code, out, _err = cli.seize("2024-001", "5")
    assert code == 0
    assert "already recorded" in out


def test_forfeiture_transfer_and_partial_return(cli: Cli) -> None:
    forfeit = cli.approved("SEIZED", "FORFEITED", "3")
    assert "FORFEITED" in cli.ok("legal7", "intake", "case", "execute", forfeit)
    transfer = cli.approved("FORFEITED", "TRANSFERRED_TO_RESERVE", "3")
    cli.ok(
        "legal7", "intake", "case", "execute", transfer, "--fund", "SFDA", "--account", VAULT,
        "--usd", "210000.00", "--kzt", "94500000.00",
    )  # fmt: skip
    returned = cli.approved("SEIZED", "RETURNED", "1.5", "--recipient", "Victim One")
    cli.ok("legal7", "intake", "case", "execute", returned)
    holdings = {(h["book"], h["amount"]) for h in cli.json("ledger", "holdings")}
    assert holdings == {
        ("SFDA", "3.00000000"),
        ("RESERVE", "3.00000000"),
        ("CUSTODY", "0.50000000"),
    }
    lots = {lot["account"]: lot for lot in cli.json("ledger", "lots")}
    assert (lots[VAULT]["source"], lots[VAULT]["cost_usd"]) == ("forfeiture", "210000.00")
    assert lots[CUSTODY]["units"] == "0.50000000"
    shown = cli.json("intake", "case", "show", "2024-001")
    assert shown["positions"][0]["units"] == {
        "SEIZED": "0.50000000",
        "TRANSFERRED_TO_RESERVE": "3.00000000",
        "RETURNED": "1.50000000",
    }
    assert [o["status"] for o in shown["orders"]] == ["EXECUTED"] * 3
    assert shown["orders"][2]["recipients"] == ["Victim One"]
    assert cli.ok("root", "ledger", "verify").startswith("chain ok")
    assert cli.ok("root", "audit", "verify").startswith("audit ok")
    assert "2024-001" in cli.ok("root", "intake", "case", "show", "2024-001")


def test_bad_transitions_and_approvals_are_refused(cli: Cli, tmp_path: Path) -> None:
    doc = tmp_path / "order.pdf"
    doc.write_bytes(b"order")
    propose = [
        "intake", "case", "propose", "2024-001", "--asset", "BTC", "--reference", "1/2024",
        "--issued", "2024-06-01", "--document", str(doc),
    ]  # fmt: skip
    cli.refused(
        "SEIZED -> TRANSFERRED_TO_RESERVE is not allowed",
        "legal7", *propose, "--amount", "1", "--from", "SEIZED", "--to", "TRANSFERRED_TO_RESERVE",
    )  # fmt: skip
    cli.refused(
        "500000001 units are not SEIZED: the case holds 500000000 in that state",
        "legal7", *propose, "--amount", "5.00000001", "--from", "SEIZED", "--to", "FORFEITED",
    )  # fmt: skip
    order_id = cli.propose("SEIZED", "FORFEITED", "5").split(":")[0].split()[-1]
    cli.refused(
        "legal7 proposed the request and cannot approve it", "legal7", "intake", "case", "approve",
        order_id,
    )  # fmt: skip
    cli.ok("legal8", "intake", "case", "approve", order_id)
    cli.refused(
        "1 valid approval(s); rule legal-transition needs 2", "legal7", "intake", "case", "execute",
        order_id,
    )  # fmt: skip


def test_a_txid_belongs_to_one_case_and_its_units_to_that_case(cli: Cli) -> None:
    before = cli.state()
    code, _out, err = cli.seize("2024-002", "5")
    assert code == 2
    assert f"seizure {TXID}:0: txid: already recorded in case 2024-001" in err
    assert cli.state() == before
    cli.ok("root", "ledger", "open", "Assets:Custody:Seized:2024-002:BTC", "--on", "2024-03-01")
    path = cli.folder / "mix.json"
    path.write_text(
        json.dumps(
            {
                "idempotency_key": "mix:1",
                "date": "2024-03-06",
                "kind": "transfer",
                "postings": [
                    {"account": CUSTODY, "asset": "BTC", "amount": "-1"},
                    {
                        "account": "Assets:Custody:Seized:2024-002:BTC",
                        "asset": "BTC",
                        "amount": "1",
                    },
                ],
            }
        )
    )
    cli.refused(
        "mixes the custody accounts of cases 2024-001, 2024-002", "root", "ledger", "post",
        str(path),
    )  # fmt: skip


def test_an_interlocutory_sale_and_its_refusals(cli: Cli) -> None:
    sale = cli.approved("SEIZED", "INTERLOCUTORY_SOLD", "1")
    execute = ["intake", "case", "execute", sale, "--sale-ref", "AIX-T-1", "--price-usd"]
    cli.refused(
        "venue: 'NOWHERE' is not a licensed venue", "legal7", *execute, "64250.50", "--fee-usd",
        "120", "--venue", "NOWHERE",
    )  # fmt: skip
    cli.refused("--price-usd: 'lots' is not a decimal number", "legal7", *execute, "lots")
    done = cli.ok("legal7", *execute, "64250.50", "--fee-usd", "120", "--venue", "AIX")
    assert "INTERLOCUTORY_SOLD; entry" in done
    shown = cli.json("intake", "case", "show", "2024-001")
    assert shown["positions"][0]["units"] == {
        "SEIZED": "4.00000000",
        "INTERLOCUTORY_SOLD": "1.00000000",
    }
    assert (shown["positions"][0]["sold"], shown["proceeds_usd"]) == ("1.00000000", "64130.50")
    holdings = {(h["book"], h["asset"], h["amount"]) for h in cli.json("ledger", "holdings")}
    assert holdings == {("CUSTODY", "BTC", "4.00000000"), ("CUSTODY", "USD", "64130.50")}
    assert "sale proceeds in custody" in cli.ok("root", "intake", "case", "show", "2024-001")
    cli.ok("root", "ledger", "open", "Assets:Reserve:SFDA:Cash:USD", "--fund", "SFDA",
           "--on", "2024-03-01")  # fmt: skip
    path = cli.folder / "take.json"
    path.write_text(
        json.dumps(
            {
                "idempotency_key": "take:1",
                "date": datetime.now(UTC).date().isoformat(),  # the CLI's clock is the real one
                "kind": "transfer",
                "postings": [
                    {"account": CUSTODY.replace("BTC", "USD"), "asset": "USD", "amount": "-100"},
                    {"account": "Assets:Reserve:SFDA:Cash:USD", "asset": "USD", "amount": "100"},
                ],
            }
        )
    )
    cli.refused("moves 100.00 USD of case 2024-001 out of custody", "root", "ledger", "post",
                str(path))  # fmt: skip
    assert cli.ok("root", "ledger", "verify").startswith("chain ok")
