"""`reserve value ...`: mark the reserve to market on a day or over a range (a backfill with a
progress bar), draw the NAV history, and roll an asset's value forward between two days."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from reserve.cli.context import state
from reserve.cli.options import day_option, day_range
from reserve.cli.render import CENT, emit_json, out, progress_bar, table
from reserve.core.money import decimal_text, format_units
from reserve.services import valuation
from reserve.services.valuation_chart import nav_chart

app = typer.Typer(help="Mark-to-market, NAV and its history.", invoke_without_command=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.quantize(CENT):,}"


@app.callback()
def value(
    ctx: typer.Context,
    on: Annotated[str | None, typer.Option("--date", help="The day, YYYY-MM-DD.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day of a backfill.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day of a backfill.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Value the reserve on a day, or every day of a range (stored snapshots).

    Example: `reserve --as admin value --date 2024-12-31`, `reserve value --from 2023-06-01
    --to 2025-02-20`
    """
    if ctx.invoked_subcommand is not None:
        return
    cli = state(ctx)
    first, last = day_range(on, start, end)
    with progress_bar("valuing") as report:
        found = valuation.value_range(cli.reserve(), first, last, actor=cli.actor, progress=report)
    if as_json:
        emit_json([_payload(v) for v in found])
        return
    if len(found) > 1:
        v = found[-1]
        out.print(
            f"{len(found)} days valued, {first} to {last}; on {v.day} the reserve's NAV "
            f"is USD {_money(v.total.nav_usd)}, {_pct(v.share)} of national reserves",
            markup=False,
        )
        return
    show_day(found[0])


def _pct(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('0.001'))}%"


def _payload(v: valuation.DayValuation) -> dict[str, Any]:
    return {
        "day": v.day.isoformat(),
        "basis": v.basis,
        "run_id": v.run_id,
        "nav_usd": decimal_text(v.total.nav_usd),
        "nav_kzt": None if v.total.nav_kzt is None else decimal_text(v.total.nav_kzt),
        "share_of_national_reserves": decimal_text(v.share),
        "custodial_fair_usd": decimal_text(v.custodial_usd),
        "funds": [
            {
                "fund": n.fund,
                "nav_usd": decimal_text(n.nav_usd),
                "nav_kzt": None if n.nav_kzt is None else decimal_text(n.nav_kzt),
            }
            for n in v.navs
        ],
        "lines": [
            {
                "fund": m.holding.fund,
                "asset": m.holding.asset,
                "account": m.holding.account,
                "provenance": m.holding.provenance,
                "units": m.holding.units,
                "fix": None if m.fix is None else decimal_text(m.fix),
                "fix_status": m.fix_status,
                "fair_usd": None if m.fair_usd is None else decimal_text(m.fair_usd),
                "cost_usd": decimal_text(m.holding.cost_usd),
                "unrealised_usd": None
                if m.unrealised_usd is None
                else decimal_text(m.unrealised_usd),
            }
            for m in v.marks
        ],
    }


def show_day(v: valuation.DayValuation) -> None:
    rate = v.rate
    rate_text = (
        "no USD/KZT rate"
        if rate is None
        else f"USD/KZT {rate.kzt_per_usd} of {rate.day}"
        + (" (STALE: tenge left out)" if rate.stale else "")
    )
    table(
        f"Marks on {v.day} ({v.basis} basis; {rate_text})",
        (
            "fund",
            "account",
            "asset",
            "provenance",
            "units",
            "fix USD",
            "status",
            "fair USD",
            "cost USD",
            "unrealised USD",
        ),
        [
            (
                m.holding.fund or "(custody)",
                m.holding.account,
                m.holding.asset,
                m.holding.provenance,
                format_units(m.holding.units, m.decimals),
                str(m.fix) if m.fix else "n/a",
                m.fix_status,
                _money(m.fair_usd),
                _money(m.holding.cost_usd),
                _money(m.unrealised_usd),
            )
            for m in v.marks
        ],
        right=("units", "fix USD", "fair USD", "cost USD", "unrealised USD"),
    )
    table(
        "NAV",
        ("fund", "carrying USD", "cash USD", "NAV USD", "NAV KZT", "unpriced"),
        [
            (
                n.fund,
                _money(n.carrying_usd),
                _money(n.cash_usd),
                _money(n.nav_usd),
                _money(n.nav_kzt),
                ", ".join(n.missing_prices),
            )
            for n in [*v.navs, v.total]
        ],
        right=("carrying USD", "cash USD", "NAV USD", "NAV KZT"),
    )
    out.print(
        f"share of national reserves: {_pct(v.share)}; seized units held for cases "
        f"(custodial statement, not in NAV): USD {_money(v.custodial_usd)}",
        markup=False,
    )


@app.command("chart")
def chart(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="First day.")],
    end: Annotated[str, typer.Option("--to", help="Last day.")],
    folder: Annotated[Path, typer.Option("--out-dir", help="Where nav.png and nav.html go.")] = (
        Path("reports")
    ),
) -> None:
    """Draw the NAV history (PNG and interactive HTML) from the stored valuations.

    Example: `reserve value chart --from 2023-06-01 --to 2025-02-20 --out-dir reports/`
    """
    done = nav_chart(
        state(ctx).reserve(), day_option(start, "--from"), day_option(end, "--to"), folder
    )
    out.print(f"{done.days} days: {done.png} and {done.html}", markup=False)


@app.command("rollforward")
def rollforward(
    ctx: typer.Context,
    asset: Annotated[str, typer.Option("--asset", help="The asset, e.g. BTC.")],
    start: Annotated[str, typer.Option("--from", help="Opening day (its end).")],
    end: Annotated[str, typer.Option("--to", help="Closing day (its end).")],
    as_json: JsonFlag = False,
) -> None:
    """Opening + additions - disposals +/- revaluation = closing, in USD at the daily fixes;
    also the realised results of the period.

    Example: `reserve --as admin value rollforward --asset BTC --from 2024-12-31 --to 2025-02-20`
    """
    from reserve.services.rollforward import realised_results, roll_forward_asset

    cli = state(ctx)
    first, last = day_option(start, "--from"), day_option(end, "--to")
    done = roll_forward_asset(cli.reserve(), asset, first, last, actor=cli.actor)
    results = realised_results(cli.reserve(), first, last)
    terms = {
        "opening": done.opening,
        "additions": done.additions,
        "disposals": -done.disposals,
        "revaluation": done.revaluation,
        "closing": done.closing,
        "difference": done.difference,
    }
    if as_json:
        emit_json(
            {
                **{k: decimal_text(v) for k, v in terms.items()},
                "opening_units": done.opening_units,
                "closing_units": done.closing_units,
                "realised": [
                    {
                        "fund": r.fund,
                        "asset": r.asset,
                        "units": r.units,
                        "cost_usd": decimal_text(r.cost_usd),
                        "proceeds_usd": decimal_text(r.proceeds_usd),
                        "result_usd": decimal_text(r.result_usd),
                    }
                    for r in results
                ],
            }
        )
        return
    table(
        f"Roll-forward of {asset}, {first} to {last} (USD at the daily fixes)",
        ("term", "USD"),
        [(k, _money(v)) for k, v in terms.items()],
        right=("USD",),
    )
    table(
        "Realised results",
        ("fund", "asset", "units", "cost USD", "proceeds USD", "result USD"),
        [
            (
                r.fund or "",
                r.asset,
                str(r.units),
                _money(r.cost_usd),
                _money(r.proceeds_usd),
                _money(r.result_usd),
            )
            for r in results
        ],
        right=("units", "cost USD", "proceeds USD", "result USD"),
    )
