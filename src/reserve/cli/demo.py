"""`reserve demo`: the story on a fresh embedded database, then the books as tables."""

from __future__ import annotations

from pathlib import Path

from reserve.bootstrap import bootstrap
from reserve.cli.render import out, show_balances, show_holdings, show_lots
from reserve.config import Settings
from reserve.services import ledger as books
from reserve.services.demo import run_story
from reserve.services.holdings import holdings_by_fund


def run_demo(workdir: str, *, actor: str) -> None:
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "reserve.db"
    for stale in folder.glob("reserve.db*"):
        stale.unlink()
    reserve = bootstrap(Settings(database_url=f"sqlite:///{database}"))
    try:
        result = run_story(reserve, actor=actor)
        out.print(f"[bold]Sovereign Reserve demo[/bold] on {database}")
        out.print(f"posted {result.entries_posted} entries")
        out.print(f"chain ok: {result.chain.entries} entries, head {result.chain.head}")
        show_holdings(holdings_by_fund(reserve))
        show_balances(books.balances(reserve), title="All balances")
        show_lots(books.open_lots(reserve))
    finally:
        reserve.close()
