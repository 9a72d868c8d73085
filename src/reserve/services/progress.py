"""Progress of long use cases, reported as (done, total) to whoever is watching (a CLI bar)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeVar

Progress = Callable[[int, int], None]
T = TypeVar("T")
EVERY: Final = 1000


def tracked(items: Iterable[T], total: int, progress: Progress | None) -> Iterator[T]:
    """Yield ``items``, telling ``progress`` how far along every ``EVERY`` items and at the end."""
    if progress is None:
        yield from items
        return
    done = 0
    for item in items:
        yield item
        done += 1
        if done % EVERY == 0:
            progress(done, total)
    progress(done, total)
