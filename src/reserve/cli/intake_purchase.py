"""`reserve intake purchase ...`: committee-approved purchases and their fills."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Purchases and conversions: proposals, committee approval, fills.", no_args_is_help=True
)
