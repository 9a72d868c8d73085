"""`reserve demo`: the story on a fresh embedded database, then the books as tables."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from reserve.bootstrap import Reserve, bootstrap
from reserve.cli.intake_mining import line_row, show_report
from reserve.cli.intake_purchase import show_purchases
from reserve.cli.render import out, show_holdings, table
from reserve.config import Settings
from reserve.core.money import format_units
from reserve.intake.legal import LegalState
from reserve.services import intake_mining, intake_purchases
from reserve.services.demo import DemoResult, run_story
from reserve.services.holdings import holdings_by_fund
from reserve.services.intake_cases import PositionLine, case_position, list_cases
from reserve.services.ledger import list_assets

S = LegalState


def run_demo(workdir: str) -> None:
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "reserve.db"
    for stale in folder.glob("reserve.db*"):
        stale.unlink()
    reserve = bootstrap(Settings(database_url=f"sqlite:///{database}"))
    try:
        out.print(f"[bold]Sovereign Reserve demo[/bold] on {database}")
        result = run_story(reserve)
        out.print(f"{result.events} events played, day by day, 2023-02 to 2025-02")
        show_cases(reserve, result)
        lines = intake_mining.period_report(reserve)
        decimals = {a.code: a.decimals for a in list_assets(reserve)}
        show_report(lines, [line_row(line, decimals[line.asset]) for line in lines])
        show_purchases(intake_purchases.list_purchases(reserve))
        show_holdings(holdings_by_fund(reserve))
        out.print(f"ledger chain ok: {result.chain.entries} entries, head {result.chain.head}")
        out.print(f"audit log ok: {result.audit_records} records")
    finally:
        reserve.close()


def show_cases(reserve: Reserve, result: DemoResult) -> None:
    """Each case: what was seized and its value then, and where the units went since."""
    rows = []
    for case in list_cases(reserve):
        for line in case_position(reserve, case.number):

            def btc(*states: LegalState, line: PositionLine = line) -> str:
                return format_units(sum(line.units.get(s, 0) for s in states), line.decimals)

            seized = sum(line.units.values())
            rows.append(
                (
                    case.number, case.court, line.asset, format_units(seized, line.decimals),
                    f"{result.seized_usd.get(case.number, Decimal(0)):,.2f}",
                    btc(S.TRANSFERRED_TO_RESERVE), btc(S.RETURNED, S.RESTITUTED),
                    btc(S.INTERLOCUTORY_SOLD, S.SOLD), format_units(line.in_custody, line.decimals),
                )
            )  # fmt: skip
    columns = (
        "case", "court", "asset", "seized", "value at seizure USD", "to the reserve",
        "returned", "sold", "still in custody",
    )  # fmt: skip
    table("Seizure cases", columns, rows, right=columns[3:])
