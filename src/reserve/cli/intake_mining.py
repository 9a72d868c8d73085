"""`reserve intake mining ...`: state mining operations, monthly output, sales."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="State mining: operations, output per month, sales, the period report.",
    no_args_is_help=True,
)
