"""Progress of long use cases, reported as (done, total) to whoever is watching (a CLI bar)."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Final, TypeVar

Progress = Callable[[int, int], None]
T = TypeVar("T")
EVERY: Final = 1000


def tracked(items: Iterable[T], total: int, progress: Progress | None) -> Iterator[T]:
    """Yield ``items``, telling ``progress`` how far along every ``EVERY`` items and at the end."""
    if progress is None:
        yield from closing_after(items)
        return
    done = 0
    for item in closing_after(items):
        yield item
        done += 1
        if done % EVERY == 0:
            progress(done, total)
    progress(done, total)


def closing_after(items: Iterable[T]) -> Iterator[T]:
    """Yield ``items``; when the consumer stops early, close a generator among them at once, so a
    database cursor it holds is released while its connection is still open."""
    try:
        yield from items
    finally:
        if isinstance(items, Generator):
            items.close()
