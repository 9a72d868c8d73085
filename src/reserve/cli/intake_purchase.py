"""`reserve intake purchase ...`: committee-approved purchases and their fills.

A committee member proposes; M other members approve the proposal as stored; intake officers
book the venue's fills, each a lot costed at what it paid; a committee member or administrator
completes or cancels the order.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

import typer

from reserve.cli.context import state
from reserve.cli.options import day_option as _day
from reserve.cli.options import money_option as _money
from reserve.cli.options import units_option as _units
from reserve.cli.render import CENT, emit_json, out, table
from reserve.core.money import decimal_text, format_units
from reserve.intake.purchases import Fill, FundingSource, OrderStatus, Proposal
from reserve.services import intake_purchases as purchases

app = typer.Typer(
    help="Purchases and conversions: proposals, committee approval, fills.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
OrderId = Annotated[str, typer.Argument(help="The order id, e.g. PO-2025-007.")]
Reason = Annotated[str, typer.Option("--reason", help="Why the order closes.")]


def _usd(value: Decimal) -> str:
    return f"{value.quantize(CENT):,}"


def _view_row(view: purchases.PurchaseView) -> dict[str, Any]:
    p, d = view.proposal, view.decimals
    average = view.average_price_usd
    return {
        "order_id": p.order_id,
        "source": p.source.value,
        "amount_usd": decimal_text(p.amount_usd),
        "asset": p.asset,
        "fund": p.fund,
        "window_start": p.window_start.isoformat(),
        "window_end": p.window_end.isoformat(),
        "proposer": p.proposer,
        "memo": p.memo,
        "status": view.status.value,
        "quorum": view.quorum,
        "approvers": list(view.approvers),
        "request_hash": view.purchase.request_hash,
        "policy_sha256": view.purchase.policy_sha256,
        "spent_usd": decimal_text(view.spent_usd),
        "remaining_usd": decimal_text(view.remaining_usd),
        "units_bought": format_units(view.units_bought, d),
        "average_price_usd": None if average is None else str(average.quantize(CENT)),
        "closure": None
        if view.closure is None
        else {
            "status": view.closure.status.value,
            "reason": view.closure.reason,
            "closed_by": view.closure.closed_by,
            "closed_at": view.closure.closed_at.isoformat(),
        },
        "fills": [
            {
                "venue": f.fill.venue,
                "ref": f.fill.ref,
                "quantity": format_units(f.fill.quantity, d),
                "price_usd": decimal_text(f.fill.price_usd),
                "fee_usd": decimal_text(f.fill.fee_usd),
                "filled_on": f.fill.filled_on.isoformat(),
                "kzt_per_usd": decimal_text(f.fill.kzt_per_usd or Decimal(0)),
                "cost_usd": decimal_text(f.fill.spent_usd(d)),
                "entry_seq": f.entry_seq,
            }
            for f in view.fills
        ],
    }


@app.command()
def propose(
    ctx: typer.Context,
    order_id: OrderId,
    source: Annotated[FundingSource, typer.Option("--source", help="Where the dollars come from.")],
    amount_usd: Annotated[str, typer.Option("--amount-usd", help="The budget, e.g. 300000000.")],
    asset: Annotated[str, typer.Option("--asset", help="What to buy, e.g. BTC.")],
    fund: Annotated[str, typer.Option("--fund", help="The fund that buys, e.g. SFDA.")],
    window_start: Annotated[str, typer.Option("--from", help="First day of buying, YYYY-MM-DD.")],
    window_end: Annotated[str, typer.Option("--to", help="Last day of buying, YYYY-MM-DD.")],
    memo: Annotated[str, typer.Option("--memo", help="The rationale, for the committee.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Propose a purchase to the investment committee (a committee member acts, never approves).

    Example: `reserve --as ic1 intake purchase propose PO-2025-007 --source FX --amount-usd
    300000000 --asset BTC --fund SFDA --from 2025-01-06 --to 2025-02-04 --memo "FX into BTC"`
    """
    cli = state(ctx)
    budget = _money(amount_usd, "--amount-usd")
    assert budget is not None
    proposal = Proposal(
        order_id, source, budget, asset, fund, _day(window_start, "--from"),
        _day(window_end, "--to"), cli.actor, memo,
    )  # fmt: skip
    recorded = purchases.propose_purchase(cli.reserve(), proposal, actor=cli.actor)
    if as_json:
        emit_json(_view_row(purchases.show_purchase(cli.reserve(), order_id)))
        return
    out.print(
        f"purchase {order_id}: USD {_usd(recorded.proposal.amount_usd)} of {source} into "
        f"{asset} for {fund}, awaiting {recorded.quorum} committee approvals",
        markup=False,
    )


@app.command()
def approve(ctx: typer.Context, order_id: OrderId, as_json: JsonFlag = False) -> None:
    """Approve a proposal exactly as stored (a committee member other than its proposer).

    Example: `reserve --as ic2 intake purchase approve PO-2025-007`
    """
    cli = state(ctx)
    approval = purchases.approve_purchase(cli.reserve(), order_id, actor=cli.actor)
    view = purchases.show_purchase(cli.reserve(), order_id)
    if as_json:
        emit_json(_view_row(view))
        return
    out.print(
        f"purchase {order_id} approved by {approval.approver} "
        f"({len(view.approvers)} of {view.quorum}): {view.status}",
        markup=False,
    )


@app.command()
def fill(
    ctx: typer.Context,
    order_id: OrderId,
    venue: Annotated[str, typer.Option("--venue", help="A licensed venue, e.g. AIX.")],
    ref: Annotated[str, typer.Option("--ref", help="The venue's trade id.")],
    quantity: Annotated[str, typer.Option("--quantity", help="Whole units bought, e.g. 12.5.")],
    price_usd: Annotated[str, typer.Option("--price-usd", help="USD per whole unit.")],
    fee_usd: Annotated[str, typer.Option("--fee-usd", help="The venue's fee in USD.")],
    on: Annotated[str, typer.Option("--on", help="The trade date, YYYY-MM-DD.")],
    kzt_per_usd: Annotated[
        str | None, typer.Option("--kzt-per-usd", help="The day's rate; default: bundled series.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Book a fill of an approved order as a lot at the venue (an intake officer acts).

    The lot costs quantity times price plus the fee; recording a venue trade again is a no-op.

    Example: `reserve --as intake1 intake purchase fill PO-2025-007 --venue AIX --ref T-1001
    --quantity 100 --price-usd 98000 --fee-usd 4900 --on 2025-01-07 --kzt-per-usd 512.40`
    """
    cli = state(ctx)
    reserve = cli.reserve()
    asset = purchases.show_purchase(reserve, order_id).proposal.asset
    price, fee = _money(price_usd, "--price-usd"), _money(fee_usd, "--fee-usd")
    assert price is not None
    assert fee is not None
    trade = Fill(
        venue, _units(reserve, asset, quantity, "--quantity"), price, fee, _day(on, "--on"), ref,
        _money(kzt_per_usd, "--kzt-per-usd"),
    )  # fmt: skip
    done = purchases.record_fill(reserve, order_id, trade, actor=cli.actor)
    if as_json:
        emit_json(
            {
                "order_id": done.order_id,
                "venue": done.venue,
                "ref": done.ref,
                "entry_seq": done.entry_seq,
                "cost_usd": decimal_text(done.cost_usd),
                "kzt_per_usd": decimal_text(done.kzt_per_usd),
                "created": done.created,
            }
        )
        return
    replay = "" if done.created else " (already recorded)"
    out.print(
        f"fill {venue}:{ref} of {order_id}: {quantity} {asset} for USD {_usd(done.cost_usd)}, "
        f"entry {done.entry_seq}{replay}",
        markup=False,
    )


def _close(
    ctx: typer.Context, order_id: str, status: OrderStatus, reason: str, as_json: bool
) -> None:
    cli = state(ctx)
    closure = purchases.close_purchase(cli.reserve(), order_id, status, reason, actor=cli.actor)
    if as_json:
        emit_json(_view_row(purchases.show_purchase(cli.reserve(), order_id)))
        return
    out.print(f"purchase {order_id} {closure.status}: {closure.reason}", markup=False)


@app.command()
def complete(
    ctx: typer.Context, order_id: OrderId, reason: Reason, as_json: JsonFlag = False
) -> None:
    """Complete an order that has fills; it takes no more (a committee member or administrator).

    Example: `reserve --as ic1 intake purchase complete PO-2025-007 --reason "budget spent"`
    """
    _close(ctx, order_id, OrderStatus.COMPLETED, reason, as_json)


@app.command()
def cancel(
    ctx: typer.Context, order_id: OrderId, reason: Reason, as_json: JsonFlag = False
) -> None:
    """Cancel an order, approved or not; booked fills stay (a committee member or administrator).

    Example: `reserve --as ic1 intake purchase cancel PO-2025-007 --reason "market closed"`
    """
    _close(ctx, order_id, OrderStatus.CANCELLED, reason, as_json)


def show_purchases(views: Sequence[purchases.PurchaseView]) -> None:
    """The purchase orders as a table: budget, spend, units bought and status."""
    table(
        "Purchase orders",
        ("order", "source", "asset", "fund", "budget USD", "spent USD", "bought", "status"),
        (
            (v.proposal.order_id, v.proposal.source.value, v.proposal.asset, v.proposal.fund,
             _usd(v.proposal.amount_usd), _usd(v.spent_usd),
             format_units(v.units_bought, v.decimals), v.status.value)
            for v in views
        ),
        right=("budget USD", "spent USD", "bought"),
    )  # fmt: skip


@app.command("list")
def list_orders(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the purchase orders with their status and what they spent.

    Example: `reserve intake purchase list --json`
    """
    views = purchases.list_purchases(state(ctx).reserve())
    if as_json:
        emit_json([_view_row(v) for v in views])
        return
    show_purchases(views)


@app.command()
def show(ctx: typer.Context, order_id: OrderId, as_json: JsonFlag = False) -> None:
    """Show an order: the proposal, its approvals against the quorum, its fills and totals.

    Example: `reserve intake purchase show PO-2025-007 --json`
    """
    view = purchases.show_purchase(state(ctx).reserve(), order_id)
    row = _view_row(view)
    if as_json:
        emit_json(row)
        return
    p = view.proposal
    out.print(
        f"purchase {p.order_id}: USD {_usd(p.amount_usd)} of {p.source} into {p.asset} for "
        f"{p.fund}, {p.window_start}..{p.window_end}, proposed by {p.proposer}: {view.status}",
        markup=False,
    )
    if p.memo:
        out.print(f"memo: {p.memo}", markup=False)
    approvers = ", ".join(view.approvers) or "none"
    out.print(f"approvals: {len(view.approvers)} of {view.quorum} ({approvers})", markup=False)
    average = "-" if view.average_price_usd is None else _usd(view.average_price_usd)
    out.print(
        f"spent USD {_usd(view.spent_usd)}, left USD {_usd(view.remaining_usd)}, bought "
        f"{row['units_bought']} {p.asset} at USD {average} on average",
        markup=False,
    )
    if view.closure is not None:
        out.print(f"closed by {view.closure.closed_by}: {view.closure.reason}", markup=False)
    table(
        "Fills",
        ("venue", "ref", "on", "quantity", "price USD", "fee USD", "cost USD", "KZT/USD", "entry"),
        (
            (f["venue"], f["ref"], f["filled_on"], f["quantity"], f["price_usd"], f["fee_usd"],
             _usd(Decimal(f["cost_usd"])), f["kzt_per_usd"], str(f["entry_seq"]))
            for f in row["fills"]
        ),
        right=("quantity", "price USD", "fee USD", "cost USD", "KZT/USD", "entry"),
    )  # fmt: skip
