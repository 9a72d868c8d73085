"""Bulk intake: case registers, seizure records, mining reports and fills, each file imported
whole or not at all.

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
from reserve.intake.mining import MiningOutput
from reserve.intake.records import FillRecord, Record, RecordKind, SeizureRecord, parse_records
from reserve.services.intake_cases import open_case_in, record_seizure_in
from reserve.services.intake_context import policy_in_force
from reserve.services.intake_mining import record_output_in
from reserve.services.intake_purchases import record_fill_in
from reserve.storage.uow import UnitOfWork


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
    if not rows:
        raise InvalidInput.one("import", "rows", "the file holds no row")
    with reserve.writing() as uow:
        decimals = {code: asset.decimals for code, asset in uow.ledger.assets().items()}
        orders = {r.proposal.order_id: r.proposal.asset for r in uow.purchases.orders()}
        mines = {o.code: o.asset for o in uow.mining.operations()}
        records = parse_records(
            kind, rows, decimals=decimals, asset_of_operation=mines, asset_of_order=orders
        )
        problems: list[Problem] = []
        created = 0
        importer = _Importer(uow, reserve, actor)
        for (label, _row), record in zip(rows, records, strict=True):
            try:
                created += importer.take(record)
            except InvalidInput as refused:
                problems += [Problem(label, p.field, p.reason) for p in refused.problems]
        if problems:
            raise InvalidInput(problems)
        if created:
            uow.commit()
    return ImportResult(kind, len(rows), created)


class _Importer:
    """One record at a time, through the same use case as the CLI, in one unit of work."""

    def __init__(self, uow: UnitOfWork, reserve: Reserve, actor: str) -> None:
        self.uow, self.reserve, self.actor = uow, reserve, actor
        self.policy = policy_in_force(reserve)

    def take(self, record: Record) -> bool:
        uow, reserve, actor = self.uow, self.reserve, self.actor
        if isinstance(record, SeizureCase):
            return open_case_in(uow, reserve, record, actor=actor)
        if isinstance(record, SeizureRecord):
            return record_seizure_in(
                uow, reserve, record.asset, fair_value_usd=record.fair_value_usd,
                fair_value_kzt=record.fair_value_kzt, actor=actor,
            ).created  # fmt: skip
        if isinstance(record, MiningOutput):
            return record_output_in(uow, reserve, record, policy=self.policy, actor=actor).created
        assert isinstance(record, FillRecord)
        return record_fill_in(
            uow, reserve, record.order_id, record.fill, policy=self.policy, actor=actor
        ).created
