"""`reserve custody reconcile ...`: every vault's coins on chain against its ledger balance,
and the breaks a difference opens, each closed only with a reason."""

from __future__ import annotations

from typing import Annotated

import typer

from reserve.cli.chain_options import EsploraOption, RpcOption, chain_source
from reserve.cli.context import state
from reserve.cli.custody_transfer import JsonFlag
from reserve.cli.render import emit_json, out, table
from reserve.services import custody_reconcile

reconcile_app = typer.Typer(
    help="Vault balances on chain against the ledger.", invoke_without_command=True
)


# -- reconciliation -------------------------------------------------------------------------
@reconcile_app.callback()
def reconcile(
    ctx: typer.Context,
    rpc: RpcOption = None,
    esplora: EsploraOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Compare every vault's coins on chain with its ledger balance; differences open breaks.

    Example: `reserve --as auditor1 custody reconcile --rpc http://user:pass@127.0.0.1:8332`
    """
    if ctx.invoked_subcommand is not None:
        return
    cli = state(ctx)
    found = custody_reconcile.reconcile(cli.reserve(), chain_source(rpc, esplora), actor=cli.actor)
    rows = [
        {
            "vault": f.vault,
            "height": f.height,
            "chain": f.chain_units,
            "ledger": f.ledger_units,
            "difference": f.difference,
            "break": f.break_id,
        }
        for f in found
    ]
    if as_json:
        emit_json(rows)
    else:
        table(
            "Reconciliation",
            ("vault", "height", "chain", "ledger", "difference", "break"),
            [tuple(str(r[c] if r[c] is not None else "") for c in r) for r in rows],
            right=("chain", "ledger", "difference"),
        )
    if any(f.break_id for f in found):
        raise typer.Exit(1)


@reconcile_app.command("breaks")
def reconcile_breaks(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every break, open or closed. Example: `reserve custody reconcile breaks`"""
    rows = [
        {
            "break": b.break_id,
            "vault": b.vault,
            "height": b.height,
            "chain": b.chain_units,
            "ledger": b.ledger_units,
            "closed": b.closed_reason or "",
        }
        for b in custody_reconcile.list_breaks(state(ctx).reserve())
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "Breaks",
        tuple(rows[0]) if rows else ("break",),
        [tuple(map(str, r.values())) for r in rows],
    )


@reconcile_app.command("close")
def reconcile_close(
    ctx: typer.Context,
    break_id: Annotated[int, typer.Argument(help="The break's number.")],
    reason: Annotated[str, typer.Option("--reason", help="What explains the difference.")],
) -> None:
    """Close a break with the reason. Example: `reserve custody reconcile close 1 --reason "..."`"""
    cli = state(ctx)
    custody_reconcile.close_break(cli.reserve(), break_id, reason, actor=cli.actor)
    out.print(f"break {break_id} closed", markup=False)
