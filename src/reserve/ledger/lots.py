"""The lot book: which lots each asset account holds right now, and how many units of each.

Booking reads it to relieve lots FIFO or by name, and verification rebuilds it from the journal.
FIFO means oldest acquisition date first and, between lots acquired the same day, the one that
arrived in the account first (the order beancount's FIFO booking uses too). Arrival is a number
derived from the journal: ``seq * ARRIVAL_STRIDE + leg position`` of the leg that brought the lot
into the account after it last held none.
The book is loaded lazily, one (account, asset) at a time, so posting an entry costs what that
entry touches, never the length of the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from reserve.ledger.model import Lot

Holding = tuple[str, str]  # (account, lot_id)
ARRIVAL_STRIDE: Final = 1_000_000


def arrival_of(seq: int, position: int) -> int:
    return seq * ARRIVAL_STRIDE + position


class LotBook:
    """Open lots per asset account, with the units held, and every lot's metadata."""

    def __init__(self) -> None:
        self._lots: dict[str, Lot] = {}
        self._held: dict[tuple[str, str], dict[str, int]] = {}
        self._arrival: dict[Holding, int] = {}
        self.changed: set[Holding] = set()

    # -- loading ---------------------------------------------------------------------------
    def is_loaded(self, account: str, asset: str) -> bool:
        return (account, asset) in self._held

    def load(self, account: str, asset: str, holdings: Iterable[tuple[Lot, int, int]]) -> None:
        """Install what storage says ``account`` holds of ``asset``: (lot, units, arrival)."""
        held = self._held.setdefault((account, asset), {})
        for lot, units, arrival in sorted(holdings, key=lambda h: h[2]):
            self._lots.setdefault(lot.lot_id, lot)
            held[lot.lot_id] = units
            self._arrival[(account, lot.lot_id)] = arrival

    def start_empty(self, account: str, asset: str) -> None:
        self._held.setdefault((account, asset), {})

    def remember(self, lot: Lot) -> None:
        self._lots.setdefault(lot.lot_id, lot)

    # -- reading ---------------------------------------------------------------------------
    def lot(self, lot_id: str) -> Lot | None:
        return self._lots.get(lot_id)

    def held(self, account: str, asset: str, lot_id: str) -> int:
        return self._held.get((account, asset), {}).get(lot_id, 0)

    def fifo(self, account: str, asset: str) -> list[tuple[Lot, int]]:
        """The open lots of ``account`` in ``asset``: oldest acquisition, then earliest arrival."""
        held = self._held.get((account, asset), {})
        lots = [(self._lots[lot_id], units) for lot_id, units in held.items() if units > 0]
        lots.sort(key=lambda pair: pair[0].acquired_on)  # stable: arrival order within a day
        return lots

    def holdings(self) -> dict[Holding, tuple[int, int]]:
        """Every (account, lot) with units: (units, arrival), to compare with storage."""
        return {
            (account, lot_id): (units, self._arrival[(account, lot_id)])
            for (account, _asset), held in self._held.items()
            for lot_id, units in held.items()
            if units != 0
        }

    def current(self, holding: Holding) -> tuple[Lot, int, int]:
        """(lot, units held, arrival) of one holding; units 0 once it has emptied."""
        account, lot_id = holding
        lot = self._lots[lot_id]
        return lot, self.held(account, lot.asset, lot_id), self._arrival.get(holding, 0)

    # -- changing --------------------------------------------------------------------------
    def apply(self, account: str, asset: str, lot_id: str, delta: int, *, arrival: int) -> None:
        held = self._held.setdefault((account, asset), {})
        before = held.get(lot_id, 0)
        units = before + delta
        if before == 0:
            self._arrival[(account, lot_id)] = arrival
        if units:
            held[lot_id] = units
        else:
            held.pop(lot_id, None)
            self._arrival.pop((account, lot_id), None)
        self.changed.add((account, lot_id))
