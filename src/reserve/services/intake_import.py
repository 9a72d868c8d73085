"""Bulk intake: a case register or a seizure file imported whole or not at all.

Every row of the file goes through the same use cases as the CLI, inside one unit of work, so a
broken row anywhere leaves the database as it was, and importing the same file again changes
nothing (each row is idempotent). Every problem names the file, the row and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput, Problem
from reserve.intake.cases import SeizureCase
from reserve.intake.records import RecordKind, SeizureRecord, parse_records
from reserve.services.intake_cases import open_case_in, record_seizure_in

SUPPORTED = (RecordKind.CASES, RecordKind.SEIZURES)


@dataclass(frozen=True)
class ImportResult:
    kind: RecordKind
    rows: int
    created: int


def import_records(
    reserve: Reserve,
    kind: RecordKind,
    rows: Sequence[tuple[str, dict[str, Any]]],
    *,
    actor: str,
) -> ImportResult:
    """Import ``rows`` of ``kind``; all rows or none."""
    if kind not in SUPPORTED:
        raise InvalidInput.one("import", "kind", f"{kind} files are not imported yet")
    if not rows:
        raise InvalidInput.one("import", "rows", "the file holds no row")
    with reserve.writing() as uow:
        decimals = {code: asset.decimals for code, asset in uow.ledger.assets().items()}
        records = parse_records(kind, rows, decimals=decimals)
        problems: list[Problem] = []
        created = 0
        for (label, _row), record in zip(rows, records, strict=True):
            try:
                if isinstance(record, SeizureCase):
                    created += open_case_in(uow, reserve, record, actor=actor)
                elif isinstance(record, SeizureRecord):
                    created += record_seizure_in(
                        uow, reserve, record.asset, fair_value_usd=record.fair_value_usd,
                        fair_value_kzt=record.fair_value_kzt, actor=actor,
                    ).created  # fmt: skip
            except InvalidInput as refused:
                problems += [Problem(label, p.field, p.reason) for p in refused.problems]
        if problems:
            raise InvalidInput(problems)
        if created:
            uow.commit()
    return ImportResult(kind, len(rows), created)
