"""`reserve audit ...`: read the audit log and verify its hash chain."""

from __future__ import annotations

from typing import Annotated, Final

import typer

from reserve.cli.context import state
from reserve.cli.render import emit_json, table
from reserve.core.clock import utc_text
from reserve.services.governance import audit_log, verify_audit

app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)
DETAILS_WIDTH: Final = 90  # the table stays readable; --json has every detail in full

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("list")
def list_records(
    ctx: typer.Context,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Only the last N records.", metavar="N")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List who did what, oldest first.

    Example: `reserve audit list --limit 20 --json`
    """
    records = audit_log(state(ctx).reserve(), limit=limit)
    if as_json:
        emit_json(
            [
                {
                    "seq": r.seq,
                    "at": utc_text(r.at),
                    "actor": r.actor,
                    "action": r.action,
                    "subject": r.subject,
                    "details": r.details,
                    "prev_hash": r.prev_hash,
                    "hash": r.hash,
                }
                for r in records
            ]
        )
        return
    table(
        "Audit log",
        ("seq", "at (UTC)", "actor", "action", "subject", "details"),
        (
            (
                str(r.seq),
                utc_text(r.at)[:19],
                r.actor,
                r.action,
                r.subject,
                _brief(r.details),
            )
            for r in records
        ),
        right=("seq",),
    )


@app.command()
def verify(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Replay the audit log's hash chain.

    Exit 0 with `audit ok: N records, head <hash>`; exit 1 naming the first bad record.
    Example: `reserve audit verify`
    """
    report = verify_audit(state(ctx).reserve())
    if as_json:
        emit_json({"ok": True, "records": report.records, "head": report.head})
    else:
        print(f"audit ok: {report.records} records, head {report.head}")


def _brief(details: dict[str, str]) -> str:
    text = " ".join(f"{key}={value}" for key, value in sorted(details.items()))
    return text if len(text) <= DETAILS_WIDTH else text[: DETAILS_WIDTH - 1] + "…"
