"""The NAV history chart from the stored valuation runs (the newest run of each day)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from reserve.adapters.charts import nav_html, nav_png
from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.services.valuation import runs


@dataclass(frozen=True)
class Chart:
    png: Path
    html: Path
    days: int
    first: date
    last: date


def _value(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def nav_chart(reserve: Reserve, start: date, end: date, folder: Path) -> Chart:
    """Write ``nav.png`` and ``nav.html``: the reserve's NAV and each fund's, in USD."""
    found = runs(reserve, start, end)
    if not found:
        raise InvalidInput.one("chart", "--from/--to", f"no valuation between {start} and {end}")
    days = [r.day for r in found]
    funds = sorted({f["fund"] for r in found for f in r.summary["funds"]})
    series: dict[str, list[Decimal | None]] = {
        "Reserve (all funds)": [_value(r.summary["reserve"]["nav_usd"]) for r in found]
    }
    for fund in funds:
        series[fund] = [
            next((_value(f["nav_usd"]) for f in r.summary["funds"] if f["fund"] == fund), None)
            for r in found
        ]
    folder.mkdir(parents=True, exist_ok=True)
    title = f"NAV, {found[0].basis} basis, {days[0]} to {days[-1]}"
    return Chart(nav_png(folder / "nav.png", days, series, title),
                 nav_html(folder / "nav.html", days, series, title), len(days), days[0],
                 days[-1])  # fmt: skip
