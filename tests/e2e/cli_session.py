"""A CLI session for end-to-end tests: run `reserve` as a user and prove refusals write nothing."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from reserve.cli.app import run


class CliSession:
    """Runs commands on one database; ``reader`` runs the JSON listings that ``state`` compares."""

    reader: ClassVar[str] = "root"
    watched: ClassVar[
        tuple[tuple[str, ...], ...]
    ] = ()  # listings a refusal must leave as they were

    def __init__(self, db: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.db, self.capsys = db, capsys

    def __call__(self, actor: str, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = run(["--db", self.db, "--as", actor, *args])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def ok(self, actor: str, *args: str) -> str:
        code, out, err = self(actor, *args)
        assert code == 0, err
        return out

    def json(self, *args: str, actor: str | None = None) -> Any:
        return json.loads(self.ok(actor or self.reader, *args, "--json"))

    def refused(self, message: str, actor: str, *args: str) -> None:
        """The command exits 2 with one line naming the problem, and writes nothing."""
        before = self.state()
        code, _out, err = self(actor, *args)
        assert code == 2, err
        assert message in err, err
        assert self.state() == before

    def state(self) -> tuple[Any, ...]:
        common = (("audit", "list"), ("ledger", "balances"), ("ledger", "accounts"))
        return tuple(self.json(*listing) for listing in (*common, *self.watched))
