"""Adapters to the outside world: files, chains, exchanges, FX feeds."""
