"""What the demo story reads of the market: bundled closes and USD/KZT rates of a day.

Crypto closes come from the bundled histories. A USD/KZT rate comes from the bundled official
series while it runs (to 2023-04-30), and after that from the demo's own monthly table
(``data/demo``, illustrative and labelled so): the story passes it explicitly as the rate of the
day, as an operator would type the official rate; the reserve itself never fills a gap forward.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Final

from reserve.adapters.price_files import close_on, latest_on_or_before

CENT: Final = Decimal("0.01")


class StoryClock:
    """The demo's clock: each event happens at 09:00 UTC of its day."""

    def __init__(self, day: date) -> None:
        self.now = datetime.combine(day, time(9), UTC)

    def __call__(self) -> datetime:
        return self.now

    def on(self, day: date) -> None:
        self.now = datetime.combine(day, time(9), UTC)


class StoryMarket:
    def __init__(self, data_dir: Path) -> None:
        self.prices = data_dir / "prices"
        with (data_dir / "demo" / "usd_kzt_monthly.csv").open(encoding="utf-8") as handle:
            self.monthly = {r["month"]: Decimal(r["kzt_per_usd"]) for r in csv.DictReader(handle)}

    def raw_close(self, asset: str, day: date) -> Decimal:
        """The bundled close of ``day``, in USD, exactly as the file has it."""
        return close_on(self.prices / f"{asset.lower()}_usd.csv", "close_usd", day)

    def close(self, asset: str, day: date) -> Decimal:
        """The bundled close of ``day`` to the cent: what a trade is priced at."""
        return self.raw_close(asset, day).quantize(CENT)

    def kzt_per_usd(self, day: date) -> Decimal:
        found = latest_on_or_before(self.prices / "usd_kzt.csv", "kzt_per_usd", day)
        if found is not None and (day - found[0]).days <= 3:
            return found[1]
        return self.monthly[f"{day:%Y-%m}"]

    def value(self, asset: str, units: Decimal, day: date) -> tuple[Decimal, Decimal]:
        """Fair value of ``units`` whole units on ``day``, in USD and KZT, to the cent."""
        usd = (units * self.raw_close(asset, day)).quantize(CENT)
        return usd, (usd * self.kzt_per_usd(day)).quantize(CENT)


def whole_units_for(budget_usd: Decimal, price: Decimal, fee_rate: Decimal) -> Decimal:
    """The most units, to the satoshi, that ``budget_usd`` buys with the fee on top."""
    return (budget_usd / (price * (1 + fee_rate))).quantize(Decimal("0.00000001"), ROUND_DOWN)
