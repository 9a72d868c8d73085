"""Governance use cases: units, users and their roles, approvals, and the audit log.

Only an active administrator manages units and users, except while nobody is registered: the
reserve is then being set up (bootstrap), and the first user must be an active administrator,
who registers everyone else. A change that would leave no active administrator is refused, so
the reserve can never lock itself out of its own user management. Users are deactivated, never
deleted. Every change appends its audit record in the same unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound, Problem
from reserve.governance.approvals import (
    Approval,
    ApprovalRule,
    approval_problems,
    approver_problems,
    request_hash,
    rule_problems,
)
from reserve.governance.audit import AuditRecord, AuditVerifier
from reserve.governance.people import (
    OrgUnit,
    Role,
    User,
    active_administrators,
    unit_problems,
    user_problems,
)
from reserve.services.audit import acting_user, record_action, record_now
from reserve.services.integrity import replay_chain
from reserve.storage.uow import UnitOfWork

MAX_SUBJECT: Final = 200  # the width of the subject columns of approvals and the audit log


@dataclass(frozen=True)
class AuditReport:
    records: int
    head: str


# -- units and users ----------------------------------------------------------------------
def add_unit(reserve: Reserve, unit: OrgUnit, *, actor: str) -> OrgUnit:
    """Register an organisational unit; registering the same unit again is a no-op."""
    where = f"unit {unit.code}"
    problems = unit_problems(unit)
    if problems:
        raise InvalidInput([Problem(where, field, reason) for field, reason in problems])
    with reserve.writing() as uow:
        _administrator(uow, actor)
        earlier = uow.governance.units().get(unit.code)
        if earlier == unit:
            return unit
        if earlier is not None:
            raise Conflict.one(where, "code", f"already registered as {earlier.name!r}")
        uow.governance.add_unit(unit)
        record_now(uow, reserve, actor, "units.add", unit.code, {"name": unit.name})
        uow.commit()
    return unit


def add_user(reserve: Reserve, user: User, *, actor: str) -> User:
    """Register a user. The very first user (bootstrap) must be an active administrator."""
    where = f"user {user.username}"
    problems = [Problem(where, field, reason) for field, reason in user_problems(user)]
    with reserve.writing() as uow:
        store = uow.governance
        if _administrator(uow, actor) is None and not user.is_administrator:
            problems.append(
                Problem(
                    where,
                    "roles",
                    "the first user must be an active administrator, who then registers "
                    "everyone else",
                )
            )
        if user.unit not in store.units():
            problems.append(Problem(where, "unit", f"unknown unit {user.unit!r}"))
        if problems:
            raise InvalidInput(problems)
        if store.user(user.username) is not None:
            raise Conflict.one(where, "username", f"{user.username} is already registered")
        store.add_user(user)
        details = {
            "full_name": user.full_name,
            "unit": user.unit,
            "roles": _roles_text(user.roles),
            "active": str(user.active).lower(),
        }
        record_now(uow, reserve, actor, "users.add", user.username, details)
        uow.commit()
    return user


def set_user_active(reserve: Reserve, username: str, *, active: bool, actor: str) -> User:
    """Deactivate (or reactivate) a user; the last active administrator cannot be deactivated."""
    with reserve.writing() as uow:
        _administrator(uow, actor)
        users = uow.governance.users()
        user = _known(users, username)
        if user.active == active:
            return user
        changed = replace(user, active=active)
        _keep_an_administrator(users, changed, "active")
        uow.governance.set_active(username, active)
        action = "users.activate" if active else "users.deactivate"
        record_now(uow, reserve, actor, action, username, {"active": str(active).lower()})
        uow.commit()
    return changed


def grant_role(reserve: Reserve, username: str, role: Role, *, actor: str) -> User:
    """Give a user one more role; granting a role the user holds is a no-op."""
    with reserve.writing() as uow:
        _administrator(uow, actor)
        user = _known(uow.governance.users(), username)
        if role in user.roles:
            return user
        uow.governance.add_roles(username, [role])
        record_now(uow, reserve, actor, "users.grant", username, {"role": role.value})
        uow.commit()
    return replace(user, roles=user.roles | {role})


def revoke_role(reserve: Reserve, username: str, role: Role, *, actor: str) -> User:
    """Take a role away; a user keeps at least one, and someone stays an administrator."""
    with reserve.writing() as uow:
        _administrator(uow, actor)
        users = uow.governance.users()
        user = _known(users, username)
        if role not in user.roles:
            return user
        changed = replace(user, roles=user.roles - {role})
        if not changed.roles:
            raise InvalidInput.one(
                f"user {username}", "roles", f"{role} is the last role; deactivate the user instead"
            )
        _keep_an_administrator(users, changed, "roles")
        uow.governance.remove_role(username, role)
        record_now(uow, reserve, actor, "users.revoke", username, {"role": role.value})
        uow.commit()
    return changed


def list_users(reserve: Reserve) -> list[User]:
    with reserve.reading() as uow:
        return list(uow.governance.users().values())


def list_units(reserve: Reserve) -> list[OrgUnit]:
    with reserve.reading() as uow:
        return list(uow.governance.units().values())


def _administrator(uow: UnitOfWork, actor: str) -> User | None:
    """The acting administrator (``None`` in bootstrap mode); anyone else is refused."""
    acting = acting_user(uow, actor)
    if acting is not None and not acting.is_administrator:
        raise InvalidInput.one(
            "actor", "--as", f"{actor} is not an administrator; only administrators manage users"
        )
    return acting


def _known(users: Mapping[str, User], username: str) -> User:
    user = users.get(username)
    if user is None:
        raise NotFound.one(f"user {username}", "username", f"{username!r} is not a registered user")
    return user


def _keep_an_administrator(users: Mapping[str, User], changed: User, field: str) -> None:
    after = {**users, changed.username: changed}
    if not active_administrators(after.values()):
        raise InvalidInput.one(
            f"user {changed.username}",
            field,
            f"{changed.username} is the last active administrator; make another one first",
        )


def _roles_text(roles: frozenset[Role]) -> str:
    return ",".join(sorted(roles))


# -- approvals ------------------------------------------------------------------------------
def record_approval(
    reserve: Reserve,
    *,
    subject: str,
    request: Mapping[str, Any],
    approver: str,
    rule: ApprovalRule,
    proposer: str,
) -> Approval:
    """Record that ``approver`` (who acts) approves exactly ``request`` under ``rule``.

    The approver must be an active user with a role of the rule and not the proposer; the
    approval carries the request's hash, so it counts only for the request as it stands now.
    """
    with reserve.writing() as uow:
        approval = approve_in(
            uow, reserve, subject=subject, request=request, approver=approver, rule=rule,
            proposer=proposer,
        )  # fmt: skip
        uow.commit()
    return approval


def approve_in(
    uow: UnitOfWork,
    reserve: Reserve,
    *,
    subject: str,
    request: Mapping[str, Any],
    approver: str,
    rule: ApprovalRule,
    proposer: str,
) -> Approval:
    """``record_approval`` inside the caller's unit of work, for a use case that first reads
    what is approved (an order, a proposal) in the same transaction."""
    where = f"{subject}: approval by {approver}"
    problems = [Problem(f"rule {rule.name}", field, why) for field, why in rule_problems(rule)]
    if not subject.strip() or len(subject) > MAX_SUBJECT:
        problems.append(Problem(where, "subject", f"must be 1 to {MAX_SUBJECT} characters"))
    digest = request_hash(request)
    acting_user(uow, approver)
    store = uow.governance
    found = approver_problems(approver, store.user(approver), rule, proposer=proposer)
    problems += [Problem(where, field, reason) for field, reason in found]
    if problems:
        raise InvalidInput(problems)
    if any(
        a.approver == approver and a.request_hash == digest for a in store.approvals_for(subject)
    ):
        raise Conflict.one(where, "approver", f"{approver} has already approved this request")
    approval = Approval(subject, digest, approver, reserve.clock(), rule.name)
    store.add_approval(approval)
    record_action(
        uow,
        at=approval.approved_at,
        actor=approver,
        action="approvals.record",
        subject=subject,
        details={"request_hash": digest, "rule": rule.name, "proposer": proposer},
    )
    return approval


@dataclass(frozen=True)
class StandingApprovals:
    """A request's approvals as they stand now, and every reason they do not approve it."""

    approvals: list[Approval]
    approvers: frozenset[str]  # who approved the request exactly as it hashes now
    problems: list[Problem]


def altered(subject: str, what: str) -> Problem:
    return Problem(subject, "request_hash", f"the stored {what} no longer hashes as proposed")


def standing_approvals(
    uow: UnitOfWork,
    *,
    subject: str,
    request: Mapping[str, Any],
    stored_hash: str,
    rule: ApprovalRule,
    proposer: str,
    what: str,
) -> StandingApprovals:
    """Check ``subject``'s approvals on each use, so a later deactivation or an altered stored
    ``what`` (the request no longer hashing as when it was proposed) counts."""
    digest = request_hash(request)
    problems = [] if digest == stored_hash else [altered(subject, what)]
    approvals = uow.governance.approvals_for(subject)
    problems += approval_problems(
        approvals,
        rule,
        subject=subject,
        request_hash=digest,
        proposer=proposer,
        users=uow.governance.users(a.approver for a in approvals),
    )
    approvers = frozenset(a.approver for a in approvals if a.request_hash == digest)
    return StandingApprovals(approvals, approvers, problems)


def approvals_for(reserve: Reserve, subject: str) -> list[Approval]:
    with reserve.reading() as uow:
        return uow.governance.approvals_for(subject)


# -- the audit log --------------------------------------------------------------------------
def audit_log(reserve: Reserve, *, limit: int | None = None) -> list[AuditRecord]:
    """The audit log in order, or its last ``limit`` records."""
    if limit is not None and limit < 1:
        raise InvalidInput.one("option", "--limit", f"{limit} is not a positive number")
    with reserve.reading() as uow:
        last = uow.governance.audit_head()[0]
        first = 1 if limit is None else max(1, last - limit + 1)
        return list(uow.governance.stream_audit(first=first, last=last))


def verify_audit(reserve: Reserve) -> AuditReport:
    """Replay the audit chain in one snapshot; raise ``IntegrityFailure`` at the first break."""
    with reserve.reading() as uow:
        store = uow.governance
        verifier = AuditVerifier()
        replay_chain(
            verifier,
            store.stream_audit(),
            noun="audit record",
            first_unreadable=lambda after: store.first_unreadable_audit(after=after),
            stored_head=store.audit_head(),
        )
    return AuditReport(verifier.count, verifier.head)
