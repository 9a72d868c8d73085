"""`reserve intake purchase` end to end: proposal, committee quorum, fills, completion, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from reserve.cli.app import run

from cli_session import CliSession

COMMANDS = ["propose", "approve", "fill", "complete", "cancel", "list", "show"]
PURCHASE = ["intake", "purchase"]


class Cli(CliSession):
    reader = "admin"
    watched = ((*PURCHASE, "list"),)

    def fill(self, ref: str, quantity: str, *extra: str, on: str = "2025-03-03") -> Any:
        return self.json(
            *PURCHASE, "fill", "PO-2025-007", "--venue", "AIX", "--ref", ref, "--quantity",
            quantity, "--price-usd", "98000", "--fee-usd", "49.50", "--on", on, *extra,
            actor="intake1",
        )  # fmt: skip


@pytest.fixture
def cli(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """An administrator, an intake officer and a five-member committee."""
    c = Cli(sqlite_url, capsys)
    c.ok("setup", "users", "units", "add", "HQ", "--name", "Head office")
    c.ok("setup", "users", "add", "admin", "--name", "Admin", "--unit", "HQ", "--role",
         "administrator")  # fmt: skip
    c.ok("admin", "users", "add", "intake1", "--name", "Intake officer", "--unit", "HQ",
         "--role", "intake-officer")  # fmt: skip
    for n in range(1, 6):
        c.ok("admin", "users", "add", f"ic{n}", "--name", f"Member {n}", "--unit", "HQ",
             "--role", "committee-member")  # fmt: skip
    return c


def test_every_command_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        capsys.readouterr()
        assert run([*PURCHASE, command, "--help"]) == 0
        assert "Example:" in capsys.readouterr().out


def test_propose_approve_fill_complete(cli: Cli) -> None:
    proposed = cli.ok(
        "ic1", *PURCHASE, "propose", "PO-2025-007", "--source", "FX", "--amount-usd", "1000000",
        "--asset", "BTC", "--fund", "SFDA", "--from", "2025-03-01", "--to", "2025-03-30",
        "--memo", "FX into BTC",
    )  # fmt: skip
    assert "awaiting 3 committee approvals" in proposed
    for member in ("ic2", "ic3"):
        assert "PROPOSED" in cli.ok(member, *PURCHASE, "approve", "PO-2025-007")
    shown = cli.json(*PURCHASE, "approve", "PO-2025-007", actor="ic4")
    assert (shown["status"], shown["approvers"]) == ("APPROVED", ["ic2", "ic3", "ic4"])
    first = cli.fill("AIX-1", "5", "--kzt-per-usd", "505.10")
    assert (first["created"], first["cost_usd"]) == (True, "490049.5")
    assert not cli.fill("AIX-1", "5", "--kzt-per-usd", "505.10")["created"]
    cli.fill("AIX-2", "0.5", "--kzt-per-usd", "505.20", on="2025-03-04")
    shown = cli.json(*PURCHASE, "show", "PO-2025-007")
    assert (shown["spent_usd"], shown["remaining_usd"]) == ("539099", "460901")
    assert (shown["units_bought"], shown["average_price_usd"]) == ("5.50000000", "98000.00")
    lots = {lot["source_ref"]: lot for lot in cli.json("ledger", "lots")}
    lot = lots["PO-2025-007/AIX:AIX-1"]
    assert (lot["cost_usd"], lot["acquired_on"]) == ("490049.50", "2025-03-03")
    balances = {(b["account"], b["asset"]): b["amount"] for b in cli.json("ledger", "balances")}
    assert balances[("Equity:Conversion:FX:SFDA", "USD")] == "-539099.00"
    assert "COMPLETED" in cli.ok("ic1", *PURCHASE, "complete", "PO-2025-007", "--reason", "done")
    assert [o["status"] for o in cli.json(*PURCHASE, "list")] == ["COMPLETED"]
    assert "PO-2025-007" in cli.ok("admin", *PURCHASE, "list")
    assert "AIX-2" in cli.ok("admin", *PURCHASE, "show", "PO-2025-007")
    assert cli.ok("admin", "ledger", "verify").startswith("chain ok")
    assert cli.ok("admin", "audit", "verify").startswith("audit ok")


def test_refusals_exit_2_and_write_nothing(cli: Cli) -> None:
    propose = [
        *PURCHASE, "propose", "PO-2025-007", "--source", "FX", "--amount-usd", "1000000",
        "--asset", "BTC", "--fund", "SFDA", "--from", "2025-03-01", "--to", "2025-03-30",
    ]  # fmt: skip
    cli.refused("intake1 cannot act: proposing a purchase needs committee-member", "intake1",
                *propose)  # fmt: skip
    cli.ok("ic1", *propose)
    cli.refused("ic1 proposed the request and cannot approve it", "ic1", *PURCHASE, "approve",
                "PO-2025-007")  # fmt: skip
    fill = [
        *PURCHASE, "fill", "PO-2025-007", "--venue", "AIX", "--ref", "T-1", "--quantity", "1",
        "--price-usd", "98000", "--fee-usd", "0", "--on", "2025-03-03",
    ]  # fmt: skip
    cli.refused("is PROPOSED, not APPROVED: it takes no fills", "intake1", *fill,
                "--kzt-per-usd", "505")  # fmt: skip
    for member in ("ic2", "ic3", "ic4"):
        cli.ok(member, *PURCHASE, "approve", "PO-2025-007")
    cli.refused("the bundled USD/KZT series has no rate within 3 day(s) before 2025-03-03",
                "intake1", *fill)  # fmt: skip
    cli.refused("'1.000000001' has 9 decimals; the asset has 8", "intake1",
                *fill[:-7], "1.000000001", *fill[-6:])  # fmt: skip
    cli.ok("ic2", *PURCHASE, "cancel", "PO-2025-007", "--reason", "market halted")
    cli.refused("is CANCELLED, not APPROVED", "intake1", *fill, "--kzt-per-usd", "505")
