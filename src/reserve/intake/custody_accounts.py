"""The accounts a seizure case keeps its units in: one set per case, never shared.

A case's custody account and its counterpart are named after the case, so a posting can be
checked against the case it claims to serve, and no fund account can ever hold seized units.
"""

from __future__ import annotations

import re
from typing import Final

CASE_NUMBER: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$")
CUSTODY_ROOT: Final = "Assets:Custody:Seized"


def custody_account(case: str, asset: str, wallet: str | None = None) -> str:
    """``Assets:Custody:Seized:<case>:<asset>[-<wallet>]``: where the case's units sit."""
    return f"{CUSTODY_ROOT}:{case}:{asset}" + (f"-{wallet}" if wallet else "")


def custody_equity(case: str) -> str:
    """The counterpart of the case's units: the state holds them for the case, not as its own."""
    return f"Equity:Custody:{case}"


def case_of(account: str) -> str | None:
    """The case whose custody account this is, or None for any other account."""
    parts = account.split(":")
    if account.startswith(CUSTODY_ROOT + ":") and len(parts) >= 5:
        return parts[3]
    if account.startswith("Equity:Custody:") and len(parts) == 3:
        return parts[2]
    return None
