"""`python -m reserve` is the same as the `reserve` command."""

from reserve.cli.app import main

main()
