"""`reserve market ...`: load the price sources, publish and show the daily fixes; and
`reserve alerts`: what the market and the fixes raised."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from reserve.cli.context import state
from reserve.cli.options import day_option, day_range
from reserve.cli.render import emit_json, out, progress_bar, table
from reserve.core.money import decimal_text
from reserve.services import market, market_load

app = typer.Typer(help="Prices, the daily fix, USD/KZT.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command("load")
def load(
    ctx: typer.Context,
    today: Annotated[
        str | None, typer.Option("--today", help="Refuse rows after this day.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Load every configured price source and the USD/KZT series into the database.

    Example: `reserve --as admin market load`
    """
    cli = state(ctx)
    day = None if today is None else day_option(today, "--today")
    with progress_bar("loading price sources") as report:
        loaded = market_load.load_market(cli.reserve(), actor=cli.actor, today=day, progress=report)
    rows = [
        {
            "source": x.source,
            "asset": x.asset,
            "rows": x.rows,
            "added": x.added,
            "first": str(x.first),
            "last": str(x.last),
        }
        for x in loaded
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "Price sources",
        ("source", "asset", "rows", "added", "first", "last"),
        [tuple(str(v) for v in r.values()) for r in rows],
        right=("rows", "added"),
    )


@app.command("fix")
def fix(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option("--date", help="The day, YYYY-MM-DD.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day of a range.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day of a range.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why a correction.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Publish the daily fixes of a day (or a range), 16:00 Asia/Almaty.

    Example: `reserve --as admin market fix --date 2021-11-26`
    """
    cli = state(ctx)
    first, last = day_range(on, start, end)
    with progress_bar("publishing fixes") as report:
        outcomes = market.fix_range(
            cli.reserve(), first, last, actor=cli.actor, reason=reason, progress=report
        )
    fixes = [f for o in outcomes for f in o.fixes]
    rows: list[dict[str, Any]] = [
        {
            "asset": f.asset,
            "day": str(f.day),
            "version": f.version,
            "value": decimal_text(f.value),
            "status": f.status,
            "used": list(f.used),
            "dropped": [list(d) for d in f.dropped],
            "inputs_sha256": f.inputs_sha256,
            "method": f.method_version,
            "reason": f.reason,
        }
        for f in fixes
    ]
    if as_json:
        emit_json(rows)
        return
    if len(outcomes) > 1:
        added = sum(o.added for o in outcomes)
        flagged = sum(1 for f in fixes if f.status != "OK")
        out.print(
            f"{len(outcomes)} days: {len(fixes)} fixes ({added} new), {flagged} flagged",
            markup=False,
        )
        return
    table(
        f"Fixes of {first} (16:00 Asia/Almaty)",
        ("asset", "fix USD", "status", "v", "sources used", "dropped"),
        [
            (
                r["asset"],
                str(r["value"]),
                str(r["status"]),
                str(r["version"]),
                ", ".join(r["used"]),
                "; ".join(f"{s}: {why}" for s, why in r["dropped"]),
            )
            for r in rows
        ],
        right=("fix USD",),
    )
    missing = outcomes[0].missing
    if missing:
        out.print(f"no data for {', '.join(missing)} on {first}", markup=False)


alerts_app = typer.Typer(
    help="Alerts raised by prices, rates and fixes.", invoke_without_command=True
)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option("--since", help="Only from this day.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List stored alerts: stablecoin depegs, USD/KZT moves, flagged fixes.

    Example: `reserve alerts --since 2023-03-01 --kind stablecoin-depeg`
    """
    reserve = state(ctx).reserve()
    first = None if since is None else day_option(since, "--since")
    with reserve.reading() as uow:
        found = [a for a in uow.market.alerts(since=first) if kind is None or a.kind == kind]
    rows = [
        {
            "day": str(a.day),
            "kind": a.kind,
            "subject": a.subject,
            "value": a.value,
            "detail": a.detail,
        }
        for a in found
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        f"Alerts ({len(rows)})",
        ("day", "kind", "subject", "value", "detail"),
        [tuple(r.values()) for r in rows],
    )
