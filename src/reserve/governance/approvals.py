"""Approvals: who agreed to exactly what, when, and under which rule.

An approval names the request it approves by ``request_hash``: sha256 over the request's
canonical JSON (the ledger's spelling: sorted keys, no spaces). A request changed after an
approval hashes differently, so the approval no longer counts for it; an approver can never be
shown one thing and have their approval applied to another. An ``ApprovalRule`` says which roles
may approve and how many distinct approvers it takes; the one who proposed a request never
approves it. The same check serves the legal transitions (two distinct approvers), the
investment committee (M of N, the proposer excluded) and custody transfers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reserve.core.errors import Problem
from reserve.governance.people import Role, User
from reserve.ledger.hashing import canonical


@dataclass(frozen=True)
class ApprovalRule:
    name: str
    roles: frozenset[Role]
    quorum: int
    distinct_units: bool = False  # approvers must come from as many units as the quorum


@dataclass(frozen=True)
class Approval:
    subject: str  # what is approved, e.g. "case:2024-001:forfeit" or "purchase:P-7"
    request_hash: str
    approver: str
    approved_at: datetime
    rule: str


def request_hash(payload: Mapping[str, Any]) -> str:
    """The hash an approval carries; ``payload`` holds JSON values only (amounts as strings)."""
    return hashlib.sha256(canonical(payload)).hexdigest()


def rule_problems(rule: ApprovalRule) -> list[tuple[str, str]]:
    """(field, reason) for every way the rule cannot be satisfied or is malformed."""
    problems: list[tuple[str, str]] = []
    if not rule.name.strip():
        problems.append(("name", "must not be empty"))
    if not rule.roles:
        problems.append(("roles", "a rule needs at least one role that may approve"))
    if rule.quorum < 1:
        problems.append(("quorum", f"{rule.quorum} is not a positive number of approvers"))
    return problems


def approver_problems(
    approver: str, user: User | None, rule: ApprovalRule, *, proposer: str
) -> list[tuple[str, str]]:
    """(field, reason) why ``approver`` may not approve under ``rule`` (empty when they may)."""
    problems: list[tuple[str, str]] = []
    if approver == proposer:
        problems.append(("approver", f"{approver} proposed the request and cannot approve it"))
    if user is None:
        problems.append(("approver", f"{approver!r} is not a registered user"))
        return problems
    if not user.active:
        problems.append(("approver", f"{approver} is deactivated"))
    if not user.holds_any(rule.roles):
        needed = ", ".join(sorted(rule.roles))
        problems.append(
            ("approver", f"{approver} holds none of the roles rule {rule.name} needs ({needed})")
        )
    return problems


def approval_problems(
    approvals: Sequence[Approval],
    rule: ApprovalRule,
    *,
    subject: str,
    request_hash: str,
    proposer: str,
    users: Mapping[str, User],
) -> list[Problem]:
    """Every reason why ``approvals`` do not approve the request ``request_hash`` of ``subject``.

    Each approval is checked on its own (right request, right rule, an active approver with a
    role of the rule who is not the proposer, not a second approval by the same person, and with
    ``distinct_units`` not a second approver from one unit); the sound ones are then counted
    against the quorum. An empty list means the request is approved. A defective approval is
    reported even when the sound ones reach the quorum: the caller decides which approvals to
    present, and presenting a bad one is itself something to look at.
    """
    problems: list[Problem] = []
    counted: dict[str, str] = {}  # approver -> unit, of the approvals that count
    seen: set[str] = set()
    for approval in approvals:
        where = f"{subject}: approval by {approval.approver}"
        found: list[tuple[str, str]] = []
        if approval.subject != subject:
            found.append(("subject", f"approves {approval.subject!r}, not {subject!r}"))
        if approval.request_hash != request_hash:
            found.append(
                (
                    "request_hash",
                    f"approves request {approval.request_hash[:12]}, not the request as it "
                    f"stands ({request_hash[:12]})",
                )
            )
        if approval.rule != rule.name:
            found.append(("rule", f"given under rule {approval.rule}, not {rule.name}"))
        user = users.get(approval.approver)
        found += approver_problems(approval.approver, user, rule, proposer=proposer)
        if approval.approver in seen:
            found.append(("approver", f"{approval.approver} has already approved; counted once"))
        seen.add(approval.approver)
        if not found and user is not None and rule.distinct_units:
            twin = next((a for a, unit in counted.items() if unit == user.unit), None)
            if twin is not None:
                found.append(
                    (
                        "approver",
                        f"{approval.approver} is from unit {user.unit}, like {twin}; "
                        f"rule {rule.name} wants approvers from different units",
                    )
                )
        problems += [Problem(where, field, reason) for field, reason in found]
        if not found and user is not None:
            counted[approval.approver] = user.unit
    if len(counted) < rule.quorum:
        problems.append(
            Problem(
                subject,
                "approvals",
                f"{len(counted)} valid approval(s); rule {rule.name} needs {rule.quorum}",
            )
        )
    return problems
