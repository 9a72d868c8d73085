"""Assets and funds: what the reserve counts, in which unit, and in whose book.

Each asset declares its decimals: an amount is an ``int`` of base units (satoshi for BTC with
8 decimals, wei for ETH with 18). Crypto assets are held in lots that remember where every unit
came from; fiat currencies (USD, KZT) are plain balances. Funds are separate books inside one
ledger: an account belongs to at most one fund, and custody accounts for seized assets belong to
none, so they can never be counted as a fund's holdings. The standard assets (BTC 8, ETH 18,
BNB 18, USDT 6, USDC 6, SOL 9, TRX 6, KZTE 6, USD 2, KZT 2) and funds (SFDA, ALEM) are seeded by
the first migration; more are registered with ``reserve ledger asset add``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

ASSET_CODE: Final = re.compile(r"^[A-Z][A-Z0-9]{1,11}$")
FUND_CODE: Final = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")
MAX_DECIMALS: Final = 30


@dataclass(frozen=True)
class Asset:
    code: str
    decimals: int
    name: str
    tracks_lots: bool = True

    @property
    def base_unit(self) -> int:
        return int(10**self.decimals)


@dataclass(frozen=True)
class Fund:
    code: str
    name: str


def asset_problems(asset: Asset) -> list[tuple[str, str]]:
    """(field, reason) for every way the asset definition is malformed."""
    problems: list[tuple[str, str]] = []
    if not ASSET_CODE.match(asset.code):
        problems.append(("code", f"{asset.code!r} must be 2-12 capitals and digits, e.g. BTC"))
    if not 0 <= asset.decimals <= MAX_DECIMALS:
        problems.append(("decimals", f"{asset.decimals} is outside 0..{MAX_DECIMALS}"))
    if not asset.name.strip():
        problems.append(("name", "must not be empty"))
    return problems


def fund_problems(fund: Fund) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not FUND_CODE.match(fund.code):
        problems.append(("code", f"{fund.code!r} must be 2-16 capitals and digits, e.g. SFDA"))
    if not fund.name.strip():
        problems.append(("name", "must not be empty"))
    return problems
