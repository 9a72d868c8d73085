"""Market use cases: publish the daily fixes from the stored prices, read USD/KZT.

Fixes are computed from what ``market_load`` stored, so every published fix can be traced to
the rows it used. A fix is published once per asset and day; a different result later is a
correction: a new version with its reason, the old one kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound
from reserve.market.config import MarketConfig, parse_market_config
from reserve.market.fix import DailyFix, carry_over, compute_fix
from reserve.market.prices import PriceRow, SourceSpec
from reserve.market.quotes import quotes_for
from reserve.market.rates import RateQuote, rate_for
from reserve.services.audit import record_now
from reserve.storage.market_repo import StoredAlert, StoredFix
from reserve.storage.uow import UnitOfWork

USDT: Final = "USDT"
RATES_SOURCE: Final = "usd-kzt"
RATES_ASSET: Final = "USDKZT"
Progress = Callable[[int, int], None]


def market_config(reserve: Reserve) -> tuple[MarketConfig, str]:
    path = reserve.settings.market_config
    raw = path.read_bytes()
    return parse_market_config(raw.decode("utf-8"), path.name), hashlib.sha256(raw).hexdigest()


@dataclass
class Series:
    """Everything the fixes and rates of a range of days need, read once."""

    config: MarketConfig
    prices: dict[tuple[str, str], tuple[SourceSpec, list[PriceRow]]]  # (source, asset)
    rates: list[PriceRow]

    def for_asset(self, asset: str) -> dict[str, tuple[SourceSpec, list[PriceRow]]]:
        return {s: v for (s, a), v in self.prices.items() if a == asset}

    @property
    def assets(self) -> list[str]:
        """USDT first: the others' USDT quotes are converted through its fix."""
        names = sorted({a for _s, a in self.prices})
        return sorted(names, key=lambda a: a != USDT)


def read_series(uow: UnitOfWork, config: MarketConfig) -> Series:
    prices = {}
    for spec in config.sources:
        stored = uow.market.prices(spec.name, spec.asset)
        prices[(spec.name, spec.asset)] = (
            spec,
            [PriceRow(d, v) for d, v in sorted(stored.items())],
        )
    rates = uow.market.prices(RATES_SOURCE, RATES_ASSET)
    return Series(config, prices, [PriceRow(d, v) for d, v in sorted(rates.items())])


def _stored(fix: DailyFix, version: int, reason: str | None, reserve: Reserve) -> StoredFix:
    return StoredFix(
        fix.asset,
        fix.day,
        version,
        fix.value,
        str(fix.status),
        tuple(fix.used),
        tuple(fix.dropped),
        fix.inputs_sha256,
        fix.method_version,
        fix.carried_from,
        reason,
        reserve.clock(),
    )


@dataclass(frozen=True)
class FixOutcome:
    fixes: list[StoredFix]
    missing: list[str]  # assets with no data that day (before their history, or a gap)
    added: int


def fix_range(
    reserve: Reserve,
    start: date,
    end: date,
    *,
    actor: str,
    reason: str | None = None,
    progress: Progress | None = None,
) -> list[FixOutcome]:
    """Publish the fixes of every day from ``start`` to ``end`` in one unit of work."""
    if end < start:
        raise InvalidInput.one("fix", "--to", f"{end} is before {start}")
    config, _ = market_config(reserve)
    days = (end - start).days + 1
    outcomes: list[FixOutcome] = []
    with reserve.writing() as uow:
        series = read_series(uow, config)
        if not series.prices or not any(rows for _s, rows in series.prices.values()):
            raise InvalidInput.one("market", "prices", "nothing loaded: run `reserve market load`")
        for n in range(days):
            day = start + timedelta(days=n)
            outcomes.append(_fix_day(uow, reserve, series, day, actor=actor, reason=reason))
            if progress:
                progress(n + 1, days)
        if days == 1 and not outcomes[0].fixes:
            raise InvalidInput.one(f"fix {start}", "date", "no source has data for this day")
        if any(o.added for o in outcomes):
            record_now(
                uow,
                reserve,
                actor,
                "market.fix",
                f"fixes {start}..{end}",
                {
                    "added": str(sum(o.added for o in outcomes)),
                    "method": config.method.version,
                    "reason": reason or "",
                },
            )
            uow.commit()
    return outcomes


def _fix_day(
    uow: UnitOfWork, reserve: Reserve, series: Series, day: date, *, actor: str, reason: str | None
) -> FixOutcome:
    method = series.config.method
    fixes: list[StoredFix] = []
    missing: list[str] = []
    added = 0
    usdt: Decimal | None = None
    for asset in series.assets:
        found = quotes_for(asset, day, series.for_asset(asset), method, usdt)
        computed = compute_fix(asset, day, found.quotes, method, dropped=found.dropped)
        if computed is None:
            previous = uow.market.fix(asset, day - timedelta(days=1))
            if previous is None or previous.carried_from is not None:
                missing.append(asset)
                continue
            computed = carry_over(_domain(previous), day, dropped=found.dropped)
        earlier = uow.market.fix(asset, day)
        if earlier is None:
            stored = _stored(computed, 1, None, reserve)
            uow.market.add_fix(stored, by=actor)
            added += 1
        elif _same(earlier, computed):
            stored = earlier
        elif reason:
            stored = _stored(computed, earlier.version + 1, reason, reserve)
            uow.market.add_fix(stored, by=actor)
            added += 1
        else:
            raise Conflict.one(
                f"fix {asset} {day}",
                "value",
                f"published as {earlier.value} (version {earlier.version}); the sources now give "
                f"{computed.value}: give --reason to publish a correction",
            )
        if asset == USDT:
            usdt = stored.value
        fixes.append(stored)
    if added:
        _fix_alerts(uow, reserve, fixes)
    return FixOutcome(fixes, missing, added)


def _same(earlier: StoredFix, computed: DailyFix) -> bool:
    """The same publication: same inputs, method, value, flag and sources kept or dropped."""
    return (
        earlier.inputs_sha256 == computed.inputs_sha256
        and earlier.method_version == computed.method_version
        and earlier.value == computed.value
        and earlier.status == str(computed.status)
        and earlier.used == tuple(computed.used)
    )


def _domain(fix: StoredFix) -> DailyFix:
    from reserve.market.fix import FixStatus

    return DailyFix(
        fix.asset,
        fix.day,
        fix.value,
        FixStatus(fix.status),
        fix.used,
        fix.dropped,
        fix.inputs_sha256,
        fix.method_version,
        fix.carried_from,
    )


def _fix_alerts(uow: UnitOfWork, reserve: Reserve, fixes: Sequence[StoredFix]) -> None:
    from reserve.services.valuation_context import valuation_policy
    from reserve.valuation.alerts import fix_flag_alerts, stablecoin_alerts

    policy, _ = valuation_policy(reserve)
    rows = [(f.asset, f.day, f.value, f.status) for f in fixes]
    # a flag is raised when it starts: the same flag on the asset's fix of the day before is
    # the same episode (a single-source asset is DEGRADED every day; one alert says so)
    starting = []
    for asset, day, value, status in rows:
        before = uow.market.fix(asset, day - timedelta(days=1))
        if before is None or before.status != status:
            starting.append((asset, day, value, status))
    found = [*stablecoin_alerts(rows, policy), *fix_flag_alerts(starting)]
    uow.market.add_alerts(
        StoredAlert(a.day, a.kind, a.subject, a.detail, a.value, reserve.clock()) for a in found
    )


def fix_history(reserve: Reserve, asset: str, day: date) -> list[StoredFix]:
    with reserve.reading() as uow:
        found = uow.market.fix_versions(asset, day)
    if not found:
        raise NotFound.one(f"fix {asset} {day}", "date", "no fix published for this day")
    return found


def rate_on(series: Series, day: date) -> RateQuote | None:
    return rate_for(series.rates, day, max_age_days=series.config.rates.max_age_days)
