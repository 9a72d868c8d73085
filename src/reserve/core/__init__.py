"""What every layer shares: money in base units, the clock and the error tree (stdlib only)."""
