"""Verifying the whole ledger: the chain, the lots and the stored projections."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from reserve.bootstrap import Reserve
from reserve.core.errors import IntegrityFailure
from reserve.ledger.chain import ChainBreak, ChainVerifier
from reserve.services.progress import Progress, closing_after, tracked


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: str


class Replayable(Protocol):
    """A chain verifier: fed records in order, it names the first that does not verify."""

    count: int
    head: str

    def feed(self, record: Any) -> ChainBreak | None: ...


def replay_chain(
    verifier: Replayable,
    records: Iterable[Any],
    *,
    noun: str,
    first_unreadable: Callable[[int], int | None],
    stored_head: tuple[int, str],
) -> None:
    """Feed every record, then check the stored head; raise ``IntegrityFailure`` at the first
    break, naming the record (``noun`` N) where it is."""
    try:
        for record in closing_after(records):
            broken = verifier.feed(record)
            if broken is not None:
                raise IntegrityFailure(
                    f"{noun} {broken.seq} does not verify: {broken.reason}",
                    first_bad_seq=broken.seq,
                )
    except (ValueError, ArithmeticError) as unreadable:  # a value no longer reads as its type
        seq = first_unreadable(verifier.count)
        raise IntegrityFailure(
            f"{noun} {seq} does not verify: a stored value is unreadable ({unreadable})",
            first_bad_seq=seq,
        ) from None
    head_seq, head_hash = stored_head
    if (head_seq, head_hash) != (verifier.count, verifier.head):
        missing = verifier.count + 1 if head_seq > verifier.count else None
        raise IntegrityFailure(
            f"the stored head says {noun} {head_seq} ({head_hash[:12]}), the chain ends at "
            f"{noun} {verifier.count} ({verifier.head[:12]})",
            first_bad_seq=missing,
        )


def verify_ledger(reserve: Reserve, *, progress: Progress | None = None) -> ChainReport:
    """Replay every entry in one snapshot; raise ``IntegrityFailure`` at the first break."""
    with reserve.reading() as uow:
        store = uow.ledger
        verifier = ChainVerifier(store.assets(), store.accounts())
        head = store.head()
        replay_chain(
            verifier,
            tracked(store.stream_entries(), head[0], progress),
            noun="entry",
            first_unreadable=lambda after: store.first_unreadable(after=after),
            stored_head=head,
        )
        _compare("balance", store.current_balances(), verifier.nonzero_balances())
        _compare("lot holding", store.all_holdings(), verifier.book.holdings())
    return ChainReport(verifier.count, verifier.head)


def _compare(
    what: str, stored: Mapping[tuple[str, str], object], rebuilt: Mapping[tuple[str, str], object]
) -> None:
    """Name the first (account, asset or lot) where a stored projection left the journal."""
    differing = sorted(k for k in set(stored) | set(rebuilt) if stored.get(k) != rebuilt.get(k))
    if differing:
        key = differing[0]
        raise IntegrityFailure(
            f"stored {what} {key[0]} / {key[1]} is {stored.get(key)}, "
            f"the journal gives {rebuilt.get(key)}"
        )
