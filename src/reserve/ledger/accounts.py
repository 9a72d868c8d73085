"""Hierarchical accounts such as ``Assets:Reserve:SFDA:BTC:vault-astana-1``.

The first segment is the account's type. Only ``Assets`` accounts hold lots: their units must
always be traceable to a lot and can never go below zero. Every other account (equity, income,
expenses, liabilities) is the other side of those movements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

ROOTS: Final = ("Assets", "Liabilities", "Equity", "Income", "Expenses")
SEGMENT: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
MAX_NAME: Final = 200
NETWORK_FEES: Final = "Expenses:Fees:Network"


@dataclass(frozen=True)
class Account:
    name: str
    fund: str | None
    opened_on: date

    @property
    def root(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def holds_lots(self) -> bool:
        return self.root == "Assets"


def name_problems(name: str) -> list[str]:
    """Reasons why ``name`` is not a valid account name (empty when it is)."""
    if len(name) > MAX_NAME:
        return [f"is longer than {MAX_NAME} characters"]
    segments = name.split(":")
    if segments[0] not in ROOTS:
        return [f"{name!r} must start with one of {', '.join(ROOTS)}"]
    if len(segments) < 2:
        return [f"{name!r} needs at least one segment below {segments[0]}"]
    bad = [s for s in segments[1:] if not SEGMENT.match(s)]
    if bad:
        return [f"segment {bad[0]!r} may hold only letters, digits and '-'"]
    return []


def is_under(name: str, prefix: str) -> bool:
    """True when ``name`` is ``prefix`` or one of its descendants (whole segments only)."""
    return name == prefix or name.startswith(prefix + ":")
