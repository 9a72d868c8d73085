"""What every command gets from the global options: settings, the acting user, a reserve."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import typer

from reserve.bootstrap import Reserve, bootstrap
from reserve.config import Settings
from reserve.core.errors import InvalidInput


@dataclass
class CliState:
    settings: Settings
    actor: str
    _reserve: Reserve | None = field(default=None, repr=False)

    def reserve(self) -> Reserve:
        """Connect on first use, upgrading an older schema on the way."""
        if self._reserve is None:
            self._reserve = bootstrap(self.settings)
        return self._reserve

    def close(self) -> None:
        if self._reserve is not None:
            self._reserve.close()
            self._reserve = None


def state(ctx: typer.Context) -> CliState:
    found = ctx.find_root().obj
    assert isinstance(found, CliState)
    return found


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput.one(
            "option", option, f"{text!r} is not a date written YYYY-MM-DD"
        ) from None
