"""`reserve users` and `reserve audit` end to end: bootstrap, who may act, the audit chain."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from reserve.cli.app import run
from reserve.storage.tables import GOVERNANCE_APPEND_ONLY
from reserve.storage.triggers import drop_append_only_sql

from support import MINED_JSON

VAULT = "Assets:Reserve:SFDA:BTC:vault-astana-1"
COMMANDS = [
    ("users", "add"), ("users", "list"), ("users", "deactivate"), ("users", "activate"),
    ("users", "grant"), ("users", "revoke"), ("users", "units", "add"), ("users", "units", "list"),
    ("audit", "list"), ("audit", "verify"),
]  # fmt: skip


class Cli:
    def __init__(self, db: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db, self.folder, self.capsys = db, folder, capsys

    def __call__(self, actor: str, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = run(["--db", self.db, "--as", actor, *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *args: str) -> Any:
        code, out, err = self("reader", *args, "--json")
        assert code == 0, err
        return json.loads(out)

    def post(self, actor: str, document: object) -> tuple[int, str, str]:
        path = self.folder / "entries.json"
        path.write_text(json.dumps(document))
        return self(actor, "ledger", "post", str(path))

    def state(self) -> tuple[Any, ...]:
        return (
            self.json("users", "list"),
            self.json("users", "units", "list"),
            self.json("audit", "list"),
            self.json("ledger", "balances"),
            self.json("ledger", "accounts"),
        )


@pytest.fixture
def cli(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A database with accounts opened before anyone registered, then an administrator."""
    c = Cli(sqlite_url, tmp_path, capsys)
    for name, fund in ((VAULT, "SFDA"), ("Income:Mining:SFDA", "SFDA")):
        assert c("setup", "ledger", "open", name, "--fund", fund, "--on", "2024-01-01")[0] == 0
    assert c("setup", "users", "units", "add", "HQ", "--name", "Head office")[0] == 0
    assert c("setup", "users", "units", "add", "IC", "--name", "Investment committee")[0] == 0
    code, out, err = c(
        "setup", "users", "add", "root", "--name", "Root Admin", "--unit", "HQ",
        "--role", "administrator",
    )  # fmt: skip
    assert code == 0, err
    assert "user root: HQ; administrator; active" in out
    return c


def test_the_first_user_must_be_an_administrator(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = Cli(sqlite_url, tmp_path, capsys)
    assert c("setup", "users", "units", "add", "HQ", "--name", "Head office")[0] == 0
    code, _, err = c("setup", "users", "add", "intake9", "--name", "Intake officer", "--unit", "HQ",
                     "--role", "intake-officer")  # fmt: skip
    assert code == 2
    assert err.strip() == (
        "error: user intake9: roles: the first user must be an active administrator, who then "
        "registers everyone else"
    )
    assert c.json("users", "list") == []


def test_an_administrator_manages_users_and_every_change_is_audited(cli: Cli) -> None:
    code, _, err = cli("root", "users", "add", "ana", "--name", "Ana Bek", "--unit", "IC",
                       "--role", "committee-member", "--role", "risk-officer")  # fmt: skip
    assert code == 0, err
    assert cli("root", "users", "grant", "ana", "auditor")[0] == 0
    assert cli("root", "users", "revoke", "ana", "risk-officer")[0] == 0
    assert cli("root", "users", "deactivate", "ana")[0] == 0
    users = {u["username"]: u for u in cli.json("users", "list")}
    assert users["ana"] == {
        "username": "ana",
        "full_name": "Ana Bek",
        "unit": "IC",
        "roles": ["auditor", "committee-member"],
        "active": False,
    }
    log = cli.json("audit", "list")
    assert [(r["actor"], r["action"], r["subject"]) for r in log[-4:]] == [
        ("root", "users.add", "ana"),
        ("root", "users.grant", "ana"),
        ("root", "users.revoke", "ana"),
        ("root", "users.deactivate", "ana"),
    ]
    assert [r["seq"] for r in cli.json("audit", "list", "--limit", "2")] == [
        log[-2]["seq"],
        log[-1]["seq"],
    ]
    code, out, _ = cli("reader", "audit", "verify")
    assert code == 0
    assert out.strip() == f"audit ok: {len(log)} records, head {log[-1]['hash']}"


def test_a_user_who_is_not_an_administrator_cannot_add_users(cli: Cli) -> None:
    assert cli("root", "users", "add", "intake9", "--name", "Intake officer", "--unit", "HQ",
               "--role", "intake-officer")[0] == 0  # fmt: skip
    before = cli.state()
    code, _, err = cli("intake9", "users", "add", "auditor9", "--name", "Auditor", "--unit", "HQ",
                       "--role", "administrator")  # fmt: skip
    assert code == 2
    assert err.strip() == (
        "error: actor: --as: intake9 is not an administrator; only administrators manage users"
    )
    assert cli.state() == before


@pytest.mark.parametrize(
    ("actor", "reason"),
    [
        ("nobody", "'nobody' is not a registered user; act as an active user"),
        ("intake9", "intake9 is deactivated and can no longer act"),
    ],
)
def test_an_unknown_or_inactive_actor_exits_2_and_writes_nothing(
    cli: Cli, actor: str, reason: str
) -> None:
    assert cli("root", "users", "add", "intake9", "--name", "Intake officer", "--unit", "HQ",
               "--role", "intake-officer")[0] == 0  # fmt: skip
    assert cli("root", "users", "deactivate", "intake9")[0] == 0
    before = cli.state()
    attempts = [
        lambda: cli.post(actor, MINED_JSON),
        lambda: cli(actor, "ledger", "open", "Equity:New", "--on", "2024-01-01"),
        lambda: cli(actor, "ledger", "add-fund", "NEWF", "--name", "New fund"),
        lambda: cli(actor, "users", "units", "add", "OPS", "--name", "Operations"),
        lambda: cli(actor, "users", "grant", "root", "auditor"),
    ]
    for attempt in attempts:
        code, _, err = attempt()
        assert code == 2
        assert err.strip() == f"error: actor: --as: {reason}"
    assert cli.state() == before


def test_ledger_posts_are_audited(cli: Cli) -> None:
    assert cli("root", "users", "add", "intake9", "--name", "Intake officer", "--unit", "HQ",
               "--role", "intake-officer")[0] == 0  # fmt: skip
    code, _, err = cli.post("intake9", MINED_JSON)
    assert code == 0, err
    [record] = cli.json("audit", "list", "--limit", "1")
    chain = json.loads(cli("intake9", "ledger", "verify", "--json")[1])
    assert (record["actor"], record["action"], record["subject"]) == (
        "intake9",
        "ledger.post",
        "ledger",
    )
    assert record["details"] == {
        "first_seq": "1",
        "last_seq": "1",
        "entries": "1",
        "head": chain["head"],
    }
    assert cli.post("intake9", MINED_JSON)[0] == 0  # a replay posts nothing and records nothing
    assert cli.json("audit", "list", "--limit", "1") == [record]


def test_audit_verify_names_the_first_edited_record(cli: Cli, sqlite_url: str) -> None:
    assert cli("reader", "audit", "verify")[0] == 0
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        for statement in drop_append_only_sql("sqlite", GOVERNANCE_APPEND_ONLY):
            db.execute(statement)
        db.execute("""UPDATE audit_log SET details = '{"name":"Forged"}' WHERE seq = 2""")
    code, _, err = cli("reader", "audit", "verify")
    assert code == 1
    assert err.strip() == (
        "verify failed: audit record 2 does not verify: hash does not match the record's content"
    )


def test_the_audit_log_refuses_edits_through_the_database(cli: Cli, sqlite_url: str) -> None:
    with (
        sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db,
        pytest.raises(sqlite3.DatabaseError, match="append-only"),
    ):
        db.execute("DELETE FROM audit_log WHERE seq = 1")
    assert cli("reader", "audit", "verify")[0] == 0


def test_an_unknown_role_is_a_usage_error(cli: Cli) -> None:
    code, _, err = cli("root", "users", "grant", "root", "king")
    assert code == 2
    assert "'king' is not one of" in err


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help_with_an_example(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*command, "--help"]) == 0
    assert "Example" in capsys.readouterr().out


def test_the_tables_show_users_units_and_the_log(cli: Cli) -> None:
    code, out, _ = cli("reader", "users", "list")
    assert code == 0
    assert "Root Admin" in out
    assert "administrator" in out
    assert "Investment committee" in cli("reader", "users", "units", "list")[1]
    code, out, _ = cli("reader", "audit", "list", "--limit", "1")
    assert code == 0
    assert "users.add" in out
    assert "units.add" not in out
