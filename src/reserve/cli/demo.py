"""`reserve demo`: the story on a fresh embedded database, then the books as tables."""

from __future__ import annotations

import shutil
from datetime import timedelta
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
    wallets = folder / "wallets"
    shutil.rmtree(wallets, ignore_errors=True)
    reserve = bootstrap(Settings(database_url=f"sqlite:///{database}", wallet_dir=wallets))
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
        show_custody(reserve)
        show_valuation(reserve, folder)
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
                    case.number,
                    case.court,
                    line.asset,
                    format_units(seized, line.decimals),
                    f"{result.seized_usd.get(case.number, Decimal(0)):,.2f}",
                    btc(S.TRANSFERRED_TO_RESERVE),
                    btc(S.RETURNED, S.RESTITUTED),
                    btc(S.INTERLOCUTORY_SOLD, S.SOLD),
                    format_units(line.in_custody, line.decimals),
                )
            )
    columns = (
        "case",
        "court",
        "asset",
        "seized",
        "value at seizure USD",
        "to the reserve",
        "returned",
        "sold",
        "still in custody",
    )
    table("Seizure cases", columns, rows, right=columns[3:])


def show_custody(reserve: Reserve) -> None:
    """The vaults with their coins, and the demo transfer with its approvals and signatures."""
    from reserve.custody.transfers import EventKind
    from reserve.services.custody_transfers import list_transfers
    from reserve.services.custody_vaults import vault_listing

    with reserve.reading() as uow:
        holders = uow.custody.holders()
    table(
        "Vaults (keys in five cities; no site holds M keys, none is indispensable)",
        ("vault", "tier", "policy", "sites", "free coins", "BTC"),
        [
            (
                v.spec.name,
                v.spec.tier.value,
                f"{v.spec.threshold}-of-{len(v.spec.keys)}",
                ", ".join(holders[k.holder].site for k in v.spec.keys),
                str(coins),
                format_units(units, 8),
            )
            for v, coins, units in vault_listing(reserve)
        ],
        right=("free coins", "BTC"),
    )
    for view in list_transfers(reserve):
        signed = [e for e in view.events if e.kind == EventKind.SIGNED]
        verified = view.event(EventKind.VERIFIED)
        out.print(
            f"transfer {view.request.transfer_id}: {format_units(view.request.amount, 8)} BTC "
            f"{view.request.vault} -> {view.request.destination[:18]}..., rule "
            f"{view.stored.evaluation['rule']}, approved by {', '.join(view.approvers)}; "
            f"{len(signed)} offline signatures; {view.status.value}"
            + (
                f" (txid {verified.payload['txid'][:16]}..., not broadcast: no node in the demo)"
                if verified
                else ""
            ),
            markup=False,
        )


def show_valuation(reserve: Reserve, folder: Path) -> None:
    """The story valued every day: NAV at each quarter's end, the share of national reserves,
    and the NAV history chart."""
    from reserve.cli.render import progress_bar
    from reserve.services.demo_valuation import value_story

    with progress_bar("valuing every day") as report:
        valued = value_story(reserve, folder / "reports", progress=report)
    days = valued.days
    quarter_ends = [
        v for v in days if v.day.month % 3 == 0 and (v.day + timedelta(days=1)).day == 1
    ] + [days[-1]]
    table(
        f"NAV, {days[0].basis} basis: {len(days)} days valued, {days[0].day} to {days[-1].day}",
        (
            "day",
            "BTC fix USD",
            "NAV USD",
            "of which SFDA",
            "share of national reserves",
            "custodial (not NAV) USD",
            "NAV KZT",
        ),
        [
            (
                str(v.day),
                str(v.fixes["BTC"].value.quantize(Decimal("0.01"))) if "BTC" in v.fixes else "n/a",
                f"{v.total.nav_usd.quantize(Decimal('0.01')):,}",
                next(
                    (
                        f"{n.nav_usd.quantize(Decimal('0.01')):,}"
                        for n in v.navs
                        if n.fund == "SFDA"
                    ),
                    "0.00",
                ),
                f"{(v.share * 100).quantize(Decimal('0.0001'))}%",
                f"{v.custodial_usd.quantize(Decimal('0.01')):,}",
                "n/a (no USD/KZT rate within 3 days)"
                if v.total.nav_kzt is None
                else f"{v.total.nav_kzt.quantize(Decimal('0.01')):,}",
            )
            for v in quarter_ends
        ],
        right=("BTC fix USD", "NAV USD", "of which SFDA", "custodial (not NAV) USD"),
    )
    out.print(f"NAV history: {valued.chart.png} and {valued.chart.html}", markup=False)
