"""The valuation policy in force (basis, national reserves denominator, alert thresholds)."""

from __future__ import annotations

import hashlib

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.valuation.policy import ValuationPolicy, parse_valuation_policy


def valuation_policy(reserve: Reserve) -> tuple[ValuationPolicy, str]:
    """The configured policy, validated, with the file's sha256 (stored on every run)."""
    path = reserve.settings.valuation_policy
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InvalidInput.one(
            str(path.name), "file", f"cannot be read: {error.strerror}"
        ) from None
    return parse_valuation_policy(raw.decode("utf-8"), path.name), hashlib.sha256(raw).hexdigest()
