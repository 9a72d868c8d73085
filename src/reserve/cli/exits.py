"""The one mapping from errors to exit codes, shared by `reserve` and `reserve-signer`:
2 for bad input (nothing written), 1 for data that does not verify or anything else refused.

It imports no services, so the offline signer can use it without reaching a database.
"""

from __future__ import annotations

import click
import typer
from rich.console import Console

from reserve.core.errors import IntegrityFailure, InvalidInput, ReserveError


def run_app(
    app: typer.Typer, argv: list[str] | None, *, prog_name: str, err: Console, aborted: str
) -> int:
    """Run a Typer app and return its exit code, printing one line per problem."""
    try:
        result = app(args=argv, prog_name=prog_name, standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as stop:
        return stop.exit_code
    except click.ClickException as usage:
        usage.show()
        return usage.exit_code
    except typer.TyperException as usage:  # newer Typer raises its own copy of Click's errors
        err.print(f"error: {usage.format_message()}", markup=False)
        return usage.exit_code
    except (click.Abort, typer.Abort):
        err.print(aborted)
        return 1
    except InvalidInput as bad:
        for problem in bad.problems:
            err.print(f"error: {problem}", markup=False)
        return 2
    except IntegrityFailure as broken:
        err.print(f"verify failed: {broken}", markup=False)
        return 1
    except ReserveError as failure:
        err.print(f"error: {failure}", markup=False)
        return 1
    return result if isinstance(result, int) else 0
