"""The reserve's double-entry, hash-chained ledger: pure domain, no I/O."""
