"""`reserve-signer`: the offline signer a key holder runs on an air-gapped machine.

No database, no network, no reserve services: it reads three files (the PSBT, the holder's key
file, the vault backup), shows what the PSBT does, asks, and writes the signed PSBT next to the
original. Its own error mapping mirrors `reserve`'s: exit 2 and one line per problem on bad input,
with nothing written.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.table import Table

from reserve.cli.exits import run_app
from reserve.core.errors import InvalidInput
from reserve.core.money import format_units
from reserve.custody.signer import (
    SignerKey,
    SpendSummary,
    read_key_file,
    read_vault_backup,
    sign,
    summarise,
)

BTC_DECIMALS: Final = 8
PSBT_MAGIC: Final = b"psbt\xff"

_WIDTH: Final = None if sys.stdout.isatty() else 240  # pipes and logs get whole rows
out = Console(highlight=False, soft_wrap=False, width=_WIDTH, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

app = typer.Typer(
    name="reserve-signer",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Offline signer for vault PSBTs: shows what it signs, refuses change that leaves the vault.

    Example: `reserve-signer sign spend.psbt --key astana-1.json --vault vault-astana-1.json`
    """


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput.one(str(path), "file", "does not exist") from None
    except OSError as error:
        raise InvalidInput.one(str(path), "file", f"cannot be read: {error.strerror}") from None


def _text(path: Path) -> str:
    try:
        return _read(path).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput.one(str(path), "file", "is not UTF-8 text") from None


def _psbt_text(path: Path) -> str:
    """A PSBT file holds base64 text; a binary PSBT is accepted too."""
    raw = _read(path)
    if raw.startswith(PSBT_MAGIC):
        return base64.b64encode(raw).decode("ascii")
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise InvalidInput.one(str(path), "file", "is neither base64 text nor a PSBT") from None


def default_out(psbt_file: Path, fingerprint: str) -> Path:
    """``spend.psbt`` signed by key ``77b26d70`` becomes ``spend.signed-77b26d70.psbt``."""
    stem = psbt_file.name.removesuffix(".psbt")
    return psbt_file.with_name(f"{stem}.signed-{fingerprint}.psbt")


def _btc(sats: int) -> str:
    return format_units(sats, BTC_DECIMALS)


def _show(summary: SpendSummary, vault_name: str, key: SignerKey) -> None:
    who = f"{key.holder} ({key.fingerprint})" if key.holder else key.fingerprint
    out.print(f"vault {vault_name}: signing as {who}", markup=False)
    rows = {
        "Inputs (vault coins spent)": [(o, _btc(a), str(a)) for o, a in summary.inputs],
        "Destinations": [(addr, _btc(a), str(a)) for addr, a in summary.payments],
        "Change back to the vault": [
            (f"{addr} (change index {i})", _btc(a), str(a)) for addr, a, i in summary.change
        ],
    }
    for title, lines in rows.items():
        grid = Table(title=title, title_justify="left")
        # fold, never truncate: a key holder compares every character of an address
        grid.add_column("outpoint" if title.startswith("Inputs") else "address", overflow="fold")
        grid.add_column("BTC", justify="right", no_wrap=True)
        grid.add_column("sats", justify="right", no_wrap=True)
        for line in lines or [("none", "-", "-")]:
            grid.add_row(*line)
        out.print(grid)
    out.print(f"fee: {_btc(summary.fee)} BTC ({summary.fee} sats)", markup=False)


def _as_json(summary: SpendSummary, vault_name: str, key: SignerKey, target: Path) -> str:
    payload: dict[str, Any] = {
        "vault": vault_name,
        "fingerprint": key.fingerprint,
        "holder": key.holder,
        "inputs": [{"outpoint": o, "sats": a, "btc": _btc(a)} for o, a in summary.inputs],
        "payments": [{"address": d, "sats": a, "btc": _btc(a)} for d, a in summary.payments],
        "change": [
            {"address": d, "index": i, "sats": a, "btc": _btc(a)} for d, a, i in summary.change
        ],
        "fee": {"sats": summary.fee, "btc": _btc(summary.fee)},
        "out": str(target),
    }
    return json.dumps(payload, indent=2, sort_keys=True)


@app.command("sign")
def sign_command(
    psbt_file: Annotated[Path, typer.Argument(help="The PSBT to sign (base64 text).")],
    key: Annotated[Path, typer.Option("--key", help="Your key file: JSON holder + xprv.")],
    vault: Annotated[Path, typer.Option("--vault", help="The vault backup JSON.")],
    target: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write; default PSBT_FILE.signed-<fp>.psbt."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Sign without asking.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not tables.")] = False,
) -> None:
    """Show what a PSBT spends, ask, and write it signed with your key.

    Refuses (exit 2, nothing written) a PSBT with an input not from the vault or change that
    does not go back to the vault's own change descriptor, and a key that is not the vault's.

    Example: `reserve-signer sign spend.psbt --key astana-1.json --vault vault-astana-1.json`
    """
    script = read_vault_backup(_text(vault), str(vault))
    signer_key = read_key_file(_text(key), str(key), network=script.network)
    psbt_b64 = _psbt_text(psbt_file)
    signed = sign(psbt_b64, script, signer_key)  # refuses before the holder is even asked
    summary, _ = summarise(psbt_b64, script)
    target = target or default_out(psbt_file, signer_key.fingerprint)
    if as_json:
        print(_as_json(summary, script.name, signer_key, target))
    else:
        _show(summary, script.name, signer_key)
    # with --json the question goes to stderr, so stdout stays one JSON document
    if not yes and not typer.confirm("sign?", default=False, err=as_json):
        err.print("not signed; nothing written")
        raise typer.Exit(1)
    try:
        target.write_text(signed + "\n", encoding="ascii")
    except OSError as error:
        raise InvalidInput.one(
            str(target), "file", f"cannot be written: {error.strerror}"
        ) from None
    (err if as_json else out).print(f"signed PSBT written to {target}", markup=False)


def run(argv: list[str] | None = None) -> int:
    """Run the signer and return its exit code: 2 for bad input, 1 for anything else refused."""
    return run_app(
        app, argv, prog_name="reserve-signer", err=err, aborted="aborted; nothing written"
    )


def main() -> None:
    sys.exit(run())
