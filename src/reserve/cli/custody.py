"""`reserve custody ...`: key holders, keys, vaults, the transfer policy, transfers,
reconciliation, and the offline signer.

Example session: `reserve custody keyholder add kh1 --site Astana`, `reserve custody key add
kh1-a --holder kh1 --xpub tpub... --fingerprint 1a2b3c4d --path m/48h/1h/0h/2h`, `reserve
custody vault create cold-1 --fund SFDA --asset BTC --tier cold --threshold 3 --key kh1-a ...`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from reserve.cli import custody_reconcile, custody_transfer
from reserve.cli.chain_options import EsploraOption, RpcOption, chain_source
from reserve.cli.context import state
from reserve.cli.render import emit_json, out, table
from reserve.cli.signer import sign_command
from reserve.core.errors import InvalidInput
from reserve.core.money import format_units
from reserve.custody.keys import VaultKey
from reserve.custody.vaults import Recovery, Tier, VaultSpec
from reserve.services import custody_vaults as vaults

app = typer.Typer(help="Custody: key holders, keys, vaults, transfers.", no_args_is_help=True)
keyholder = typer.Typer(help="People who hold vault keys, and their sites.", no_args_is_help=True)
key = typer.Typer(help="The public halves of the key holders' keys.", no_args_is_help=True)
vault = typer.Typer(
    help="Multisig vaults: create, addresses, deposits, backup.", no_args_is_help=True
)
app.add_typer(keyholder, name="keyholder")
app.add_typer(key, name="key")
app.add_typer(vault, name="vault")
app.add_typer(custody_transfer.policy, name="policy")
app.add_typer(custody_transfer.transfer, name="transfer")
app.add_typer(custody_reconcile.reconcile_app, name="reconcile")
# the offline signer, also reachable as `reserve custody sign` (it opens no database)
app.command("sign")(sign_command)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
VaultName = Annotated[str, typer.Argument(help="The vault's name, e.g. cold-astana-1.")]


# -- key holders ----------------------------------------------------------------------------
@keyholder.command("add")
def keyholder_add(
    ctx: typer.Context,
    holder: Annotated[str, typer.Argument(help="The user who holds keys (a custodian).")],
    site: Annotated[str, typer.Option("--site", help="The city where the keys sit.")],
) -> None:
    """Register a custodian as a key holder at a site.

    Example: `reserve --as admin custody keyholder add kh1 --site Astana`
    """
    cli = state(ctx)
    found = vaults.add_key_holder(cli.reserve(), holder, site, actor=cli.actor)
    out.print(f"key holder {found.holder} ({found.unit}) at {found.site}", markup=False)


@keyholder.command("list")
def keyholder_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every key holder with unit and site. Example: `reserve custody keyholder list`"""
    with state(ctx).reserve().reading() as uow:
        holders = sorted(uow.custody.holders().values(), key=lambda h: h.holder)
    rows = [{"holder": h.holder, "unit": h.unit, "site": h.site} for h in holders]
    if as_json:
        emit_json(rows)
        return
    table("Key holders", ("holder", "unit", "site"), [tuple(r.values()) for r in rows])


# -- keys -----------------------------------------------------------------------------------
@key.command("add")
def key_add(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="A name for the key, e.g. kh1-a.")],
    holder: Annotated[str, typer.Option("--holder", help="Its key holder.")],
    xpub: Annotated[str, typer.Option("--xpub", help="The account xpub (tpub on test networks).")],
    fingerprint: Annotated[str, typer.Option("--fingerprint", help="Master key fingerprint.")],
    path: Annotated[str, typer.Option("--path", help="Derivation path.")] = "m/48h/0h/0h/2h",
    network: Annotated[str, typer.Option("--network", help="bitcoin|testnet|signet|regtest")] = (
        "bitcoin"
    ),
) -> None:
    """Register the public half of a key.

    Example: `reserve custody key add kh1-a --holder kh1 --xpub tpubD... --fingerprint 1a2b3c4d
    --path m/48h/1h/0h/2h --network regtest`
    """
    cli = state(ctx)
    found = vaults.add_key(
        cli.reserve(),
        VaultKey(key_id, holder, fingerprint, path, xpub),
        network=network,
        actor=cli.actor,
    )
    out.print(f"key {found.key_id} of {found.holder}: {found.origin()}", markup=False)


@key.command("list")
def key_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every registered key. Example: `reserve custody key list --json`"""
    with state(ctx).reserve().reading() as uow:
        keys = list(uow.custody.keys().values())
    rows = [
        {
            "key_id": k.key_id,
            "holder": k.holder,
            "fingerprint": k.fingerprint,
            "path": k.path,
            "xpub": k.xpub,
        }
        for k in keys
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "Keys",
        ("key", "holder", "fingerprint", "path"),
        [(r["key_id"], r["holder"], r["fingerprint"], r["path"]) for r in rows],
    )


# -- vaults ---------------------------------------------------------------------------------
@vault.command("create")
def vault_create(
    ctx: typer.Context,
    name: VaultName,
    fund: Annotated[str, typer.Option("--fund", help="The fund that owns it, e.g. SFDA.")],
    threshold: Annotated[int, typer.Option("--threshold", help="Signatures a spend needs (M).")],
    keys: Annotated[list[str], typer.Option("--key", help="A key id; repeat for each key.")],
    asset: Annotated[str, typer.Option("--asset")] = "BTC",
    tier: Annotated[Tier, typer.Option("--tier")] = Tier.COLD,
    network: Annotated[str, typer.Option("--network")] = "bitcoin",
    recovery_key: Annotated[str | None, typer.Option("--recovery-key")] = None,
    recovery_blocks: Annotated[int, typer.Option("--recovery-blocks")] = 52560,
    as_json: JsonFlag = False,
) -> None:
    """Create an M-of-N vault; refused unless its keys are spread over sites and units.

    Example: `reserve custody vault create cold-1 --fund SFDA --threshold 3 --key kh1-a --key
    kh2-a --key kh3-a --key kh4-a --key kh5-a --network regtest --recovery-key rk
    --recovery-blocks 144`
    """
    cli = state(ctx)
    reserve = cli.reserve()
    with reserve.reading() as uow:
        known = uow.custody.keys()
    missing = [k for k in [*keys, *([recovery_key] if recovery_key else [])] if k not in known]
    if missing:
        raise InvalidInput.one(f"vault {name}", "--key", f"unknown key(s) {', '.join(missing)}")
    recovery = Recovery(known[recovery_key], recovery_blocks) if recovery_key else None
    spec = VaultSpec(
        name, fund, asset, tier, network, threshold, tuple(known[k] for k in keys), recovery
    )
    stored = vaults.create_vault(reserve, spec, actor=cli.actor)
    if as_json:
        emit_json(vaults.backup(reserve, name))
        return
    out.print(
        f"vault {name}: {threshold}-of-{len(keys)} {tier.value}, account {stored.account}",
        markup=False,
    )
    out.print(stored.spec.script().external, markup=False)


@vault.command("list")
def vault_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every vault with its policy and the coins it is known to hold.

    Example: `reserve custody vault list`
    """
    rows = [
        {
            "vault": v.spec.name,
            "fund": v.spec.fund,
            "asset": v.spec.asset,
            "tier": v.spec.tier.value,
            "policy": f"{v.spec.threshold}-of-{len(v.spec.keys)}",
            "recovery": f"after {v.spec.recovery.after_blocks} blocks" if v.spec.recovery else "",
            "coins": coins,
            "units": format_units(units, 8),
            "account": v.account,
        }
        for v, coins, units in vaults.vault_listing(state(ctx).reserve())
    ]
    if as_json:
        emit_json(rows)
        return
    table(
        "Vaults",
        ("vault", "fund", "asset", "tier", "policy", "recovery", "coins", "units"),
        [
            tuple(
                str(r[c])
                for c in ("vault", "fund", "asset", "tier", "policy", "recovery", "coins", "units")
            )
            for r in rows
        ],
        right=("coins", "units"),
    )


@vault.command("address")
def vault_address(
    ctx: typer.Context,
    name: VaultName,
    purpose: Annotated[str, typer.Option("--purpose", help="What the address is for.")],
    as_json: JsonFlag = False,
) -> None:
    """Issue the vault's next receive address (never reused).

    Example: `reserve custody vault address cold-1 --purpose "forfeiture 2024-031"`
    """
    cli = state(ctx)
    issued = vaults.issue_address(cli.reserve(), name, purpose, actor=cli.actor)
    if as_json:
        emit_json(
            {
                "vault": name,
                "index": issued.index,
                "address": issued.address,
                "script": issued.script_hex,
                "purpose": purpose,
            }
        )
        return
    out.print(f"{issued.address}  (receive {issued.index}: {purpose})", markup=False)


@vault.command("backup")
def vault_backup(
    ctx: typer.Context,
    name: VaultName,
    to: Annotated[Path | None, typer.Option("--out", help="Write the backup to this file.")] = None,
) -> None:
    """Export what it takes to rebuild the vault anywhere: descriptors, keys, sites, policy.

    Example: `reserve custody vault backup cold-1 --out cold-1.json`
    """
    payload: dict[str, Any] = vaults.backup(state(ctx).reserve(), name)
    text = json.dumps(payload, indent=2, sort_keys=True)
    if to is None:
        print(text)
        return
    to.write_text(text + "\n", encoding="utf-8")
    out.print(f"backup of {name} written to {to}", markup=False)


@vault.command("deposit")
def vault_deposit(
    ctx: typer.Context,
    name: VaultName,
    tx: Annotated[str, typer.Option("--tx", help="The raw transaction, hex.")],
    sources: Annotated[
        list[str] | None, typer.Option("--source", help="A funding address.")
    ] = None,
) -> None:
    """Record the outputs of a transaction that pay the vault's issued addresses.

    Example: `reserve custody vault deposit cold-1 --tx 0200... --source bc1q...`
    """
    cli = state(ctx)
    try:
        raw = bytes.fromhex(tx.strip())
    except ValueError:
        raise InvalidInput.one(f"vault {name}", "--tx", "is not hex") from None
    done = vaults.record_deposit(
        cli.reserve(), name, raw, sources=tuple(sources or ()), actor=cli.actor
    )
    for d in done:
        state_word = "recorded" if d.created else "already known"
        out.print(
            f"{d.deposit.outpoint} {format_units(d.deposit.amount, 8)} {state_word}", markup=False
        )


@vault.command("sync")
def vault_sync(
    ctx: typer.Context, name: VaultName, rpc: RpcOption = None, esplora: EsploraOption = None
) -> None:
    """Record every coin the chain shows on the vault's issued addresses.

    Example: `reserve custody vault sync cold-1 --rpc http://user:pass@127.0.0.1:8332`
    """
    cli = state(ctx)
    created = vaults.sync_deposits(cli.reserve(), name, chain_source(rpc, esplora), actor=cli.actor)
    out.print(f"vault {name}: {created} new coin(s) recorded", markup=False)
