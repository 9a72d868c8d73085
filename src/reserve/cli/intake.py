"""`reserve intake case ...`: seizure cases, what was seized in them, and the court's orders.

Seized units sit in their case's custody accounts, in no fund. An order moves them between legal
states once two legal officers other than its proposer approved it; executing a transfer to the
reserve books a new lot in a fund at the given fair value, a return books units out of custody,
a sale books its proceeds to the case's custody cash (interlocutory) or to a fund's cash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import typer

from reserve.adapters.record_files import read_rows
from reserve.cli import intake_mining, intake_purchase
from reserve.cli.context import state
from reserve.cli.options import day_option as _day
from reserve.cli.options import moment_option as _moment
from reserve.cli.options import money_option as _money
from reserve.cli.options import units_option as _units
from reserve.cli.render import emit_json, out, table
from reserve.core.errors import InvalidInput
from reserve.core.money import format_units
from reserve.intake.cases import SeizedAsset, SeizureCase
from reserve.intake.legal import LegalOrder, LegalState, RecordedOrder
from reserve.intake.records import RecordKind
from reserve.services import intake_cases as cases
from reserve.services import intake_orders as orders
from reserve.services.intake_import import import_records
from reserve.services.ledger import list_assets

app = typer.Typer(
    help="Intake: seizure cases, state mining output, committee-approved purchases.",
    no_args_is_help=True,
)
case_app = typer.Typer(help="Seizure cases and their legal orders.", no_args_is_help=True)
app.add_typer(case_app, name="case")
app.add_typer(intake_mining.app, name="mining")
app.add_typer(intake_purchase.app, name="purchase")


@app.command("import")
def import_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .csv (with a header) or .json (a list) file.")],
    kind: Annotated[
        RecordKind,
        typer.Option(help="What the file holds: cases, seizures, mining (reports) or fills."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Import case registers, seizure records, mining reports or fills, all rows or none;
    re-importing changes nothing.

    Example: `reserve --as intake1 intake import mining-2024.csv --kind mining`
    """
    cli = state(ctx)
    result = import_records(cli.reserve(), kind, read_rows(file), actor=cli.actor)
    summary = {"kind": str(result.kind), "rows": result.rows, "created": result.created}
    if as_json:
        emit_json(summary)
    else:
        out.print(f"{file.name}: {result.rows} {result.kind} rows, {result.created} new")


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CaseNumber = Annotated[str, typer.Argument(help="The case number, e.g. 2024-001.")]
OrderId = Annotated[int, typer.Argument(help="The order's number, as `propose` printed it.")]


def _order_row(o: RecordedOrder, decimals: int) -> dict[str, Any]:
    return {
        "id": o.id,
        "case": o.order.case,
        "asset": o.order.asset,
        "amount": format_units(o.order.amount, decimals),
        "from_state": o.order.from_state.value,
        "to_state": o.order.to_state.value,
        "reference": o.order.reference,
        "issued_on": o.order.issued_on.isoformat(),
        "proposer": o.order.proposer,
        "recipients": list(o.order.recipients),
        "request_hash": o.request_hash,
        "status": o.status,
        "entry_seq": o.entry_seq,
    }


@case_app.command("open")
def open_case(
    ctx: typer.Context,
    number: CaseNumber,
    agency: Annotated[str, typer.Option("--agency", help="The seizing agency.")],
    court: Annotated[str, typer.Option("--court", help="The court in charge.")],
    on: Annotated[str, typer.Option("--on", help="Opening date, YYYY-MM-DD.")],
    description: Annotated[str, typer.Option("--description", help="What the case is.")] = "",
) -> None:
    """Open a seizure case (an intake officer acts).

    Example: `reserve --as intake1 intake case open 2024-001 --agency AFM --court "Astana City
    Court" --on 2024-03-01 --description "Darknet market"`
    """
    cli = state(ctx)
    case = SeizureCase(number, agency, court, description, _day(on, "--on"))
    cases.open_case(cli.reserve(), case, actor=cli.actor)
    out.print(f"case {number} open", markup=False)


@case_app.command("list")
def list_cases(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the seizure cases.

    Example: `reserve intake case list --json`
    """
    found = cases.list_cases(state(ctx).reserve())
    rows = [
        {
            "number": c.number,
            "agency": c.agency,
            "court": c.court,
            "description": c.description,
            "opened_on": c.opened_on.isoformat(),
        }
        for c in found
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "Seizure cases",
        ("number", "agency", "court", "opened", "description"),
        ((r["number"], r["agency"], r["court"], r["opened_on"], r["description"]) for r in rows),
    )


@case_app.command()
def show(ctx: typer.Context, number: CaseNumber, as_json: JsonFlag = False) -> None:
    """Show a case: its legal position per asset, its seizures and its orders.

    Example: `reserve intake case show 2024-001 --json`
    """
    reserve = state(ctx).reserve()
    view = cases.show_case(reserve, number)
    decimals = {a.code: a.decimals for a in list_assets(reserve)}
    positions = [
        {
            "asset": p.asset,
            "units": {s.value: format_units(n, p.decimals) for s, n in sorted(p.units.items())},
            "in_custody": format_units(p.in_custody, p.decimals),
            "sold": format_units(p.sold, p.decimals),
            "custody_balance": format_units(p.custody_balance, p.decimals),
        }
        for p in view.positions
    ]
    proceeds = format_units(view.proceeds_usd, decimals.get("USD", 2))
    seizures = [
        {
            "outpoint": s.outpoint,
            "chain": s.chain,
            "asset": s.asset,
            "amount": format_units(s.amount, decimals[s.asset]),
            "seized_at": s.seized_at.isoformat(),
        }
        for s in view.seizures
    ]
    order_rows = [
        {
            **_order_row(o, decimals[o.order.asset]),
            "approvers": [a.approver for a in view.approvals.get(o.id, [])],
        }
        for o in view.orders
    ]
    if as_json:
        emit_json(
            {
                "case": number,
                "positions": positions,
                "proceeds_usd": proceeds,
                "seizures": seizures,
                "orders": order_rows,
            }
        )
        return
    c = view.case
    out.print(f"case {c.number}: {c.agency}, {c.court}, opened {c.opened_on}", markup=False)
    position_rows = [
        (p.asset, held.value, format_units(n, p.decimals))
        for p in view.positions
        for held, n in sorted(p.units.items())
    ] + [
        (p.asset, "custody balance", format_units(p.custody_balance, p.decimals))
        for p in view.positions
    ]
    if view.proceeds_usd:
        position_rows.append(("USD", "sale proceeds in custody", proceeds))
    table("Legal position", ("asset", "state", "units"), position_rows, right=("units",))
    table(
        "Seizures",
        ("outpoint", "chain", "asset", "amount", "seized at"),
        ((s["outpoint"], s["chain"], s["asset"], s["amount"], s["seized_at"]) for s in seizures),
        right=("amount",),
    )
    table(
        "Orders",
        ("id", "asset", "amount", "from", "to", "reference", "approvers", "status"),
        (
            (str(o["id"]), o["asset"], o["amount"], o["from_state"], o["to_state"],
             o["reference"], ", ".join(o["approvers"]), o["status"])
            for o in order_rows
        ),
        right=("id", "amount"),
    )  # fmt: skip


@case_app.command()
def seize(
    ctx: typer.Context,
    number: CaseNumber,
    chain: Annotated[str, typer.Option("--chain", help="e.g. bitcoin.")],
    asset: Annotated[str, typer.Option("--asset", help="e.g. BTC.")],
    amount: Annotated[str, typer.Option("--amount", help="Whole units, e.g. 12.5.")],
    txid: Annotated[str, typer.Option("--txid", help="The seizing transaction, 64 hex.")],
    source: Annotated[str, typer.Option("--from", help="The address seized from.")],
    target: Annotated[str, typer.Option("--to", help="The state's custody address.")],
    at: Annotated[str, typer.Option("--at", help="When, e.g. 2024-03-05T12:00:00+00:00.")],
    usd: Annotated[str, typer.Option("--usd", help="Fair value in USD at seizure.")],
    kzt: Annotated[str, typer.Option("--kzt", help="Fair value in KZT at seizure.")],
    vout: Annotated[int | None, typer.Option("--vout", help="Output index, if any.")] = None,
) -> None:
    """Record a seizure; its units land in the case's custody account (replays are no-ops).

    Example: `reserve --as intake1 intake case seize 2024-001 --chain bitcoin --asset BTC --amount
    12.5 --txid 4f1d...0b2d --vout 1 --from bc1q... --to bc1q... --at 2024-03-05T12:00:00+00:00
    --usd 812500 --kzt 365625000`
    """
    cli = state(ctx)
    reserve = cli.reserve()
    seized = SeizedAsset(
        number, chain, asset, _units(reserve, asset, amount, "--amount"), txid.lower(), vout,
        source, target, _moment(at, "--at"),
    )  # fmt: skip
    usd_value, kzt_value = _money(usd, "--usd"), _money(kzt, "--kzt")
    assert usd_value is not None
    assert kzt_value is not None
    done = cases.record_seizure(
        reserve, seized, fair_value_usd=usd_value, fair_value_kzt=kzt_value, actor=cli.actor
    )
    replay = "" if done.created else " (already recorded)"
    out.print(f"seizure {done.outpoint} in case {number}: entry {done.entry_seq}{replay}")


@case_app.command()
def propose(
    ctx: typer.Context,
    number: CaseNumber,
    asset: Annotated[str, typer.Option("--asset", help="e.g. BTC.")],
    amount: Annotated[str, typer.Option("--amount", help="Whole units the order moves.")],
    from_state: Annotated[LegalState, typer.Option("--from", help="The units' state now.")],
    to_state: Annotated[LegalState, typer.Option("--to", help="The state the order puts them in.")],
    reference: Annotated[str, typer.Option("--reference", help="Court decision or order.")],
    issued: Annotated[str, typer.Option("--issued", help="Date of the order, YYYY-MM-DD.")],
    document: Annotated[Path, typer.Option("--document", help="The order's document file.")],
    recipient: Annotated[
        list[str] | None, typer.Option("--recipient", help="Who receives; repeat for several.")
    ] = None,
) -> None:
    """Propose a legal transition under a court order (a legal officer acts); two others approve.

    Example: `reserve --as legal1 intake case propose 2024-001 --asset BTC --amount 12.5 --from
    SEIZED --to FORFEITED --reference 12/2024 --issued 2024-06-01 --document order.pdf`
    """
    cli = state(ctx)
    reserve = cli.reserve()
    try:
        digest = hashlib.sha256(document.read_bytes()).hexdigest()
    except OSError as error:
        raise InvalidInput.one(
            f"file {document}", "--document", f"cannot be read: {error.strerror}"
        ) from None
    order = LegalOrder(
        number, asset, _units(reserve, asset, amount, "--amount"), from_state, to_state,
        reference, _day(issued, "--issued"), digest, cli.actor, frozenset(),
        tuple(recipient or ()),
    )  # fmt: skip
    recorded = orders.propose_order(reserve, order, actor=cli.actor)
    out.print(
        f"order {recorded.id}: {from_state} -> {to_state} in case {number}, "
        f"awaiting {orders.LEGAL_TRANSITION.quorum} approvals",
        markup=False,
    )


@case_app.command()
def approve(ctx: typer.Context, order_id: OrderId) -> None:
    """Approve an order exactly as proposed (not its proposer; legal officers or administrators).

    Example: `reserve --as legal2 intake case approve 3`
    """
    cli = state(ctx)
    approval = orders.approve_order(cli.reserve(), order_id, actor=cli.actor)
    out.print(f"order {order_id} approved by {approval.approver}", markup=False)


@case_app.command()
def execute(
    ctx: typer.Context,
    order_id: OrderId,
    fund: Annotated[
        str | None, typer.Option("--fund", help="Receiving fund (transfer, sale after forfeiture).")
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="The fund's receiving asset account.")
    ] = None,
    usd: Annotated[str | None, typer.Option("--usd", help="Fair value in USD.")] = None,
    kzt: Annotated[str | None, typer.Option("--kzt", help="Fair value in KZT.")] = None,
    venue: Annotated[
        str | None, typer.Option("--venue", help="Sale: the licensed venue, e.g. AIX.")
    ] = None,
    sale_ref: Annotated[
        str | None, typer.Option("--sale-ref", help="Sale: the venue's trade id.")
    ] = None,
    price_usd: Annotated[
        str | None, typer.Option("--price-usd", help="Sale: USD per whole unit.")
    ] = None,
    fee_usd: Annotated[
        str | None, typer.Option("--fee-usd", help="Sale: the venue's fee in USD (0 if none).")
    ] = None,
) -> None:
    """Execute an approved order. A transfer to the reserve names the fund, account and value;
    a sale names the venue, its trade id, the price and the fee, and after forfeiture the fund.

    Example (transfer): `reserve --as legal1 intake case execute 4 --fund SFDA
    --account Assets:Reserve:SFDA:BTC:vault-astana-1 --usd 875000 --kzt 393750000`

    Example (sale): `reserve --as legal1 intake case execute 5 --venue AIX
    --sale-ref AIX-T-88412 --price-usd 64250.50 --fee-usd 120.00`
    (after a forfeiture add `--fund SFDA`: the proceeds go to that fund's cash;
    before it they stay with the case, in its custody cash)
    """
    cli = state(ctx)
    done = orders.execute_order(
        cli.reserve(),
        order_id,
        actor=cli.actor,
        fund=fund,
        fund_account=account,
        fair_value_usd=_money(usd, "--usd"),
        fair_value_kzt=_money(kzt, "--kzt"),
        venue=venue,
        sale_ref=sale_ref,
        price_usd=_money(price_usd, "--price-usd"),
        fee_usd=_money(fee_usd, "--fee-usd"),
    )
    booked = "" if done.entry_seq is None else f"; entry {done.entry_seq}"
    out.print(f"order {order_id} executed: {done.to_state}{booked}", markup=False)
