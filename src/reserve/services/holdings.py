"""What the reserve holds, by fund and together, with seized units kept apart.

Only ``Assets`` accounts count. An account in a fund's book counts for that fund and for the
consolidated reserve; an account in no fund (the custody accounts of seizure cases) is custodial:
shown, never added to the reserve.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from reserve.bootstrap import Reserve

CONSOLIDATED: Final = "RESERVE"
CUSTODIAL: Final = "CUSTODY"


@dataclass(frozen=True)
class HoldingLine:
    book: str  # a fund code, CONSOLIDATED, or CUSTODIAL
    asset: str
    amount: int
    decimals: int


def holdings_by_fund(reserve: Reserve) -> list[HoldingLine]:
    """Each fund's holdings per asset, the funds consolidated, then custodial holdings."""
    with reserve.reading() as uow:
        store = uow.ledger
        assets, accounts = store.assets(), store.accounts()
        found = store.current_balances(account_prefix="Assets")
    books: dict[tuple[str, str], int] = defaultdict(int)
    for (name, asset), amount in found.items():
        fund = accounts[name].fund
        if fund is None:
            books[(CUSTODIAL, asset)] += amount
        else:
            books[(fund, asset)] += amount
            books[(CONSOLIDATED, asset)] += amount
    order = {CONSOLIDATED: 1, CUSTODIAL: 2}
    keys = sorted(books, key=lambda key: (order.get(key[0], 0), key[0], key[1]))
    return [
        HoldingLine(book, asset, books[(book, asset)], assets[asset].decimals)
        for book, asset in keys
        if books[(book, asset)]
    ]
