"""The ``reserve`` command: Typer + Rich, one command group per capability."""
