"""Loading the market: every configured source (files, an exchange, the National Bank) and the
USD/KZT series into the database, all or none, and the USD/KZT move alerts that follow.

Every row keeps the sha256 of the file it came from or, for a network source, of the canonical
JSON of the rows fetched with it (``rows_sha256``). A network source is asked only for the days
after its last loaded one; a day already loaded with another value is refused: history is not
rewritten by a reload.
"""

from __future__ import annotations

import hashlib
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from reserve.adapters.price_sources import BundledFile, source_for
from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, Problem
from reserve.market.config import MarketConfig, RatesSpec
from reserve.market.prices import PriceRow, SourceSpec, rows_sha256
from reserve.services.audit import record_now
from reserve.services.market import RATES_ASSET, RATES_SOURCE, Progress, market_config
from reserve.storage.market_repo import StoredAlert
from reserve.storage.uow import UnitOfWork


@dataclass(frozen=True)
class LoadedSource:
    source: str
    asset: str
    rows: int
    added: int
    first: date | None
    last: date | None


@dataclass(frozen=True)
class _Fetched:
    """One configured series as read now, and where it is stored."""

    spec: SourceSpec | RatesSpec
    source: str
    asset: str
    quote: str
    name: str  # how problems name it: the file, the exchange and symbol, the Bank
    rows: list[PriceRow]
    sha256: str


def _feeds(config: MarketConfig) -> list[tuple[SourceSpec | RatesSpec, str, str, str]]:
    """``(spec, source, asset, quote)`` of every configured series, USD/KZT last."""
    return [
        *((s, s.name, s.asset, s.quote) for s in config.sources),
        (config.rates, RATES_SOURCE, RATES_ASSET, "KZT"),
    ]


def _fetch(
    reserve: Reserve,
    feed: tuple[SourceSpec | RatesSpec, str, str, str],
    *,
    folder: Path,
    after: date | None,
    today: date,
) -> _Fetched:
    """Read one series: a file whole, a network source from the day after ``after`` (its last
    loaded day) or its configured ``start``, whichever is later, up to ``today``."""
    spec, source, asset, quote = feed
    next_day = None if after is None else after + timedelta(days=1)
    first = max((d for d in (next_day, spec.start) if d is not None), default=today)
    with closing(source_for(spec, folder=folder, clock=reserve.clock)) as found:
        rows = found.daily(first, today, today=today)
        if isinstance(found, BundledFile):
            sha = hashlib.sha256(found.path.read_bytes()).hexdigest()
        else:
            sha = rows_sha256(rows)
        return _Fetched(spec, source, asset, quote, found.name, rows, sha)


def load_market(
    reserve: Reserve, *, actor: str, today: date | None = None, progress: Progress | None = None
) -> list[LoadedSource]:
    """Load every configured source (and the USD/KZT series) into the database, all or none.

    Every source is read before the unit of work opens: one that cannot be reached raises
    ``SourceUnavailable`` with nothing written, and no transaction waits on an exchange.
    """
    config, _ = market_config(reserve)
    today = today or reserve.clock().date()
    folder = reserve.settings.data_dir / "prices"
    feeds = _feeds(config)
    with reserve.reading() as uow:
        last = {
            (source, asset): max(uow.market.prices(source, asset), default=None)
            for spec, source, asset, _q in feeds
            if spec.kind != "file"  # a file is read whole and checked whole
        }
    fetched: list[_Fetched] = []
    for done, feed in enumerate(feeds, start=1):
        after = last.get((feed[1], feed[2]))
        fetched.append(_fetch(reserve, feed, folder=folder, after=after, today=today))
        if progress:
            progress(done, len(feeds))
    loaded: list[LoadedSource] = []
    with reserve.writing() as uow:
        problems: list[Problem] = []
        for item in fetched:
            known = uow.market.prices(item.source, item.asset)
            fresh = []
            for row in item.rows:
                earlier = known.get(row.day)
                if earlier is None:
                    fresh.append(row)
                elif earlier != row.value:
                    problems.append(
                        Problem(
                            f"{item.name} {row.day}",
                            item.spec.column or "value",
                            f"{row.value} differs from the loaded {earlier}",
                        )
                    )
            uow.market.add_prices(
                [
                    {
                        "source": item.source,
                        "asset": item.asset,
                        "quote": item.quote,
                        "day": r.day,
                        "value": r.value,
                        "file_sha256": item.sha256,
                        "loaded_at": reserve.clock(),
                    }
                    for r in fresh
                ]
            )
            days = [r.day for r in item.rows]
            first, last_day = (days[0], days[-1]) if days else (None, None)
            loaded.append(
                LoadedSource(item.source, item.asset, len(days), len(fresh), first, last_day)
            )
        if problems:
            raise Conflict(problems)
        added = sum(x.added for x in loaded)
        if added:
            _rate_alerts(uow, reserve)
            record_now(
                uow,
                reserve,
                actor,
                "market.load",
                "market",
                {"sources": str(len(feeds)), "rows_added": str(added)},
            )
            uow.commit()
    return loaded


def _rate_alerts(uow: UnitOfWork, reserve: Reserve) -> None:
    """Day-on-day USD/KZT moves beyond the threshold, never across a gap in the series."""
    from reserve.services.valuation_context import valuation_policy
    from reserve.valuation.alerts import rate_move_alerts

    policy, _ = valuation_policy(reserve)
    rows = sorted(uow.market.prices(RATES_SOURCE, RATES_ASSET).items())
    found = rate_move_alerts(rows, policy)
    uow.market.add_alerts(
        StoredAlert(a.day, a.kind, a.subject, a.detail, a.value, reserve.clock()) for a in found
    )
