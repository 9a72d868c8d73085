"""The daily fix: the one price per asset per day the reserve books and reports at.

At a cut-off (16:00 Asia/Almaty) each source's latest observation at or before it is taken;
sources older than the staleness limit are dropped; the median of the rest is taken; sources
further than ``outlier_pct`` from it are dropped; the fix is the median of the survivors. A
median, not a mean, because one venue's bad print (Yahoo's 2021-11-25 close) must not move it.

A fix is always published when any source is fresh, but it says how far to trust it: ``OK``;
``DEGRADED`` when too few sources were there at all; ``DISPERSED`` when the sources were there but
disagreed so much that the outlier rule left too few - then the fix is the median of every fresh
source, never the lone survivor, since one source agreeing with a median of itself proves nothing.
A day with no fresh source carries the previous day's fix for at most one day, flagged ``STALE``.
Every fix stores the sha256 of its inputs and the method version, so it can be recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, Inexact, localcontext
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reserve.core.clock import utc_text
from reserve.core.errors import InvalidInput
from reserve.core.money import canonical_decimal

Dropped = tuple[tuple[str, str], ...]  # (source, reason)


class FixMethod(BaseModel):
    """The fixing methodology, versioned: a change of any number is a new ``version``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1, max_length=40)
    cutoff: time
    timezone: str
    staleness_hours: int = Field(ge=1, le=24 * 14)
    outlier_pct: Decimal = Field(ge=0, le=100)
    min_sources: int = Field(ge=1, le=20)

    @field_validator("outlier_pct", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError('write the percentage as a string, e.g. "2", not a float')
        return value

    @field_validator("cutoff")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("the cut-off is a wall-clock time; the zone goes in `timezone`")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone") from None
        return value


def cutoff_utc(day: date, method: FixMethod) -> datetime:
    """The cut-off of ``day`` in UTC. Through the zone database, never a fixed offset:
    Almaty moved from UTC+6 to UTC+5 on 2024-03-01, so 16:00 was 10:00 UTC and is now 11:00."""
    local = datetime.combine(day, method.cutoff, tzinfo=ZoneInfo(method.timezone))
    return local.astimezone(UTC)


@dataclass(frozen=True)
class SourceQuote:
    """What one source said, converted to USD: ``raw`` in ``quote`` currency, ``value`` in USD."""

    source: str
    value: Decimal
    observed_at: datetime
    quote: str
    raw: Decimal

    def __post_init__(self) -> None:
        where = f"quote from {self.source}"
        if self.observed_at.tzinfo is None:
            raise InvalidInput.one(where, "observed_at", "has no time zone")
        if not (self.value.is_finite() and self.value > 0):
            raise InvalidInput.one(where, "value", f"{self.value} is not a positive price")


class FixStatus(StrEnum):
    OK = "OK"
    DEGRADED = "DEGRADED"  # fewer fresh sources than the minimum
    DISPERSED = "DISPERSED"  # enough sources, but the outlier rule left fewer than the minimum
    STALE = "STALE"  # no fresh source: yesterday's fix carried over (at most one day)


@dataclass(frozen=True)
class DailyFix:
    """One published fix. ``used``: the sources whose values the median was taken of;
    ``dropped``: every other source, with why; ``carried_from``: the day a STALE fix repeats."""

    asset: str
    day: date
    value: Decimal
    status: FixStatus
    used: tuple[str, ...]
    dropped: Dropped
    inputs_sha256: str
    method_version: str
    carried_from: date | None = None


@contextmanager
def _exact() -> Iterator[None]:
    """Arithmetic that must not round: medians and conversions stay exact, or fail loudly."""
    with localcontext() as ctx:
        ctx.prec = 200
        ctx.traps[Inexact] = True
        yield


def median(values: Sequence[Decimal]) -> Decimal:
    """The exact median; with an even count the mean of the middle two (exact: a sum over 2)."""
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    middle = len(ordered) // 2
    with _exact():
        if len(ordered) % 2:
            return canonical_decimal(ordered[middle])
        return canonical_decimal((ordered[middle - 1] + ordered[middle]) / 2)


def _far(value: Decimal, centre: Decimal, pct: Decimal) -> bool:
    """|value/centre - 1| x 100 > pct, compared without dividing (so without rounding)."""
    with _exact():
        return abs(value - centre) * 100 > pct * centre


def _pct_text(value: Decimal, centre: Decimal) -> str:
    """The distance for a person to read; rounded, and used for nothing else."""
    return f"{(abs(value / centre - 1) * 100).quantize(Decimal('0.01'))} %"


def _hours(age: timedelta) -> str:
    return f"{Decimal(int(age.total_seconds())) / 3600:.1f} h"


def _decimal_json(value: Decimal) -> str:
    with _exact():
        return format(canonical_decimal(value), "f")


def inputs_sha256(quotes: Sequence[SourceQuote]) -> str:
    """sha256 of the quotes as canonical JSON: sorted keys and members, values as strings, times
    as UTC text, so the same inputs in any order give the same hash and any change shows."""
    body = sorted(
        (
            {
                "source": q.source,
                "observed_at": utc_text(q.observed_at),
                "quote": q.quote,
                "raw": _decimal_json(q.raw),
                "value": _decimal_json(q.value),
            }
            for q in quotes
        ),
        key=lambda item: (item["source"], item["observed_at"], item["raw"], item["value"]),
    )
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def fresh_quotes(
    day: date, quotes: Sequence[SourceQuote], method: FixMethod
) -> tuple[list[SourceQuote], list[tuple[str, str]]]:
    """Each source's latest observation at or before the cut-off of ``day`` if it is fresh, and
    the sources left out with the reason (also what a carried-over day records as its cause)."""
    cutoff = cutoff_utc(day, method)
    limit = timedelta(hours=method.staleness_hours)
    latest: dict[str, SourceQuote] = {}
    late: set[str] = set()
    for quote in quotes:
        if quote.observed_at > cutoff:
            late.add(quote.source)
        elif quote.source not in latest or quote.observed_at > latest[quote.source].observed_at:
            latest[quote.source] = quote
    dropped = [
        (source, f"observed only after the cut-off {utc_text(cutoff)}")
        for source in late - set(latest)
    ]
    fresh = []
    for quote in latest.values():
        age = cutoff - quote.observed_at
        if age > limit:
            reason = f"stale: observed {utc_text(quote.observed_at)}, {_hours(age)} before the "
            dropped.append((quote.source, reason + f"cut-off (limit {_hours(limit)})"))
        else:
            fresh.append(quote)
    return fresh, dropped


def compute_fix(
    asset: str,
    day: date,
    quotes: Sequence[SourceQuote],
    method: FixMethod,
    *,
    dropped: Sequence[tuple[str, str]] = (),
) -> DailyFix | None:
    """The fix of ``asset`` on ``day``, or None when no source is fresh (then see ``carry_over``).

    ``dropped`` are sources the caller could not even quote (no row, no USDT fix); they count as
    missing and are recorded with their reasons.
    """
    fresh, left_out = fresh_quotes(day, quotes, method)
    left_out = list(dropped) + left_out
    if not fresh:
        return None
    centre = median([q.value for q in fresh])
    kept = [q for q in fresh if not _far(q.value, centre, method.outlier_pct)]
    if len(kept) >= method.min_sources:
        status = FixStatus.OK
        used = kept
        left_out += [
            (q.source, f"{_pct_text(q.value, centre)} from the median {centre} of fresh sources")
            for q in fresh
            if all(q is not k for k in kept)
        ]
    else:
        # never the lone survivor: the median of every fresh source, flagged
        status = FixStatus.DEGRADED if len(fresh) < method.min_sources else FixStatus.DISPERSED
        used = fresh
    return DailyFix(
        asset=asset,
        day=day,
        value=median([q.value for q in used]),
        status=status,
        used=tuple(sorted(q.source for q in used)),
        dropped=tuple(sorted(left_out)),
        inputs_sha256=inputs_sha256(quotes),
        method_version=method.version,
    )


def carry_over(
    previous: DailyFix, day: date, *, dropped: Sequence[tuple[str, str]] = ()
) -> DailyFix:
    """Yesterday's fix published again for ``day``, flagged ``STALE``; never for a second day.

    One day, because a price a day old is still a fair mark for a reserve that does not trade
    intraday, while a run of copied prices would hide that every source has stopped.
    """
    where = f"fix {previous.asset} {day}"
    if previous.carried_from is not None:
        reason = (
            f"the {previous.day} fix was itself carried from {previous.carried_from}; "
            "a fix is carried over at most one day"
        )
        raise InvalidInput.one(where, "previous", reason)
    if previous.day != day - timedelta(days=1):
        reason = f"only the fix of {day - timedelta(days=1)} can be carried, not {previous.day}'s"
        raise InvalidInput.one(where, "previous", reason)
    return DailyFix(
        asset=previous.asset,
        day=day,
        value=previous.value,
        status=FixStatus.STALE,
        used=(),
        dropped=tuple(sorted(dropped)),
        inputs_sha256=previous.inputs_sha256,
        method_version=previous.method_version,
        carried_from=previous.day,
    )
