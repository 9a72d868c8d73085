"""The root ``reserve`` command and its global options; errors become exit codes in
``cli.exits``: 2 for bad input (nothing written), 1 for data that does not verify."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from reserve.cli import audit, custody, intake, ledger, market, users, value
from reserve.cli.context import CliState, state
from reserve.cli.exits import run_app
from reserve.cli.render import err, out
from reserve.config import Settings
from reserve.storage.migrate import HEAD_REVISION

app = typer.Typer(
    name="reserve",
    help="Sovereign Reserve: the books of a national digital-asset reserve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ledger.app, name="ledger")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(intake.app, name="intake")
app.add_typer(custody.app, name="custody")
app.add_typer(market.app, name="market")
app.add_typer(value.app, name="value")
app.add_typer(market.alerts_app, name="alerts")


@app.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL; overrides RESERVE_DATABASE_URL.", metavar="URL"),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--as", help="The user on whose behalf the command acts.")
    ] = None,
) -> None:
    """Global options; e.g. `reserve --db sqlite:///books.db ledger verify`."""
    settings = Settings()
    if db is not None:
        settings = settings.model_copy(update={"database_url": db})
    ctx.obj = CliState(settings=settings, actor=actor or settings.actor)
    ctx.call_on_close(ctx.obj.close)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database or bring its schema up to date.

    Example: `reserve --db sqlite:///reserve.db init`
    """
    state(ctx).reserve()
    out.print(f"database ready: schema {HEAD_REVISION}")


@app.command()
def demo(
    ctx: typer.Context,
    workdir: Annotated[
        str, typer.Option(help="Folder for the demo's fresh SQLite database.")
    ] = "demo-run",
) -> None:
    """Run the opening story on a fresh embedded database and show the books.

    Example: `reserve demo --workdir /tmp/reserve-demo`
    """
    from reserve.cli.demo import run_demo

    run_demo(workdir)


def run(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    return run_app(app, argv, prog_name="reserve", err=err, aborted="aborted")


def main() -> None:
    sys.exit(run())
