"""Who acts, and the audit record of what they did: the one place every write use case passes.

While no user is registered the reserve is in bootstrap mode: any actor name is accepted, so a
fresh database can be set up (and the demo run) before anyone has an account. Once a user
exists, every write use case acts for an active registered user or writes nothing. The check
runs after the audit head is locked, so a concurrent deactivation commits either before the use
case (which is then refused) or after it; the use case's audit record goes into the same unit
of work as its change, so the log never misses a change nor records one that was rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from reserve.bootstrap import Reserve
from reserve.core.errors import InvalidInput
from reserve.governance.audit import AuditRecord, next_record
from reserve.governance.people import User
from reserve.storage.uow import UnitOfWork

SYSTEM: Final = "system"
"""The actor of calls that name none: scripts and the demo, before anyone has an account."""
MAX_ACTOR: Final = 100  # the width of the actor columns of the journal and the audit log


def acting_user(uow: UnitOfWork, actor: str) -> User | None:
    """Lock the audit head, then check ``actor``: ``None`` in bootstrap mode, else the user.

    Raises ``InvalidInput`` (nothing written) when users exist and ``actor`` is not one of them,
    or is deactivated.
    """
    if not actor.strip() or len(actor) > MAX_ACTOR:
        raise InvalidInput.one("actor", "--as", f"must be a name of 1 to {MAX_ACTOR} characters")
    store = uow.governance
    store.lock_audit_head()
    if not store.has_users():
        return None
    user = store.user(actor)
    if user is None:
        raise InvalidInput.one(
            "actor", "--as", f"{actor!r} is not a registered user; act as an active user"
        )
    if not user.active:
        raise InvalidInput.one("actor", "--as", f"{actor} is deactivated and can no longer act")
    return user


def record_action(
    uow: UnitOfWork,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, str],
) -> AuditRecord:
    """Append one record to the audit log, inside the caller's unit of work."""
    store = uow.governance
    record = next_record(
        store.lock_audit_head(),
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=details,
    )
    store.append_audit(record)
    return record


def record_now(
    uow: UnitOfWork,
    reserve: Reserve,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, str],
) -> None:
    """``record_action`` stamped with the reserve's clock."""
    record_action(
        uow, at=reserve.clock(), actor=actor, action=action, subject=subject, details=details
    )
