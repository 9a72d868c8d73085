"""The one exception tree of Sovereign Reserve.

    ReserveError
     ├── InvalidInput          bad input; nothing was written (CLI exit 2, HTTP 4xx)
     │    ├── NotFound         a named thing does not exist
     │    └── Conflict         the input contradicts what is already recorded
     ├── IntegrityFailure      stored data does not verify (CLI exit 1)
     ├── ChainUnavailable      a chain source could not be reached or answered nonsense (CLI exit 1)
     └── SchemaMismatch        the database was written by a newer version of the code

Checks that can find several problems return ``list[Problem]``; a use case turns a non-empty
list into one ``InvalidInput`` that carries every problem, so a user sees all of them at once.
Only ``cli/`` knows exit codes and only ``api/`` knows HTTP status codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is, which field, and why."""

    where: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.reason}"


class ReserveError(Exception):
    """Root of every error the reserve raises on purpose."""


class InvalidInput(ReserveError):
    """The input cannot be accepted; nothing of it was written."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("InvalidInput needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, where: str, field: str, reason: str) -> InvalidInput:
        return cls([Problem(where, field, reason)])


class NotFound(InvalidInput):
    """A named account, asset, lot or entry does not exist."""


class Conflict(InvalidInput):
    """The input contradicts what is already recorded (e.g. a reused idempotency key)."""


class IntegrityFailure(ReserveError):
    """Stored data does not verify: a broken hash chain, a gap, or a projection that drifted."""

    def __init__(self, message: str, *, first_bad_seq: int | None = None) -> None:
        super().__init__(message)
        self.first_bad_seq = first_bad_seq


class ChainUnavailable(ReserveError):
    """A chain source (node RPC, Esplora) could not be reached, or its answer made no sense."""


class SchemaMismatch(ReserveError):
    """The database schema is newer than this code knows how to read."""
