"""`reserve intake mining` end to end: register, monthly output, sales, the report, refusals."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from reserve.cli.app import run

from cli_session import CliSession

COMMANDS = ["register", "operations", "output", "sell", "report", "rules"]
POLICY = Path(__file__).resolve().parents[2] / "config" / "intake.toml"
FOR_SALE = "Assets:Reserve:SFDA:BTC:Mining:EKB-1:ForSale"


def txid(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


class Cli(CliSession):
    watched = (("intake", "mining", "operations"), ("intake", "mining", "report"))

    def output(self, period: str, amount: str, *extra: str) -> str:
        return self.ok(
            "intake1", "intake", "mining", "output", "EKB-1", period, "--amount", amount,
            "--payout-txid", txid(period), "--payout-txid", txid(f"{period}/2"),
            "--energy-mwh", "1200", "--cost-kzt", "30000000", *extra,
        )  # fmt: skip

    def sell(self, period: str, ref: str, quantity: str, *extra: str) -> list[str]:
        return [
            "intake", "mining", "sell", "EKB-1", period, "--ref", ref, "--quantity", quantity,
            "--price-usd", "64123.45", "--fee-usd", "32.06", *extra,
        ]  # fmt: skip


@pytest.fixture
def cli(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Staff and operation EKB-1."""
    c = Cli(sqlite_url, capsys)
    c.ok("setup", "users", "units", "add", "HQ", "--name", "Head office")
    c.ok(
        "setup", "users", "add", "root", "--name", "Root", "--unit", "HQ", "--role", "administrator"
    )
    c.ok(
        "root", "users", "add", "intake1", "--name", "Intake One", "--unit", "HQ",
        "--role", "intake-officer",
    )  # fmt: skip
    out = c.ok(
        "intake1", "intake", "mining", "register", "EKB-1", "--site", "Ekibastuz",
        "--operator", "State Energy Holding", "--tariff-kzt-per-mwh", "25000",
    )  # fmt: skip
    assert "operation EKB-1 registered" in out
    return c


def test_every_command_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in COMMANDS:
        assert run(["intake", "mining", command, "--help"]) == 0
        assert "Example:" in capsys.readouterr().out, command


def test_output_sales_and_the_report(cli: Cli) -> None:
    assert cli.json("intake", "mining", "operations") == [
        {
            "code": "EKB-1",
            "site": "Ekibastuz",
            "operator": "State Energy Holding",
            "tariff_kzt_per_mwh": "25000",
            "fund": "SFDA",
            "asset": "BTC",
        }
    ]
    june = cli.output("2024-06", "3.25", "--kzt-per-usd", "470.25", "--json")
    assert json.loads(june) | {"entry_seq": 0} == {
        "operation": "EKB-1",
        "period": "2024-06",
        "asset": "BTC",
        "to_sell": "1.62500000",
        "to_retain": "1.62500000",
        "rule_from": "2024-01-01",
        "sell_share": "0.5",
        "entry_seq": 0,
        "created": True,
    }
    assert "(already recorded)" in cli.output("2024-06", "3.25")  # the rate used stands
    march = cli.output("2025-03", "4", "--kzt-per-usd", "505.10")
    assert "3.00000000 BTC for sale, 1.00000000 retained" in march
    sold = json.loads(
        cli.ok("intake1", *cli.sell("2024-06", "T-1", "1", "--venue", "AIX", "--on", "2024-07-03"),
               "--json")
    )  # fmt: skip
    assert (sold["gross_usd"], sold["proceeds_usd"], sold["created"]) == (
        "64123.45", "64091.39", True,
    )  # fmt: skip
    assert sold["realised_usd"] == str(
        (Decimal(sold["proceeds_usd"]) - Decimal(sold["cost_usd"])).quantize(Decimal("0.01"))
    )
    cli.ok("intake1", *cli.sell("2025-03", "T-2", "3", "--venue", "INTEBIX", "--on", "2025-04-02"))
    report = cli.json("intake", "mining", "report")
    assert [(r["period"], r["required"], r["sold"], r["shortfall"], r["flag"]) for r in report] == [
        ("2024-06", "1.62500000", "1.00000000", "0.62500000", "SHORTFALL"),
        ("2025-03", "3.00000000", "3.00000000", "0.00000000", "OK"),
    ]
    assert report[0]["proceeds_usd"] == "64091.39"
    table = cli.ok("root", "intake", "mining", "report", "--from", "2024-01", "--to", "2024-12")
    assert "SHORTFALL" in table
    assert "2025-03" not in table
    lots = {lot["lot"]: lot for lot in cli.json("ledger", "lots")}
    assert lots["mining:EKB-1:2024-06:sell"]["units"] == "0.62500000"
    assert lots["mining:EKB-1:2024-06:retain"]["acquired_on"] == "2024-06-30"
    assert cli.ok("root", "ledger", "verify").startswith("chain ok")
    assert cli.ok("root", "audit", "verify").startswith("audit ok")


def test_rules_show_the_policy_in_force(cli: Cli) -> None:
    rules = cli.json("intake", "mining", "rules")
    assert rules["sha256"] == hashlib.sha256(POLICY.read_bytes()).hexdigest()
    assert [(r["effective_from"], r["sell_share"]) for r in rules["sale_rules"]] == [
        ("2024-01-01", "0.5"),
        ("2025-01-01", "0.75"),
    ]
    assert [v["code"] for v in rules["venues"]] == ["AIX", "ATAIX", "INTEBIX"]
    shown = cli.ok("root", "intake", "mining", "rules")
    assert rules["sha256"] in shown
    assert "Astana International Exchange" in shown


def test_bad_input_is_refused_with_one_line_per_problem(cli: Cli) -> None:
    cli.output("2024-06", "3.25", "--kzt-per-usd", "470.25")
    cli.refused(
        "error: sale BINANCE T-9: venue: 'BINANCE' is not a licensed venue (AIX, ATAIX, INTEBIX)",
        "intake1", *cli.sell("2024-06", "T-9", "1", "--venue", "BINANCE", "--on", "2024-07-03"),
    )  # fmt: skip
    cli.refused(
        "quantity: only 1.62500000 BTC of the period's for-sale units are left",
        "intake1", *cli.sell("2024-06", "T-9", "2", "--venue", "AIX", "--on", "2024-07-03"),
    )  # fmt: skip
    cli.refused(
        "kzt_per_usd: the bundled USD/KZT series has no rate within 3 day(s) before 2024-07-31",
        "intake1", "intake", "mining", "output", "EKB-1", "2024-07", "--amount", "3",
        "--payout-txid", txid("2024-07"), "--energy-mwh", "1", "--cost-kzt", "1",
    )  # fmt: skip
    cli.refused(
        "'NOPE' is not a registered mining operation",
        "intake1", "intake", "mining", "output", "NOPE", "2024-07", "--amount", "3",
        "--payout-txid", txid("2024-07"), "--energy-mwh", "1", "--cost-kzt", "1",
    )  # fmt: skip
    cli.refused(
        "report: from: '2024' is not a month written YYYY-MM",
        "root", "intake", "mining", "report", "--from", "2024",
    )  # fmt: skip
    code, _out, err = cli(
        "intake1", *cli.sell("2024-06", "T-9", "x", "--venue", "NOPE", "--on", "2024-07-03")
    )
    assert code == 2
    assert "--quantity" in err
