"""`reserve intake mining ...`: state mining operations, monthly output, sales.

A month's output is split by the sale rule in force on its first day into a for-sale lot and a
retained lot; sales through licensed venues relieve the for-sale lot. The report shows, per
month, what the rule required sold against what was sold, and flags every short month.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

import typer
from rich.markup import escape

from reserve.cli.context import state
from reserve.cli.options import day_option as _day
from reserve.cli.options import money_option as _money
from reserve.cli.options import units_option as _units
from reserve.cli.render import CENT, emit_json, out, table
from reserve.core.money import decimal_text, format_units
from reserve.intake.mining import SHORTFALL, MiningOperation, MiningOutput, MiningSale, PeriodLine
from reserve.services import intake_mining as mining
from reserve.services.ledger import list_assets

app = typer.Typer(
    help="State mining: operations, output per month, sales, the period report.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Operation = Annotated[str, typer.Argument(help="The operation's code, e.g. EKB-1.")]
Period = Annotated[str, typer.Argument(help="The month, YYYY-MM.")]


def _required(text: str, option: str) -> Decimal:
    value = _money(text, option)
    assert value is not None
    return value


def _usd(value: Decimal) -> str:
    return str(value.quantize(CENT))


@app.command()
def register(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="A short code: letters, digits and '-'.")],
    site: Annotated[str, typer.Option("--site", help="Where the operation runs.")],
    operator: Annotated[str, typer.Option("--operator", help="Who runs it.")],
    tariff: Annotated[
        str, typer.Option("--tariff-kzt-per-mwh", help="The power tariff, KZT per MWh.")
    ],
    fund: Annotated[str, typer.Option("--fund", help="The fund its output belongs to.")] = "SFDA",
    asset: Annotated[str, typer.Option("--asset", help="The asset it mines.")] = "BTC",
) -> None:
    """Register a state mining operation (an intake officer acts); the same again is a no-op.

    Example: `reserve --as intake1 intake mining register EKB-1 --site Ekibastuz --operator
    "State Energy Holding" --tariff-kzt-per-mwh 25000`
    """
    cli = state(ctx)
    tariff_kzt = _required(tariff, "--tariff-kzt-per-mwh")
    operation = MiningOperation(code, site, operator, tariff_kzt, fund, asset)
    created = mining.register_operation(cli.reserve(), operation, actor=cli.actor)
    out.print(f"operation {code} {'registered' if created else 'already registered'}", markup=False)


@app.command()
def operations(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the mining operations.

    Example: `reserve intake mining operations --json`
    """
    rows = [
        {
            "code": o.code,
            "site": o.site,
            "operator": o.operator,
            "tariff_kzt_per_mwh": str(o.tariff_kzt_per_mwh),
            "fund": o.fund,
            "asset": o.asset,
        }
        for o in mining.list_operations(state(ctx).reserve())
    ]
    if as_json:
        emit_json(rows)
        return
    columns = ("code", "site", "operator", "tariff_kzt_per_mwh", "fund", "asset")
    table(
        "Mining operations",
        ("code", "site", "operator", "tariff KZT/MWh", "fund", "asset"),
        ([r[c] for c in columns] for r in rows),
        right=("tariff KZT/MWh",),
    )


@app.command()
def output(
    ctx: typer.Context,
    operation: Operation,
    period: Period,
    amount: Annotated[str, typer.Option("--amount", help="Whole units mined, e.g. 3.25.")],
    txids: Annotated[
        list[str], typer.Option("--payout-txid", help="A pool payout, 64 hex; repeat for each.")
    ],
    energy: Annotated[str, typer.Option("--energy-mwh", help="Energy used, MWh.")],
    cost: Annotated[str, typer.Option("--cost-kzt", help="The month's energy cost, KZT.")],
    rate: Annotated[
        str | None,
        typer.Option("--kzt-per-usd", help="The rate of the month's last day, if not bundled."),
    ] = None,
    fair_value: Annotated[
        str | None,
        typer.Option("--fair-value-usd", help="The output's fair value (fair-value policy)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a month's output: split by the rule in force, booked as a for-sale and a retained lot.

    Example: `reserve --as intake1 intake mining output EKB-1 2024-06 --amount 3.25 --payout-txid
    4f1d...0b2d --energy-mwh 1200 --cost-kzt 30000000 --kzt-per-usd 450`
    """
    cli = state(ctx)
    reserve = cli.reserve()
    op = mining.get_operation(reserve, operation)
    report = MiningOutput(
        operation, period, _units(reserve, op.asset, amount, "--amount"),
        tuple(t.lower() for t in txids), _required(energy, "--energy-mwh"),
        _required(cost, "--cost-kzt"), _money(rate, "--kzt-per-usd"),
        _money(fair_value, "--fair-value-usd"),
    )  # fmt: skip
    done = mining.record_output(reserve, report, actor=cli.actor)
    decimals = {a.code: a.decimals for a in list_assets(reserve)}[op.asset]
    summary = {
        "operation": operation,
        "period": period,
        "asset": op.asset,
        "to_sell": format_units(done.split.to_sell, decimals),
        "to_retain": format_units(done.split.to_retain, decimals),
        "rule_from": done.split.rule.effective_from.isoformat(),
        "sell_share": decimal_text(done.split.rule.sell_share),
        "entry_seq": done.entry_seq,
        "created": done.created,
    }
    if as_json:
        emit_json(summary)
        return
    replay = "" if done.created else " (already recorded)"
    out.print(
        f"output {operation} {period}: {summary['to_sell']} {op.asset} for sale, "
        f"{summary['to_retain']} retained ({done.split.rule.sell_share:%} to sell under the "
        f"rule of {summary['rule_from']}); entry {done.entry_seq}{replay}",
        markup=False,
    )


@app.command()
def sell(
    ctx: typer.Context,
    operation: Operation,
    period: Period,
    venue: Annotated[str, typer.Option("--venue", help="A licensed venue's code, e.g. AIX.")],
    ref: Annotated[str, typer.Option("--ref", help="The venue's trade id.")],
    quantity: Annotated[str, typer.Option("--quantity", help="Whole units sold, e.g. 1.5.")],
    price: Annotated[str, typer.Option("--price-usd", help="USD per whole unit.")],
    fee: Annotated[str, typer.Option("--fee-usd", help="The venue's fee, USD.")],
    on: Annotated[str, typer.Option("--on", help="The trade date, YYYY-MM-DD.")],
    as_json: JsonFlag = False,
) -> None:
    """Record a sale of a month's for-sale units through a licensed venue (replays are no-ops).

    Example: `reserve --as intake1 intake mining sell EKB-1 2024-06 --venue AIX --ref T-1001
    --quantity 1.625 --price-usd 64000 --fee-usd 52.00 --on 2024-07-03`
    """
    cli = state(ctx)
    reserve = cli.reserve()
    op = mining.get_operation(reserve, operation)
    sale = MiningSale(
        operation, period, venue, ref, _units(reserve, op.asset, quantity, "--quantity"),
        _required(price, "--price-usd"), _required(fee, "--fee-usd"), _day(on, "--on"),
    )  # fmt: skip
    done = mining.record_sale(reserve, sale, actor=cli.actor)
    summary = {
        "venue": venue,
        "ref": ref,
        "gross_usd": _usd(done.gross_usd),
        "proceeds_usd": _usd(done.proceeds_usd),
        "cost_usd": _usd(done.cost_usd),
        "realised_usd": _usd(done.realised_usd),
        "entry_seq": done.entry_seq,
        "created": done.created,
    }
    if as_json:
        emit_json(summary)
        return
    replay = "" if done.created else " (already recorded)"
    out.print(
        f"sale {venue} {ref}: proceeds USD {done.proceeds_usd:,.2f}, cost USD "
        f"{done.cost_usd:,.2f}, realised USD {done.realised_usd:,.2f}; entry "
        f"{done.entry_seq}{replay}",
        markup=False,
    )


def line_row(line: PeriodLine, decimals: int) -> dict[str, Any]:
    def units(n: int) -> str:
        return format_units(n, decimals)

    return {
        "operation": line.operation,
        "period": line.period,
        "asset": line.asset,
        "output": units(line.output),
        "sell_share": decimal_text(line.rule.sell_share),
        "rule_from": line.rule.effective_from.isoformat(),
        "required": units(line.required),
        "sold": units(line.sold),
        "shortfall": units(line.shortfall),
        "retained": units(line.retained),
        "proceeds_usd": _usd(line.proceeds_usd),
        "cost_sold_usd": _usd(line.cost_sold_usd),
        "realised_usd": _usd(line.realised_usd),
        "flag": line.flag,
    }


def show_report(lines: Sequence[PeriodLine], rows: Sequence[dict[str, Any]]) -> None:
    """The period report as a table, shortfalls in red."""
    columns = (
        "operation", "period", "asset", "output", "rule", "required", "sold", "shortfall",
        "retained", "proceeds USD", "cost USD", "realised USD", "flag",
    )  # fmt: skip
    table(
        "Mining periods",
        columns,
        (
            (r["operation"], r["period"], r["asset"], r["output"],
             f"{line.rule.sell_share:%} from {r['rule_from']}", r["required"], r["sold"],
             r["shortfall"], r["retained"], f"{line.proceeds_usd:,.2f}",
             f"{line.cost_sold_usd:,.2f}", f"{line.realised_usd:,.2f}",
             "[bold red]SHORTFALL[/]" if line.flag == SHORTFALL else "OK")
            for line, r in zip(lines, rows, strict=True)
        ),
        right=columns[3:4] + columns[5:12],
    )  # fmt: skip


@app.command()
def report(
    ctx: typer.Context,
    operation: Annotated[
        str | None, typer.Option("--operation", help="One operation only.")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last month, YYYY-MM.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per operation and month: output, the share the rule required sold, what was sold, the
    proceeds and realised result; months that sold too little are flagged SHORTFALL.

    Example: `reserve intake mining report --operation EKB-1 --from 2024-01 --to 2025-12`
    """
    reserve = state(ctx).reserve()
    lines = mining.period_report(reserve, operation=operation, start=start, end=end)
    decimals = {a.code: a.decimals for a in list_assets(reserve)}
    rows = [line_row(line, decimals[line.asset]) for line in lines]
    if as_json:
        emit_json(rows)
        return
    show_report(lines, rows)


@app.command()
def rules(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show the sale rules, licensed venues and cost basis in force, with the policy's sha256.

    Example: `reserve intake mining rules --json`
    """
    found = mining.rules_in_force(state(ctx).reserve())
    policy = found.policy
    sale_rules = [
        {
            "effective_from": r.effective_from.isoformat(),
            "sell_share": decimal_text(r.sell_share),
            "source": r.source,
        }
        for r in policy.sale_rules()
    ]
    venues = [
        {
            "code": v.code,
            "name": v.name,
            "regulator": v.regulator,
            "licensed_from": v.licensed_from.isoformat(),
            "licensed_until": None if v.licensed_until is None else v.licensed_until.isoformat(),
        }
        for v in policy.venues
    ]
    if as_json:
        emit_json(
            {
                "version": policy.version,
                "sha256": found.sha256,
                "cost_basis": policy.mining.cost_basis.value,
                "sale_rules": sale_rules,
                "venues": venues,
            }
        )
        return
    out.print(
        f"intake policy {policy.version} (sha256 {found.sha256}); mining output costed at "
        f"{policy.mining.cost_basis.value}",
        markup=False,
    )
    table(
        "Sale rules",
        ("from", "share to sell", "source"),
        ((r["effective_from"], r["sell_share"], escape(r["source"])) for r in sale_rules),
        right=("share to sell",),
    )
    table(
        "Licensed venues",
        ("code", "name", "regulator", "from", "until"),
        (
            (v.code, escape(v.name), escape(v.regulator), str(v.licensed_from),
             str(v.licensed_until or "-"))
            for v in policy.venues
        ),
    )  # fmt: skip
