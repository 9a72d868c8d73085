"""Seizure cases and the assets seized in them, as recorded by the intake officer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

TXID: Final = re.compile(r"^[0-9a-fA-F]{64}$|^0x[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class SeizureCase:
    number: str
    agency: str
    court: str
    description: str
    opened_on: date


@dataclass(frozen=True)
class SeizedAsset:
    """One transfer into the state's custody: what, how much, from where, to where, when."""

    case: str
    chain: str
    asset: str
    amount: int
    txid: str
    vout: int | None
    source_address: str
    destination_address: str
    seized_at: datetime

    @property
    def outpoint(self) -> str:
        return self.txid if self.vout is None else f"{self.txid}:{self.vout}"
