"""From daily closes to what each source knew at a day's cut-off, in USD.

A daily row ``D`` is the close at the end of UTC day ``D``, so it is observed at ``D+1 00:00 UTC``
(``observation_time``). At the 16:00 Almaty cut-off of day ``D`` (10:00 or 11:00 UTC) the freshest
close a daily source can offer is therefore ``D-1``'s; if that row is missing the ``D-2`` close is
offered and the fix drops it as stale, which is what should happen to a source that skipped a day.

A USDT price is not a USD price: it is multiplied by the USDT fix of the same day (computed first,
from the USDT sources), and a source quoted in USDT is dropped, with the reason, on a day without
one. Whatever status that USDT fix has, it is the reserve's published USD value of a USDT that
day, so it is the rate used; its own flag is visible on the USDT fix.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, Inexact, localcontext

from reserve.core.errors import InvalidInput
from reserve.market.fix import FixMethod, SourceQuote, cutoff_utc
from reserve.market.prices import PriceRow, SourceSpec

Series = Mapping[str, tuple[SourceSpec, list[PriceRow]]]


@dataclass(frozen=True)
class DayQuotes:
    """The quotes of one asset for one day, and the sources that could not even be quoted."""

    quotes: tuple[SourceQuote, ...]
    dropped: tuple[tuple[str, str], ...]  # (source, reason), for ``compute_fix(dropped=...)``


def observation_time(row_day: date) -> datetime:
    """When the close of UTC day ``row_day`` became known: the next midnight, UTC."""
    return datetime.combine(row_day + timedelta(days=1), time(0), tzinfo=UTC)


def conversion_problem(
    *, asset: str, quote: str, usdt_fix: Decimal | None, day: date
) -> str | None:
    """Why a price of ``asset`` quoted in ``quote`` cannot be turned into USD on ``day``."""
    if quote == "USD":
        return None
    if quote == "USDT":
        if asset == "USDT":
            return "a USDT price quoted in USDT says nothing about USD"
        if usdt_fix is None:
            return f"quoted in USDT and there is no USDT fix for {day} to convert it"
        return None
    return f"quoted in {quote}; a fix source must be quoted in USD or USDT"


def in_usd(raw: Decimal, *, quote: str, usdt_fix: Decimal | None) -> Decimal:
    """``raw`` in USD, exactly (a product of two exact decimals is exact at this precision)."""
    if quote == "USD":
        return raw
    if quote != "USDT" or usdt_fix is None:
        raise ValueError(f"cannot convert a {quote} price without a USDT fix")
    with localcontext() as ctx:
        ctx.prec = 200
        ctx.traps[Inexact] = True
        return raw * usdt_fix


def latest_observed_by(rows: Sequence[PriceRow], moment: datetime) -> PriceRow | None:
    """The last daily row already observed at ``moment`` (rows ascend, as loading ensures)."""
    last_day = moment.astimezone(UTC).date() - timedelta(days=1)
    index = bisect_right(rows, last_day, key=lambda row: row.day)
    return rows[index - 1] if index else None


def quotes_for(
    asset: str,
    day: date,
    series: Series,
    method: FixMethod,
    usdt_fix: Decimal | None,
) -> DayQuotes:
    """Each of ``asset``'s sources in ``series`` as of the cut-off of ``day``, in USD.

    ``series`` may hold other assets' sources too (they are skipped); staleness is left to
    ``compute_fix``, which sees the observation time of every quote.
    """
    cutoff = cutoff_utc(day, method)
    quotes: list[SourceQuote] = []
    dropped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for spec, rows in (entry for _, entry in sorted(series.items())):
        if spec.asset != asset:
            continue
        if spec.name in seen:
            raise InvalidInput.one(f"{asset} sources", spec.name, "the source is given twice")
        seen.add(spec.name)
        row = latest_observed_by(rows, cutoff)
        if row is None:
            dropped.append((spec.name, f"{spec.label} has no close on or before {cutoff.date()}"))
            continue
        problem = conversion_problem(asset=asset, quote=spec.quote, usdt_fix=usdt_fix, day=day)
        if problem is not None:
            dropped.append((spec.name, problem))
            continue
        quotes.append(
            SourceQuote(
                source=spec.name,
                value=in_usd(row.value, quote=spec.quote, usdt_fix=usdt_fix),
                observed_at=observation_time(row.day),
                quote=spec.quote,
                raw=row.value,
            )
        )
    return DayQuotes(tuple(quotes), tuple(dropped))
