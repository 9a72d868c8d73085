"""Tables and JSON for the terminal: Rich for people, plain JSON for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from reserve.core.money import format_units
from reserve.services.holdings import CONSOLIDATED, CUSTODIAL, HoldingLine
from reserve.services.ledger import BalanceLine, LotLine

CENT: Final = Decimal("0.01")
_WIDTH: Final = None if sys.stdout.isatty() else 240  # pipes and CI logs get whole rows
# emoji off: account names such as Assets:X:Y must never turn into pictures
out = Console(highlight=False, soft_wrap=False, width=_WIDTH, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A bar on stderr for long work that leaves no trace; off a terminal, no bar at all."""
    if not err.is_terminal:
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report


def emit_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False))


def table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *, right: Sequence[str] = ()
) -> None:
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column, justify="right" if column in right else "left", no_wrap=True)
    for row in rows:
        grid.add_row(*row)
    out.print(grid)


def balance_rows(lines: Sequence[BalanceLine]) -> list[dict[str, Any]]:
    return [
        {
            "account": b.account,
            "fund": b.fund,
            "asset": b.asset,
            "amount": format_units(b.amount, b.decimals),
            "base_units": str(b.amount),
        }
        for b in lines
    ]


def show_balances(lines: Sequence[BalanceLine], *, title: str = "Balances") -> None:
    table(
        title,
        ("account", "fund", "asset", "amount"),
        ((b.account, b.fund or "-", b.asset, format_units(b.amount, b.decimals)) for b in lines),
        right=("amount",),
    )


def lot_rows(lines: Sequence[LotLine]) -> list[dict[str, Any]]:
    return [
        {
            "account": line.account,
            "lot": line.lot.lot_id,
            "asset": line.lot.asset,
            "units": format_units(line.units, line.decimals),
            "base_units": str(line.units),
            "source": line.lot.source_kind,
            "source_ref": line.lot.source_ref,
            "acquired_on": line.lot.acquired_on.isoformat(),
            "cost_usd": str(line.cost_usd.quantize(CENT)),
            "cost_kzt": str(line.cost_kzt.quantize(CENT)),
        }
        for line in lines
    ]


def show_lots(lines: Sequence[LotLine], *, title: str = "Open lots") -> None:
    rows = lot_rows(lines)
    table(
        title,
        ("account", "lot", "asset", "units", "source", "ref", "acquired", "cost USD", "cost KZT"),
        (
            (r["account"], r["lot"], r["asset"], r["units"], r["source"], r["source_ref"],
             r["acquired_on"], f"{_money(r['cost_usd'])}", f"{_money(r['cost_kzt'])}")
            for r in rows
        ),
        right=("units", "cost USD", "cost KZT"),
    )  # fmt: skip


def _money(text: str) -> str:
    return f"{Decimal(text):,.2f}"


_BOOK_NAMES: Final = {
    CONSOLIDATED: "all funds together",
    CUSTODIAL: "custodial: seized, not the state's",
}


def holding_rows(lines: Sequence[HoldingLine]) -> list[dict[str, Any]]:
    return [
        {
            "book": h.book,
            "asset": h.asset,
            "amount": format_units(h.amount, h.decimals),
            "base_units": str(h.amount),
        }
        for h in lines
    ]


def show_holdings(lines: Sequence[HoldingLine]) -> None:
    table(
        "Holdings by book",
        ("book", "", "asset", "amount"),
        (
            (h.book, _BOOK_NAMES.get(h.book, "fund"), h.asset, format_units(h.amount, h.decimals))
            for h in lines
        ),
        right=("amount",),
    )
