"""What every intake use case needs around it: who acts and in which role, the intake policy in
force, the USD/KZT rate of a day, and accounts opened on first use.

A USD/KZT rate is either given with the input or read from the bundled series, and then only if
it is at most the policy's ``rates.max_age_days`` old: never carried forward across a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from reserve.adapters.policy_files import load_intake_policy
from reserve.adapters.price_files import latest_on_or_before
from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.governance.people import Role, User
from reserve.intake.policy import PolicyInForce
from reserve.ledger.accounts import Account
from reserve.services.audit import acting_user
from reserve.services.ledger import open_in
from reserve.storage.uow import UnitOfWork

RATES_FILE = "usd_kzt.csv"


def require_role(uow: UnitOfWork, actor: str, roles: frozenset[Role], what: str) -> User | None:
    """The acting user (``None`` in bootstrap mode), who must hold one of ``roles``."""
    acting = acting_user(uow, actor)
    if acting is not None and not acting.holds_any(roles):
        needed = ", ".join(sorted(roles))
        raise InvalidInput.one("actor", "--as", f"{actor} cannot act: {what} needs {needed}")
    return acting


def ensure_accounts(
    uow: UnitOfWork, reserve: Reserve, accounts: Sequence[Account], *, actor: str
) -> None:
    """Open those of ``accounts`` not open yet, in the caller's unit of work."""
    known = uow.ledger.accounts()
    missing = [a for a in accounts if a.name not in known]
    if missing:
        open_in(uow, reserve, missing, actor=actor)


def policy_in_force(reserve: Reserve) -> PolicyInForce:
    """The intake policy as the configured file says now, validated, with its sha256."""
    return load_intake_policy(reserve.settings.intake_policy)


def kzt_per_usd(
    reserve: Reserve, day: date, *, given: Decimal | None, policy: PolicyInForce, where: str
) -> Decimal:
    """The USD/KZT rate for ``day``: ``given``, or the bundled series' if recent enough."""
    if given is not None:
        if given <= 0:
            raise InvalidInput.one(where, "kzt_per_usd", f"{given} is not a positive rate")
        return given
    limit = policy.policy.rates.max_age_days
    found = latest_on_or_before(
        reserve.settings.data_dir / "prices" / RATES_FILE, "kzt_per_usd", day
    )
    if found is None or (day - found[0]).days > limit:
        last = "no earlier rate" if found is None else f"the latest is of {found[0]}"
        raise InvalidInput.one(
            where,
            "kzt_per_usd",
            f"the bundled USD/KZT series has no rate within {limit} day(s) before {day} "
            f"({last}); give the rate of the day",
        )
    return found[1]
