"""`reserve ledger ...`: post entries, read balances and lots, verify and export the chain."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from reserve.cli.context import parse_day, state
from reserve.cli.render import (
    balance_rows,
    emit_json,
    holding_rows,
    lot_rows,
    out,
    progress_bar,
    show_balances,
    show_holdings,
    show_lots,
    table,
)
from reserve.core.clock import utc_now
from reserve.core.errors import InvalidInput
from reserve.ledger.accounts import Account
from reserve.ledger.assets import Asset, Fund
from reserve.ledger.entry_json import parse_entries
from reserve.ledger.export_beancount import BookingMode
from reserve.services import ledger as books
from reserve.services.export import ExportFormat, export_ledger
from reserve.services.holdings import holdings_by_fund
from reserve.services.integrity import verify_ledger

app = typer.Typer(help="The hash-chained double-entry ledger.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
AccountPrefix = Annotated[
    str | None, typer.Option("--account", help="Only this account and those below it.")
]
AssetCode = Annotated[str | None, typer.Option("--asset", help="Only this asset, e.g. BTC.")]


def _read_json(file: str) -> object:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidInput.one(
            f"file {file}", "path", f"cannot be read: {error.strerror}"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput.one(
            f"file {file}",
            f"line {error.lineno} column {error.colno}",
            f"malformed JSON: {error.msg}",
        ) from None


@app.command()
def post(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="JSON file, or - for stdin.")],
    as_json: JsonFlag = False,
) -> None:
    """Post one entry or a list of entries from a JSON file, all or nothing.

    Example: `reserve ledger post seizure.json` (the README shows the format).
    """
    cli = state(ctx)
    reserve = cli.reserve()
    document = _read_json(file)
    drafts = parse_entries(document, {a.code: a for a in books.list_assets(reserve)})
    with progress_bar("posting") as progress:
        posted = books.post_entries(reserve, drafts, actor=cli.actor, progress=progress)
    if as_json:
        emit_json([p.__dict__ for p in posted])
        return
    table(
        f"Posted {sum(p.created for p in posted)} new of {len(posted)} entries",
        ("seq", "idempotency key", "new", "hash"),
        (
            (str(p.seq), p.idempotency_key, "yes" if p.created else "replay", p.hash[:16])
            for p in posted
        ),
        right=("seq",),
    )


@app.command()
def balances(
    ctx: typer.Context,
    account: AccountPrefix = None,
    asset: AssetCode = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="End of this day, YYYY-MM-DD.")
    ] = None,
    fund: Annotated[
        str | None, typer.Option("--fund", help="Only one fund's book, e.g. SFDA.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Balances per account and asset.

    Example: `reserve ledger balances --account Assets:Reserve --asset BTC --as-of 2024-12-31`
    """
    lines = books.balances(
        state(ctx).reserve(),
        account_prefix=account,
        asset=asset,
        as_of=parse_day(as_of, "--as-of"),
        fund=fund,
    )
    if as_json:
        emit_json(balance_rows(lines))
    else:
        show_balances(lines, title=f"Balances{' as of ' + as_of if as_of else ''}")


@app.command()
def holdings(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """What each fund holds, all funds together, and custodial (seized) units apart.

    Example: `reserve ledger holdings --json`
    """
    lines = holdings_by_fund(state(ctx).reserve())
    if as_json:
        emit_json(holding_rows(lines))
    else:
        show_holdings(lines)


@app.command()
def lots(
    ctx: typer.Context,
    account: AccountPrefix = None,
    asset: AssetCode = None,
    as_json: JsonFlag = False,
) -> None:
    """Open lots: where every unit came from and what it cost.

    Example: `reserve ledger lots --account Assets:Reserve:SFDA --asset BTC --json`
    """
    lines = books.open_lots(state(ctx).reserve(), account_prefix=account, asset=asset)
    if as_json:
        emit_json(lot_rows(lines))
    else:
        show_lots(lines)


@app.command()
def verify(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Replay the hash chain, rebook every lot and recompute every balance.

    Exit 0 with `chain ok: N entries, head <hash>`; exit 1 naming the first bad entry.
    Example: `reserve ledger verify`
    """
    with progress_bar("verifying") as progress:
        report = verify_ledger(state(ctx).reserve(), progress=progress)
    if as_json:
        emit_json({"ok": True, "entries": report.entries, "head": report.head})
    else:
        print(f"chain ok: {report.entries} entries, head {report.head}")


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or beancount.")],
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="File to write; stdout if absent.")
    ] = None,
    booking: Annotated[
        BookingMode, typer.Option(help="Beancount lot reductions: explicit or fifo.")
    ] = BookingMode.EXPLICIT,
) -> None:
    """Export the whole journal.

    Example: `reserve ledger export --format beancount -o books.beancount`, then
    `bean-check books.beancount`
    """
    reserve = state(ctx).reserve()
    if output is None:
        export_ledger(reserve, sys.stdout, fmt=fmt, mode=booking)
        return
    with (
        open(output, "w", encoding="utf-8", newline="") as handle,
        progress_bar("exporting") as progress,
    ):
        export_ledger(reserve, handle, fmt=fmt, mode=booking, progress=progress)
    out.print(f"wrote {output}")


@app.command("open")
def open_account(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="Hierarchical name, e.g. Assets:Reserve:SFDA:BTC:vault-astana-1.")
    ],
    fund: Annotated[
        str | None, typer.Option(help="The fund whose book it belongs to (none for custody).")
    ] = None,
    on: Annotated[
        str | None, typer.Option(help="Opening date, YYYY-MM-DD; today if absent.")
    ] = None,
) -> None:
    """Open an account.

    Example:
    `reserve ledger open Assets:Reserve:SFDA:BTC:vault-astana-1 --fund SFDA --on 2024-01-01`
    """
    cli = state(ctx)
    opened_on = parse_day(on, "--on") or utc_now().date()
    books.open_accounts(cli.reserve(), [Account(name, fund, opened_on)], actor=cli.actor)
    out.print(f"open: {name}")


@app.command()
def accounts(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the accounts.

    Example: `reserve ledger accounts --json`
    """
    found = books.list_accounts(state(ctx).reserve())
    if as_json:
        emit_json(
            [{"name": a.name, "fund": a.fund, "opened_on": a.opened_on.isoformat()} for a in found]
        )
        return
    table(
        "Accounts",
        ("account", "fund", "opened"),
        ((a.name, a.fund or "-", a.opened_on.isoformat()) for a in found),
    )


@app.command()
def assets(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the assets and their decimals.

    Example: `reserve ledger assets`
    """
    found = books.list_assets(state(ctx).reserve())
    if as_json:
        emit_json([a.__dict__ for a in found])
        return
    rows = ((a.code, str(a.decimals), "yes" if a.tracks_lots else "no", a.name) for a in found)
    table("Assets", ("code", "decimals", "lots", "name"), rows)


@app.command("add-asset")
def add_asset(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Ticker, e.g. DOT.")],
    decimals: Annotated[int, typer.Option(help="Decimals of the base unit.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    fiat: Annotated[bool, typer.Option("--fiat", help="A currency held without lots.")] = False,
) -> None:
    """Register an asset.

    Example: `reserve ledger add-asset DOT --decimals 10 --name Polkadot`
    """
    cli = state(ctx)
    asset = Asset(code, decimals, name, tracks_lots=not fiat)
    books.register_asset(cli.reserve(), asset, actor=cli.actor)
    out.print(f"asset {code}: {decimals} decimals")


@app.command()
def funds(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the funds (separate books).

    Example: `reserve ledger funds`
    """
    found = books.list_funds(state(ctx).reserve())
    if as_json:
        emit_json([f.__dict__ for f in found])
        return
    table("Funds", ("code", "name"), ((f.code, f.name) for f in found))


@app.command("add-fund")
def add_fund(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short code, e.g. SFDA.")],
    name: Annotated[str, typer.Option(help="Full name.")],
) -> None:
    """Register a fund.

    Example: `reserve ledger add-fund RSRV --name 'Strategic reserve'`
    """
    cli = state(ctx)
    books.register_fund(cli.reserve(), Fund(code, name), actor=cli.actor)
    out.print(f"fund {code}")


@app.command()
def reverse(
    ctx: typer.Context,
    seq: Annotated[int, typer.Argument(help="Sequence number of the entry to reverse.")],
    key: Annotated[str, typer.Option(help="Idempotency key of the reversing entry.")],
    memo: Annotated[str, typer.Option(help="Why the entry is reversed.")] = "",
    on: Annotated[str | None, typer.Option(help="Date of the reversal; today if absent.")] = None,
) -> None:
    """Post the reversing entry of entry SEQ (entries are never edited).

    Example: `reserve ledger reverse 42 --key fix:42 --memo "wrong case number"`
    """
    cli = state(ctx)
    day = parse_day(on, "--on") or utc_now().date()
    posted = books.reverse_entry(cli.reserve(), seq, key=key, on=day, memo=memo, actor=cli.actor)
    out.print(f"entry {posted.seq} reverses entry {seq}")
