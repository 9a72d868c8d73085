"""Governance rows, read and written on one connection, mapped to the domain's dataclasses.

Users and their roles change (deactivation, grants), approvals and the audit log only grow.
Appending to the audit log moves ``audit_head`` in the same transaction; on PostgreSQL the head
row is locked first, so concurrent writers form one audit chain (SQLite's ``BEGIN IMMEDIATE``
already serialises writers).
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable
from typing import Any, Final

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from reserve.core.clock import as_utc
from reserve.governance.approvals import Approval
from reserve.governance.audit import AuditRecord
from reserve.governance.people import OrgUnit, Role, User
from reserve.storage import tables as t

_STREAM: Final = 5000
_HEAD: Final = select(t.audit_head.c.seq, t.audit_head.c.hash).where(t.audit_head.c.id == 1)
_LOCK_HEAD_PG: Final = _HEAD.with_for_update()
_MOVE_HEAD: Final = (
    update(t.audit_head)
    .where(t.audit_head.c.id == 1)
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
_ANY_USER: Final = select(t.users.c.username).limit(1)
# Built once: building a statement costs more than running it, and every write use case runs it.
_INSERT_AUDIT: Final = insert(t.audit_log)
_AUDIT_COLUMNS: Final = (
    t.audit_log.c.seq,
    t.audit_log.c.at,
    t.audit_log.c.actor,
    t.audit_log.c.action,
    t.audit_log.c.subject,
    t.audit_log.c.details,
    t.audit_log.c.prev_hash,
    t.audit_log.c.hash,
)


def _details_text(details: dict[str, str]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _details(text: str) -> dict[str, str]:
    found = json.loads(text)
    if not isinstance(found, dict):
        raise ValueError(f"audit details are not an object: {text[:40]!r}")
    return found


def _record(row: Any) -> AuditRecord:
    seq, at, actor, action, subject, details, prev_hash, hash_ = row
    return AuditRecord(
        int(seq), as_utc(at), actor, action, subject, _details(details), prev_hash, hash_
    )


class GovernanceStore:
    """Reads and writes of the governance tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self._locked_head: tuple[int, str] | None = None

    # -- units and users ------------------------------------------------------------------
    def units(self) -> dict[str, OrgUnit]:
        rows = self.conn.execute(select(t.org_units).order_by(t.org_units.c.code))
        return {r.code: OrgUnit(r.code, r.name) for r in rows}

    def add_unit(self, unit: OrgUnit) -> None:
        self.conn.execute(insert(t.org_units).values(code=unit.code, name=unit.name))

    def has_users(self) -> bool:
        return self.conn.execute(_ANY_USER).first() is not None

    def users(self, usernames: Iterable[str] | None = None) -> dict[str, User]:
        """Users by name: all of them, or those of ``usernames`` that exist."""
        u, r = t.users.c, t.user_roles.c
        users_query, roles_query = select(t.users), select(t.user_roles)
        if usernames is not None:
            wanted = sorted(set(usernames))
            users_query = users_query.where(u.username.in_(wanted))
            roles_query = roles_query.where(r.username.in_(wanted))
        roles: dict[str, set[Role]] = {}
        for row in self.conn.execute(roles_query):
            roles.setdefault(row.username, set()).add(Role(row.role))
        return {
            row.username: User(
                row.username,
                row.full_name,
                row.unit,
                frozenset(roles.get(row.username, ())),
                bool(row.active),
            )
            for row in self.conn.execute(users_query.order_by(u.username))
        }

    def user(self, username: str) -> User | None:
        return self.users([username]).get(username)

    def add_user(self, user: User) -> None:
        self.conn.execute(
            insert(t.users).values(
                username=user.username,
                full_name=user.full_name,
                unit=user.unit,
                active=user.active,
            )
        )
        self.add_roles(user.username, user.roles)

    def set_active(self, username: str, active: bool) -> None:
        self.conn.execute(
            update(t.users).where(t.users.c.username == username).values(active=active)
        )

    def add_roles(self, username: str, roles: Iterable[Role]) -> None:
        rows = [{"username": username, "role": role.value} for role in sorted(roles)]
        if rows:
            self.conn.execute(insert(t.user_roles), rows)

    def remove_role(self, username: str, role: Role) -> None:
        r = t.user_roles.c
        self.conn.execute(delete(t.user_roles).where(r.username == username, r.role == role.value))

    # -- approvals ------------------------------------------------------------------------
    def approvals_for(self, subject: str) -> list[Approval]:
        a = t.approvals.c
        query = select(t.approvals).where(a.subject == subject).order_by(a.approved_at, a.approver)
        return [
            Approval(r.subject, r.request_hash, r.approver, as_utc(r.approved_at), r.rule)
            for r in self.conn.execute(query)
        ]

    def add_approval(self, approval: Approval) -> None:
        self.conn.execute(
            insert(t.approvals).values(
                subject=approval.subject,
                request_hash=approval.request_hash,
                approver=approval.approver,
                approved_at=approval.approved_at,
                rule=approval.rule,
            )
        )

    # -- the audit log --------------------------------------------------------------------
    def lock_audit_head(self) -> tuple[int, str]:
        """The audit head, locked until commit so that no other writer can extend the log.

        Read once per transaction: while the lock is held only this store moves the head.
        """
        if self._locked_head is None:
            query = _LOCK_HEAD_PG if self.dialect == "postgresql" else _HEAD
            row = self.conn.execute(query).one()
            self._locked_head = (int(row.seq), str(row.hash))
        return self._locked_head

    def audit_head(self) -> tuple[int, str]:
        row = self.conn.execute(_HEAD).one()
        return int(row.seq), str(row.hash)

    def append_audit(self, record: AuditRecord) -> None:
        """Store ``record`` and make it the head; the caller built it on the locked head."""
        self.conn.execute(
            _INSERT_AUDIT,
            {
                "seq": record.seq,
                "at": record.at,
                "actor": record.actor,
                "action": record.action,
                "subject": record.subject,
                "details": _details_text(record.details),
                "prev_hash": record.prev_hash,
                "hash": record.hash,
            },
        )
        self.conn.execute(_MOVE_HEAD, {"head_seq": record.seq, "head_hash": record.hash})
        self._locked_head = (record.seq, record.hash)

    def count_audit(self) -> int:
        query = select(func.count()).select_from(t.audit_log)
        return int(self.conn.execute(query).scalar_one())

    def stream_audit(
        self, first: int = 1, last: int | None = None
    ) -> Generator[AuditRecord, None, None]:
        """Audit records in sequence order, without loading them all."""
        seq = t.audit_log.c.seq
        rows = self.conn.execute(
            select(*_AUDIT_COLUMNS)
            .where(seq.between(first, last if last is not None else 2**62))
            .order_by(seq)
            .execution_options(yield_per=_STREAM)
        )
        try:
            for row in rows:
                yield _record(row)
        finally:
            rows.close()

    def first_unreadable_audit(self, after: int) -> int | None:
        """The first record after ``after`` with a stored value that does not read as its type
        (only a value written behind the log's back can fail)."""
        last = self.conn.execute(select(func.max(t.audit_log.c.seq))).scalar_one_or_none()
        for seq in range(after + 1, int(last or 0) + 1):
            found = self.stream_audit(first=seq, last=seq)
            try:
                next(found, None)
            except (ValueError, ArithmeticError):
                return seq
            finally:
                found.close()
        return None
