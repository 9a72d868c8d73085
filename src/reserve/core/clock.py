"""Time as the reserve sees it: timezone-aware UTC, always, and replaceable in tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current instant in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Attach or convert to UTC; a naive datetime read back from storage is UTC by contract."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """ISO 8601 with microseconds and a Z, the one spelling used in hashes."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
