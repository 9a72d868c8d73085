"""The transfer policy and the address whitelist in force, and how either is changed.

Neither is read from a file at the moment of a transfer: a new version is proposed (the file's
text, stored with its sha256), approved by a quorum of administrators and risk officers other
than the proposer, and in force from the approval that completes the quorum. A policy that one
person could change alone would be no policy at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Literal

from reserve.bootstrap import Reserve
from reserve.core.errors import Conflict, InvalidInput, NotFound
from reserve.custody.transfer_policy import (
    TransferPolicy,
    Whitelist,
    parse_transfer_policy,
    parse_whitelist,
)
from reserve.governance.approvals import Approval, ApprovalRule, request_hash
from reserve.governance.people import Role
from reserve.services.audit import record_now
from reserve.services.governance import approve_in, standing_approvals
from reserve.services.intake_context import require_role
from reserve.storage.custody_repo import PolicyVersion
from reserve.storage.uow import UnitOfWork

PolicyKind = Literal["rules", "whitelist"]
KINDS: Final = ("rules", "whitelist")
CHANGE_RULE: Final = ApprovalRule(
    "custody-policy-change", frozenset({Role.ADMINISTRATOR, Role.RISK_OFFICER}), 2
)
ROLE_NAMES: Final = frozenset(r.value for r in Role)
PROPOSING_ROLES: Final = frozenset({Role.ADMINISTRATOR, Role.RISK_OFFICER, Role.CUSTODIAN})


@dataclass(frozen=True)
class PoliciesInForce:
    rules: TransferPolicy
    rules_sha256: str
    whitelist: Whitelist
    whitelist_sha256: str


def subject_of(kind: str, sha256: str) -> str:
    return f"custody-policy:{kind}:{sha256}"


def _request(version: PolicyVersion) -> dict[str, str]:
    return {"kind": version.kind, "sha256": version.sha256, "version": version.version}


def _parse(kind: str, text: str, where: str) -> TransferPolicy | Whitelist:
    if kind == "rules":
        return parse_transfer_policy(text, where, known_roles=ROLE_NAMES)
    return parse_whitelist(text, where)


def propose_policy(
    reserve: Reserve, kind: str, text: str, *, where: str, actor: str
) -> PolicyVersion:
    """Store a new version of the rules or the whitelist for approval; proposing the same
    text again returns the first proposal."""
    if kind not in KINDS:
        raise InvalidInput.one(where, "kind", f"must be one of {', '.join(KINDS)}")
    parsed = _parse(kind, text, where)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with reserve.writing() as uow:
        require_role(uow, actor, PROPOSING_ROLES, "proposing a custody policy")
        earlier = uow.custody.policy_version(kind, digest)
        if earlier is not None:
            return earlier
        version = PolicyVersion(kind, digest, parsed.version, text, actor, reserve.clock())
        uow.custody.add_policy_version(version)
        record_now(
            uow,
            reserve,
            actor,
            "custody.policy.propose",
            subject_of(kind, digest),
            _request(version),
        )
        uow.commit()
    return version


def approve_policy(
    reserve: Reserve, kind: str, sha256: str, *, actor: str
) -> tuple[Approval, bool]:
    """Approve a proposed version; the approval that completes the quorum puts it in force.
    Returns the approval and whether the version is now in force."""
    subject = subject_of(kind, sha256)
    with reserve.writing() as uow:
        version = uow.custody.policy_version(kind, sha256)
        if version is None:
            raise NotFound.one(subject, "sha256", f"no proposed {kind} version with this hash")
        active = uow.custody.active_policy(kind)
        if active is not None and active[0] == sha256:
            raise Conflict.one(subject, "sha256", "this version is already in force")
        request = _request(version)
        approval = approve_in(
            uow,
            reserve,
            subject=subject,
            request=request,
            approver=actor,
            rule=CHANGE_RULE,
            proposer=version.proposed_by,
        )
        standing = standing_approvals(
            uow,
            subject=subject,
            request=request,
            stored_hash=request_hash(request),
            rule=CHANGE_RULE,
            proposer=version.proposed_by,
            what="policy",
        )
        in_force = not standing.problems
        if in_force:
            uow.custody.activate_policy(kind, sha256, by=actor, at=reserve.clock())
            record_now(
                uow,
                reserve,
                actor,
                "custody.policy.activate",
                subject,
                {**request, "approvers": ",".join(sorted(standing.approvers))},
            )
        uow.commit()
    return approval, in_force


def in_force(uow: UnitOfWork) -> PoliciesInForce:
    """The approved rules and whitelist; a transfer is refused while either is missing."""
    found: dict[str, PolicyVersion] = {}
    for kind in KINDS:
        active = uow.custody.active_policy(kind)
        version = None if active is None else uow.custody.policy_version(kind, active[0])
        if version is None:
            raise InvalidInput.one(
                "transfer policy",
                kind,
                f"no approved {kind} version is in force: propose one and have it approved",
            )
        found[kind] = version
    rules, whitelist = found["rules"], found["whitelist"]
    return PoliciesInForce(
        parse_transfer_policy(rules.text, f"rules {rules.sha256[:12]}", known_roles=ROLE_NAMES),
        rules.sha256,
        parse_whitelist(whitelist.text, f"whitelist {whitelist.sha256[:12]}"),
        whitelist.sha256,
    )


def policy_versions(reserve: Reserve) -> list[tuple[PolicyVersion, bool, list[Approval]]]:
    """Every proposed version with whether it is in force and its approvals."""
    with reserve.reading() as uow:
        result = []
        for kind in KINDS:
            active = uow.custody.active_policy(kind)
            for version in uow.custody.policy_versions(kind):
                approvals = uow.governance.approvals_for(subject_of(kind, version.sha256))
                current = active is not None and active[0] == version.sha256
                result.append((version, current, approvals))
    return result
