"""Verifying the whole ledger: the chain, the lots and the stored projections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reserve.bootstrap import Reserve
from reserve.core.errors import IntegrityFailure
from reserve.ledger.chain import ChainVerifier
from reserve.services.progress import Progress, tracked


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: str


def verify_ledger(reserve: Reserve, *, progress: Progress | None = None) -> ChainReport:
    """Replay every entry in one snapshot; raise ``IntegrityFailure`` at the first break."""
    with reserve.reading() as uow:
        store = uow.ledger
        verifier = ChainVerifier(store.assets(), store.accounts())
        try:
            for entry in tracked(store.stream_entries(), store.head()[0], progress):
                broken = verifier.feed(entry)
                if broken is not None:
                    raise IntegrityFailure(
                        f"entry {broken.seq} does not verify: {broken.reason}",
                        first_bad_seq=broken.seq,
                    )
        except (ValueError, ArithmeticError) as unreadable:  # a value no longer reads as its type
            seq = store.first_unreadable(after=verifier.count)
            raise IntegrityFailure(
                f"entry {seq} does not verify: a stored value is unreadable ({unreadable})",
                first_bad_seq=seq,
            ) from None
        head_seq, head_hash = store.head()
        if (head_seq, head_hash) != (verifier.count, verifier.head):
            missing = verifier.count + 1 if head_seq > verifier.count else None
            raise IntegrityFailure(
                f"the chain head says entry {head_seq} ({head_hash[:12]}), the journal ends at "
                f"entry {verifier.count} ({verifier.head[:12]})",
                first_bad_seq=missing,
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
