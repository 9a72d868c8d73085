"""The demo's daily cycle: load the bundled prices, then publish the fixes and value the story
every day from its first seizure to the last day of the price data, and draw the NAV history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from reserve.bootstrap import Reserve
from reserve.services.demo import ADMIN, CASES
from reserve.services.market_load import load_market
from reserve.services.valuation import DayValuation, Progress, value_range
from reserve.services.valuation_chart import Chart, nav_chart

LAST_PRICE_DAY = date(2025, 2, 20)  # the primary BTC file's last close (data/prices/SOURCE.md)


@dataclass(frozen=True)
class ValuedStory:
    days: list[DayValuation]
    chart: Chart


def value_story(
    reserve: Reserve, folder: Path, *, today: date | None = None, progress: Progress | None = None
) -> ValuedStory:
    """``today`` bounds the price files (no row may be later); the reserve's clock by default."""
    first = min(story.seized_on for story in CASES)
    load_market(reserve, actor=ADMIN, today=today)
    days = value_range(reserve, first, LAST_PRICE_DAY, actor=ADMIN, progress=progress)
    return ValuedStory(days, nav_chart(reserve, first, LAST_PRICE_DAY, folder))
