"""Exporting the ledger to CSV or Beancount, streamed from one snapshot."""

from __future__ import annotations

from enum import StrEnum
from typing import TextIO

from reserve.bootstrap import Reserve
from reserve.ledger.export_beancount import BeancountWriter, BookingMode
from reserve.ledger.export_csv import csv_lines
from reserve.services.progress import Progress, tracked


class ExportFormat(StrEnum):
    CSV = "csv"
    BEANCOUNT = "beancount"


def export_ledger(
    reserve: Reserve,
    out: TextIO,
    *,
    fmt: ExportFormat,
    mode: BookingMode = BookingMode.EXPLICIT,
    progress: Progress | None = None,
) -> None:
    with reserve.reading() as uow:
        store = uow.ledger
        assets, accounts = store.assets(), store.accounts()
        entries = tracked(store.stream_entries(), store.head()[0], progress)
        if fmt is ExportFormat.CSV:
            lines = csv_lines(entries, assets, accounts)
        else:
            lines = BeancountWriter(assets, accounts, mode=mode).lines(entries)
        for line in lines:
            out.write(line)
