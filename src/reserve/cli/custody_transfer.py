"""`reserve custody policy|transfer|reconcile ...`: the transfer policy, the life of a
transfer from request to ledger entry, and reconciliation with the chain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from reserve.cli.chain_options import EsploraOption, RpcOption, chain_source
from reserve.cli.context import state
from reserve.cli.render import emit_json, out, table
from reserve.core.errors import InvalidInput
from reserve.core.money import format_units
from reserve.custody.transfers import EventKind, TransferRequest
from reserve.services import custody_policy, custody_signing
from reserve.services import custody_transfers as transfers

policy = typer.Typer(
    help="The transfer policy and whitelist: propose, approve.", no_args_is_help=True
)
transfer = typer.Typer(help="Transfers: request, approve, sign, broadcast.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
TransferId = Annotated[str, typer.Argument(help="The transfer id, e.g. TR-2025-001.")]


# -- policy ---------------------------------------------------------------------------------
@policy.command("propose")
def policy_propose(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A TOML file: the rules or the whitelist.")],
    kind: Annotated[str, typer.Option("--kind", help="rules or whitelist")] = "rules",
) -> None:
    """Propose a new version; two administrators or risk officers other than you approve it.

    Example: `reserve --as risk1 custody policy propose config/transfer_policy.toml --kind rules`
    """
    cli = state(ctx)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as bad:
        raise InvalidInput.one(str(file), "file", f"cannot be read ({bad})") from None
    version = custody_policy.propose_policy(
        cli.reserve(), kind, text, where=str(file), actor=cli.actor
    )
    out.print(f"{kind} version {version.version} proposed: sha256 {version.sha256}", markup=False)


@policy.command("approve")
def policy_approve(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="rules or whitelist")],
    sha256: Annotated[str, typer.Argument(help="The proposed version's sha256.")],
) -> None:
    """Approve a proposed version.

    Example: `reserve --as admin custody policy approve rules 3f2a...`
    """
    cli = state(ctx)
    _approval, now_in_force = custody_policy.approve_policy(
        cli.reserve(), kind, sha256, actor=cli.actor
    )
    tail = "now in force" if now_in_force else "waiting for more approvals"
    out.print(f"{kind} {sha256[:12]} approved by {cli.actor}: {tail}", markup=False)


@policy.command("list")
def policy_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every proposed version of the rules and whitelist. Example: `reserve custody policy list`"""
    rows: list[dict[str, Any]] = [
        {
            "kind": v.kind,
            "version": v.version,
            "sha256": v.sha256,
            "in_force": current,
            "proposed_by": v.proposed_by,
            "approvers": sorted(a.approver for a in approvals),
        }
        for v, current, approvals in custody_policy.policy_versions(state(ctx).reserve())
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "Custody policy versions",
        ("kind", "version", "sha256", "in force", "approvers"),
        [
            (
                r["kind"],
                r["version"],
                r["sha256"][:16],
                "yes" if r["in_force"] else "",
                ", ".join(r["approvers"]),
            )
            for r in rows
        ],
    )


# -- transfers ------------------------------------------------------------------------------
def _row(view: transfers.TransferView) -> dict[str, Any]:
    r, e = view.request, view.stored.evaluation
    return {
        "transfer_id": r.transfer_id,
        "vault": r.vault,
        "asset": r.asset,
        "destination": r.destination,
        "destination_kind": e.get("destination_kind"),
        "amount": format_units(r.amount, 8),
        "fee": r.fee,
        "memo": r.memo,
        "amount_usd": None if view.stored.amount_usd is None else str(view.stored.amount_usd),
        "status": view.status.value,
        "initiator": view.stored.initiator,
        "rule": e.get("rule"),
        "approvals_needed": view.needed,
        "approvers": list(view.approvers),
        "request_hash": view.stored.request_hash,
        "policy_sha256": e.get("policy_sha256"),
        "sanctions_sha256": e.get("sanctions_sha256"),
        "signing_opens_at": None
        if view.signing_opens_at is None
        else view.signing_opens_at.isoformat(),
        "events": [
            {
                "kind": ev.kind.value,
                "actor": ev.actor,
                "at": ev.at.isoformat(),
                **{k: v for k, v in ev.payload.items() if k not in ("psbt", "raw_tx")},
            }
            for ev in view.events
        ],
    }


def _say(view: transfers.TransferView) -> None:
    r = view.request
    out.print(
        f"transfer {r.transfer_id}: {format_units(r.amount, 8)} {r.asset} from {r.vault} to "
        f"{r.destination}: {view.status.value}"
        + (f", {view.needed} approval(s) missing" if view.needed else ""),
        markup=False,
    )


@transfer.command("request")
def transfer_request(
    ctx: typer.Context,
    transfer_id: TransferId,
    vault: Annotated[str, typer.Option("--vault", help="The source vault.")],
    to: Annotated[str, typer.Option("--to", help="The destination address.")],
    amount: Annotated[str, typer.Option("--amount", help="Units of the asset, e.g. 12.5.")],
    fee: Annotated[int, typer.Option("--fee", help="The network fee in satoshis.")],
    memo: Annotated[str, typer.Option("--memo", help="Why the coins move.")],
    court_order: Annotated[str | None, typer.Option("--court-order")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Request a transfer; the policy in force evaluates it at once.

    Example: `reserve --as kh1 custody transfer request TR-1 --vault cold-1 --to bc1q...
    --amount 10 --fee 5000 --memo "to the warm vault"`
    """
    from reserve.cli.options import units_option

    cli = state(ctx)
    reserve = cli.reserve()
    with reserve.reading() as uow:
        from reserve.services.custody_vaults import get_vault

        asset = get_vault(uow, vault).spec.asset
    units = units_option(reserve, asset, amount, "--amount")
    kind = "court" if court_order else "other"
    request = TransferRequest(
        transfer_id, vault, asset, to.strip(), kind, units, fee, memo, court_order
    )
    view = transfers.request_transfer(reserve, request, actor=cli.actor)
    emit_json(_row(view)) if as_json else _say(view)


@transfer.command("approve")
def transfer_approve(ctx: typer.Context, transfer_id: TransferId) -> None:
    """Approve a request as stored. Example: `reserve --as risk1 custody transfer approve TR-1`"""
    cli = state(ctx)
    _say(transfers.approve_transfer(cli.reserve(), transfer_id, actor=cli.actor))


@transfer.command("build")
def transfer_build(
    ctx: typer.Context,
    transfer_id: TransferId,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="One PSBT file per key goes here.")],
) -> None:
    """Build the unsigned PSBT and write one copy per key holder for offline signing.

    Example: `reserve --as kh1 custody transfer build TR-1 --out-dir signing/`
    """
    cli = state(ctx)
    reserve = cli.reserve()
    psbt = custody_signing.build_transfer(reserve, transfer_id, actor=cli.actor)
    view = transfers.show_transfer(reserve, transfer_id)
    with reserve.reading() as uow:
        from reserve.services.custody_vaults import get_vault

        spec = get_vault(uow, view.request.vault).spec
    out_dir.mkdir(parents=True, exist_ok=True)
    for key in spec.keys:
        path = out_dir / f"{transfer_id}-{key.key_id}.psbt"
        path.write_text(psbt + "\n", encoding="utf-8")
        out.print(f"{path}  for {key.holder} ({key.fingerprint})", markup=False)


@transfer.command("import")
def transfer_import(
    ctx: typer.Context,
    transfer_id: TransferId,
    files: Annotated[list[Path], typer.Argument(help="Signed PSBT files.")],
) -> None:
    """Import signed PSBTs, each checked against the approved spend; all or none.

    Example: `reserve --as kh1 custody transfer import TR-1 signing/TR-1-kh2-a.signed.psbt`
    """
    cli = state(ctx)
    texts = []
    for file in files:
        try:
            texts.append(file.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError) as bad:
            raise InvalidInput.one(str(file), "file", f"cannot be read ({bad})") from None
    found = custody_signing.import_signed(cli.reserve(), transfer_id, texts, actor=cli.actor)
    for file, signers in zip(files, found, strict=True):
        out.print(f"{file}: signatures by {', '.join(s[:16] for s in signers)}", markup=False)
    _say(transfers.show_transfer(cli.reserve(), transfer_id))


@transfer.command("finalize")
def transfer_finalize(ctx: typer.Context, transfer_id: TransferId) -> None:
    """Combine, finalize and verify. Example: `reserve --as kh1 custody transfer finalize TR-1`"""
    cli = state(ctx)
    txid = custody_signing.finalize_transfer(cli.reserve(), transfer_id, actor=cli.actor)
    out.print(f"transfer {transfer_id}: finalized and verified, txid {txid}", markup=False)


@transfer.command("broadcast")
def transfer_broadcast(
    ctx: typer.Context,
    transfer_id: TransferId,
    rpc: RpcOption = None,
    esplora: EsploraOption = None,
) -> None:
    """Check once more and broadcast.

    Example: `reserve custody transfer broadcast TR-1 --rpc URL`
    """
    cli = state(ctx)
    txid = custody_signing.broadcast_transfer(
        cli.reserve(), transfer_id, chain_source(rpc, esplora), actor=cli.actor
    )
    out.print(f"transfer {transfer_id}: broadcast {txid}", markup=False)


@transfer.command("confirm")
def transfer_confirm(
    ctx: typer.Context,
    transfer_id: TransferId,
    rpc: RpcOption = None,
    esplora: EsploraOption = None,
) -> None:
    """Book the transfer once buried deep enough.

    Example: `reserve custody transfer confirm TR-1 --rpc URL`
    """
    cli = state(ctx)
    done = custody_signing.confirm_transfer(
        cli.reserve(), transfer_id, chain_source(rpc, esplora), actor=cli.actor
    )
    if done.entry_seq is None:
        out.print(f"{done.txid}: {done.confirmations} of {done.needed} confirmations", markup=False)
        return
    out.print(f"{done.txid}: confirmed, ledger entry {done.entry_seq}", markup=False)


@transfer.command("cancel")
def transfer_cancel(
    ctx: typer.Context,
    transfer_id: TransferId,
    reason: Annotated[str, typer.Option("--reason", help="Why it stops.")],
) -> None:
    """Stop a transfer before broadcast.

    Example: `reserve custody transfer cancel TR-1 --reason "wrong fee"`
    """
    cli = state(ctx)
    custody_signing.cancel_transfer(cli.reserve(), transfer_id, reason, actor=cli.actor)
    out.print(f"transfer {transfer_id}: cancelled", markup=False)


@transfer.command("show")
def transfer_show(ctx: typer.Context, transfer_id: TransferId, as_json: JsonFlag = False) -> None:
    """One transfer with its evaluation and events. Example: `reserve custody transfer show TR-1`"""
    view = transfers.show_transfer(state(ctx).reserve(), transfer_id)
    if as_json:
        emit_json(_row(view))
        return
    _say(view)
    table(
        f"Transfer {transfer_id}",
        ("event", "by", "at"),
        [(e.kind.value, e.actor, e.at.isoformat()) for e in view.events],
    )


@transfer.command("list")
def transfer_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every transfer. Example: `reserve custody transfer list --json`"""
    views = transfers.list_transfers(state(ctx).reserve())
    if as_json:
        emit_json([_row(v) for v in views])
        return
    table(
        "Transfers",
        ("transfer", "vault", "amount", "status", "rule", "approvers", "signed"),
        [
            (
                v.request.transfer_id,
                v.request.vault,
                format_units(v.request.amount, 8),
                v.status.value,
                str(v.stored.evaluation.get("rule")),
                ", ".join(v.approvers),
                str(sum(1 for e in v.events if e.kind == EventKind.SIGNED)),
            )
            for v in views
        ],
    )
